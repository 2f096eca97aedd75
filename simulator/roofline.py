"""The roofline, defined once (docs/conventions/counting.md §4): what a layer's off-chip traffic
allows it to attain, and whether a run was limited by memory or by compute.

Off-chip traffic moves on two ports that run at the same time: reads come in through the fill
engine of the off-chip boundary, writes go out through its drain engine, each at the slower of the
two levels' ports (lowering.boundary_rates). A layer that reads R and writes W bytes therefore
needs at least max(R / fill rate, W / drain rate) cycles of transfer, and MACs / (rows x cols)
cycles of array work; its roof is MACs over the larger of the two. Every report that speaks of a
roof or of a layer being memory- or compute-bound (`attnsim table`'s roofline and generation
section, the `bound` column of model reports) uses these functions.
"""
from __future__ import annotations

# `bound` calls a run balanced when transfer and compute time are within 5% of each other:
# closer than the per-op fill and drain overheads a schedule adds.
BALANCE = 1.05


def offchip_rates(hw) -> tuple[float, float]:
    """(fill, drain) bytes per cycle across the off-chip boundary: reads from and writes to the
    outermost level, each limited by the slower of the two levels' ports."""
    from .lowering import boundary_rates

    return boundary_rates(hw)[-1]


def peak_macs_per_cycle(hw) -> int:
    return hw.mac_array.rows * hw.mac_array.cols


def transfer_cycles(read_bytes: float, write_bytes: float, hw) -> float:
    """The fewest cycles the off-chip ports need to move these bytes: reads and writes at once,
    each at its own port's rate."""
    fill, drain = offchip_rates(hw)
    return max(read_bytes / fill, write_bytes / drain)


def roof_macs_per_cycle(macs: float, read_bytes: float, write_bytes: float, hw) -> float:
    """The most MACs per cycle a layer with this traffic can attain: min(peak, MACs / transfer)."""
    peak = peak_macs_per_cycle(hw)
    moving = transfer_cycles(read_bytes, write_bytes, hw)
    return float(peak) if moving <= 0 else min(float(peak), macs / moving)


def port_intensity(macs: float, read_bytes: float, write_bytes: float, hw) -> float:
    """MACs per byte on the busier port, counted in bytes of the read port (fill-rate x transfer
    cycles): the x axis on which min(peak, intensity x fill rate) is exactly each layer's roof.
    With equal read and write rates it is MACs / max(read bytes, write bytes)."""
    fill, _ = offchip_rates(hw)
    moving = transfer_cycles(read_bytes, write_bytes, hw)
    return float("inf") if moving <= 0 else macs / (moving * fill)


def bound(compute_cycles: float, read_bytes: float, write_bytes: float, hw) -> str:
    """'memory' when the off-chip transfers alone take more than 5% longer than the cycles in which
    the MAC array or the vector unit computes (`compute_cycles`), 'compute' when the reverse,
    'balanced' in between. A memory-bound run stalls for at least the difference."""
    moving = transfer_cycles(read_bytes, write_bytes, hw)
    if moving > BALANCE * compute_cycles:
        return "memory"
    return "compute" if compute_cycles > BALANCE * moving else "balanced"


def bound_of_record(rec: dict, hw) -> str:
    """`bound` of a report record (its compute_cycles and DRAM bytes)."""
    return bound(rec["compute_cycles"], rec["dram_read_bytes"], rec["dram_write_bytes"], hw)
