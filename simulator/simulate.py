"""simulate(): every layer of a workload on one or more hardware configs."""
from __future__ import annotations

import functools
import warnings
from typing import Iterable

import numpy as np

from . import numerics
from .checks import describe
from .connectivity import SearchTooLarge
from .engine import run_graph
from .errors import MappingError
from .graph import OpGraph
from .guard import check_workload
from .hardware import Hardware
from .limits import SEED_MAX
from .results import LayerResult, frozen_arrays
from .variants import REGISTRY
from .workload import Workload


def simulate(workload: Workload, hw: Hardware | Iterable[Hardware], functional: bool = False,
             seed: int = 0, mapper: str = "heuristic", objective: str = "cycles") -> tuple[LayerResult, ...]:
    """Simulate each layer of `workload` on each hardware config (count-only unless `functional`).

    `mapper` chooses every GEMM's tiling: "heuristic" (the default mapping, mapper.py) or "search"
    (the best candidate by `objective`: cycles, energy or edp).

    Functional mode draws inputs and weights (standard normal unless a layer says otherwise) from
    numpy's PCG64 seeded with (seed, layer index), rounds them to the number format, and computes
    every output on the modeled array.  Counts are identical in both modes.
    """
    from .mapper import MAPPERS, OBJECTIVES

    if mapper not in MAPPERS or objective not in OBJECTIVES:
        raise ValueError(f"mapper must be one of {MAPPERS} and objective one of {OBJECTIVES}; "
                         f"got {mapper!r}, {objective!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed must be an integer in [0, {SEED_MAX}], got {seed!r}")
    configs = (hw,) if isinstance(hw, Hardware) else tuple(hw)
    graphs = [layer_graph(spec) for spec in workload.layers]
    # memory and every count bounded before anything runs (guard.py); refusals name the layer's key
    check_workload(workload, graphs, configs, functional, mapper, objective)
    results = []
    for config in configs:
        for index, (spec, graph) in enumerate(zip(workload.layers, graphs)):
            try:
                results.append(_simulate_layer(workload, index, spec, graph, config, functional, seed,
                                               (mapper, objective)))
            except MappingError as exc:
                raise MappingError(f"{workload.source}: layers[{index}] ({describe(spec.name)}) on {config.source}: "
                                   f"{exc}") from None
    return tuple(results)


def _simulate_layer(workload, index, spec, graph: OpGraph, hw, functional, seed, mapper) -> LayerResult:
    variant = REGISTRY[spec.variant]
    # A data-dependent layer computes its values in both modes: its counts depend on them.
    data_dependent = variant.is_data_dependent(spec)
    store = draw_inputs(graph, hw, seed, index) if functional or data_dependent else None
    inputs = {t.name: store[t.name] for t in graph.tensors if t.role in ("input", "weight")} if functional else None
    ops, cycles = run_graph(graph, hw, store, mapper)
    outputs = ({t.name: store[t.name].reshape(t.shape) for t in graph.tensors if t.role == "output"}
               if functional else None)
    fields = dict(variant.report_fields(spec))
    fields["batch"] = spec.batch
    return LayerResult(
        workload=workload.name, layer=spec.name, variant=spec.variant, hw=hw, fields=fields, ops=ops,
        cycles=cycles, sequential_steps=graph.phase_depth(), max_path_length=path_length(spec),
        workload_file=workload.source, workload_sha256=workload.sha256, seed=seed if functional or data_dependent else None,
        inputs=frozen_arrays(inputs) if functional else None,
        outputs=frozen_arrays(outputs) if functional else None)


@functools.lru_cache(maxsize=4096)
def layer_graph(spec) -> OpGraph:
    """A layer's op graph; built once per distinct layer (sweeps evaluate the same layer many times)."""
    return REGISTRY[spec.variant].build(spec)


class PathLengthSkipped(UserWarning):
    """max_path_length was left empty because its exact search would take too long."""


@functools.lru_cache(maxsize=4096)
def path_length(spec) -> int | None:
    try:
        return REGISTRY[spec.variant].max_path_length(spec)
    except SearchTooLarge as exc:
        warnings.warn(PathLengthSkipped(
            f"layer {describe(spec.name)} ({spec.variant}): max_path_length is left empty: its exact search would "
            f"take {exc}, more than 2^32 (limits.MAX_PATH_SEARCH_STEPS)"), stacklevel=2)
        return None


def draw_inputs(graph: OpGraph, hw, seed: int, layer_index: int) -> dict[str, np.ndarray]:
    """Inputs and weights of a layer, drawn in graph order and stored in the number format."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(layer_index,)))
    store = {}
    for t in graph.tensors:
        if t.role in ("input", "weight"):
            values = t.init(rng, t.shape) if t.init is not None else rng.standard_normal(t.shape)
            store[t.name] = numerics.store(values, hw.number_format)
    return store
