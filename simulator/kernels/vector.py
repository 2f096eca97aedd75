"""Vector-unit passes (softmax, scaling, nonlinearities, sampling) chunked through memory.

A vector op is a program of passes over row-ranged tensors. Rows are processed in chunks that fit
the innermost level; per chunk every pass runs on chip, inputs are filled and outputs drained
through every boundary. When not even one row fits, every pass streams its operands from and to
the outermost level instead. A pass of e operations of kind k takes cdiv(e, lanes) x
cycles_per_op[k] cycles (docs/conventions/systolic.md §7). Chunk durations follow the same
double-buffered recurrence as GEMM tile steps (docs/architecture.md).

Tensors are (batch, rows or 1, cols or 1): width 1 is a per-row scalar, height 1 a column vector
shared by every row (filled once per batch element).
"""
import math
from enum import IntEnum

import numpy as np
from numba import njit

from ..enums import Counter, VecKind
from .chain import CHAIN_SIZE, end, log_transfers, move, step
from .gemm import cdiv, next_log_row, transfer_cycles
from .steplog import VecLog


class VecParam(IntEnum):
    BATCH = 0
    ROWS = 1
    COLS = 2
    LANES = 3
    ELEM_BYTES = 4
    LEVELS = 5
    DOUBLE_BUFFERED = 6   # of the innermost level
    CHUNK_ROWS = 7        # rows per chunk; 0 = a row does not fit, stream every pass
    SIZE = 8


class PassField(IntEnum):
    OPCODE = 0
    KIND = 1
    DST = 2
    SRC1 = 3
    SRC2 = 4      # -1 when unary
    SIZE = 5


class SlotRole(IntEnum):
    TEMP = 0
    INPUT = 1
    OUTPUT = 2
    INPUT_OUTPUT = 3


# Opcodes mirror graph.VOp.
(_ADD, _SUB, _MUL, _DIV, _MAX, _EXP, _TANH, _SIGMOID, _SIN, _COS, _RSQRT, _RMAX, _RSUM, _SCALE, _ADDC,
 _ARGMAX, _SAMPLE, _SQUARE, _MAXC) = range(19)
_ROW_OUT = (_RMAX, _RSUM, _ARGMAX, _SAMPLE)     # passes that write one value per row

# Typed constants for calls between kernels: a plain 0 or False would be a literal type and
# compile the callee once more for it (one compiled signature per kernel: a shorter first run).
_TRUE = np.bool_(True)
_ZERO = np.int64(0)
_LEVEL_BASE = np.int64(VecLog.LEVEL_BASE)


@njit(cache=True)
def _elems(width, valid, nonempty):
    """Elements of a tensor of this row width in a chunk: the valid range, or one per non-empty row."""
    return valid if width > 1 else nonempty


@njit(cache=True)
def _ceil_log2(x):
    c = 0
    v = 1
    while v < x:
        v *= 2
        c += 1
    return c


@njit(cache=True)
def _row_value(code, s1, s2, b, i, c0, n):
    """rowmax, rowsum, argmax (first maximum) or an inverse-CDF sample of row i's valid range."""
    if code == _SAMPLE:
        # idx = searchsorted(cumsum(p) in float64, u * sum(p), side="right"), clipped
        # (docs/conventions/layers.md §6.4)
        total = 0.0
        for j in range(c0, c0 + n):
            total += np.float64(s1[b, i, j])
        target = np.float64(s2[b, i if s2.shape[1] > 1 else 0, 0]) * total
        acc = 0.0
        pick = n - 1
        for j in range(n):
            acc += np.float64(s1[b, i, c0 + j])
            if acc > target:
                pick = j
                break
        return c0 + pick
    row = s1[b, i, c0:c0 + n]
    best = row[0]
    if code == _RSUM:
        for j in range(1, n):
            best += row[j]
        return best
    if code == _RMAX:
        for j in range(1, n):
            best = max(best, row[j])
        return best
    where = 0
    for j in range(1, n):
        if row[j] > best:
            best = row[j]
            where = j
    return c0 + where


@njit(cache=True)
def _unary_into(code, d, a, const, wide):
    """d[j] = f(a[j]) (a[0] when `a` is a per-row scalar); the opcode is dispatched once per row."""
    n = d.shape[0]
    if code == _EXP:
        for j in range(n):
            d[j] = math.exp(a[j if wide else 0])
    elif code == _TANH:
        for j in range(n):
            d[j] = math.tanh(a[j if wide else 0])
    elif code == _SIGMOID:
        for j in range(n):
            d[j] = 1.0 / (1.0 + math.exp(-a[j if wide else 0]))
    elif code == _SIN:
        for j in range(n):
            d[j] = math.sin(a[j if wide else 0])
    elif code == _COS:
        for j in range(n):
            d[j] = math.cos(a[j if wide else 0])
    elif code == _RSQRT:
        for j in range(n):
            d[j] = 1.0 / math.sqrt(a[j if wide else 0])
    elif code == _SCALE and wide:
        c = d.dtype.type(const)
        for j in range(n):
            d[j] = a[j] * c
    elif code == _SCALE:
        for j in range(n):
            d[j] = a[0] * const
    elif code == _SQUARE:
        for j in range(n):
            x = a[j if wide else 0]
            d[j] = x * x
    elif code == _MAXC:
        c = d.dtype.type(const)
        for j in range(n):
            d[j] = max(a[j if wide else 0], c)
    else:
        for j in range(n):
            d[j] = a[j if wide else 0] + const


@njit(cache=True)
def _binary_into(code, d, a, c, wide_a, wide_c):
    """d[j] = a[j] op c[j], either operand possibly a per-row scalar (branch-free loops vectorize)."""
    if wide_a and wide_c:
        _binary_ww(code, d, a, c)
    elif wide_a:
        _binary_ws(code, d, a, c[0])
    else:
        for j in range(d.shape[0]):
            x = a[0]
            y = c[j if wide_c else 0]
            d[j] = _binary(code, x, y)


@njit(cache=True, inline="always")
def _binary(code, x, y):
    if code == _ADD:
        return x + y
    if code == _SUB:
        return x - y
    if code == _MUL:
        return x * y
    if code == _DIV:
        return x / y
    return max(x, y)


@njit(cache=True)
def _binary_ww(code, d, a, c):
    n = d.shape[0]
    if code == _ADD:
        for j in range(n):
            d[j] = a[j] + c[j]
    elif code == _SUB:
        for j in range(n):
            d[j] = a[j] - c[j]
    elif code == _MUL:
        for j in range(n):
            d[j] = a[j] * c[j]
    elif code == _DIV:
        for j in range(n):
            d[j] = a[j] / c[j]
    else:
        for j in range(n):
            d[j] = max(a[j], c[j])


@njit(cache=True)
def _binary_ws(code, d, a, y):
    n = d.shape[0]
    if code == _ADD:
        for j in range(n):
            d[j] = a[j] + y
    elif code == _SUB:
        for j in range(n):
            d[j] = a[j] - y
    elif code == _MUL:
        for j in range(n):
            d[j] = a[j] * y
    elif code == _DIV:
        for j in range(n):
            d[j] = a[j] / y
    else:
        for j in range(n):
            d[j] = max(a[j], y)


@njit(cache=True)
def _run_pass(code, dst, s1, s2, const, b, r0, r1, lo, lens):
    """Execute one pass on rows [r0, r1) of batch element b, each over its valid range."""
    row_op = code == _RMAX or code == _RSUM or code == _ARGMAX or code == _SAMPLE
    wide_d = dst.shape[2] > 1
    wide1 = s1.shape[2] > 1
    has2 = s2.shape[0] > 0
    wide2 = has2 and s2.shape[2] > 1
    for i in range(r0, r1):
        n = lens[i]
        if n <= 0:
            continue
        c0 = lo[i]
        if row_op:
            dst[b, i, 0] = _row_value(code, s1, s2, b, i, c0, n)
            continue
        j0 = c0 if wide_d else 0
        j1 = c0 + n if wide_d else 1
        i1 = i if s1.shape[1] > 1 else 0
        a = s1[b, i1, j0:j1] if wide1 else s1[b, i1, 0:1]
        if not has2:
            _unary_into(code, dst[b, i, j0:j1], a, const, wide1)
        else:
            i2 = i if s2.shape[1] > 1 else 0
            c = s2[b, i2, j0:j1] if wide2 else s2[b, i2, 0:1]
            _binary_into(code, dst[b, i, j0:j1], a, c, wide1, wide2)


@njit(cache=True)
def _count_pass(code, kind, w_dst, w1, w2, valid, nonempty, log2sum, lanes, cpo, out):
    """Add one pass's operations over a chunk to `out`; return (cycles, words read, words written)."""
    if code == _SAMPLE:
        # prefix sum (adds), one multiply u * total, a binary search (comparisons) per row
        adds = valid - nonempty
        out[Counter.VEC_OPS + VecKind.ADD] += adds
        out[Counter.VEC_OPS + VecKind.MUL] += nonempty
        out[Counter.VEC_OPS + VecKind.MAX] += log2sum
        cycles = (cdiv(adds, lanes) * cpo[VecKind.ADD] + cdiv(nonempty, lanes) * cpo[VecKind.MUL]
                  + cdiv(log2sum, lanes) * cpo[VecKind.MAX])
        return cycles, valid + nonempty, nonempty
    if code == _RMAX or code == _RSUM or code == _ARGMAX:
        ops = valid - nonempty
        reads = valid
        writes = nonempty
    else:
        ops = _elems(w_dst, valid, nonempty)
        reads = _elems(w1, valid, nonempty)
        if w2 > 0:
            reads += _elems(w2, valid, nonempty)
        writes = ops
    out[Counter.VEC_OPS + kind] += ops
    return cdiv(ops, lanes) * cpo[kind], reads, writes


@njit(cache=True)
def vector_walk(ip, table, consts, widths, heights, roles, cpo, rates, lo, lens, slots, functional, out, log, nlog):
    """Walk a vector program; add counts to `out`. `slots` holds one (batch, rows or 1, width) array
    per tensor slot in functional mode (a typed list; ignored otherwise). `log` (rows x
    vec_log_width(levels)), when it has rows, receives one steplog.VecLog row per chunk."""
    batch = ip[VecParam.BATCH]
    rows = ip[VecParam.ROWS]
    lanes = ip[VecParam.LANES]
    eb = ip[VecParam.ELEM_BYTES]
    nlev = ip[VecParam.LEVELS]
    dbuf = ip[VecParam.DOUBLE_BUFFERED]
    chunk = ip[VecParam.CHUNK_ROWS]
    npass = table.shape[0]
    unit_rbw = rates[0]
    unit_wbw = rates[1]
    # Prefix sums over rows: O(1) per chunk.
    pre_valid = np.zeros(rows + 1, np.int64)
    pre_rows = np.zeros(rows + 1, np.int64)
    pre_log = np.zeros(rows + 1, np.int64)
    for i in range(rows):
        pre_valid[i + 1] = pre_valid[i] + lens[i]
        pre_rows[i + 1] = pre_rows[i] + (1 if lens[i] > 0 else 0)
        pre_log[i + 1] = pre_log[i] + _ceil_log2(lens[i])

    stream = chunk == 0
    rows_per_chunk = 1 if stream else chunk
    chain = np.zeros(CHAIN_SIZE, np.int64)
    for b in range(batch):
        for r0 in range(0, rows, rows_per_chunk):
            r1 = min(rows, r0 + rows_per_chunk)
            valid = pre_valid[r1] - pre_valid[r0]
            nonempty = pre_rows[r1] - pre_rows[r0]
            log2sum = pre_log[r1] - pre_log[r0]
            # A chunk is the whole program on these rows or, when streaming, one pass.
            for sub in range(npass if stream else 1):
                p_lo = sub if stream else 0
                p_hi = sub + 1 if stream else npass
                compute, rd, wr = _chunk_passes(table, consts, widths, slots, functional, p_lo, p_hi, b, r0, r1,
                                                lo, lens, valid, nonempty, log2sum, lanes, cpo, eb, out)
                fill, drain = _chunk_traffic(table, widths, heights, roles, stream, p_lo, r0 == 0,
                                             valid, nonempty, eb)
                f_max, f_sum, d_max, d_sum = move(out, nlev, rates, fill, drain)
                busy = max(compute, transfer_cycles(rd, unit_rbw), transfer_cycles(wr, unit_wbw))
                step(chain, f_max, f_sum, busy, d_max, d_sum, dbuf)
                if log.shape[0] > 0:
                    row = next_log_row(log, nlog)
                    row[VecLog.B] = b
                    row[VecLog.R0] = r0
                    row[VecLog.R1] = r1
                    row[VecLog.PASS] = sub if stream else -1
                    row[VecLog.OCC] = busy
                    row[VecLog.BUSY] = compute
                    row[VecLog.FILL] = fill
                    row[VecLog.DRAIN] = drain
                    log_transfers(row, _LEVEL_BASE, nlev, rates, fill, drain)
    out[Counter.CYCLES] += end(chain, dbuf)


@njit(cache=True)
def _chunk_passes(table, consts, widths, slots, functional, p_lo, p_hi, b, r0, r1, lo, lens, valid, nonempty,
                  log2sum, lanes, cpo, eb, out):
    """Run (functional) and count passes p_lo..p_hi-1 on rows r0..r1-1; return (cycles, bytes read,
    bytes written) of the vector unit."""
    compute = 0
    rd = 0
    wr = 0
    for p in range(p_lo, p_hi):
        s1 = table[p, PassField.SRC1]
        s2 = table[p, PassField.SRC2]
        c, r, w = _count_pass(table[p, PassField.OPCODE], table[p, PassField.KIND],
                              widths[table[p, PassField.DST]], widths[s1],
                              widths[s2] if s2 >= 0 else 0, valid, nonempty, log2sum, lanes, cpo, out)
        compute += c
        rd += r * eb
        wr += w * eb
        if functional:
            dst_arr = slots[table[p, PassField.DST]]
            _run_pass(table[p, PassField.OPCODE], dst_arr, slots[s1],
                      slots[s2] if s2 >= 0 else dst_arr[:0], consts[p], b, r0, r1, lo, lens)
    out[Counter.UNIT_READ_A] += rd
    out[Counter.UNIT_WRITE_C] += wr
    out[Counter.VECTOR_CYCLES] += compute
    return compute, rd, wr


@njit(cache=True)
def _slot_elems(s, widths, heights, valid, nonempty, first_chunk):
    """Elements of slot s a chunk moves: column vectors once per batch element, at their full width."""
    if heights[s] == 1:
        return widths[s] if first_chunk else 0
    return _elems(widths[s], valid, nonempty)


@njit(cache=True)
def _chunk_traffic(table, widths, heights, roles, stream, p, first_chunk, valid, nonempty, eb):
    """(fill, drain) bytes of one chunk: inputs and outputs, or, streaming, pass p's own operands."""
    fill = _ZERO
    drain = _ZERO
    if stream:
        s1 = table[p, PassField.SRC1]
        s2 = table[p, PassField.SRC2]
        fill += _slot_elems(s1, widths, heights, valid, nonempty, _TRUE) * eb
        if s2 >= 0 and s2 != s1:
            fill += _slot_elems(s2, widths, heights, valid, nonempty, _TRUE) * eb
        drain += _elems(widths[table[p, PassField.DST]], valid, nonempty) * eb
        return fill, drain
    for s in range(widths.shape[0]):
        e = _slot_elems(s, widths, heights, valid, nonempty, first_chunk) * eb
        if roles[s] == SlotRole.INPUT or roles[s] == SlotRole.INPUT_OUTPUT:
            fill += e
        if roles[s] == SlotRole.OUTPUT or roles[s] == SlotRole.INPUT_OUTPUT:
            drain += e
    return fill, drain
