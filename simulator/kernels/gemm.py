"""Tile-level walk of a GEMM on the modeled MAC array.

The walk visits the innermost tiles of C[b] += A[b] @ B[b] in the mapping's loop nest (one nest of
three loops per on-chip level, outermost level first) and, per tile step, counts MACs, folds and
systolic cycles (docs/conventions/systolic.md §3), compute-unit traffic and the fills and drains that
cross each memory boundary.  A tile is (re)loaded into a level when the tile index of that level
changes; partial sums come back in when the output tile was computed before.  Durations follow the
double-buffered recurrence in docs/architecture.md: a level's step takes max(inner work, the next
step's fill, its own drain).  In functional mode the same walk also multiplies the tiles.
"""
import math

import numpy as np
from numba import njit

from ..enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, BoundaryCounter, Counter, Dataflow, FoldOverlap
from .masks import masked_useful, masked_useful_sorted, sorted_mask
from .params import LEVEL_FIELDS, LOOP_ORDER_TABLE, GemmParam, GemmRate, LevelParam
from .steplog import GEMM_LEVEL_FIELDS, GemmLog

_OS = int(Dataflow.OUTPUT_STATIONARY)
_WS = int(Dataflow.WEIGHT_STATIONARY)
_PIPELINED = int(FoldOverlap.PIPELINED)

# Typed constants for calls between kernels: a plain 0 or True would be a literal type and compile
# the callee once more for it (one compiled signature per kernel keeps the first run's compile short).
_I0 = np.int64(0)


@njit(cache=True)
def cdiv(a, b):
    return -(-a // b)


@njit(cache=True)
def transfer_cycles(nbytes, bytes_per_cycle):
    if nbytes == 0:
        return 0
    return int(math.ceil(nbytes / bytes_per_cycle))


@njit(cache=True)
def next_log_row(log, nlog):
    """The next row of a step log, zeroed (nlog[0] counts the rows written)."""
    row = log[nlog[0]]
    nlog[0] += 1
    row[:] = 0
    return row


@njit(cache=True)
def fold_shape(dataflow, rows, cols, tm, tk, tn):
    """(folds, temporal length) of one (tm x tk x tn) sub-GEMM on the array
    (docs/conventions/systolic.md §2)."""
    if dataflow == _OS:
        return cdiv(tm, rows) * cdiv(tn, cols), tk
    if dataflow == _WS:
        return cdiv(tk, rows) * cdiv(tn, cols), tm
    return cdiv(tk, rows) * cdiv(tm, cols), tn


@njit(cache=True)
def fold_cycles(dataflow, overlap, rows, cols, folds, t):
    """Array cycles of `folds` folds streaming t each; pipelined mode excludes the once-per-op fill/drain."""
    if overlap == _PIPELINED:
        if dataflow == _OS:
            return folds * t
        return folds * max(t, rows)
    if dataflow == _OS:
        return folds * (t + rows + cols - 2)
    return folds * (2 * rows + cols + t - 2)


@njit(cache=True)
def pipeline_fill_drain(dataflow, rows, cols):
    """Fill and drain paid once per op when folds are pipelined."""
    if dataflow == _OS:
        return rows + cols - 2
    return 2 * rows + cols - 2


@njit(cache=True)
def unit_words(dataflow, rows, cols, tm, tk, tn, psum_in):
    """Words the array reads of A, B, C (partial sums) and writes of C for one sub-GEMM."""
    if dataflow == _OS:
        a = cdiv(tn, cols) * tm * tk
        b = cdiv(tm, rows) * tk * tn
        c_w = tm * tn
    elif dataflow == _WS:
        a = cdiv(tn, cols) * tm * tk
        b = tk * tn
        c_w = cdiv(tk, rows) * tm * tn
    else:
        a = tm * tk
        b = cdiv(tm, cols) * tk * tn
        c_w = cdiv(tk, rows) * tm * tn
    c_r = c_w - tm * tn
    if psum_in:
        c_r += tm * tn
    return a, b, c_r, c_w


@njit(cache=True)
def _dur(dbuf, inner, fill_own, fill_next, drain_own):
    """Duration of one level step: overlapped when double-buffered, serial otherwise."""
    if dbuf:
        return max(inner, fill_next, drain_own)
    return drain_own + fill_own + inner


# Walk state that persists across calls (a recurrence walks one step per call): per level
# res_a, res_b, res_c (3 each), step_key (4), res_c_bytes, acc, fill_own, drain_own, started.
_PER_LEVEL = 18
_G_INIT, _G_EXPOSED, _G_FIRST, _G_TOP = 0, 1, 2, 3
_GLOBALS = 4


def gemm_state_size(levels: int) -> int:
    return _GLOBALS + _PER_LEVEL * levels


@njit(cache=True)
def _loop_nest(ip, nlev):
    """Tile extents per level (level nlev = the whole problem), double buffering, and the loop
    nest: loop j runs over level loop_level[j] along dim loop_dim[j], outermost level first."""
    tile = np.empty((nlev + 1, 3), np.int64)
    tile[nlev, 0] = ip[GemmParam.M]
    tile[nlev, 1] = ip[GemmParam.K]
    tile[nlev, 2] = ip[GemmParam.N]
    dbuf = np.empty(nlev, np.int64)
    loop_level = np.empty(3 * nlev, np.int64)
    loop_dim = np.empty(3 * nlev, np.int64)
    for lv in range(nlev):
        base = GemmParam.LEVEL_BASE + LEVEL_FIELDS * lv
        tile[lv, 0] = ip[base + LevelParam.TM]
        tile[lv, 1] = ip[base + LevelParam.TK]
        tile[lv, 2] = ip[base + LevelParam.TN]
        dbuf[lv] = ip[base + LevelParam.DOUBLE_BUFFERED]
        order = ip[base + LevelParam.ORDER]
        for j in range(3):
            slot = 3 * (nlev - 1 - lv) + j
            loop_level[slot] = lv
            loop_dim[slot] = LOOP_ORDER_TABLE[order, j]
    return tile, dbuf, loop_level, loop_dim


@njit(cache=True)
def _state_views(state, nlev):
    """Views into the persistent state; a fresh (all-zero) state is initialised first."""
    if state[_G_INIT] == 0:
        state[:] = 0
        state[_GLOBALS:_GLOBALS + 13 * nlev] = -1     # tile keys and step keys: nothing resident
        state[_G_INIT] = 1
        state[_G_FIRST] = 1
    g = _GLOBALS
    return (state[g:g + 3 * nlev].reshape((nlev, 3)),                  # res_a (b, row, col)
            state[g + 3 * nlev:g + 6 * nlev].reshape((nlev, 3)),       # res_b
            state[g + 6 * nlev:g + 9 * nlev].reshape((nlev, 3)),       # res_c
            state[g + 9 * nlev:g + 13 * nlev].reshape((nlev, 4)),      # step_key (b, m, k, n)
            state[g + 13 * nlev:g + 14 * nlev],                        # res_c_bytes
            state[g + 14 * nlev:g + 15 * nlev],                        # acc: inner time of the current step
            state[g + 15 * nlev:g + 16 * nlev],                        # fill_own
            state[g + 16 * nlev:g + 17 * nlev],                        # drain_own
            state[g + 17 * nlev:g + 18 * nlev])                        # started


@njit(cache=True)
def _reset_loops(lo_r, hi_r, tile, loop_level, loop_dim, first):
    """Start loops first.. at the beginning of their parent's current range."""
    for j in range(first, loop_level.shape[0]):
        lv = loop_level[j]
        d = loop_dim[j]
        lo_r[lv, d] = lo_r[lv + 1, d]
        hi_r[lv, d] = min(lo_r[lv, d] + tile[lv, d], hi_r[lv + 1, d])


@njit(cache=True)
def _grid_index(grid_off, grid_n, tile, lo_r, lv):
    return grid_off[lv] + (lo_r[lv, 0] // tile[lv, 0]) * grid_n[lv] + lo_r[lv, 2] // tile[lv, 2]


@njit(cache=True)
def count_subgemm(flow, overlap, rows, cols, tm, tk, tn, useful, psum_in, eb, with_fill_drain, out):
    """Count one (tm x tk x tn) sub-GEMM on the array; return (array cycles, bytes the array reads
    from and writes to the innermost level). `with_fill_drain` adds the pipelined fill and drain
    that an op pays once."""
    folds, t = fold_shape(flow, rows, cols, tm, tk, tn)
    cyc = fold_cycles(flow, overlap, rows, cols, folds, t)
    if with_fill_drain and overlap == _PIPELINED:
        cyc += pipeline_fill_drain(flow, rows, cols)
    wa, wb, wcr, wcw = unit_words(flow, rows, cols, tm, tk, tn, psum_in)
    out[Counter.MACS] += useful
    out[Counter.SLOT_MACS] += folds * rows * cols * t
    out[Counter.FOLDS] += folds
    out[Counter.TILES] += 1
    out[Counter.ARRAY_CYCLES] += cyc
    out[Counter.UNIT_READ_A] += wa * eb
    out[Counter.UNIT_READ_B] += wb * eb
    out[Counter.UNIT_READ_C] += wcr * eb
    out[Counter.UNIT_WRITE_C] += wcw * eb
    return cyc, (wa + wb + wcr) * eb, wcw * eb


@njit(cache=True)
def _array_step(flow, overlap, rows, cols, tm, tk, tn, useful, psum_in, eb, unit_rbw, unit_wbw, state, out):
    """Count one sub-GEMM of the walk; return its duration (array cycles, or longer when the
    innermost level's ports cannot feed the array)."""
    cyc, rd, wr = count_subgemm(flow, overlap, rows, cols, tm, tk, tn, useful, psum_in, eb,
                                state[_G_FIRST] == 1, out)
    state[_G_FIRST] = 0
    return max(cyc, transfer_cycles(rd, unit_rbw), transfer_cycles(wr, unit_wbw))


@njit(cache=True)
def _record_run(runs, nrun, run, b_local, m0, m1, k0, k1, n0, n1):
    """Functional walks record the tile products for the caller (numerics.apply_runs) instead of
    multiplying here, so the walk is one integer kernel for every mode and number format. The
    array accumulates an output tile in place over the K tiles that follow each other on it, so
    such a run of K tiles is one product, made when the output tile leaves the array; an output
    tile that comes back later (partial sums) adds to C again.

    `run` holds the pending run: (batch element, m0, m1, n0, n1, k start, k end); -1 when none."""
    if (run[0] == b_local and run[1] == m0 and run[2] == m1 and run[3] == n0 and run[4] == n1
            and run[6] == k0):
        run[6] = k1
        return
    _flush_run(runs, nrun, run)
    run[0], run[1], run[2], run[3], run[4], run[5], run[6] = b_local, m0, m1, n0, n1, k0, k1


@njit(cache=True)
def _flush_run(runs, nrun, run):
    """Append the pending run (if any) to `runs`."""
    if run[0] < 0:
        return
    runs[nrun[0], :] = run
    nrun[0] += 1
    run[0] = -1


@njit(cache=True)
def gemm_walk(ip, rates, lo, hi, out, state, key_offset, finish, log, nlog, runs, nrun):
    """Walk one GEMM plan; add its counts to `out` (int64, length n_counters(levels)).

    Functional walks pass `runs` with rows (a bound: one per computed step, gemm_run_bound) and
    receive the tile products to make, one row per run of K tiles on an output tile: (batch element
    of this call, m0, m1, n0, n1, k0, k1); `nrun[0]` counts them. Count-only walks pass no rows.
    `state` (gemm_state_size(levels) int64, zero when fresh) carries buffer contents and timing
    between calls; batch element b is keyed as key_offset + b. `finish` closes the walk: the last
    steps are timed, outputs still on chip written back and CYCLES added. With STEP_BARRIER set
    every batch element is closed that way (dependent steps of a recurrence).
    `log` (rows x gemm_log_width(levels)) receives one row per computed step and per chain close
    when it has rows (steplog.GemmLog); `nlog[0]` counts the rows written.
    """
    batch = ip[GemmParam.BATCH]
    rows = ip[GemmParam.ROWS]
    cols = ip[GemmParam.COLS]
    flow = ip[GemmParam.DATAFLOW]
    overlap = ip[GemmParam.FOLD_OVERLAP]
    eb = ip[GemmParam.ELEM_BYTES]
    nlev = ip[GemmParam.LEVELS]
    mask_axis = ip[GemmParam.MASK_AXIS]
    tile, dbuf, loop_level, loop_dim = _loop_nest(ip, nlev)
    fill_bw = np.empty(nlev)
    drain_bw = np.empty(nlev)
    for lv in range(nlev):
        fill_bw[lv] = rates[GemmRate.BOUNDARY_BASE + 2 * lv]
        drain_bw[lv] = rates[GemmRate.BOUNDARY_BASE + 2 * lv + 1]
    # Output-tile grids per level, to know whether a C tile holds partial sums already.
    grid_n = np.empty(nlev, np.int64)
    grid_off = np.zeros(nlev + 1, np.int64)
    for lv in range(nlev):
        grid_n[lv] = cdiv(tile[nlev, 2], tile[lv, 2])
        grid_off[lv + 1] = grid_off[lv] + cdiv(tile[nlev, 0], tile[lv, 0]) * grid_n[lv]
    touched = np.zeros(grid_off[nlev], np.uint8)
    lo_r = np.zeros((nlev + 1, 3), np.int64)   # current range [lo_r, hi_r) per level and dim
    hi_r = np.zeros((nlev + 1, 3), np.int64)
    for d in range(3):
        hi_r[nlev, d] = tile[nlev, d]
    views = _state_views(state, nlev)
    fill_new = np.zeros(nlev, np.int64)
    drain_new = np.zeros(nlev, np.int64)
    fill_bytes = np.zeros(nlev, np.int64)
    drain_bytes = np.zeros(nlev, np.int64)
    top_fills = np.zeros(7, np.int64)          # at the outermost level: A, B, C bytes, new C, old C key
    logging = log.shape[0] > 0
    functional = runs.shape[0] > 0
    run = np.full(7, -1, np.int64)            # functional: the pending run of K tiles
    sorted_ranges, pre_lo, pre_hi = sorted_mask(mask_axis, lo, hi)

    res_a, res_b, res_c, step_key, res_c_bytes, acc, fill_own, drain_own, started = views
    unit_rbw = rates[GemmRate.UNIT_READ_BW]
    unit_wbw = rates[GemmRate.UNIT_WRITE_BW]
    nloops = loop_level.shape[0]
    # The per-step body stays in this one loop on purpose: Numba does not inline helpers this
    # large, and each call's reference counting of its array arguments tripled the cost per step.
    for b_local in range(batch):
        b = key_offset + b_local
        bkey = 0 if ip[GemmParam.SHARED_B] else b
        _reset_loops(lo_r, hi_r, tile, loop_level, loop_dim, _I0)
        touched[:] = 0
        while True:
            m0, k0, n0 = lo_r[0, 0], lo_r[0, 1], lo_r[0, 2]
            m1, k1, n1 = hi_r[0, 0], hi_r[0, 1], hi_r[0, 2]
            if mask_axis == 0:
                useful = (m1 - m0) * (k1 - k0) * (n1 - n0)
            elif sorted_ranges:
                useful = masked_useful_sorted(mask_axis, lo, hi, pre_lo, pre_hi, m0, m1, k0, k1, n0, n1)
            else:
                useful = masked_useful(mask_axis, lo, hi, m0, m1, k0, k1, n0, n1)
            if useful == 0:
                out[Counter.SKIPPED_TILES] += 1
            else:
                # 1. the highest level whose step changes here (level 0 always does)
                top = 0
                for lv in range(nlev - 1, -1, -1):
                    if (step_key[lv, 0] != b or step_key[lv, 1] != lo_r[lv, 0]
                            or step_key[lv, 2] != lo_r[lv, 1] or step_key[lv, 3] != lo_r[lv, 2]):
                        top = lv
                        break
                # 2. levels 0..top enter a new step: fill what is not resident, drain a replaced C
                top_fills[:4] = 0
                top_fills[4:] = -1
                for lv in range(top + 1):
                    step_key[lv, 0] = b
                    step_key[lv, 1] = lo_r[lv, 0]
                    step_key[lv, 2] = lo_r[lv, 1]
                    step_key[lv, 3] = lo_r[lv, 2]
                    em = hi_r[lv, 0] - lo_r[lv, 0]
                    ek = hi_r[lv, 1] - lo_r[lv, 1]
                    en = hi_r[lv, 2] - lo_r[lv, 2]
                    cb = BOUNDARY_BASE + N_BOUNDARY_COUNTERS * lv
                    fill = _I0              # typed: transfer_cycles compiles once
                    drain = _I0
                    if res_a[lv, 0] != b or res_a[lv, 1] != lo_r[lv, 0] or res_a[lv, 2] != lo_r[lv, 1]:
                        res_a[lv, 0] = b
                        res_a[lv, 1] = lo_r[lv, 0]
                        res_a[lv, 2] = lo_r[lv, 1]
                        out[cb + BoundaryCounter.FILL_A] += em * ek * eb
                        fill += em * ek * eb
                        if lv == nlev - 1:
                            top_fills[0] = em * ek * eb
                    if res_b[lv, 0] != bkey or res_b[lv, 1] != lo_r[lv, 1] or res_b[lv, 2] != lo_r[lv, 2]:
                        res_b[lv, 0] = bkey
                        res_b[lv, 1] = lo_r[lv, 1]
                        res_b[lv, 2] = lo_r[lv, 2]
                        out[cb + BoundaryCounter.FILL_B] += ek * en * eb
                        fill += ek * en * eb
                        if lv == nlev - 1:
                            top_fills[1] = ek * en * eb
                    if res_c[lv, 0] != b or res_c[lv, 1] != lo_r[lv, 0] or res_c[lv, 2] != lo_r[lv, 2]:
                        if res_c[lv, 0] >= 0:
                            out[cb + BoundaryCounter.DRAIN_C] += res_c_bytes[lv]
                            drain += res_c_bytes[lv]
                            if lv == nlev - 1:
                                top_fills[4] = res_c[lv, 0]
                                top_fills[5] = res_c[lv, 1]
                                top_fills[6] = res_c[lv, 2]
                        if lv == nlev - 1:
                            top_fills[3] = em * en * eb
                        res_c[lv, 0] = b
                        res_c[lv, 1] = lo_r[lv, 0]
                        res_c[lv, 2] = lo_r[lv, 2]
                        res_c_bytes[lv] = em * en * eb
                        if touched[_grid_index(grid_off, grid_n, tile, lo_r, lv)]:
                            out[cb + BoundaryCounter.FILL_C] += em * en * eb
                            fill += em * en * eb
                            if lv == nlev - 1:
                                top_fills[2] = em * en * eb
                    fill_new[lv] = transfer_cycles(fill, fill_bw[lv])
                    drain_new[lv] = transfer_cycles(drain, drain_bw[lv])
                    fill_bytes[lv] = fill
                    drain_bytes[lv] = drain
                    if lv == nlev - 1:
                        out[Counter.OFFCHIP_FILL_CYCLES] += fill_new[lv]
                        out[Counter.OFFCHIP_DRAIN_CYCLES] += drain_new[lv]
                # 3. those levels close their previous step, innermost first
                for lv in range(top + 1):
                    if started[lv]:
                        d_step = _dur(dbuf[lv], acc[lv], fill_own[lv], fill_new[lv], drain_own[lv])
                        if lv + 1 < nlev:
                            acc[lv + 1] += d_step
                        else:
                            state[_G_TOP] += d_step
                    else:
                        started[lv] = 1
                        if dbuf[lv]:
                            state[_G_EXPOSED] += fill_new[lv]      # the very first fill is exposed
                    acc[lv] = 0
                    fill_own[lv] = fill_new[lv]
                    drain_own[lv] = drain_new[lv]
                # 4. the sub-GEMM on the array
                psum_in = touched[_grid_index(grid_off, grid_n, tile, lo_r, _I0)] != 0
                busy0 = out[Counter.ARRAY_CYCLES]
                acc[0] = _array_step(flow, overlap, rows, cols, m1 - m0, k1 - k0, n1 - n0, useful, psum_in, eb,
                                     unit_rbw, unit_wbw, state, out)
                if logging:
                    _log_step(log, nlog, b, top, acc[0], out[Counter.ARRAY_CYCLES] - busy0, lo_r, hi_r, nlev,
                              top_fills, fill_new, drain_new, fill_bytes, drain_bytes)
                for lv in range(nlev):
                    touched[_grid_index(grid_off, grid_n, tile, lo_r, lv)] = 1
                if functional:
                    _record_run(runs, nrun, run, b_local, m0, m1, k0, k1, n0, n1)
            # 5. advance the odometer, innermost loop first
            j = nloops - 1
            while j >= 0:
                lv = loop_level[j]
                d = loop_dim[j]
                nxt = lo_r[lv, d] + tile[lv, d]
                if nxt < hi_r[lv + 1, d]:
                    lo_r[lv, d] = nxt
                    hi_r[lv, d] = min(nxt + tile[lv, d], hi_r[lv + 1, d])
                    _reset_loops(lo_r, hi_r, tile, loop_level, loop_dim, j + 1)
                    break
                j -= 1
            if j < 0:
                break
        if ip[GemmParam.STEP_BARRIER]:
            # the next step depends on this one's result: nothing of it may overlap this chain
            _close_chain(state, out, nlev, dbuf, drain_bw, views, log, nlog, b)
    if functional:
        _flush_run(runs, nrun, run)
    if finish:
        _close_chain(state, out, nlev, dbuf, drain_bw, views, log, nlog, key_offset + batch - 1)


@njit(cache=True)
def _log_step(log, nlog, b, top, occ, busy, lo_r, hi_r, nlev, top_fills, fill_new, drain_new, fill_bytes,
              drain_bytes):
    """One GemmLog row for a computed step."""
    row = next_log_row(log, nlog)
    row[GemmLog.B] = b
    row[GemmLog.TOP] = top
    row[GemmLog.OCC] = occ
    row[GemmLog.BUSY] = busy
    t = nlev - 1
    for d in range(3):
        row[GemmLog.TM0 + 2 * d] = lo_r[t, d]
        row[GemmLog.TM0 + 2 * d + 1] = hi_r[t, d]
    for i in range(7):
        row[GemmLog.FILL_A + i] = top_fills[i]
    for lv in range(top + 1):
        base = GemmLog.LEVEL_BASE + GEMM_LEVEL_FIELDS * lv
        row[base] = fill_new[lv]
        row[base + 1] = drain_new[lv]
        row[base + 2] = fill_bytes[lv]
        row[base + 3] = drain_bytes[lv]


@njit(cache=True)
def _close_chain(state, out, nlev, dbuf, drain_bw, views, log, nlog, b):
    """End the timing chain: close every level's last step, write back the outputs still on chip
    (exposed), add the chain's time to CYCLES and start a fresh chain. A and B stay resident, so a
    recurrence keeps its weights; the pipelined fill and drain is paid again by the next chain."""
    res_c, res_c_bytes = views[2], views[4]
    acc, fill_own, drain_own, started = views[5], views[6], views[7], views[8]
    if log.shape[0] > 0 and (started.any() or res_c[nlev - 1, 0] >= 0):
        row = next_log_row(log, nlog)
        row[GemmLog.KIND] = 1
        row[GemmLog.B] = b
        row[GemmLog.TOP] = -1
        row[GemmLog.OLD_C_B] = res_c[nlev - 1, 0]
        row[GemmLog.OLD_C_M0] = res_c[nlev - 1, 1]
        row[GemmLog.OLD_C_N0] = res_c[nlev - 1, 2]
        for lv in range(nlev):
            if res_c[lv, 0] >= 0:
                base = GemmLog.LEVEL_BASE + GEMM_LEVEL_FIELDS * lv
                row[base + 1] = transfer_cycles(res_c_bytes[lv], drain_bw[lv])
                row[base + 3] = res_c_bytes[lv]
    for lv in range(nlev):
        if started[lv]:
            d_step = _dur(dbuf[lv], acc[lv], fill_own[lv], _I0, drain_own[lv])
            if lv + 1 < nlev:
                acc[lv + 1] += d_step
            else:
                state[_G_TOP] += d_step
    for lv in range(nlev):
        if res_c[lv, 0] >= 0:
            cb = BOUNDARY_BASE + N_BOUNDARY_COUNTERS * lv
            out[cb + BoundaryCounter.DRAIN_C] += res_c_bytes[lv]
            state[_G_EXPOSED] += transfer_cycles(res_c_bytes[lv], drain_bw[lv])
            if lv == nlev - 1:
                out[Counter.OFFCHIP_DRAIN_CYCLES] += transfer_cycles(res_c_bytes[lv], drain_bw[lv])
    out[Counter.CYCLES] += state[_G_TOP] + state[_G_EXPOSED]
    state[_G_TOP] = 0
    state[_G_EXPOSED] = 0
    state[_G_FIRST] = 1
    for lv in range(nlev):
        started[lv] = 0
        acc[lv] = 0
        fill_own[lv] = 0
        drain_own[lv] = 0
        res_c[lv, 0] = -1
        res_c[lv, 1] = -1
        res_c[lv, 2] = -1
        res_c_bytes[lv] = 0


@njit(cache=True)
def gemm_walk_many(ips, rates, lo, hi, states, outs):
    """Count-only walks of many plans of one op (the mapping search's candidates), in one call.

    Row i of `ips` (int64, GemmParam layout) and of `rates` (float64, GemmRate layout) is one
    complete plan; every plan shares the op's mask ranges `lo`/`hi`.  Each walk starts from a fresh
    zero state (row i of `states`, gemm_state_size(levels) wide, zeroed here) and its counts
    overwrite row i of `outs` (n_counters(levels) wide), as one finished gemm_walk call would give.
    """
    no_rows = np.zeros((0, 0), np.int64)
    count = np.zeros(1, np.int64)
    for i in range(ips.shape[0]):
        states[i, :] = 0
        outs[i, :] = 0
        # np.int64 / np.bool_: not literals, so this call shares gemm_walk's one compiled signature
        gemm_walk(ips[i], rates[i], lo, hi, outs[i], states[i], np.int64(0), np.bool_(True), no_rows, count,
                  no_rows, count)
