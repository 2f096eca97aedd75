"""Vector-unit passes (softmax, scaling, nonlinearities) chunked through the memory hierarchy.

A vector op is a program of passes over row-ranged tensors.  Rows are processed in chunks that fit
the innermost level; per chunk every pass runs on chip, inputs are filled and outputs drained
through every boundary.  When one row does not fit, every pass streams its operands from and to
the outermost level instead.  A pass over e elements of kind k takes cdiv(e, lanes) x
cycles_per_op[k] cycles (spec/systolic.md).  Chunk durations follow the same double-buffered
recurrence as GEMM tile steps.
"""
import math
from enum import IntEnum

import numpy as np
from numba import njit

from ..enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, BoundaryCounter, Counter
from .gemm import cdiv, transfer_cycles


class VecParam(IntEnum):
    BATCH = 0
    ROWS = 1
    COLS = 2
    LANES = 3
    ELEM_BYTES = 4
    LEVELS = 5
    DOUBLE_BUFFERED = 6   # of the innermost level
    CHUNK_ROWS = 7        # rows per chunk; 0 = a row does not fit, stream every pass
    MASKED = 8
    SIZE = 9


class PassField(IntEnum):
    OPCODE = 0
    KIND = 1
    DST = 2
    SRC1 = 3
    SRC2 = 4      # -1 when unary
    IS_REDUCTION = 5
    SIZE = 6


class SlotRole(IntEnum):
    TEMP = 0
    INPUT = 1
    OUTPUT = 2
    INPUT_OUTPUT = 3


# Opcodes mirror graph.VOp.
_ADD, _SUB, _MUL, _DIV, _MAX, _EXP, _TANH, _SIGMOID, _SIN, _COS, _RSQRT, _RMAX, _RSUM, _SCALE, _ADDC = range(15)


@njit(cache=True)
def _elems(width, valid, nonempty):
    """Elements of a tensor of this row width in a chunk: the valid range, or one per non-empty row."""
    return valid if width > 1 else nonempty


@njit(cache=True)
def _apply_unary(code, x, c):
    if code == _EXP:
        return math.exp(x)
    if code == _TANH:
        return math.tanh(x)
    if code == _SIGMOID:
        return 1.0 / (1.0 + math.exp(-x))
    if code == _SIN:
        return math.sin(x)
    if code == _COS:
        return math.cos(x)
    if code == _RSQRT:
        return 1.0 / math.sqrt(x)
    if code == _SCALE:
        return x * c
    return x + c  # _ADDC


@njit(cache=True)
def _apply_binary(code, x, y):
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
def _run_pass(code, reduction, dst, s1, s2, consts_p, b, r0, r1, lo, lens):
    """Execute one pass on rows [r0, r1) of batch element b, each over its valid range."""
    w_dst = dst.shape[2]
    for i in range(r0, r1):
        n = lens[i]
        if n <= 0:
            continue
        c0 = lo[i]
        if reduction:
            acc = s1[b, i, c0]
            for j in range(c0 + 1, c0 + n):
                v = s1[b, i, j]
                if code == _RMAX:
                    acc = max(acc, v)
                else:
                    acc = acc + v
            dst[b, i, 0] = acc
            continue
        j0 = c0 if w_dst > 1 else 0
        j1 = c0 + n if w_dst > 1 else 1
        for j in range(j0, j1):
            x = s1[b, i, j if s1.shape[2] > 1 else 0]
            if s2.shape[0] == 0:
                dst[b, i, j] = _apply_unary(code, x, consts_p)
            else:
                dst[b, i, j] = _apply_binary(code, x, s2[b, i, j if s2.shape[2] > 1 else 0])


@njit(cache=True)
def vector_walk(ip, table, consts, widths, roles, cpo, rates, lo, lens, slots, functional, out):
    """Walk a vector program; add counts to `out`.  `slots` holds one (batch, rows, width) array per
    tensor slot in functional mode (a typed list; ignored otherwise)."""
    batch = ip[VecParam.BATCH]
    rows = ip[VecParam.ROWS]
    lanes = ip[VecParam.LANES]
    eb = ip[VecParam.ELEM_BYTES]
    nlev = ip[VecParam.LEVELS]
    dbuf = ip[VecParam.DOUBLE_BUFFERED]
    chunk = ip[VecParam.CHUNK_ROWS]
    npass = table.shape[0]
    nslot = widths.shape[0]
    unit_rbw = rates[0]
    unit_wbw = rates[1]
    # Prefix sums of valid elements and non-empty rows: O(1) per chunk.
    pre_valid = np.zeros(rows + 1, np.int64)
    pre_rows = np.zeros(rows + 1, np.int64)
    for i in range(rows):
        pre_valid[i + 1] = pre_valid[i] + lens[i]
        pre_rows[i + 1] = pre_rows[i] + (1 if lens[i] > 0 else 0)

    stream = chunk == 0
    rows_per_chunk = 1 if stream else chunk
    # Chain state: a chunk's duration is known once the next chunk's fill is.
    n_seen = 0
    total = 0
    x_prev = 0
    d_prev = 0       # drain of the previous chunk (overlaps the current one)
    d_prev2 = 0
    last_drain_sum = 0
    for b in range(batch):
        for r0 in range(0, rows, rows_per_chunk):
            r1 = min(rows, r0 + rows_per_chunk)
            valid = pre_valid[r1] - pre_valid[r0]
            nonempty = pre_rows[r1] - pre_rows[r0]
            # A chunk is the whole program on these rows or, when streaming, one pass.
            for sub in range(npass if stream else 1):
                p_lo = sub if stream else 0
                p_hi = sub + 1 if stream else npass
                compute = 0
                rd = 0
                wr = 0
                for p in range(p_lo, p_hi):
                    kind = table[p, PassField.KIND]
                    s1 = table[p, PassField.SRC1]
                    s2 = table[p, PassField.SRC2]
                    if table[p, PassField.IS_REDUCTION]:
                        ops = valid - nonempty
                        reads = valid
                        writes = nonempty
                    else:
                        ops = _elems(widths[table[p, PassField.DST]], valid, nonempty)
                        reads = _elems(widths[s1], valid, nonempty)
                        if s2 >= 0:
                            reads += _elems(widths[s2], valid, nonempty)
                        writes = ops
                    out[Counter.VEC_OPS + kind] += ops
                    compute += cdiv(ops, lanes) * cpo[kind]
                    rd += reads * eb
                    wr += writes * eb
                    if functional:
                        dst_arr = slots[table[p, PassField.DST]]
                        _run_pass(table[p, PassField.OPCODE], table[p, PassField.IS_REDUCTION], dst_arr,
                                  slots[s1], slots[s2] if s2 >= 0 else dst_arr[:0], consts[p],
                                  b, r0, r1, lo, lens)
                out[Counter.UNIT_READ_A] += rd
                out[Counter.UNIT_WRITE_C] += wr
                out[Counter.VECTOR_CYCLES] += compute
                fill, drain = _chunk_traffic(table, widths, roles, stream, p_lo, valid, nonempty, eb)
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
                    f_max = max(f_max, ft)
                    f_sum += ft
                    d_max = max(d_max, dt)
                    d_sum += dt
                busy = max(compute, transfer_cycles(rd, unit_rbw), transfer_cycles(wr, unit_wbw))
                if not dbuf:
                    total += f_sum + busy + d_sum
                else:
                    if n_seen == 0:
                        total += f_sum                           # the first fill is exposed
                    else:
                        total += max(x_prev, f_max, d_prev2)     # previous chunk, overlapped
                    d_prev2 = d_prev
                    d_prev = d_max
                    x_prev = busy
                    last_drain_sum = d_sum
                n_seen += 1
    if dbuf and n_seen > 0:
        total += max(x_prev, d_prev2) + last_drain_sum           # last chunk, then its exposed drain
    out[Counter.CYCLES] += total


@njit(cache=True)
def _chunk_traffic(table, widths, roles, stream, p, valid, nonempty, eb):
    """(fill, drain) bytes of one chunk: inputs and outputs, or, streaming, pass p's own operands."""
    fill = 0
    drain = 0
    if stream:
        s1 = table[p, PassField.SRC1]
        s2 = table[p, PassField.SRC2]
        fill += _elems(widths[s1], valid, nonempty) * eb
        if s2 >= 0 and s2 != s1:
            fill += _elems(widths[s2], valid, nonempty) * eb
        drain += _elems(widths[table[p, PassField.DST]], valid, nonempty) * eb
        return fill, drain
    for s in range(widths.shape[0]):
        e = _elems(widths[s], valid, nonempty) * eb
        if roles[s] == SlotRole.INPUT or roles[s] == SlotRole.INPUT_OUTPUT:
            fill += e
        if roles[s] == SlotRole.OUTPUT or roles[s] == SlotRole.INPUT_OUTPUT:
            drain += e
    return fill, drain
