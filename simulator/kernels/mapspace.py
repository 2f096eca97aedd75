"""Candidate rows of one level's tiles, generated in Numba (the mappers' hot path).

A row is (dataflow, then tm, tk, tn, loop order index per level, innermost first); this fills
`copies` levels with the same tile (the levels below are completed by the caller when there are
several). Rows come out in the tie-break order: tm, tk, tn ascending, then the order table's order.
"""
import numpy as np
from numba import njit

from .bounds import EST_CYCLES, LB_CYCLES, LEVEL_BYTES, STEPS, gemm_bounds, hull_fractions, masked_array_cycles
from .evaluate import walk_best_first
from .params import GemmParam

_ONE_COPY = np.int64(1)   # level_tiles' copies, typed (a literal 1 would compile it once more)
COARSE_WALKS = 4      # the heuristic's budget covers at least this many walks of its coarsest candidate


@njit(cache=True)
def level_tiles(flow, sm, sk, sn, cap_elems, bound, order_table, order_count, copies):
    """Every (tm, tk, tn) from the size lists whose working set (tm tk + tk tn + tm tn elements)
    fits `cap_elems`, once per loop order of its class: order_table[p, :order_count[p]] lists the
    orders kept for the multi-trip pattern p = (tm < M) + 2 (tk < K) + 4 (tn < N) of the bound."""
    width = 1 + 4 * copies
    out = np.empty((sm.shape[0] * sk.shape[0] * sn.shape[0] * 6, width), np.int64)
    count = 0
    for tm in sm:
        for tk in sk:
            if tm * tk + tk * sn[0] + tm * sn[0] > cap_elems:
                break
            for tn in sn:
                if tm * tk + tk * tn + tm * tn > cap_elems:
                    break
                p = int(tm < bound[0]) + 2 * int(tk < bound[1]) + 4 * int(tn < bound[2])
                for j in range(order_count[p]):
                    out[count, 0] = flow
                    for lv in range(copies):
                        out[count, 1 + 4 * lv] = tm
                        out[count, 2 + 4 * lv] = tk
                        out[count, 3 + 4 * lv] = tn
                        out[count, 4 + 4 * lv] = order_table[p, j]
                    count += 1
    return out[:count].copy()


@njit(cache=True)
def best_single_level(seed, sm, sk, sn, cap_elems, bound, order_table, order_count, order_rank, masked, lo, hi, mask_on_n,
                      traffic_lb, batch, shared_b, step_barrier, rows, cols, pipelined, eb, unit_bw, fill_bw,
                      drain_bw, dbuf, ip_base, rates, state_size, budget, tolerance, flow_pos, stats, best_counts):
    """The heuristic on one on-chip level, in one call: the level_tiles candidates (after `seed`,
    when it has a row), bounded (kernels/bounds.py) and walked in the order of their estimate,
    skipping those whose bound exceeds the best cycles walked (under a mask the bound is the exact
    array cycles of what the mask leaves, or `traffic_lb`); returns the best row and whether
    best_counts holds its counts."""
    tiles = level_tiles(ip_base[GemmParam.DATAFLOW], sm, sk, sn, cap_elems, bound, order_table, order_count, _ONE_COPY)
    n_seeds = seed.shape[0]
    cands = np.empty((n_seeds + tiles.shape[0], tiles.shape[1]), np.int64)
    cands[:n_seeds] = seed
    cands[n_seeds:] = tiles
    n = cands.shape[0]
    frac_inner = np.ones(n)
    mask_len = bound[2] if mask_on_n else bound[1]
    if masked:
        hull_fractions(cands[:, 1].copy(), cands[:, 3 if mask_on_n else 2].copy(), lo, hi, bound[0], mask_len,
                       frac_inner)
    out = np.zeros((n, LEVEL_BYTES + 4), np.int64)        # bounds_width(1)
    gemm_bounds(cands, bound, batch, shared_b, step_barrier, rows, cols, pipelined, eb, unit_bw, fill_bw, drain_bw,
                dbuf, frac_inner, frac_inner, out)
    lb = out[:, LB_CYCLES].astype(np.float64)
    key = out[:, EST_CYCLES].astype(np.float64)
    if masked:
        arr = np.zeros(n, np.int64)
        masked_array_cycles(cands, lo, hi, bound[0], mask_len, bound[1] if mask_on_n else bound[2], mask_on_n,
                            pipelined, rows, cols, batch, step_barrier, arr)
        for i in range(n):
            lb[i] = max(arr[i], traffic_lb)
            key[i] = max(key[i], lb[i])
    # at least a few walks of the coarsest candidate, however fine the tiles must be
    coarsest = out[n_seeds:, STEPS].min() if n > n_seeds else 0
    budget = max(budget, out[:n_seeds, STEPS].sum() + COARSE_WALKS * coarsest)
    best, counted = walk_best_first(cands, lb, key, out[:, STEPS], n_seeds, budget, tolerance, flow_pos, order_rank,
                                    ip_base, rates, lo, hi, state_size, stats, best_counts)
    return cands[best].copy(), counted

