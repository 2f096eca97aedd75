"""`local_attention`: Luong, Pham, Manning 2015 local attention, local-m and local-p
(docs/conventions/layers.md §7.3-§7.5, §7.8).

Like `global_attention` (decoder states Ht (batch, T, d) and encoder states Hs (batch, S, d) are
given; all T target steps at once, no input feeding), but target t attends only to the window
around its aligned position p_t:

* window (docs/conventions/layers.md §7.5): centre c = floor(p_t) in Luong's 1-based source
  positions, window {c-D .. c+D} intersected with [1, S]: clipped at both ends, never renormalised
  over the missing positions. Internally windows are 0-based half-open ranges [c-D-1, c+D)
  clipped to [0, S).
* local-m: p_t = t for t = 1..T, clamped to min(t, S) (docs/conventions/layers.md §7.8: for
  T > S + D the window would otherwise lie outside the source). The softmax over the window gives
  a_t (sums to 1).
* local-p: p_t = S sigmoid(v_p^T tanh(h_t^T W_p)) (W_p: d x d_p, v_p: d_p), so p_t lies in [0, S];
  then a_t(s) = softmax over the window of the scores, times exp(-(s - p_t)^2 / (2 sigma^2)),
  sigma = D/2, s the integer 1-based position. No renormalisation after the Gaussian: local-p
  weights sum to at most 1. Its windows depend on the data (`is_data_dependent`): a free Layout turns
  p_t into per-row ranges (floor and clip: index bookkeeping), and the scores and context GEMMs
  and the softmax read those ranges by name (engine.resolve_ranges).

Only window positions are computed: the scores GEMM is masked on its n axis, the context GEMM
on its k axis, the softmax and the concat pair work run on the window ranges only. Since the
kernels' row ranges are shared by a GEMM's batch elements and local-p's windows differ per batch
element, the local lowering puts batch elements side by side: one GEMM over all batch*T target
rows and batch*S source columns, each row's window one column range inside its own block
(tiles holding only other batch elements' columns are skipped). local-m uses the same lowering,
so the two modes differ only in their windows, the predictor and the Gaussian.

Outputs: "Y" (batch, T, d) the attentional states h~_t; "alignment" (batch, T, S) the weights
a_t with zeros outside the window; for local-p also "positions" (batch, T, 1), the predicted p_t.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..connectivity import Ranges
from ..graph import Gemm, Layout, OpGraph, RowRanges, TensorSpec, VectorOp, VOp, VPass, softmax_passes
from .base import LayerSpec, Variant, param
from .common import softmax_op, weight_init
from .global_attention import (SCORES, Dims, input_tensors, local_to_block, output_ops,
                               score_ops)

MODES = ("local_m", "local_p")


@dataclass(frozen=True)
class LocalAttentionParams:
    target_len: int = param("int", minimum=1, doc="target length T (decoder states attending)")
    source_len: int = param("int", minimum=1, doc="source length S (encoder states attended to)")
    d: int = param("int", minimum=1, doc="hidden size d of both LSTMs' states")
    window_radius: int = param("int", doc="Luong's D: the window is [p_t - D, p_t + D], 2D+1 positions; D >= 1")
    mode: str = param("choice", default="local_p", choices=MODES,
                      doc="local_m (monotonic, p_t = t) or local_p (predicted p_t, Gaussian-weighted)")
    score: str = param("choice", default="dot", choices=SCORES,
                       doc="score function: dot, general (h_t^T W_a h_s) or concat (v_a^T tanh(W_a[h_t; h_s]))")
    d_a: int | None = param("int", default=None, minimum=1,
                            doc="concat attention width (rows of W_a, length of v_a); default d")
    d_p: int | None = param("int", default=None, minimum=1,
                            doc="local-p predictor width (columns of W_p, length of v_p); default d")

    @property
    def attn_width(self) -> int:
        return self.d_a if self.d_a is not None else self.d

    @property
    def predictor_width(self) -> int:
        return self.d_p if self.d_p is not None else self.d


def clipped_windows(centres: np.ndarray, radius: int, source_len: int) -> tuple[np.ndarray, np.ndarray]:
    """0-based half-open [lo, hi) of the 1-based windows {c-D .. c+D} intersected with [1, S]."""
    c = np.asarray(centres, np.int64)
    lo = np.maximum(c - radius, 1) - 1
    hi = np.minimum(c + radius, source_len)
    return lo, np.maximum(hi, lo)


def local_m_windows(target_len: int, source_len: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """local-m: p_t = min(t, S) for t = 1..T (the clamp of docs/conventions/layers.md §7.8),
    windows around it."""
    t = np.arange(1, target_len + 1, dtype=np.int64)
    return clipped_windows(np.minimum(t, source_len), radius, source_len)


def local_p_windows(positions: np.ndarray, radius: int, source_len: int) -> tuple[np.ndarray, np.ndarray]:
    """local-p: centre floor(p_t). p_t = S sigmoid(.) lies in [0, S]; the clip only guards a
    non-finite value (treated as 0)."""
    p = np.nan_to_num(np.asarray(positions, np.float64).reshape(-1), nan=0.0, posinf=source_len, neginf=0.0)
    centres = np.clip(np.floor(p), 0, source_len).astype(np.int64)
    return clipped_windows(centres, radius, source_len)


def derived_ranges(lo: np.ndarray, hi: np.ndarray, dims: Dims, d_a: int, concat: bool) -> tuple[np.ndarray, ...]:
    """Every range table the ops read, from the per-row windows (rows = batch x T, source coords):
    windows (rows, 2) for the softmax; windows_flat (rows, 2) in the side-by-side batch columns of
    the scores and context GEMMs; for concat, the pair work's rows (batch, t, unit) (rows*d_a, 2)
    and the v_a contraction's rows (batch, t, s) (rows*S, 2): [0, 1) inside the window, else empty."""
    offset = np.repeat(np.arange(dims.b, dtype=np.int64) * dims.s, dims.t)
    windows = np.stack([lo, hi], axis=1)
    out = [windows, windows + offset[:, None]]
    if concat:
        out.append(np.repeat(windows, d_a, axis=0))
        s = np.arange(dims.s, dtype=np.int64)[None, :]
        inside = ((s >= lo[:, None]) & (s < hi[:, None])).reshape(-1).astype(np.int64)
        out.append(np.stack([np.zeros_like(inside), inside], axis=1))
    return tuple(out)


def _local_m_ranges(dims: Dims, radius: int, d_a: int, concat: bool) -> tuple[RowRanges, ...]:
    """local-m's range tables (derived_ranges), deferred: computed together on first use."""
    @functools.lru_cache(maxsize=1)
    def tables():
        lo, hi = local_m_windows(dims.t, dims.s, radius)
        return derived_ranges(np.tile(lo, dims.b), np.tile(hi, dims.b), dims, d_a, concat)

    rows = [dims.rows, dims.rows] + ([dims.rows * d_a, dims.rows * dims.s] if concat else [])
    return tuple(RowRanges.deferred(n, lambda i=i: (tables()[i][:, 0], tables()[i][:, 1]))
                 for i, n in enumerate(rows))


class LocalAttention(Variant):
    name = "local_attention"
    params_cls = LocalAttentionParams
    def is_data_dependent(self, spec: LayerSpec) -> bool:
        return spec.params.mode == "local_p"     # local-p's windows come from the predicted p_t

    def check(self, chk, path, params) -> None:
        if params.window_radius < 1:
            chk.add(f"{path}.window_radius",
                    f"expected Luong's half-window D >= 1 (sigma = D/2 would be {params.window_radius / 2:g}, "
                    f"and the local-p Gaussian exp(-(s - p_t)^2 / (2 sigma^2)) divides by zero); "
                    f"got {params.window_radius}")

    def build(self, spec: LayerSpec) -> OpGraph:
        p = spec.params
        dims = Dims(spec.batch, p.target_len, p.source_len, p.d)
        b, t, s, d = dims.b, dims.t, dims.s, dims.d
        rows, d_a, radius = dims.rows, p.attn_width, p.window_radius
        concat = p.score == "concat"
        ops, tensors = [], [*input_tensors(dims)]
        if p.mode == "local_m":
            windows, windows_flat, *rest = _local_m_ranges(dims, radius, d_a, concat)
            concat_ranges, pair_mask = rest if concat else (None, None)
            window_deps: tuple[str, ...] = ()
        else:
            ops_p, tensors_p = self._predictor(dims, p.predictor_width, radius, d_a, concat)
            ops += ops_p
            tensors += tensors_p
            windows, windows_flat = "windows", "windows_flat"
            concat_ranges, pair_mask = ("concat_ranges", "pair_mask") if concat else (None, None)
            window_deps = ("windows",)
        sc_ops, sc_tensors, last = score_ops(dims, p.score, d_a, True, windows_flat, concat_ranges, pair_mask,
                                             window_deps)
        ops += sc_ops
        tensors += sc_tensors
        if p.mode == "local_m":
            ops.append(softmax_op("softmax", "scores", "alignment", rows, s, 1, windows, None, "softmax", (last,)))
        else:
            ops += self._softmax_gaussian(dims, radius, last)
        ops += [Layout("alignment_blocks", ("alignment",), ("P_block",), local_to_block(dims), phase="context",
                       deps=("softmax",)),
                Gemm("context", "P_block", "Hs", "C", rows, b * s, d, shared_b=True, mask=windows_flat,
                     mask_axis="k", phase="context", deps=("alignment_blocks", *window_deps))]
        out_ops, out_tensors = output_ops(dims, "context")
        tensors += [TensorSpec("alignment", (b, t, s), "output"),
                    TensorSpec("P_block", (1, rows, b * s), "intermediate"),
                    TensorSpec("C", (1, rows, d), "intermediate"), *out_tensors]
        return OpGraph(tuple(ops + out_ops), tuple(tensors))

    @staticmethod
    def _predictor(dims: Dims, d_p: int, radius: int, d_a: int, concat: bool):
        """p_t = S sigmoid(v_p^T tanh(h_t^T W_p)) on the array and the vector unit, then the
        windows (a free Layout: floor and clip)."""
        rows, s = dims.rows, dims.s
        range_names = ("windows", "windows_flat") + (("concat_ranges", "pair_mask") if concat else ())

        def windows_fn(positions):
            lo, hi = local_p_windows(positions, radius, s)
            return derived_ranges(lo, hi, dims, d_a, concat)

        ops = [
            Gemm("predictor_hidden", "Ht", "W_p", "Zp", rows, dims.d, d_p, shared_b=True, phase="predictor_hidden"),
            VectorOp("predictor_tanh", (VPass(VOp.TANH, "Tp", ("Zp",)),), ("Zp",), ("Tp",), rows, d_p, (),
                     phase="predictor_tanh", deps=("predictor_hidden",)),
            Gemm("predictor_score", "Tp", "v_p", "zp", rows, d_p, 1, shared_b=True, phase="predictor_score",
                 deps=("predictor_tanh",)),
            VectorOp("position", (VPass(VOp.SIGMOID, "position.sigmoid", ("zp",)),
                                  VPass(VOp.SCALE, "positions", ("position.sigmoid",), float(s))),
                     ("zp",), ("positions",), rows, 1, (), phase="position", deps=("predictor_score",)),
            Layout("windows", ("positions",), range_names, windows_fn, phase="position", deps=("position",)),
        ]
        tensors = [TensorSpec("W_p", (1, dims.d, d_p), "weight", weight_init(dims.d)),
                   TensorSpec("v_p", (1, d_p, 1), "weight", weight_init(d_p)),
                   TensorSpec("Zp", (1, rows, d_p), "intermediate"),
                   TensorSpec("Tp", (1, rows, d_p), "intermediate"),
                   TensorSpec("zp", (1, rows, 1), "intermediate"),
                   TensorSpec("positions", (dims.b, dims.t, 1), "output"),
                   TensorSpec("windows", (rows, 2), "intermediate"),
                   TensorSpec("windows_flat", (rows, 2), "intermediate")]
        if concat:
            tensors += [TensorSpec("concat_ranges", (rows * d_a, 2), "intermediate"),
                        TensorSpec("pair_mask", (rows * s, 2), "intermediate")]
        return ops, tensors

    @staticmethod
    def _softmax_gaussian(dims: Dims, radius: int, last: str):
        """Softmax over each window, then times exp(-(s - p_t)^2 / (2 sigma^2)), sigma = D/2: per
        window position a sub, a square, a scale, an exp and a multiply (source positions as a
        column vector, p_t as a per-row scalar). No renormalisation afterwards."""
        rows, s = dims.rows, dims.s
        probs = "softmax.probs"
        passes, widths = softmax_passes("scores", probs, "softmax")
        inv_two_sigma_sq = 1.0 / (2.0 * (radius / 2.0) ** 2)
        passes += (VPass(VOp.SUB, "gauss.offset", ("source_positions", "positions")),
                   VPass(VOp.SQUARE, "gauss.square", ("gauss.offset",)),
                   VPass(VOp.SCALE, "gauss.exponent", ("gauss.square",), -inv_two_sigma_sq),
                   VPass(VOp.EXP, "gauss.weight", ("gauss.exponent",)),
                   VPass(VOp.MUL, "alignment", (probs, "gauss.weight")))

        def iota():
            return (np.arange(1, s + 1, dtype=np.int64).reshape(1, 1, s),)

        return [Layout("source_positions", (), ("source_positions",), iota, phase="softmax"),
                VectorOp("softmax", passes, ("scores", "source_positions", "positions"), ("alignment",), rows, s,
                         widths + (("positions", 1),), ranges="windows", phase="softmax",
                         deps=(last, "source_positions", "windows"), col_vectors=("source_positions",))]

    def report_fields(self, spec: LayerSpec) -> dict:
        p = spec.params
        return {"n": p.target_len, "d": p.d, "heads": 1, "window": 2 * p.window_radius + 1}

    def connectivity(self, spec: LayerSpec):
        """local-m: the actual windows. local-p: the windows depend on the data; every target may
        read any source (p_t ranges over [0, S]) and every actual window is non-empty (c = floor(p_t)
        in [0, S] and D >= 1 always meet [1, S]), so each target reads at least one source."""
        p = spec.params
        t, s = p.target_len, p.source_len
        if p.mode == "local_m":
            lo, hi = local_m_windows(t, s, p.window_radius)
            return Ranges(lo, hi, s, cross=True)
        return Ranges(np.zeros(t, np.int64), np.full(t, s, np.int64), s, cross=True)


VARIANT = LocalAttention()
