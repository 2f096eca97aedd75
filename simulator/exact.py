"""The float64 reference of a functional run: the layer's op graph executed in plain numpy on the
same inputs, in float64, with no number format and no tiles.

It shares nothing with the modeled array's walk: a GEMM is one matmul over its valid entries, a
vector program runs pass by pass over whole masked rows, fused attention is the softmax it stands
for (not Algorithm 1's blocks), a gather indexes. What it reuses from the graph are the layer's
own data rearrangements (Layout functions) and a recurrence's step glue, which move values without
computing them. accuracy.py compares a functional run against it.
"""
from __future__ import annotations

import numpy as np

from .graph import FusedAttention, Gather, Gemm, Layout, OpGraph, Recurrence, RowRanges, VectorOp, VOp

_UNARY = {VOp.EXP: np.exp, VOp.TANH: np.tanh, VOp.SIN: np.sin, VOp.COS: np.cos,
          VOp.SIGMOID: lambda x: 1.0 / (1.0 + np.exp(-x)), VOp.RSQRT: lambda x: 1.0 / np.sqrt(x),
          VOp.SQUARE: np.square}
_BINARY = {VOp.ADD: np.add, VOp.SUB: np.subtract, VOp.MUL: np.multiply, VOp.DIV: np.divide, VOp.MAX: np.maximum}


def run_exact(graph: OpGraph, inputs) -> dict[str, np.ndarray]:
    """Every tensor of `graph` computed in float64 from `inputs` (name -> array: the layer's inputs
    and weights as the functional run used them). Returns the store, inputs included."""
    store = {name: _f64(arr) for name, arr in inputs.items()}
    for op in graph.ops:
        run_op(op, store)
    return store


def run_op(op, store: dict) -> None:
    if isinstance(op, Gemm):
        _gemm(op, store)
    elif isinstance(op, VectorOp):
        _vector(op, store)
    elif isinstance(op, Layout):
        outs = op.fn(*(store[name] for name in op.inputs))
        store.update({name: _f64(arr) for name, arr in zip(op.outputs, outs)})
    elif isinstance(op, Gather):
        table = store[op.table].reshape(op.batch, op.table_rows, op.width)
        index = np.rint(store[op.index].reshape(op.batch, op.rows)).astype(np.int64)
        store[op.out] = np.take_along_axis(table, index[:, :, None], axis=1)
    elif isinstance(op, FusedAttention):
        _attention(op, store)
    elif isinstance(op, Recurrence):
        for t in range(op.steps):
            op.before(store, t)
            for body_op in op.body:
                run_op(body_op, store)
            op.after(store, t)
    else:
        raise TypeError(f"no float64 reference for op type {type(op).__name__}")


def _f64(arr) -> np.ndarray:
    arr = np.asarray(arr)
    return arr if arr.dtype.kind in "iu" else np.array(arr, dtype=np.float64)


def ranges_of(mask, store: dict, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) per row: every column when there is no mask; a mask named by a tensor is read from
    the reference's own values (a data-dependent window follows its own data)."""
    if mask is None:
        return np.zeros(rows, np.int64), np.full(rows, cols, np.int64)
    if isinstance(mask, str):
        table = np.asarray(store[mask], np.int64).reshape(-1, 2)
        mask = RowRanges.from_arrays(table[:, 0], table[:, 1])
    return np.asarray(mask.lo, np.int64), np.asarray(mask.hi, np.int64)


def valid_mask(lo: np.ndarray, hi: np.ndarray, cols: int) -> np.ndarray:
    """(rows, cols) booleans: column j of row i is valid when lo[i] <= j < hi[i]."""
    j = np.arange(cols)[None, :]
    return (j >= lo[:, None]) & (j < np.maximum(hi, lo)[:, None])


def _gemm(op: Gemm, store: dict) -> None:
    a = store[op.a].reshape(op.batch, op.m, op.k)
    b = store[op.b].reshape(1 if op.shared_b else op.batch, op.k, op.n)
    if op.mask is None:
        store[op.c] = a @ b
        return
    if op.mask_axis == "n":          # scores: only the valid columns of each row exist
        lo, hi = ranges_of(op.mask, store, op.m, op.n)
        store[op.c] = np.where(valid_mask(lo, hi, op.n)[None], a @ b, 0.0)
    else:                             # P @ V: each row sums over its valid k only
        lo, hi = ranges_of(op.mask, store, op.m, op.k)
        store[op.c] = np.where(valid_mask(lo, hi, op.k)[None], a, 0.0) @ b


def _attention(op: FusedAttention, store: dict) -> None:
    q = store[op.q].reshape(op.batch, op.n_q, op.d)
    k = store[op.k].reshape(op.batch, op.n_kv, op.d)
    v = store[op.v].reshape(op.batch, op.n_kv, op.d)
    lo, hi = ranges_of(op.mask, store, op.n_q, op.n_kv)
    valid = valid_mask(lo, hi, op.n_kv)[None]
    s = np.where(valid, op.scale * (q @ np.swapaxes(k, 1, 2)), -np.inf)
    top = np.max(s, axis=2, keepdims=True)
    e = np.where(valid, np.exp(s - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = e.sum(axis=2, keepdims=True)
    store[op.o] = np.divide(e, total, out=np.zeros_like(e), where=total > 0) @ v    # an empty row gives 0


def _vector(op: VectorOp, store: dict) -> None:
    lo, hi = ranges_of(op.ranges, store, op.rows, op.cols)
    wide = valid_mask(lo, hi, op.cols)[None]                   # (1, rows, cols)
    rows = (hi > lo)[None, :, None]                            # (1, rows, 1): rows with a valid element
    slots = {}
    for name in dict.fromkeys(n for p in op.passes for n in (p.dst, *p.src)):
        shape = (op.batch, op.height(name), op.width(name))
        slots[name] = (_f64(store[name]).reshape(shape).astype(np.float64, copy=True) if name in op.inputs
                       else np.zeros(shape))
    for p in op.passes:
        _vector_pass(p, slots, wide, rows, lo, op)
    for name in op.outputs:
        store[name] = slots[name]


def _vector_pass(p, slots: dict, wide: np.ndarray, rows: np.ndarray, lo: np.ndarray, op: VectorOp) -> None:
    dst = slots[p.dst]
    src = [slots[name] for name in p.src]
    if p.opcode in (VOp.RMAX, VOp.RSUM, VOp.ARGMAX):
        x = src[0]
        if p.opcode == VOp.RSUM:
            value = np.where(wide, x, 0.0).sum(axis=2, keepdims=True)
        else:
            masked = np.where(wide, x, -np.inf)
            value = (masked.max(axis=2, keepdims=True) if p.opcode == VOp.RMAX
                     else masked.argmax(axis=2)[..., None].astype(np.float64))
        dst[...] = np.where(rows, value, dst)
    elif p.opcode == VOp.SAMPLE:
        dst[...] = np.where(rows, _sample(src[0], src[1], wide, lo), dst)
    else:
        if p.opcode in _BINARY:
            value = _BINARY[p.opcode](src[0], src[1])
        elif p.opcode == VOp.SCALE:
            value = src[0] * p.const
        elif p.opcode == VOp.ADD_CONST:
            value = src[0] + p.const
        elif p.opcode == VOp.MAX_CONST:
            value = np.maximum(src[0], p.const)
        else:
            value = _UNARY[p.opcode](src[0])
        where = wide if dst.shape[2] > 1 else rows
        dst[...] = np.where(where, np.broadcast_to(value, np.broadcast_shapes(value.shape, dst.shape)), dst)


def _sample(p: np.ndarray, u: np.ndarray, wide: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw per row over its valid range: the first column whose running sum exceeds
    u x the row's sum, the last valid column when none does (docs/conventions/layers.md §6.4)."""
    batch, rows, _ = p.shape
    out = np.zeros((batch, rows, 1))
    for b in range(batch):
        for i in range(rows):
            cols = np.flatnonzero(wide[0, i])
            if not len(cols):
                continue
            acc = np.cumsum(p[b, i, cols])
            target = u[b, i if u.shape[1] > 1 else 0, 0] * acc[-1]
            above = np.flatnonzero(acc > target)
            out[b, i, 0] = cols[above[0]] if len(above) else cols[-1]
    return out
