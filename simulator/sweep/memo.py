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
from operator import attrgetter

from ..simulate import simulate

# Distinct (workload, count key) entries kept per worker: a grid over prices cycles through the
# same few; a grid over the array or the memories hits nothing and must not grow without bound.
MEMO_ENTRIES = 4096


# Every field of the hardware dataclasses is either in the count key or priced afterwards;
# tests/test_sweep_fastpath.py fails when a new field is neither, so none is forgotten.
PRICE_FIELDS = {"Hardware": ("clock_hz", "area", "description", "sha256", "raw"),
                "MacArray": ("mac_energy_pj",), "VectorUnit": ("op_energy_pj",),
                "MemoryLevel": ("read_pj_per_byte", "write_pj_per_byte")}
KEY_FIELDS = {"Hardware": ("name", "source", "number_format", "schedule", "mac_array", "vector_unit", "memories"),
              "MacArray": ("rows", "cols", "dataflow", "dataflows", "fold_overlap"),
              "VectorUnit": ("lanes", "cycles_per_op"),
              "MemoryLevel": ("name", "size_bytes", "read_bw_bytes_per_cycle", "write_bw_bytes_per_cycle",
                              "double_buffered")}


_NESTED = ("mac_array", "vector_unit", "memories")
_TOP = attrgetter(*(f for f in KEY_FIELDS["Hardware"] if f not in _NESTED))
_ARRAY = attrgetter(*KEY_FIELDS["MacArray"])
_VECTOR = attrgetter(*KEY_FIELDS["VectorUnit"])
_LEVEL = attrgetter(*KEY_FIELDS["MemoryLevel"])


_LEVEL_BUT_SIZE = attrgetter(*(f for f in KEY_FIELDS["MemoryLevel"] if f != "size_bytes"))


def size_free_key(hw):
    """count_key(hw, "heuristic") less the levels' sizes (capmemo.py keys on what they decide)."""
    return (_TOP(hw), _ARRAY(hw.mac_array), _VECTOR(hw.vector_unit), tuple(_LEVEL_BUT_SIZE(m) for m in hw.memories))


def count_key(hw, mapper: str):
    """The KEY_FIELDS of the hardware (module docstring): equal for two design points exactly when
    their layers count the same. The whole hardware under the search mapper."""
    if mapper == "search":
        return hw
    return (_TOP(hw), _ARRAY(hw.mac_array), _VECTOR(hw.vector_unit), tuple(_LEVEL(m) for m in hw.memories))


class LayerMemo:
    """prepare(result, hw) of every layer of simulate(workload, hw), per (case, count_key(hw)), least
    recently used first out. Entries are prepared on the first point of their key; callers price
    them with their own point's hardware (sweep/rows.py reads no prices from an entry)."""

    def __init__(self, mapper: str, objective: str, prepare=lambda result, hw: result, entries: int = MEMO_ENTRIES,
                 fast=None, staged=None):
        self.mapper, self.objective, self.prepare, self.entries = mapper, objective, prepare, entries
        self.table: OrderedDict = OrderedDict()
        self.hits = self.misses = 0
        # fast(workload) -> None, or a callable(hw, mapper, objective) giving the prepared layers
        # directly (what prepare would make of simulate's results; sweep/gemmrows.py); per workload.
        # staged(workload): such a callable for the workloads fast gives None (capmemo.py)
        self.fast, self.fast_of = fast, {}
        self.staged, self.staged_of = staged, {}

    def layers(self, case_index: int, workload, hw) -> tuple:
        key = (case_index, count_key(hw, self.mapper))
        hit = self.table.get(key)
        if hit is not None:
            self.hits += 1
            self.table.move_to_end(key)
        else:
            self.misses += 1
            try:
                hit = self._evaluate(case_index, workload, hw)
            except Exception as exc:       # noqa: BLE001 - the same point fails the same way again
                hit = _Raised(exc)         # kept without its traceback (frames hold the point's arrays)
            self.table[key] = hit
            if len(self.table) > self.entries:
                self.table.popitem(last=False)
        if isinstance(hit, _Raised):
            raise hit.exc.with_traceback(None)
        return hit

    def _evaluate(self, case_index: int, workload, hw) -> tuple:
        if self.fast is not None:
            if case_index not in self.fast_of:
                self.fast_of[case_index] = self.fast(workload)
            fast = self.fast_of[case_index]
            if fast is not None:
                return fast(hw, self.mapper, self.objective)
        if self.staged is not None:
            if case_index not in self.staged_of:
                self.staged_of[case_index] = self.staged(workload)
            return self.staged_of[case_index](hw, self.mapper, self.objective)
        return tuple(self.prepare(r, hw) for r in simulate(workload, hw, mapper=self.mapper, objective=self.objective))


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: Exception):
        exc.__context__ = None
        self.exc = exc.with_traceback(None)
