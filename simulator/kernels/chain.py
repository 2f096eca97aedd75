"""The double-buffered chain of chunks shared by the vector and fused kernels.

A chain is a sequence of chunks, each with a fill (loads it needs), a busy time (compute) and a
drain (its results written back), moved through every memory boundary. Double-buffered: the
first fill and the last drain are exposed, and chunk c takes max(busy_c, fill_{c+1}, drain_{c-1})
(the maximum over boundaries for the overlapped terms, the sum for the exposed ones).
Single-buffered: every chunk takes fill + busy + drain. docs/architecture.md states the same.
"""
import numpy as np
from numba import njit

from ..enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, BoundaryCounter, Counter
from .gemm import transfer_cycles

# chain state: chunks seen, total, busy of the previous chunk, drain of the previous chunk, drain of
# the one before, exposed drain of the last chunk
CHAIN_SIZE = 6


def new_chain():
    return np.zeros(CHAIN_SIZE, np.int64)


@njit(cache=True)
def move(out, nlev, rates, fill, drain):
    """Count a chunk's fills and drains at every boundary (rates[2 + 2b], rates[3 + 2b] are the
    boundary's fill and drain bandwidths); return (fill max, fill sum, drain max, drain sum) times."""
    f_max = 0
    f_sum = 0
    d_max = 0
    d_sum = 0
    for lv in range(nlev):
        cb = BOUNDARY_BASE + N_BOUNDARY_COUNTERS * lv
        out[cb + BoundaryCounter.FILL_A] += fill
        out[cb + BoundaryCounter.DRAIN_C] += drain
        ft = transfer_cycles(fill, rates[2 + 2 * lv])
        dt = transfer_cycles(drain, rates[3 + 2 * lv])
        if lv == nlev - 1:
            out[Counter.OFFCHIP_FILL_CYCLES] += ft
            out[Counter.OFFCHIP_DRAIN_CYCLES] += dt
        f_max = max(f_max, ft)
        f_sum += ft
        d_max = max(d_max, dt)
        d_sum += dt
    return f_max, f_sum, d_max, d_sum


@njit(cache=True)
def log_transfers(row, base, nlev, rates, fill, drain):
    """Per boundary: fill cycles, drain cycles of one chunk's transfers, into a step-log row."""
    for lv in range(nlev):
        row[base + 2 * lv] = transfer_cycles(fill, rates[2 + 2 * lv])
        row[base + 2 * lv + 1] = transfer_cycles(drain, rates[3 + 2 * lv])


@njit(cache=True)
def step(chain, f_max, f_sum, busy, d_max, d_sum, dbuf):
    """Add one chunk; the previous chunk's duration is known once this chunk's fill is."""
    if not dbuf:
        chain[1] += f_sum + busy + d_sum
    else:
        if chain[0] == 0:
            chain[1] += f_sum                          # the first fill is exposed
        else:
            chain[1] += max(chain[2], f_max, chain[4])  # the previous chunk, overlapped
        chain[4] = chain[3]
        chain[3] = d_max
        chain[2] = busy
        chain[5] = d_sum
    chain[0] += 1


@njit(cache=True)
def end(chain, dbuf):
    """Total cycles of the chain: the last chunk, then its exposed drain."""
    if dbuf and chain[0] > 0:
        return chain[1] + max(chain[2], chain[4]) + chain[5]
    return chain[1]
