"""Pieces shared by the attention variants: masks as row ranges, weight init, the attention core."""
from __future__ import annotations

import math

import numpy as np

from ..graph import FusedAttention, Gemm, Layout, RowRanges, TensorSpec, VectorOp, VOp, VPass, softmax_passes


# Masks are deferred (graph.RowRanges.deferred): building a layer's graph allocates nothing, so its
# counts and memory are bounded before a mask of n rows exists.
def full_ranges(n_q: int, n_kv: int) -> RowRanges:
    return RowRanges.deferred(n_q, lambda: (np.zeros(n_q, np.int64), np.full(n_q, n_kv, np.int64)))


def causal_ranges(n: int) -> RowRanges:
    """Query i sees keys 0..i (the diagonal included)."""
    return RowRanges.deferred(n, lambda: (np.zeros(n, np.int64), np.arange(1, n + 1, dtype=np.int64)))


def centred_ranges(n: int, radius: int) -> RowRanges:
    """Query i sees keys i-radius..i+radius, clipped to [0, n)."""
    def make():
        idx = np.arange(n, dtype=np.int64)
        return np.maximum(0, idx - radius), np.minimum(n, idx + radius + 1)
    return RowRanges.deferred(n, make)


def causal_window_ranges(n: int, size: int) -> RowRanges:
    """Query i sees keys i-size+1..i, clipped to [0, n)."""
    def make():
        idx = np.arange(n, dtype=np.int64)
        return np.maximum(0, idx - size + 1), idx + 1
    return RowRanges.deferred(n, make)


def check_head_width(chk, path: str, params) -> None:
    """Heads must divide d unless the per-head width d_k is given (docs/conventions/layers.md §1.6)."""
    if params.d_k is None and params.d % params.heads:
        chk.add(f"{path}.heads", f"d = {params.d} is not divisible by heads = {params.heads}; "
                                 f"choose heads dividing d, or give the per-head width d_k explicitly")


def weight_init(fan_in: int):
    """Standard normal scaled by 1/sqrt(fan_in), so projected activations stay of order one."""
    scale = 1.0 / math.sqrt(fan_in)
    return lambda rng, shape: rng.standard_normal(shape) * scale


def transpose_last(x: np.ndarray) -> tuple[np.ndarray]:
    return (np.swapaxes(x, -1, -2),)


def split_heads(batch: int, n: int, heads: int, width: int):
    """(1, batch*n, heads*width) -> (batch*heads, n, width): head i owns columns [i*width, (i+1)*width)."""
    def fn(x):
        return (x.reshape(batch, n, heads, width).transpose(0, 2, 1, 3).reshape(batch * heads, n, width),)
    return fn


def merge_heads(batch: int, n: int, heads: int, width: int):
    """(batch*heads, n, width) -> (1, batch*n, heads*width), the inverse of split_heads."""
    def fn(x):
        return (x.reshape(batch, heads, n, width).transpose(0, 2, 1, 3).reshape(1, batch * n, heads * width),)
    return fn


def softmax_op(name: str, scores: str, probs: str, rows: int, cols: int, batch: int,
               ranges: RowRanges | None, scale: float | None, phase: str, deps: tuple[str, ...]) -> VectorOp:
    """Row softmax of (scale x scores) on the vector unit: the scale is a multiply per valid logit."""
    passes, widths = softmax_passes(f"{name}.scaled" if scale is not None else scores, probs, name)
    if scale is not None:
        passes = (VPass(VOp.SCALE, f"{name}.scaled", (scores,), scale),) + passes
    return VectorOp(name, passes, (scores,), (probs,), rows, cols, widths, batch=batch, ranges=ranges,
                    phase=phase, deps=deps)


def attention_core(tag: str, q: str, k: str, v: str, out: str, batch: int, n_q: int, n_kv: int, d_k: int,
                   d_v: int, ranges: RowRanges | None, deps: tuple[str, ...] | dict, fused: bool):
    """softmax(Q K^T / sqrt(d_k)) V for `batch` independent (query, key) sets.

    Unfused: scores Q K^T on the array (only tiles the mask touches), the scaled max-shifted
    softmax on the vector unit, then P V on the array; scores and probabilities go through memory.
    Fused: one FusedAttention op (FlashAttention's tiling; scores never leave the chip).
    `deps` are the ops producing Q, K and V: one tuple for all three, or a mapping "q", "k", "v" ->
    tuple, so that each op waits only for what it reads (the scores need not wait for V).
    Returns (ops, intermediate tensors).
    """
    scale = 1.0 / math.sqrt(d_k)
    by = deps if isinstance(deps, dict) else {"q": deps, "k": deps, "v": deps}
    if fused:
        every = tuple(dict.fromkeys(by["q"] + by["k"] + by["v"]))
        op = FusedAttention(f"{tag}attention", q, k, v, out, n_q, n_kv, d_k, scale, batch=batch, mask=ranges,
                            phase="attention", deps=every)
        return [op], []
    kt, s, p = f"{tag}K^T", f"{tag}S", f"{tag}P"
    ops = [
        Layout(f"{tag}transpose_k", (k,), (kt,), transpose_last, phase="scores", deps=by["k"]),
        Gemm(f"{tag}scores", q, kt, s, n_q, d_k, n_kv, batch=batch, mask=ranges, mask_axis="n", phase="scores",
             deps=tuple(dict.fromkeys((f"{tag}transpose_k",) + by["q"]))),
        softmax_op(f"{tag}softmax", s, p, n_q, n_kv, batch, ranges, scale, "softmax", (f"{tag}scores",)),
        Gemm(f"{tag}context", p, v, out, n_q, n_kv, d_v, batch=batch, mask=ranges, mask_axis="k",
             phase="context", deps=tuple(dict.fromkeys((f"{tag}softmax",) + by["v"]))),
    ]
    tensors = [TensorSpec(s, (batch, n_q, n_kv), "intermediate"), TensorSpec(p, (batch, n_q, n_kv), "intermediate")]
    return ops, tensors


def bias_add(name: str, src: str, bias: str, dst: str, rows: int, cols: int, phase: str,
             deps: tuple[str, ...]) -> VectorOp:
    """dst = src + bias on the vector unit: one add per element, the bias a (1, 1, cols) column
    vector read once (rows are every batch element's positions, so the op's batch is 1)."""
    return VectorOp(name, (VPass(VOp.ADD, dst, (src, bias)),), (src, bias), (dst,), rows, cols, (),
                    phase=phase, deps=deps, col_vectors=(bias,))
