"""Simulations shared by the sections of `attnsim table`.

The sections sweep overlapping layers (Table 1's n sweep of the LSTM and the crossover sweeps, the
reference points and the roofline, the generation section at batch 1 and the decode steps): inside
`shared_runs()` each distinct (layer, hardware object) is simulated once and its result reused.
The result is the same object whichever section asked first; the sections read only its counts,
cycles and fields, never its layer or workload name.
"""
from __future__ import annotations

from contextlib import contextmanager

from .. import simulate
from ..workload import load_workload

_shared: dict | None = None


@contextmanager
def shared_runs():
    """Within this block, run_layers simulates each distinct (layer, hardware) once."""
    global _shared
    outer, _shared = _shared, {}
    try:
        yield
    finally:
        _shared = outer


def run_layers(layers: list[dict], hw, name: str = "table1") -> tuple:
    """simulate() of workload `name` made of `layers` (layer dicts without names) on `hw`: one result
    per layer, in order."""
    if _shared is None:
        return _simulate(layers, hw, name)
    keys = [(id(hw), _layer_key(layer)) for layer in layers]
    todo = {}
    for key, layer in zip(keys, layers):
        if key not in _shared and key not in todo:
            todo[key] = layer
    if todo:
        for key, result in zip(todo, _simulate(list(todo.values()), hw, name)):
            _shared[key] = (hw, result)          # the hardware object is kept alive: its id stays its own
    return tuple(_shared[key][1] for key in keys)


def _simulate(layers, hw, name):
    wl = load_workload({"name": name, "layers": [dict(layer, name=f"l{i}") for i, layer in enumerate(layers)]})
    return simulate(wl, hw)


def _layer_key(layer: dict):
    return tuple(sorted((k, _frozen(v)) for k, v in layer.items() if k != "name"))


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value
