"""The heuristic's one-level candidate space of a GEMM, split into what a design point changes and
what it does not (the sweep hot path; mapper._space caches the part a point does not change).

The heuristic on one level lists the tiles that fit the level (mapspace.level_tiles), bounds each
(bounds.gemm_bounds) and walks them best-first (evaluate.walk_best_first). Of that work only the
capacity filter and the bandwidth terms of the bounds depend on the level's size and bandwidths;
the tile grid, the array terms, the boundary words and the mask terms depend on the op, the array
shape, the dataflow, the fold overlap and the element size alone. space_terms computes those once
per such key, for every tile the size lists give (the capacity filter is a footprint test: the
sizes ascend, so level_tiles' early breaks drop exactly the tiles over the capacity), and
mapper._new_space orders the rows after the seed by footprint, so the tiles a level holds are a
prefix. best_of_space then takes that prefix, finishes the bounds with the point's bandwidths using
gemm_bounds' own expressions on the same integers (so every float is the same to the last bit) and
walks with walk_best_first: the same rows, hence the same choice, counts and stats
(tests/test_gemm_space.py). Their order does not matter: walk_best_first picks by the estimate,
then a tie order on the rows' contents (distinct rows never tie), and prunes or drops each row on
its own test.
"""
import math

import numpy as np
from numba import njit

from .bounds import _array_from_terms, _axis_terms, _boundary_from_trips, hull_fractions, masked_array_cycles
from .evaluate import walk_best_first
from .mapspace import COARSE_WALKS

# Columns of space_terms' output, per candidate (bytes already times the element size).
T_FOOT, T_ARRAY, T_UNIT_R, T_UNIT_W, T_FIRST, T_LAST, T_FILLS, T_DRAINS, T_DRAIN_WORDS, T_STEPS = range(10)
T_TILE_C, T_TILE_C_BYTES, T_MASKED = 10, 11, 12
N_TERMS = 13


@njit(cache=True)
def space_terms(cands, dims, batch, shared_b, step_barrier, rows, cols, pipelined, eb, masked, lo, hi, mask_on_n,
                frac, terms):
    """The point-independent terms of every candidate row (one level: dataflow, tm, tk, tn, order)
    into `terms` (columns T_*), and the mask's estimated computed fraction into `frac` (1 unmasked),
    as gemm_bounds and the heuristic compute them."""
    M, K, N = dims[0], dims[1], dims[2]
    R, C = rows, cols
    n = cands.shape[0]
    frac[:] = 1.0
    mask_len = N if mask_on_n else K
    if masked:
        hull_fractions(cands[:, 1].copy(), cands[:, 3 if mask_on_n else 2].copy(), lo, hi, M, mask_len, frac)
        arr = np.zeros(n, np.int64)
        masked_array_cycles(cands, lo, hi, M, mask_len, K if mask_on_n else N, mask_on_n, pipelined, R, C, batch,
                            step_barrier, arr)
        terms[:, T_MASKED] = arr
    tm_t = np.zeros(6, np.int64)
    tk_t = np.zeros(6, np.int64)
    tn_t = np.zeros(6, np.int64)
    for i in range(n):
        tm, tk, tn = cands[i, 1], cands[i, 2], cands[i, 3]
        _axis_terms(M, tm, R, C, tm_t)
        _axis_terms(K, tk, R, C, tk_t)
        _axis_terms(N, tn, R, C, tn_t)
        cyc, fd, slots, ur, uw = _array_from_terms(cands[i, 0], pipelined, R, C, M, K, N, tm_t, tk_t, tn_t)
        array_cycles = batch * cyc
        if pipelined:
            array_cycles += fd * (batch if step_barrier else 1)
        em0, ek0, en0 = min(tm, M), min(tk, K), min(tn, N)
        fills, drains = _boundary_from_trips(M, K, N, tm_t[1], tk_t[1], tn_t[1], cands[i, 4], batch, shared_b)
        terms[i, T_FOOT] = tm * tk + tk * tn + tm * tn
        terms[i, T_ARRAY] = array_cycles
        terms[i, T_UNIT_R] = batch * ur * eb
        terms[i, T_UNIT_W] = batch * uw * eb
        terms[i, T_FIRST] = (em0 * ek0 + ek0 * en0) * eb
        terms[i, T_LAST] = tm_t[5] * tn_t[5] * eb
        terms[i, T_FILLS] = fills * eb
        terms[i, T_DRAINS] = drains * eb
        terms[i, T_DRAIN_WORDS] = drains
        terms[i, T_STEPS] = batch * tm_t[1] * tk_t[1] * tn_t[1]
        terms[i, T_TILE_C] = min(tm * tn, M * N)
        terms[i, T_TILE_C_BYTES] = min(tm * tn, M * N) * eb


@njit(cache=True)
def _finish_bounds(t, frac, unit_bw, fill_bw, drain_bw, dbuf):
    """(lower bound, estimate) of one candidate's cycles from its terms row `t`: gemm_bounds'
    expressions for one level, on the same integers."""
    inner = max(t[T_ARRAY], math.floor(t[T_UNIT_R] / unit_bw[0]), math.floor(t[T_UNIT_W] / unit_bw[1]))
    first = int(math.ceil(t[T_FIRST] / fill_bw[0])) if dbuf[0] else 0
    last = int(math.ceil(t[T_LAST] / drain_bw[0]))
    exposed = first + last
    fill_t = t[T_FILLS] / fill_bw[0]
    drain_t = t[T_DRAINS] / drain_bw[0]
    if dbuf[0]:
        lb = exposed + max(inner, math.floor(fill_t) - first, math.floor(drain_t) - last)
        steps = max(1.0, t[T_STEPS] * frac)
        per_step = max(inner * frac, fill_t * frac - first) / steps
        drain_one = t[T_TILE_C_BYTES] / drain_bw[0]
        n_drains = t[T_DRAIN_WORDS] * frac / t[T_TILE_C]
        est = exposed + max(steps * per_step + n_drains * max(0.0, drain_one - per_step), drain_t * frac - last)
    else:
        lb = exposed + inner + math.floor(fill_t) + math.floor(drain_t) - last
        est = exposed + inner * frac + (fill_t + drain_t) * frac - last
    return lb, int(math.ceil(est))


@njit(cache=True)
def _fitting_end(terms, cap_elems):
    """One past the last row within `cap_elems`: rows after the seed (row 0) ascend by footprint."""
    lo, hi = 1, terms.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if terms[mid, T_FOOT] <= cap_elems:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def best_of_space(cands_all, terms, frac_all, steps_all, seed_fits, cap_elems, masked, traffic_lb, unit_bw, fill_bw,
                  drain_bw, dbuf, budget, tolerance, flow_pos, order_rank, ip_base, rates, lo, hi, state_size, stats,
                  best_counts, memo_slot, memo_counts, memo_used, bounded, lb_all, key_all):
    """The heuristic's one-level search on a precomputed space: row 0 of cands_all is the whole-extent
    seed (taken when seed_fits), the rest every tile of the size lists by footprint (steps_all: their
    innermost steps); those over `cap_elems` are left out, so the rows taken are one slice, passed
    to walk_best_first as views. Returns the best row and whether best_counts holds its counts. For
    this op on these ip_base and rates (the bandwidths, double buffering and traffic_lb follow from
    them), the caller keeps walk_best_first's memo of walks (memo_slot per row of cands_all,
    memo_counts, memo_used) and the finished bounds of the rows used so far (lb_all, key_all where
    bounded[row] is 1)."""
    first = 0 if seed_fits else 1
    end = _fitting_end(terms, cap_elems)
    n_seeds = 1 if seed_fits else 0
    for i in range(first, end):
        if not bounded[i]:
            b, e = _finish_bounds(terms[i], frac_all[i], unit_bw, fill_bw, drain_bw, dbuf)
            lb_all[i] = b
            key_all[i] = e
            if masked:
                lb_all[i] = max(terms[i, T_MASKED], traffic_lb)
                key_all[i] = max(key_all[i], lb_all[i])
            bounded[i] = 1
    steps = steps_all[first:end]
    coarsest = steps[n_seeds:].min() if end - first > n_seeds else 0
    budget = max(budget, steps[:n_seeds].sum() + COARSE_WALKS * coarsest)
    best, counted = walk_best_first(cands_all[first:end], lb_all[first:end], key_all[first:end], steps, n_seeds,
                                    budget, tolerance, flow_pos, order_rank, ip_base, rates, lo, hi, state_size, stats,
                                    best_counts, memo_slot[first:end], memo_counts, memo_used)
    return cands_all[first + best].copy(), counted
