"""A layer's forwarding tables: which drains' blocks may stay on chip and who reads them, in what order.

From the forwardable reads the block links found (drain task, fill task, bytes, counter operand,
last-use task), the flat arrays the list scheduler walks: the blocks (drain tasks read), each
fill's parts, the parts each task's end unpins, and each block's reads in priority order. One
kernel of counting sorts over task indices (tasks and priorities are both 0..n-1).
"""
import numpy as np
from numba import njit

from .tasks import _counting_csr


def forwarding_arrays(reads: np.ndarray, tab: np.ndarray, prio: np.ndarray):
    """Flat arrays of the forwardable blocks (one per drain task read) and their reads."""
    return forwarding_tables(np.ascontiguousarray(reads, np.int64), len(tab), prio)


@njit(cache=True)
def forwarding_tables(reads, n, prio):
    """(parts, part_ptr, unpin_ptr, unpin, blocks, block_of, cons_ptr, cons) from the reads (drain,
    fill, bytes, counter operand, last use): blocks are the drain tasks read, in task order; parts
    the reads stably sorted by fill task, naming their block; unpin the parts by last use; cons
    each block's parts by the fill's priority (ties: part order). Counting sorts over task
    indices throughout (no comparison sort)."""
    m = reads.shape[0]
    block_of = np.full(n, -1, np.int64)
    for i in range(m):
        block_of[reads[i, 0]] = 0
    nb = 0
    for t in range(n):
        if block_of[t] == 0:
            block_of[t] = nb
            nb += 1
    blocks = np.empty(nb, np.int64)
    for t in range(n):
        if block_of[t] >= 0:
            blocks[block_of[t]] = t
    part_ptr, by_fill = _counting_csr(n, np.ascontiguousarray(reads[:, 1]), np.arange(m))
    parts = np.empty((m, 5), np.int64)
    for p in range(m):
        r = by_fill[p]
        parts[p, 0] = reads[r, 1]
        parts[p, 1] = block_of[reads[r, 0]]
        parts[p, 2] = reads[r, 2]
        parts[p, 3] = reads[r, 3]
        parts[p, 4] = reads[r, 4]
    unpin_ptr, unpin = _counting_csr(n, np.ascontiguousarray(parts[:, 4]), np.arange(m))
    fill_prio = np.empty(m, np.int64)
    for p in range(m):
        fill_prio[p] = prio[parts[p, 0]]
    _, by_prio = _counting_csr(n, fill_prio, np.arange(m))              # priorities are 0..n-1
    block_keys = np.empty(m, np.int64)
    for i in range(m):
        block_keys[i] = parts[by_prio[i], 1]
    cons_ptr, cons = _counting_csr(nb, block_keys, by_prio)
    return parts, part_ptr, unpin_ptr, unpin, blocks, block_of, cons_ptr, cons
