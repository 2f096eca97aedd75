"""Prices: counts -> bytes per memory level, energy (pJ) and seconds.  Plain numpy.

Counts come from kernels as integer events; nothing here re-simulates, so re-pricing an existing
result under other unit costs is exact.  Works on one counts vector or a matrix of them (rows).
"""
from __future__ import annotations

import numpy as np

from .enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, N_VEC_KINDS, BoundaryCounter, Counter


def _boundary(counts: np.ndarray, b: int, which: BoundaryCounter) -> np.ndarray:
    return counts[..., BOUNDARY_BASE + N_BOUNDARY_COUNTERS * b + which]


def fills(counts: np.ndarray, b: int) -> np.ndarray:
    return (_boundary(counts, b, BoundaryCounter.FILL_A) + _boundary(counts, b, BoundaryCounter.FILL_B)
            + _boundary(counts, b, BoundaryCounter.FILL_C))


def level_bytes(counts: np.ndarray, n_levels: int) -> tuple[list, list]:
    """(reads, writes) in bytes for each memory level, innermost first.

    Level 0 is read and written by the compute units; a fill across boundary b reads level b+1 and
    writes level b; a drain reads level b and writes level b+1.
    """
    n_b = n_levels - 1
    reads, writes = [], []
    for lv in range(n_levels):
        if lv == 0:
            r = counts[..., Counter.UNIT_READ_A] + counts[..., Counter.UNIT_READ_B] + counts[..., Counter.UNIT_READ_C]
            w = counts[..., Counter.UNIT_WRITE_C]
        else:
            r = fills(counts, lv - 1)
            w = _boundary(counts, lv - 1, BoundaryCounter.DRAIN_C)
        if lv < n_b:
            r = r + _boundary(counts, lv, BoundaryCounter.DRAIN_C)
            w = w + fills(counts, lv)
        reads.append(r)
        writes.append(w)
    return reads, writes


def vector_ops(counts: np.ndarray) -> np.ndarray:
    return counts[..., Counter.VEC_OPS:Counter.VEC_OPS + N_VEC_KINDS].sum(axis=-1)


def energy_breakdown_pj(counts: np.ndarray, hw) -> dict[str, np.ndarray]:
    """Energy per component: MAC slots issued, vector ops, and each memory level's reads + writes."""
    out = {
        "mac": counts[..., Counter.SLOT_MACS] * hw.mac_array.mac_energy_pj,
        "vector": vector_ops(counts) * hw.vector_unit.op_energy_pj,
    }
    reads, writes = level_bytes(counts, len(hw.memories))
    for level, r, w in zip(hw.memories, reads, writes):
        out[level.name] = r * level.read_pj_per_byte + w * level.write_pj_per_byte
    return out


def energy_pj(counts: np.ndarray, hw) -> np.ndarray:
    return sum(energy_breakdown_pj(counts, hw).values())


def seconds(cycles, hw):
    return np.asarray(cycles, dtype=np.float64) / hw.clock_hz


# --- one counts vector as a Python list: the same prices without numpy overhead ----------------
def level_bytes_scalar(c: list, n_levels: int) -> tuple[list, list]:
    """level_bytes for one counts vector given as a list of ints: a level reads what the unit (the
    innermost) or the fills from outside bring in and the drains it sends out, and writes the
    reverse (plain indices: this runs once per sweep row)."""
    fills, drains = [], []
    for b in range(n_levels - 1):
        base = BOUNDARY_BASE + N_BOUNDARY_COUNTERS * b
        fills.append(c[base + _FILL_A] + c[base + _FILL_B] + c[base + _FILL_C])
        drains.append(c[base + _DRAIN_C])
    reads = [c[_UNIT_READ_A] + c[_UNIT_READ_B] + c[_UNIT_READ_C], *fills]
    writes = [c[_UNIT_WRITE_C], *drains]
    for b in range(n_levels - 1):
        reads[b] += drains[b]
        writes[b] += fills[b]
    return reads, writes


_FILL_A, _FILL_B, _FILL_C, _DRAIN_C = (int(BoundaryCounter.FILL_A), int(BoundaryCounter.FILL_B),
                                       int(BoundaryCounter.FILL_C), int(BoundaryCounter.DRAIN_C))
_UNIT_READ_A, _UNIT_READ_B, _UNIT_READ_C, _UNIT_WRITE_C = (int(Counter.UNIT_READ_A), int(Counter.UNIT_READ_B),
                                                           int(Counter.UNIT_READ_C), int(Counter.UNIT_WRITE_C))


def energy_breakdown_scalar(c: list, reads: list, writes: list, hw) -> dict[str, float]:
    """energy_breakdown_pj for one counts vector given as a list, with its level bytes."""
    out = {"mac": c[Counter.SLOT_MACS] * hw.mac_array.mac_energy_pj,
           "vector": sum(c[Counter.VEC_OPS:Counter.VEC_OPS + N_VEC_KINDS]) * hw.vector_unit.op_energy_pj}
    for level, r, w in zip(hw.memories, reads, writes):
        out[level.name] = r * level.read_pj_per_byte + w * level.write_pj_per_byte
    return out
