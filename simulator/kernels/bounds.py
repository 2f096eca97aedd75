"""Closed-form lower bounds on the tile walk's counts, for many candidate mappings of one GEMM at once.

The mappers rank and prune candidates with these before walking any of them (docs/mapper.md
derives every term). For an unmasked op, per candidate:

* array cycles, slot MACs and the compute unit's reads and writes of level 0 are exact (the fold
  sums of docs/architecture.md over the innermost tile grid);
* the fills and drains across the outermost boundary are exact for any loop order (an operand's
  tile is reloaded once per trip of every loop outside the innermost loop over one of its axes
  that has more than one trip); inner boundaries carry at least the compulsory traffic;
* cycles >= E + max(I, fills / fill bw - F0, drains / drain bw - D0) on a double-buffered
  outermost level (single-buffered: E + I + fills / fill bw + drains / drain bw - D0), where
  I = max(array cycles, unit reads / read bw, unit writes / write bw), E the first fill of each
  double-buffered level plus the last drain of each level (both always exposed), and F0, D0 the
  outermost level's own first fill and last drain.
With a mask, the caller replaces the bounds by weaker ones (the op-level bound) and this kernel
only supplies an estimate for ordering, the unmasked terms scaled by the fraction of tiles the
mask leaves (`frac_inner`, `frac_top`).
"""
import math

import numpy as np
from numba import njit

from .gemm import cdiv
from .params import LOOP_ORDER_TABLE

_OS = 0
_WS = 1
_IS = 2

# Output columns of gemm_bounds (per candidate). Then READS + level and WRITES + level bytes.
LB_CYCLES = 0
EST_CYCLES = 1
STEPS = 2
SLOT_MACS = 3
LEVEL_BYTES = 4


def bounds_width(nlev: int) -> int:
    return LEVEL_BYTES + 2 * (nlev + 1)

# Typed constants for calls between kernels: a plain 0 or True would be a literal type and compile
# the callee once more for it (one compiled signature per kernel keeps the first run's compile short).
_CDIV, _MAX = np.int64(0), np.int64(1)                 # _tiles_sum kinds
_AXIS_M, _AXIS_K, _AXIS_N = np.int64(0), np.int64(1), np.int64(2)


@njit(cache=True)
def _tiles_sum(full, t, kind, unit):
    """Sum over the tiles of size t covering [0, full) of f(extent): kind 0 cdiv(e, unit),
    1 max(e, unit), 2 e."""
    q = full // t
    r = full - q * t
    if kind == 0:
        return q * cdiv(t, unit) + (cdiv(r, unit) if r else 0)
    if kind == 1:
        return q * max(t, unit) + (max(r, unit) if r else 0)
    return full


@njit(cache=True)
def array_terms(flow, pipelined, R, C, M, K, N, tm, tk, tn):
    """One batch element on an innermost tile grid: (array cycles without the once-per-op fill and
    drain of pipelined folds, that fill and drain, slot MACs, unit words read, unit words written)."""
    if flow == _OS:
        sm = _tiles_sum(M, tm, _CDIV, R)
        sn = _tiles_sum(N, tn, _CDIV, C)
        kt = cdiv(K, tk)
        fd = R + C - 2
        cyc = sm * sn * K if pipelined else sm * sn * (K + kt * fd)
        slots = sm * sn * K * R * C
        ra = sn * M * K
        rb = sm * K * N
        wc = kt * M * N
    else:
        if flow == _WS:
            spatial = _tiles_sum(K, tk, _CDIV, R) * _tiles_sum(N, tn, _CDIV, C)
            t_full, t_tile = M, tm
            ra = _tiles_sum(N, tn, _CDIV, C) * M * K
            rb = cdiv(M, tm) * K * N
        else:
            spatial = _tiles_sum(K, tk, _CDIV, R) * _tiles_sum(M, tm, _CDIV, C)
            t_full, t_tile = N, tn
            ra = cdiv(N, tn) * M * K
            rb = _tiles_sum(M, tm, _CDIV, C) * K * N
        fd = 2 * R + C - 2
        if pipelined:
            cyc = spatial * _tiles_sum(t_full, t_tile, _MAX, R)
        else:
            cyc = spatial * (t_full + cdiv(t_full, t_tile) * fd)
        slots = spatial * t_full * R * C
        wc = _tiles_sum(K, tk, _CDIV, R) * M * N
    rc = wc - M * N
    return cyc, fd, slots, ra + rb + rc, wc


@njit(cache=True)
def _residencies(order, t_m, t_k, t_n, a0, a1):
    """Times an operand indexed by axes a0, a1 is (re)loaded across a level's loop nest, whose loops
    have t_m, t_k, t_n trips."""
    inner = -1
    for j in range(3):
        d = LOOP_ORDER_TABLE[order, j]
        trips = t_m if d == 0 else (t_k if d == 1 else t_n)
        if (d == a0 or d == a1) and trips > 1:
            inner = j
    if inner < 0:
        return 1
    factor = 1
    for j in range(inner):
        d = LOOP_ORDER_TABLE[order, j]
        if d != a0 and d != a1:
            factor *= t_m if d == 0 else (t_k if d == 1 else t_n)
    return factor


@njit(cache=True)
def boundary_terms(M, K, N, tm, tk, tn, order, batch, shared_b):
    """Words (fills of A, B and partial sums; drains of C) across the boundary of the level whose
    tile and loop order these are, when it is the outermost level (any loop order)."""
    return _boundary_from_trips(M, K, N, cdiv(M, tm), cdiv(K, tk), cdiv(N, tn), order, batch, shared_b)


@njit(cache=True)
def _axis_terms(full, t, R, C, terms):
    """Per-axis sums of one tile size, cached in `terms` (rows are recomputed only when t changes):
    [t, trips, sum cdiv(e, R), sum cdiv(e, C), sum max(e, R), last extent]."""
    if terms[0] == t:
        return
    q = full // t
    r = full - q * t
    terms[0] = t
    terms[1] = q + (1 if r else 0)
    terms[2] = q * cdiv(t, R) + (cdiv(r, R) if r else 0)
    terms[3] = q * cdiv(t, C) + (cdiv(r, C) if r else 0)
    terms[4] = q * max(t, R) + (max(r, R) if r else 0)
    terms[5] = r if r else t


@njit(cache=True)
def gemm_bounds(cands, dims, batch, shared_b, step_barrier, rows, cols, pipelined, eb, unit_bw, fill_bw,
                drain_bw, dbuf, frac_inner, frac_top, out):
    """Bounds of every candidate row (dataflow, then tm, tk, tn, loop order per level, innermost
    first) of one GEMM; written to `out` (columns LB_CYCLES, ...; see bounds_width). Per-axis sums
    are recomputed only when a tile size changes from the previous row (rows come grouped)."""
    M, K, N = dims[0], dims[1], dims[2]
    R, C = rows, cols
    nlev = fill_bw.shape[0]
    top = nlev - 1
    tm_t = np.zeros((nlev, 6), np.int64)      # per level and axis: _axis_terms rows
    tk_t = np.zeros((nlev, 6), np.int64)
    tn_t = np.zeros((nlev, 6), np.int64)
    for i in range(cands.shape[0]):
        for lv in range(nlev):
            _axis_terms(M, cands[i, 1 + 4 * lv], R, C, tm_t[lv])
            _axis_terms(K, cands[i, 2 + 4 * lv], R, C, tk_t[lv])
            _axis_terms(N, cands[i, 3 + 4 * lv], R, C, tn_t[lv])
        cyc, fd, slots, ur, uw = _array_from_terms(cands[i, 0], pipelined, R, C, M, K, N, tm_t[0], tk_t[0], tn_t[0])
        array_cycles = batch * cyc
        if pipelined:
            array_cycles += fd * (batch if step_barrier else 1)
        inner = max(array_cycles, math.floor(batch * ur * eb / unit_bw[0]), math.floor(batch * uw * eb / unit_bw[1]))
        exposed = 0
        first_top = 0
        last_top = 0
        for lv in range(nlev):
            em0, ek0, en0 = min(tm_t[lv, 0], M), min(tk_t[lv, 0], K), min(tn_t[lv, 0], N)
            first = int(math.ceil((em0 * ek0 + ek0 * en0) * eb / fill_bw[lv])) if dbuf[lv] else 0
            last = int(math.ceil(tm_t[lv, 5] * tn_t[lv, 5] * eb / drain_bw[lv]))
            exposed += first + last
            first_top, last_top = first, last
        fills, drains = _boundary_from_trips(M, K, N, tm_t[top, 1], tk_t[top, 1], tn_t[top, 1], cands[i, 4 + 4 * top],
                                             batch, shared_b)
        fill_t = fills * eb / fill_bw[top]
        drain_t = drains * eb / drain_bw[top]
        if dbuf[top]:
            lb = exposed + max(inner, math.floor(fill_t) - first_top, math.floor(drain_t) - last_top)
            # estimate: steps of equal length, and each output drain that outlasts a step exposed
            steps = max(1.0, batch * tm_t[0, 1] * tk_t[0, 1] * tn_t[0, 1] * frac_inner[i])
            per_step = max(inner * frac_inner[i], fill_t * frac_top[i] - first_top) / steps
            tile_c = tm_t[top, 0] * tn_t[top, 0]
            drain_one = min(tile_c, M * N) * eb / drain_bw[top]
            n_drains = drains * frac_top[i] / min(tile_c, M * N)
            est = exposed + max(steps * per_step + n_drains * max(0.0, drain_one - per_step),
                                drain_t * frac_top[i] - last_top)
        else:
            lb = exposed + inner + math.floor(fill_t) + math.floor(drain_t) - last_top
            est = exposed + inner * frac_inner[i] + (fill_t + drain_t) * frac_top[i] - last_top
        out[i, LB_CYCLES] = lb
        out[i, EST_CYCLES] = int(math.ceil(est))
        out[i, STEPS] = batch * tm_t[0, 1] * tk_t[0, 1] * tn_t[0, 1]
        out[i, SLOT_MACS] = batch * slots
        _level_bytes(out, i, nlev, batch * ur * eb, batch * uw * eb, fills * eb, drains * eb,
                     (batch * M * K + (1 if shared_b else batch) * K * N) * eb, batch * M * N * eb)


@njit(cache=True)
def _array_from_terms(flow, pipelined, R, C, M, K, N, tm, tk, tn):
    """array_terms from cached per-axis sums (see _axis_terms)."""
    if flow == _OS:
        fd = R + C - 2
        folds = tm[2] * tn[3]
        cyc = folds * K if pipelined else folds * (K + tk[1] * fd)
        return cyc, fd, folds * K * R * C, tn[3] * M * K + tm[2] * K * N + tk[1] * M * N - M * N, tk[1] * M * N
    fd = 2 * R + C - 2
    wc = tk[2] * M * N
    if flow == _WS:
        spatial = tk[2] * tn[3]
        cyc = spatial * tm[4] if pipelined else spatial * (M + tm[1] * fd)
        return cyc, fd, spatial * M * R * C, tn[3] * M * K + tm[1] * K * N + wc - M * N, wc
    spatial = tk[2] * tm[3]
    cyc = spatial * tn[4] if pipelined else spatial * (N + tn[1] * fd)
    return cyc, fd, spatial * N * R * C, tn[1] * M * K + tm[3] * K * N + wc - M * N, wc


@njit(cache=True)
def _boundary_from_trips(M, K, N, t_m, t_k, t_n, order, batch, shared_b):
    fill_a = M * K * _residencies(order, t_m, t_k, t_n, _AXIS_M, _AXIS_K) * batch
    b_res = _residencies(order, t_m, t_k, t_n, _AXIS_K, _AXIS_N)
    once = shared_b and b_res == 1 and t_k * t_n == 1
    fill_b = K * N * b_res * (1 if once else batch)
    c_res = _residencies(order, t_m, t_k, t_n, _AXIS_M, _AXIS_N)
    return fill_a + fill_b + batch * M * N * (c_res - 1), batch * M * N * c_res


@njit(cache=True)
def _level_bytes(out, i, nlev, unit_r, unit_w, fill_top, drain_top, fill_min, drain_min):
    """Bytes read and written per level: exact at level 0's unit ports and the outermost boundary,
    the compulsory traffic across inner boundaries."""
    reads = LEVEL_BYTES
    writes = LEVEL_BYTES + nlev + 1
    for lv in range(nlev + 1):
        out[i, reads + lv] = 0
        out[i, writes + lv] = 0
    out[i, reads] += unit_r
    out[i, writes] += unit_w
    for b in range(nlev):
        fill = fill_top if b == nlev - 1 else fill_min
        drain = drain_top if b == nlev - 1 else drain_min
        out[i, reads + b + 1] += fill           # a fill reads the outer level, writes the inner one
        out[i, writes + b] += fill
        out[i, reads + b] += drain              # a drain reads the inner level, writes the outer one
        out[i, writes + b + 1] += drain


@njit(cache=True)
def hull_fractions(tms, tas, lo, hi, M, L, out):
    """Estimated fraction of the (tm x ta) tiles of an M x L masked plane that a walk computes, for
    every (tms[i], tas[i]): per tile row, the tiles between its rows' smallest start and largest
    end (exact for masks whose rows in a tile cover one interval: causal, bands, windows)."""
    order = np.argsort(tms, kind="mergesort")
    tm_done = -1
    lo_min = np.empty(0, np.int64)
    hi_max = np.empty(0, np.int64)
    for j in range(order.shape[0]):
        i = order[j]
        tm = tms[i]
        mt = cdiv(M, tm)
        if tm != tm_done:                     # per tile row: the hull of its rows' ranges
            lo_min = np.full(mt, L, np.int64)
            hi_max = np.zeros(mt, np.int64)
            for r in range(M):
                if hi[r] > lo[r]:
                    t = r // tm
                    lo_min[t] = min(lo_min[t], lo[r])
                    hi_max[t] = max(hi_max[t], hi[r])
            tm_done = tm
        ta = tas[i]
        total = 0
        for t in range(mt):
            if hi_max[t] > lo_min[t]:
                total += cdiv(hi_max[t], ta) - lo_min[t] // ta
        out[i] = total / (mt * cdiv(L, ta))


@njit(cache=True)
def _pair_term(flow, mask_on_n, pipelined, R, C, em, ea):
    """Array cycles of one computed (m tile, masked-axis tile) pair, per unit of the third axis' sum
    (see masked_array_cycles): the fold count and stream length factors that depend on em and ea."""
    if mask_on_n:                                  # ea is the n extent; k is the third axis
        if flow == _OS:
            return cdiv(em, R) * cdiv(ea, C)
        if flow == _WS:
            return cdiv(ea, C) * (max(em, R) if pipelined else em + 2 * R + C - 2)
        return cdiv(em, C) * (max(ea, R) if pipelined else ea + 2 * R + C - 2)
    if flow == _OS:                                # ea is the k extent; n is the third axis
        return cdiv(em, R) * (ea if pipelined else ea + R + C - 2)
    if flow == _WS:
        return cdiv(ea, R) * (max(em, R) if pipelined else em + 2 * R + C - 2)
    return cdiv(ea, R) * cdiv(em, C)


@njit(cache=True)
def _third_axis(flow, mask_on_n, pipelined, R, C, full, t):
    """The closed-form sum over the third (unmasked) axis' tiles that multiplies every pair term."""
    if mask_on_n:
        if flow == _OS:
            return full if pipelined else full + cdiv(full, t) * (R + C - 2)
        return _tiles_sum(full, t, _CDIV, R)
    if flow == _IS:
        return _tiles_sum(full, t, _MAX, R) if pipelined else full + cdiv(full, t) * (2 * R + C - 2)
    return _tiles_sum(full, t, _CDIV, C)



@njit(cache=True)
def masked_array_cycles(cands, lo, hi, M, L, third, mask_on_n, pipelined, R, C, batch, step_barrier, out):
    """Exact array cycles of a masked GEMM for each candidate row (innermost tile): the walk computes
    an innermost step iff some row of its m tile meets its masked-axis range, and every tile of the
    third axis with it. Pair sums are computed once per (dataflow, tm, masked-axis tile size)."""
    a_col = 3 if mask_on_n else 2
    t_col = 2 if mask_on_n else 3
    n = cands.shape[0]
    keys = (cands[:, 0] * (M + 1) + cands[:, 1]) * (L + 1) + cands[:, a_col]
    order = np.argsort(keys, kind="mergesort")
    last_key = -1
    pair_sum = 0
    any_pair = False
    for j in range(n):
        i = order[j]
        flow = cands[i, 0]
        if keys[i] != last_key:
            pair_sum, any_pair = _pair_sum(lo, hi, M, L, cands[i, 1], cands[i, a_col], flow, mask_on_n, pipelined, R, C)
            last_key = keys[i]
        cyc = batch * pair_sum * _third_axis(flow, mask_on_n, pipelined, R, C, third, cands[i, t_col])
        if pipelined and any_pair:
            cyc += (batch if step_barrier else 1) * (R + C - 2 if flow == _OS else 2 * R + C - 2)
        out[i] = cyc


@njit(cache=True)
def _pair_sum(lo, hi, M, L, tm, ta, flow, mask_on_n, pipelined, R, C):
    at = cdiv(L, ta)
    diff = np.zeros(at + 1, np.int64)
    total = 0
    for r0 in range(0, M, tm):
        r1 = min(M, r0 + tm)
        diff[:] = 0
        for r in range(r0, r1):
            if hi[r] > lo[r]:
                diff[lo[r] // ta] += 1
                diff[(hi[r] - 1) // ta + 1] -= 1
        live = 0
        for c in range(at):
            live += diff[c]
            if live > 0:
                total += _pair_term(flow, mask_on_n, pipelined, R, C, r1 - r0, min(L, (c + 1) * ta) - c * ta)
    return total, total > 0
