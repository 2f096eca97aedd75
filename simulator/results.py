"""Immutable, additive simulation results.  Prices are applied when records are made (cost.py)."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from . import cost
from .enums import N_VEC_KINDS, Counter


def _frozen(counts: np.ndarray) -> np.ndarray:
    counts = np.array(counts, dtype=np.int64, copy=True)
    counts.setflags(write=False)
    return counts


@dataclass(frozen=True, eq=False)
class OpResult:
    """Counts of one primitive op (or a sum of them: `op` then reads '+')."""
    op: str
    kind: str                 # gemm | vector | sum
    unit: str                 # array | vector | mixed
    phase: str
    counts: np.ndarray | None  # int64 Counter layout; None only for zero()
    cycles: int               # latency of this op as scheduled (== counts[CYCLES] for a single op)
    mapping: str = ""
    shape: str = ""
    bound_cycles: int = 0     # a lower bound on this op's cycles on this hardware (bounds.py); summed

    @classmethod
    def make(cls, op: str, kind: str, unit: str, phase: str, counts: np.ndarray, mapping: str = "",
             shape: str = "", bound_cycles: int = 0) -> "OpResult":
        counts = _frozen(counts)
        return cls(op, kind, unit, phase, counts, int(counts[Counter.CYCLES]), mapping, shape, int(bound_cycles))

    @classmethod
    def zero(cls) -> "OpResult":
        return cls("+", "sum", "mixed", "", None, 0)

    def __add__(self, other: "OpResult") -> "OpResult":
        if not isinstance(other, OpResult):
            return NotImplemented
        if self.counts is None:
            return other if other.counts is None else OpResult("+", "sum", "mixed", "", other.counts, other.cycles,
                                                                bound_cycles=other.bound_cycles)
        if other.counts is None:
            return self + OpResult.zero()
        if self.counts.shape != other.counts.shape:
            raise ValueError("cannot add results from hardware with different memory hierarchies")
        return OpResult("+", "sum", "mixed", "", _frozen(self.counts + other.counts), self.cycles + other.cycles,
                        bound_cycles=self.bound_cycles + other.bound_cycles)

    __radd__ = __add__

    def count(self, which: Counter) -> int:
        return 0 if self.counts is None else int(self.counts[which])

    def repeated(self, times: int) -> "OpResult":
        """This op run `times` times one after another: every count and the latency multiplied.
        Raises SizeError when a count would leave int64 (checked on Python integers first)."""
        if times == 1 or self.counts is None:
            return self
        from .errors import SizeError

        largest = max(int(self.counts.max(initial=0)), self.cycles)
        if largest * times >= 2 ** 63:
            raise SizeError(f"op {self.op!r} repeated {times} times: a count of {largest} would reach "
                            f"{largest * times}, beyond int64; use fewer repeats or a smaller layer")
        return OpResult(self.op, self.kind, self.unit, self.phase, _frozen(self.counts * times),
                        self.cycles * times, self.mapping, self.shape, self.bound_cycles * times)

    @property
    def macs(self) -> int:
        return self.count(Counter.MACS)

    @property
    def compute_cycles(self) -> int:
        return self.count(Counter.ARRAY_CYCLES) + self.count(Counter.VECTOR_CYCLES)


@dataclass(frozen=True, eq=False)
class LayerResult:
    """One layer simulated on one hardware config."""
    workload: str
    layer: str
    variant: str
    hw: Any
    fields: Mapping[str, Any]          # report columns the variant fills (n, d, heads, ...)
    ops: tuple[OpResult, ...]
    cycles: int                        # the layer's latency under its schedule (the makespan)
    sequential_steps: int
    max_path_length: int | None
    workload_file: str = ""
    workload_sha256: str = ""
    seed: int | None = None
    inputs: Mapping[str, np.ndarray] | None = field(default=None, repr=False)
    outputs: Mapping[str, np.ndarray] | None = field(default=None, repr=False)
    schedule: Any = field(default=None, repr=False)   # schedule.layer.LayerSchedule (None: ops one after another)
    # functional runs: every tensor the run held at its end (intermediates too) and the layer's op
    # graph, from which `errors` runs the float64 reference (accuracy.py) when first asked
    tensors: Mapping[str, np.ndarray] | None = field(default=None, repr=False)
    graph: Any = field(default=None, repr=False)

    @functools.cached_property
    def errors(self) -> tuple[dict, dict]:
        """(layer errors, op name -> op errors) against the float64 reference (accuracy.py);
        empty columns for a count-only run."""
        from .accuracy import layer_errors

        return layer_errors(self)

    @functools.cached_property
    def total(self) -> OpResult:
        """The sum of the layer's ops (one stacked sum, not pairwise: this runs once per report row)."""
        if not self.ops:
            return OpResult.zero()
        counts = np.sum([op.counts for op in self.ops], axis=0)
        return OpResult("+", "sum", "mixed", "", _frozen(counts), sum(op.cycles for op in self.ops),
                        bound_cycles=sum(op.bound_cycles for op in self.ops))

    @property
    def counts(self) -> np.ndarray:
        """The layer's counts as scheduled: the ops' summed counts, less the bytes forwarding kept on
        chip and with the off-chip engines' busy cycles as scheduled."""
        return self.total.counts if self.schedule is None else self.schedule.counts

    @property
    def compute_cycles(self) -> int:
        """Cycles in which the MAC array or the vector unit is busy."""
        return self.total.compute_cycles if self.schedule is None else self.schedule.compute_cycles

    @property
    def serial_cycles(self) -> int:
        """The ops' cycles one after another (what the serial schedule gives)."""
        return self.total.cycles

    @property
    def macs(self) -> int:
        return self.total.macs


def frozen_arrays(arrays: dict[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """Read-only views of a finished layer's tensors (nothing writes them after the run, so no copy)."""
    out = {}
    for name, arr in arrays.items():
        arr = np.asarray(arr).view()
        arr.setflags(write=False)
        out[name] = arr
    return MappingProxyType(out)


def read_only(arrays: dict[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """`arrays` made read-only in place (no copy: a functional run's tensors can be large)."""
    for arr in arrays.values():
        if isinstance(arr, np.ndarray):
            arr.setflags(write=False)
    return MappingProxyType(dict(arrays))


def price_counts(counts: np.ndarray, cycles: int, compute_cycles: int, hw) -> dict[str, Any]:
    """The priced, report-ready numbers of one counts vector (plain Python arithmetic: this runs
    once per report row, and a few dozen numpy calls on a short vector cost more than the sums)."""
    return price_with_breakdown(counts, cycles, compute_cycles, hw)[0]


def price_with_breakdown(counts: np.ndarray, cycles: int, compute_cycles: int, hw) -> tuple[dict, dict]:
    """price_counts and the energy per component (mac, vector, each memory level by name)."""
    c = counts.tolist()
    reads, writes = cost.level_bytes_scalar(c, len(hw.memories))
    breakdown = cost.energy_breakdown_scalar(c, reads, writes, hw)
    rec = count_columns(c, reads, writes, cycles, compute_cycles, hw)
    return ({**{k: rec[k] for k in COUNT_HEAD}, "seconds": cycles / hw.clock_hz,
             **{k: rec[k] for k in COUNT_MIDDLE}, "energy_pj": sum(breakdown.values())}, breakdown)


# count_columns' keys: those before `seconds` in a report row, and those between it and energy_pj
COUNT_HEAD = ("macs", "slot_macs", "vector_ops", "cycles", "compute_cycles", "stall_cycles")
COUNT_MIDDLE = ("dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "utilization")


def count_columns(c: list, reads: list, writes: list, cycles: int, compute_cycles: int, hw) -> dict[str, Any]:
    """The report numbers of counts `c` (a list, Counter layout) that no price enters: price_counts
    less seconds and energy_pj. `reads`, `writes`: bytes per memory level (cost.level_bytes_scalar)."""
    macs = c[Counter.MACS]
    arr = hw.mac_array
    return {
        "macs": macs,
        "slot_macs": c[Counter.SLOT_MACS],
        "vector_ops": sum(c[Counter.VEC_OPS:Counter.VEC_OPS + N_VEC_KINDS]),
        "cycles": int(cycles),
        "compute_cycles": int(compute_cycles),
        "stall_cycles": int(cycles - compute_cycles),
        "dram_read_bytes": reads[-1],
        "dram_write_bytes": writes[-1],
        "sram_read_bytes": sum(reads[:-1]),
        "sram_write_bytes": sum(writes[:-1]),
        "utilization": macs / (cycles * arr.rows * arr.cols) if cycles > 0 else 0.0,
    }
