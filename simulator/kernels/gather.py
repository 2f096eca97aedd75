"""Gathers: rows of a table picked by an index tensor, moved through the memory hierarchy."""
from numba import njit

from ..enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, BoundaryCounter, Counter
from .gemm import transfer_cycles
from .steplog import GatherLog


@njit(cache=True)
def gather_walk(batch, rows, width, eb, nlev, rates, table, index, out_data, functional, out, log):
    """Read each index, fetch the picked row and write it out; counts added to `out`.

    Per batch element the indices (rows words) and the picked rows (rows x width words) are filled
    across every boundary and the output rows drained; the time is the slowest boundary's transfer
    (fills and drains overlap on separate ports) plus the first boundary's index fetch, which the
    row fetch depends on. `log` (batch x gather_log_width(nlev), or no rows) receives one
    steplog.GatherLog row per batch element.
    """
    fill = rows * (1 + width) * eb
    drain = rows * width * eb
    cycles = 0
    for b in range(batch):
        slowest = 0
        for lv in range(nlev):
            cb = BOUNDARY_BASE + N_BOUNDARY_COUNTERS * lv
            out[cb + BoundaryCounter.FILL_A] += fill
            out[cb + BoundaryCounter.DRAIN_C] += drain
            slowest = max(slowest, transfer_cycles(fill, rates[2 * lv]), transfer_cycles(drain, rates[2 * lv + 1]))
        index_cycles = transfer_cycles(rows * eb, rates[2 * (nlev - 1)])
        cycles += slowest + index_cycles
        out[Counter.OFFCHIP_FILL_CYCLES] += index_cycles + transfer_cycles(fill, rates[2 * (nlev - 1)])
        out[Counter.OFFCHIP_DRAIN_CYCLES] += transfer_cycles(drain, rates[2 * (nlev - 1) + 1])
        if log.shape[0] > 0:
            row = log[b]
            row[GatherLog.B] = b
            row[GatherLog.INDEX] = index_cycles
            row[GatherLog.FILL] = fill
            row[GatherLog.DRAIN] = drain
            for lv in range(nlev):
                row[GatherLog.LEVEL_BASE + 2 * lv] = transfer_cycles(fill, rates[2 * lv])
                row[GatherLog.LEVEL_BASE + 2 * lv + 1] = transfer_cycles(drain, rates[2 * lv + 1])
        if functional:
            for i in range(rows):
                src = int(index[b, i, 0])
                for c in range(width):
                    out_data[b, i, c] = table[b, src, c]
    out[Counter.GATHER_ELEMS] += batch * rows * width
    out[Counter.CYCLES] += cycles
