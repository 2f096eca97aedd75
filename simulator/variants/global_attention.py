"""`global_attention`: Luong, Pham, Manning 2015 global attention
(docs/conventions/layers.md §7.1, §7.2, §7.4).

The decoder and encoder LSTMs are not simulated: the layer takes the decoder states Ht
(batch, T, d) and the encoder states Hs (batch, S, d) and computes, for all T target steps at once
(no input feeding, so nothing feeds back from h~_t into h_{t+1}; the T + O(1) phases of §7.6 collapse
to O(1) because the states are given):

    scores -> softmax over the S source positions (no 1/sqrt(d) scaling) -> c_t = sum_s a_t(s) h_s
    -> h~_t = tanh([c_t; h_t] W_c)           output "Y" (batch, T, d); "alignment" (batch, T, S)

Score functions (row-vector form; every weight is stored as the matrix the row vector multiplies):
* dot:     score(t, s) = h_t . h_s                         scores = Ht Hs^T on the array
* general: score(t, s) = h_t^T W_a h_s                     (Ht W_a) first (T d^2), then x Hs^T
* concat:  score(t, s) = v_a . tanh(W_1 h_t + W_2 h_s)     the factored form of §7.4, with
  Luong's W_a = [W_1 | W_2] (d_a x 2d) split into the halves acting on h_t and on h_s:
  W_2 Hs once (S d d_a MACs), W_1 Ht (T d d_a), per (t, s) pair an add and a tanh over d_a on the
  vector unit, then v_a contracted per pair on the array (a GEMM with N = 1: T S d_a MACs).

This module also holds the lowering pieces `local_attention` shares (score functions, the output
stage); see docs/variants/luong.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..connectivity import Ranges
from ..graph import Gemm, Layout, OpGraph, TensorSpec, VectorOp, VOp, VPass
from .base import LayerSpec, Variant, param
from .common import softmax_op, weight_init

SCORES = ("dot", "general", "concat")


@dataclass(frozen=True)
class GlobalAttentionParams:
    target_len: int = param("int", minimum=1, doc="target length T (decoder states attending)")
    source_len: int = param("int", minimum=1, doc="source length S (encoder states attended to)")
    d: int = param("int", minimum=1, doc="hidden size d of both LSTMs' states")
    score: str = param("choice", default="dot", choices=SCORES,
                       doc="score function: dot, general (h_t^T W_a h_s) or concat (v_a^T tanh(W_a[h_t; h_s]))")
    d_a: int | None = param("int", default=None, minimum=1,
                            doc="concat attention width (rows of W_a, length of v_a); default d")

    @property
    def attn_width(self) -> int:
        return self.d_a if self.d_a is not None else self.d


# --- lowering pieces shared with local_attention ------------------------------------------------

@dataclass(frozen=True)
class Dims:
    """Sizes of one Luong attention layer: batch b, T targets, S sources, width d."""
    b: int
    t: int
    s: int
    d: int

    @property
    def rows(self) -> int:
        return self.b * self.t


def hs_transposed_flat(dims: Dims):
    """Hs (b, S, d) -> (1, d, b*S): every batch element's source states side by side."""
    def fn(hs):
        return (hs.reshape(dims.b * dims.s, dims.d).T[None],)
    return fn


def block_to_local(dims: Dims):
    """(1, b*T, b*S) block matrix -> (1, b*T, S): the diagonal block of each batch element."""
    b, t, s = dims.b, dims.t, dims.s

    def fn(x):
        x = x.reshape(b, t, b, s)
        return (np.stack([x[i, :, i, :] for i in range(b)]).reshape(1, b * t, s),)
    return fn


def local_to_block(dims: Dims):
    """(1, b*T, S) -> (1, b*T, b*S) with zeros off the diagonal blocks (P for the context GEMM)."""
    b, t, s = dims.b, dims.t, dims.s

    def fn(x):
        x = x.reshape(b, t, s)
        out = np.zeros((b, t, b, s), x.dtype)
        for i in range(b):
            out[i, :, i, :] = x[i]
        return (out.reshape(1, b * t, b * s),)
    return fn


def concat_expand(dims: Dims, d_a: int):
    """W_2 Hs (1, b*S, d_a) -> (1, b*T*d_a, S): row (batch i, target t, unit j) holds unit j of
    W_2 h_s for every source s. The repeat over t means W_2 Hs is re-read once per target step."""
    b, t, s = dims.b, dims.t, dims.s

    def fn(x):
        x = x.reshape(b, 1, s, d_a).transpose(0, 1, 3, 2)
        return (np.ascontiguousarray(np.broadcast_to(x, (b, t, d_a, s))).reshape(1, b * t * d_a, s),)
    return fn


def concat_pairs(dims: Dims, d_a: int):
    """tanh(W_1 h_t + W_2 h_s) as (1, b*T*d_a, S) -> (1, b*T*S, d_a): one row per (t, s) pair."""
    b, t, s = dims.b, dims.t, dims.s

    def fn(x):
        return (x.reshape(b * t, d_a, s).transpose(0, 2, 1).reshape(1, b * t * s, d_a),)
    return fn


def reshape_to(shape):
    def fn(x):
        return (x.reshape(shape),)
    return fn


def score_ops(dims: Dims, score: str, d_a: int, local: bool, windows_flat, concat_ranges, pair_mask,
              window_deps: tuple[str, ...]):
    """Ops and tensors that produce the scores tensor "scores".

    Global (`local` False): batched GEMMs, scores (b, T, S). Local: one GEMM over all b*T target
    rows against all b*S source columns (batch elements side by side, so that each row's window is
    one column range, `windows_flat`, and the windows may differ per batch element), then the
    diagonal blocks, scores (1, b*T, S) in source coordinates. `concat_ranges` restricts the
    concat pair work to the windows (rows (batch, t, unit)), `pair_mask` the v_a contraction
    (rows (batch, t, s)); both None for global. `window_deps` are the ops computing the ranges.
    Returns (ops, tensors, name of the last op).
    """
    b, t, s, d = dims.b, dims.t, dims.s, dims.d
    rows = dims.rows
    ops, tensors = [], []
    if score == "concat":
        ops += [
            Gemm("concat_source", "Hs", "W_2", "HsW2", b * s, d, d_a, shared_b=True, phase="concat_projections"),
            Gemm("concat_target", "Ht", "W_1", "HtW1", rows, d, d_a, shared_b=True, phase="concat_projections"),
            Layout("concat_repeat", ("HsW2",), ("HsW2_rep",), concat_expand(dims, d_a), phase="concat_projections",
                   deps=("concat_source",)),
            VectorOp("concat_hidden", (VPass(VOp.ADD, "concat_pre", ("HsW2_rep", "HtW1")),
                                       VPass(VOp.TANH, "concat_tanh", ("concat_pre",))),
                     ("HsW2_rep", "HtW1"), ("concat_tanh",), rows * d_a, s, (("HtW1", 1),),
                     ranges=concat_ranges, phase="concat_hidden",
                     deps=("concat_target", "concat_repeat", *window_deps)),
            Layout("concat_pairs", ("concat_tanh",), ("pairs",), concat_pairs(dims, d_a), phase="scores",
                   deps=("concat_hidden",)),
            Gemm("concat_scores", "pairs", "v_a", "pair_scores", rows * s, d_a, 1, shared_b=True, mask=pair_mask,
                 mask_axis="n", phase="scores", deps=("concat_pairs", *window_deps)),
            Layout("pair_scores_to_rows", ("pair_scores",), ("scores",),
                   reshape_to((1, rows, s) if local else (b, t, s)), phase="scores", deps=("concat_scores",)),
        ]
        tensors += [TensorSpec("W_1", (1, d, d_a), "weight", weight_init(d)),
                    TensorSpec("W_2", (1, d, d_a), "weight", weight_init(d)),
                    TensorSpec("v_a", (1, d_a, 1), "weight", weight_init(d_a)),
                    TensorSpec("HsW2", (1, b * s, d_a), "intermediate"),
                    TensorSpec("HtW1", (1, rows, d_a), "intermediate"),
                    TensorSpec("HsW2_rep", (1, rows * d_a, s), "intermediate"),
                    TensorSpec("concat_tanh", (1, rows * d_a, s), "intermediate"),
                    TensorSpec("pairs", (1, rows * s, d_a), "intermediate"),
                    TensorSpec("pair_scores", (1, rows * s, 1), "intermediate"),
                    TensorSpec("scores", (1, rows, s), "intermediate")]
        return ops, tensors, "pair_scores_to_rows"
    query, query_deps = "Ht", ()
    if score == "general":
        ops.append(Gemm("general_projection", "Ht", "W_a", "HtWa", rows, d, d, shared_b=True,
                        phase="general_projection"))
        tensors += [TensorSpec("W_a", (1, d, d), "weight", weight_init(d)),
                    TensorSpec("HtWa", (1, rows, d), "intermediate")]
        query, query_deps = "HtWa", ("general_projection",)
    if not local:
        ops += [Layout("transpose_hs", ("Hs",), ("Hs^T",), lambda x: (np.swapaxes(x, -1, -2),), phase="scores"),
                Gemm("scores", query, "Hs^T", "scores", t, d, s, batch=b, phase="scores",
                     deps=("transpose_hs", *query_deps))]
        tensors.append(TensorSpec("scores", (b, t, s), "intermediate"))
        return ops, tensors, "scores"
    ops += [Layout("transpose_hs", ("Hs",), ("Hs^T",), hs_transposed_flat(dims), phase="scores"),
            Gemm("scores", query, "Hs^T", "scores_block", rows, d, b * s, shared_b=True, mask=windows_flat,
                 mask_axis="n", phase="scores", deps=("transpose_hs", *query_deps, *window_deps)),
            Layout("scores_blocks", ("scores_block",), ("scores",), block_to_local(dims), phase="scores",
                   deps=("scores",))]
    tensors += [TensorSpec("scores_block", (1, rows, b * s), "intermediate"),
                TensorSpec("scores", (1, rows, s), "intermediate")]
    return ops, tensors, "scores_blocks"


def output_ops(dims: Dims, context_dep: str):
    """h~ = tanh([c; h] W_c): the concatenation is free, then a (2d x d) GEMM and a tanh pass."""
    b, t, d = dims.b, dims.t, dims.d
    rows = dims.rows

    def concat(c, h):
        return (np.concatenate([c.reshape(rows, d), h.reshape(rows, d)], axis=1)[None],)

    ops = [Layout("concat_context", ("C", "Ht"), ("CH",), concat, phase="output_projection", deps=(context_dep,)),
           Gemm("output_projection", "CH", "W_c", "Zc", rows, 2 * d, d, shared_b=True, phase="output_projection",
                deps=("concat_context",)),
           VectorOp("output_tanh", (VPass(VOp.TANH, "Y", ("Zc",)),), ("Zc",), ("Y",), rows, d, (),
                    phase="output_tanh", deps=("output_projection",))]
    tensors = [TensorSpec("W_c", (1, 2 * d, d), "weight", weight_init(2 * d)),
               TensorSpec("CH", (1, rows, 2 * d), "intermediate"),
               TensorSpec("Zc", (1, rows, d), "intermediate"),
               TensorSpec("Y", (b, t, d), "output")]
    return ops, tensors


def input_tensors(dims: Dims):
    return [TensorSpec("Ht", (dims.b, dims.t, dims.d), "input"),
            TensorSpec("Hs", (dims.b, dims.s, dims.d), "input")]


class GlobalAttention(Variant):
    name = "global_attention"
    params_cls = GlobalAttentionParams

    def build(self, spec: LayerSpec) -> OpGraph:
        p = spec.params
        dims = Dims(spec.batch, p.target_len, p.source_len, p.d)
        b, t, s, d = dims.b, dims.t, dims.s, dims.d
        sc_ops, sc_tensors, last = score_ops(dims, p.score, p.attn_width, False, None, None, None, ())
        ops = sc_ops + [
            softmax_op("softmax", "scores", "alignment", t, s, b, None, None, "softmax", (last,)),
            Gemm("context", "alignment", "Hs", "C", t, s, d, batch=b, phase="context", deps=("softmax",)),
        ]
        out_ops, out_tensors = output_ops(dims, "context")
        tensors = [*input_tensors(dims), *sc_tensors,
                   TensorSpec("alignment", (b, t, s), "output"),
                   TensorSpec("C", (b, t, d), "intermediate"), *out_tensors]
        return OpGraph(tuple(ops + out_ops), tuple(tensors))

    def report_fields(self, spec: LayerSpec) -> dict:
        return {"n": spec.params.target_len, "d": spec.params.d, "heads": 1}

    def connectivity(self, spec: LayerSpec):
        t, s = spec.params.target_len, spec.params.source_len
        return Ranges(np.zeros(t, np.int64), np.full(t, s, np.int64), s, cross=True)


VARIANT = GlobalAttention()

__all__ = ["VARIANT", "GlobalAttention", "GlobalAttentionParams", "Dims", "score_ops", "output_ops",
           "input_tensors", "SCORES"]
