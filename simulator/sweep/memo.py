"""A sweep worker's memo of layer evaluations, keyed on exactly the hardware its counts depend on.

A layer's counts, cycles and schedule depend on the MAC array (shape, dataflows, fold overlap), the
vector unit (lanes, cycles per op), every memory level (name, size, bandwidths, double buffering),
the number format, the schedule and the names that error messages quote; they do not depend on the
clock or on the energy and area prices, which cost.py applies to the counts afterwards. So a
design point that differs from an evaluated one only in prices (a grid over `clock_hz`,
`*_pj*` or `area.*`) re-prices the memoised layers instead of simulating them again.

The search mapper compares candidate mappings by energy (its energy and edp objectives, and its
ties), so under it the key is the whole hardware, prices included. What a point's evaluation
raised (no legal mapping, a count over the limits) is memoised too: its message names only keyed
fields. tests/test_sweep_fastpath.py holds the memoised rows equal to per-point simulate() rows.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from ..simulate import simulate

# Distinct (workload, count key) entries kept per worker: a grid over prices cycles through the
# same few; a grid over the array or the memories hits nothing and must not grow without bound.
MEMO_ENTRIES = 4096


def count_key(hw, mapper: str):
    """The hardware with every price-only field cleared (module docstring): equal for two design
    points exactly when their layers count the same. The whole hardware under the search mapper."""
    if mapper == "search":
        return hw
    array = replace(hw.mac_array, mac_energy_pj=0.0)
    vector = replace(hw.vector_unit, op_energy_pj=0.0)
    levels = tuple(replace(m, read_pj_per_byte=0.0, write_pj_per_byte=0.0) for m in hw.memories)
    return replace(hw, clock_hz=0.0, mac_array=array, vector_unit=vector, memories=levels, area=None,
                   description="", sha256="", raw=None)


class LayerMemo:
    """simulate(workload, hw) per (case, count_key(hw)), least recently used first out. Results are
    returned as computed on the first point of their key: callers price them with their own point's
    hardware (evaluate.layer_row reads no prices from a result)."""

    def __init__(self, mapper: str, objective: str, entries: int = MEMO_ENTRIES):
        self.mapper, self.objective, self.entries = mapper, objective, entries
        self.table: OrderedDict = OrderedDict()
        self.hits = self.misses = 0

    def layers(self, case_index: int, workload, hw) -> tuple:
        key = (case_index, count_key(hw, self.mapper))
        hit = self.table.get(key)
        if hit is not None:
            self.hits += 1
            self.table.move_to_end(key)
        else:
            self.misses += 1
            try:
                hit = simulate(workload, hw, mapper=self.mapper, objective=self.objective)
            except Exception as exc:       # noqa: BLE001 - the same point fails the same way again
                hit = _Raised(exc)
            self.table[key] = hit
            if len(self.table) > self.entries:
                self.table.popitem(last=False)
        if isinstance(hit, _Raised):
            raise hit.exc.with_traceback(None)
        return hit


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: Exception):
        self.exc = exc
