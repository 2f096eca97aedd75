"""FlashAttention-style fused attention (Dao et al. 2022, Algorithm 1; docs/conventions/counting.md §3)
on the array.

Per batch element: O, l, m are initialised in memory; for each K/V block j (B_c rows, loaded once)
and each Q block i (B_r rows) that the mask does not leave empty, Q_i, O_i, l_i, m_i are read,
S = scale Q_i K_j^T and P~ V_j run on the array, the online-softmax update runs on the vector
unit, and O_i, l_i, m_i are written back. Every (j, i) block is one step of the double-buffered
chain (the init writes are the first step). Traffic crosses every memory boundary.
"""
import math
from enum import IntEnum

import numpy as np
from numba import njit

from ..enums import Counter, VecKind
from .chain import CHAIN_SIZE, end, log_transfers, move, step
from .gemm import cdiv, count_subgemm, next_log_row, transfer_cycles
from .steplog import FusedLog

# Typed constants for calls between kernels: a plain 0 or False would be a literal type and
# compile the callee once more for it (one compiled signature per kernel: a shorter first run).
_ZERO = np.int64(0)
_TRUE, _FALSE = np.bool_(True), np.bool_(False)
_LEVEL_BASE = np.int64(FusedLog.LEVEL_BASE)


class FusedParam(IntEnum):
    BATCH = 0
    N_Q = 1
    N_KV = 2
    D = 3
    B_R = 4
    B_C = 5
    ROWS = 6
    COLS = 7
    DATAFLOW = 8
    FOLD_OVERLAP = 9
    ELEM_BYTES = 10
    LEVELS = 11
    LANES = 12
    DOUBLE_BUFFERED = 13
    MASKED = 14
    SIZE = 15




@njit(cache=True)
def _vec(out, kind, ops, lanes, cpo):
    out[Counter.VEC_OPS + kind] += ops
    return cdiv(ops, lanes) * cpo[kind]


@njit(cache=True)
def _online_softmax_counts(out, valid, rows_live, lanes, cpo):
    """Vector work of the score block: scale, row max, shift, exp, row sum, then per live row the
    new max, two rescale exponentials and the new sum. Returns (cycles, words read, words written)."""
    cyc = _vec(out, VecKind.MUL, valid, lanes, cpo)                      # scale
    cyc += _vec(out, VecKind.MAX, valid - rows_live, lanes, cpo)         # row max m~
    cyc += _vec(out, VecKind.ADD, valid, lanes, cpo)                     # S - m~
    cyc += _vec(out, VecKind.EXP, valid, lanes, cpo)                     # P~
    cyc += _vec(out, VecKind.ADD, valid - rows_live, lanes, cpo)         # row sum l~
    cyc += _vec(out, VecKind.MAX, rows_live, lanes, cpo)                 # m_new
    cyc += _vec(out, VecKind.ADD, 2 * rows_live, lanes, cpo)             # m_i - m_new, m~ - m_new
    cyc += _vec(out, VecKind.EXP, 2 * rows_live, lanes, cpo)             # their exponentials
    cyc += _vec(out, VecKind.MUL, 2 * rows_live, lanes, cpo)             # e1 l_i, e2 l~
    cyc += _vec(out, VecKind.ADD, rows_live, lanes, cpo)                 # l_new
    reads = 5 * valid + 11 * rows_live
    writes = 4 * valid + 9 * rows_live
    return cyc, reads, writes


@njit(cache=True)
def _output_update_counts(out, rows_live, d, lanes, cpo):
    """O_i <- (l_i e1 O_i + e2 P~V_j) / l_new: per live row one multiply, per element two
    multiplies, an add and a divide."""
    cyc = _vec(out, VecKind.MUL, rows_live + 2 * rows_live * d, lanes, cpo)
    cyc += _vec(out, VecKind.ADD, rows_live * d, lanes, cpo)
    cyc += _vec(out, VecKind.DIV, rows_live * d, lanes, cpo)
    reads = 2 * rows_live + 6 * rows_live * d
    writes = rows_live + 4 * rows_live * d
    return cyc, reads, writes


@njit(cache=True)
def fused_walk(ip, rates, cpo, lo, hi, scale, q, k, v, o, functional, out, log, nlog):
    """Walk fused attention for every batch element; counts added to `out`. `log` (rows x
    fused_log_width(levels)), when it has rows, receives one steplog.FusedLog row per step."""
    batch = ip[FusedParam.BATCH]
    n_q = ip[FusedParam.N_Q]
    n_kv = ip[FusedParam.N_KV]
    d = ip[FusedParam.D]
    br = ip[FusedParam.B_R]
    bc = ip[FusedParam.B_C]
    rows = ip[FusedParam.ROWS]
    cols = ip[FusedParam.COLS]
    flow = ip[FusedParam.DATAFLOW]
    overlap = ip[FusedParam.FOLD_OVERLAP]
    eb = ip[FusedParam.ELEM_BYTES]
    nlev = ip[FusedParam.LEVELS]
    lanes = ip[FusedParam.LANES]
    dbuf = ip[FusedParam.DOUBLE_BUFFERED]
    masked = ip[FusedParam.MASKED]
    unit_rbw = rates[0]
    unit_wbw = rates[1]
    chain = np.zeros(CHAIN_SIZE, np.int64)
    occ = np.zeros(4, np.int64)
    cyc = np.zeros(4, np.int64)
    first = _TRUE
    m_run = np.empty(n_q, np.float32)
    l_run = np.empty(n_q, np.float32)
    for b in range(batch):
        # Initialise O, l, m in memory: a step that only writes.
        fm, fs, dm, ds = move(out, nlev, rates, _ZERO, (n_q * d + 2 * n_q) * eb)
        step(chain, fm, fs, _ZERO, dm, ds, dbuf)
        if log.shape[0] > 0:
            _log_init(log, nlog, b, n_q, nlev, rates, (n_q * d + 2 * n_q) * eb)
        if functional:
            m_run[:] = -np.inf
            l_run[:] = 0.0
            o[b, :, :] = 0.0
        for j0 in range(0, n_kv, bc):
            j1 = min(n_kv, j0 + bc)
            cb = j1 - j0
            kv_loaded = False
            for i0 in range(0, n_q, br):
                i1 = min(n_q, i0 + br)
                rb = i1 - i0
                valid = _ZERO             # typed: never a literal argument (see above)
                rows_live = _ZERO
                for r in range(i0, i1):
                    a0 = j0 if not masked else max(j0, lo[r])
                    a1 = j1 if not masked else min(j1, hi[r])
                    if a1 > a0:
                        valid += a1 - a0
                        rows_live += 1
                if valid == 0:
                    continue
                fill = (2 * rb * d + 2 * rb) * eb              # Q_i, O_i, l_i, m_i
                if not kv_loaded:
                    fill += 2 * cb * d * eb                     # K_j, V_j once per outer step
                    kv_loaded = True
                c1, r1, w1 = count_subgemm(flow, overlap, rows, cols, rb, d, cb, valid * d, _FALSE, eb, first, out)
                first = _FALSE
                c2, r2, w2 = _online_softmax_counts(out, valid, rows_live, lanes, cpo)
                c3, r3, w3 = count_subgemm(flow, overlap, rows, cols, rb, cb, d, valid * d, _FALSE, eb, _FALSE, out)
                c4, r4, w4 = _output_update_counts(out, rows_live, d, lanes, cpo)
                out[Counter.VECTOR_CYCLES] += c2 + c4
                vec_r = (r2 + r4) * eb
                vec_w = (w2 + w4) * eb
                out[Counter.UNIT_READ_A] += vec_r
                out[Counter.UNIT_WRITE_C] += vec_w
                occ[0] = max(c1, transfer_cycles(r1, unit_rbw), transfer_cycles(w1, unit_wbw))
                occ[1] = max(c2, transfer_cycles(r2 * eb, unit_rbw), transfer_cycles(w2 * eb, unit_wbw))
                occ[2] = max(c3, transfer_cycles(r3, unit_rbw), transfer_cycles(w3, unit_wbw))
                occ[3] = max(c4, transfer_cycles(r4 * eb, unit_rbw), transfer_cycles(w4 * eb, unit_wbw))
                busy = occ[0] + occ[1] + occ[2] + occ[3]
                fm, fs, dm, ds = move(out, nlev, rates, fill, (rb * d + 2 * rb) * eb)
                step(chain, fm, fs, busy, dm, ds, dbuf)
                if log.shape[0] > 0:
                    cyc[0], cyc[1], cyc[2], cyc[3] = c1, c2, c3, c4
                    _log_block(log, nlog, b, i0, i1, j0, j1, fill > (2 * rb * d + 2 * rb) * eb, occ, cyc, nlev,
                               rates, fill, (rb * d + 2 * rb) * eb)
                if functional:
                    _block_update(q, k, v, o, m_run, l_run, b, i0, i1, j0, j1, lo, hi, masked, scale)
    out[Counter.CYCLES] += end(chain, dbuf)


@njit(cache=True)
def _log_init(log, nlog, b, n_q, nlev, rates, drain):
    row = next_log_row(log, nlog)
    row[FusedLog.B] = b
    row[FusedLog.I1] = n_q
    row[FusedLog.DRAIN] = drain
    log_transfers(row, _LEVEL_BASE, nlev, rates, _ZERO, drain)


@njit(cache=True)
def _log_block(log, nlog, b, i0, i1, j0, j1, kv, occ, cyc, nlev, rates, fill, drain):
    row = next_log_row(log, nlog)
    row[FusedLog.KIND] = 1
    row[FusedLog.B] = b
    row[FusedLog.I0] = i0
    row[FusedLog.I1] = i1
    row[FusedLog.J0] = j0
    row[FusedLog.J1] = j1
    row[FusedLog.KV] = 1 if kv else 0
    for s in range(4):
        row[FusedLog.OCC_S + s] = occ[s]
        row[FusedLog.BUSY_S + s] = cyc[s]
    row[FusedLog.FILL] = fill
    row[FusedLog.DRAIN] = drain
    log_transfers(row, _LEVEL_BASE, nlev, rates, fill, drain)


@njit(cache=True)
def _block_update(q, k, v, o, m_run, l_run, b, i0, i1, j0, j1, lo, hi, masked, scale):
    """Algorithm 1, lines 9-13, for one (Q block, K/V block) pair, in fp32."""
    qi = np.ascontiguousarray(q[b, i0:i1, :])
    kj_t = np.ascontiguousarray(k[b, j0:j1, :].T)
    vj = np.ascontiguousarray(v[b, j0:j1, :])
    s = np.dot(qi, kj_t) * np.float32(scale)
    rb = i1 - i0
    p = np.zeros_like(s)
    m_blk = np.full(rb, -np.inf, np.float32)
    l_blk = np.zeros(rb, np.float32)
    for r in range(rb):
        a0 = j0 if not masked else max(j0, lo[i0 + r])
        a1 = j1 if not masked else min(j1, hi[i0 + r])
        if a1 <= a0:
            continue
        mt = s[r, a0 - j0]
        for c in range(a0 - j0 + 1, a1 - j0):
            mt = max(mt, s[r, c])
        lt = np.float32(0.0)
        for c in range(a0 - j0, a1 - j0):
            p[r, c] = math.exp(s[r, c] - mt)
            lt += p[r, c]
        m_blk[r] = mt
        l_blk[r] = lt
    pv = np.dot(p, vj)
    for r in range(rb):
        if m_blk[r] == -np.inf:
            continue                   # no valid key in this block: the row is unchanged
        row = i0 + r
        m_new = max(m_run[row], m_blk[r])
        e1 = np.float32(0.0) if m_run[row] == -np.inf else np.float32(math.exp(m_run[row] - m_new))
        e2 = np.float32(math.exp(m_blk[r] - m_new))
        l_new = e1 * l_run[row] + e2 * l_blk[r]
        coef = l_run[row] * e1
        for c in range(o.shape[2]):
            o[b, row, c] = (coef * o[b, row, c] + e2 * pv[r, c]) / l_new
        m_run[row] = m_new
        l_run[row] = l_new
