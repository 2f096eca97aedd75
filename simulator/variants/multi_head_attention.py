"""`multi_head_attention`: MultiHead(X, X, X) with Q, K, V and output projections (Vaswani et al.).

Projections are position-wise GEMMs over all batch x n rows (weights shared); heads are column
blocks of the projections (head i owns columns [i d_k, (i+1) d_k)); the attention core runs on
batch x heads independent (n x d_k) problems. No biases. MACs: 2 n d h d_k (Q, K) + n d h d_v (V)
+ h n^2 (d_k + d_v) + n h d_v d (output); with h d_k = h d_v = d that is 4 n d^2 + 2 n^2 d.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..connectivity import Ranges
from ..graph import Gemm, Layout, OpGraph, TensorSpec
from .base import LayerSpec, Variant, param
from .common import (attention_core, causal_ranges, check_head_width, full_ranges, merge_heads, split_heads,
                     weight_init)
from .self_attention import attention_ranges


@dataclass(frozen=True)
class MultiHeadParams:
    n: int = param("int", minimum=1, doc="sequence length")
    d: int = param("int", minimum=1, doc="model width")
    heads: int = param("int", minimum=1, doc="number of heads h")
    d_k: int | None = param("int", default=None, minimum=1, doc="per-head width (default d / heads)")
    causal: bool = param("bool", default=False, doc="query i sees keys 0..i only")
    fused: bool = param("bool", default=False, doc="FlashAttention-style tiling (scores stay on chip)")

    @property
    def head_width(self) -> int:
        return self.d_k if self.d_k is not None else self.d // self.heads


class MultiHeadAttention(Variant):
    name = "multi_head_attention"
    params_cls = MultiHeadParams

    def check(self, chk, path, params) -> None:
        check_head_width(chk, path, params)

    def build(self, spec: LayerSpec) -> OpGraph:
        p, b = spec.params, spec.batch
        h, dk, rows = p.heads, p.head_width, spec.batch * p.n
        width = h * dk
        proj = [Gemm(f"{name}_projection", "X", w, out, rows, p.d, width, shared_b=True, phase="projections")
                for name, w, out in (("q", "W_Q", "Qp"), ("k", "W_K", "Kp"), ("v", "W_V", "Vp"))]
        split = [Layout(f"split_{x}", (f"{x.upper()}p",), (f"{x.upper()}h",), split_heads(b, p.n, h, dk),
                        phase="projections", deps=(f"{x}_projection",)) for x in "qkv"]
        core, inner = attention_core("", "Qh", "Kh", "Vh", "Oh", b * h, p.n, p.n, dk, dk,
                                     attention_ranges(p.n, p.causal),
                                     {"q": ("split_q",), "k": ("split_k",), "v": ("split_v",)}, p.fused)
        last = core[-1].name
        tail = [Layout("merge_heads", ("Oh",), ("O",), merge_heads(b, p.n, h, dk), phase=core[-1].phase, deps=(last,)),
                Gemm("output_projection", "O", "W_O", "Y", rows, width, p.d, shared_b=True, phase="output",
                     deps=("merge_heads",))]
        tensors = (TensorSpec("X", (b, p.n, p.d), "input"),
                   *(TensorSpec(w, (1, p.d, width), "weight", weight_init(p.d)) for w in ("W_Q", "W_K", "W_V")),
                   TensorSpec("W_O", (1, width, p.d), "weight", weight_init(width)),
                   *(TensorSpec(t, (1, rows, width), "intermediate") for t in ("Qp", "Kp", "Vp", "O")),
                   *inner,
                   TensorSpec("Y", (b, p.n, p.d), "output"))
        return OpGraph(tuple(proj + split + core + tail), tensors)

    def report_fields(self, spec: LayerSpec) -> dict:
        return {"n": spec.params.n, "d": spec.params.d, "heads": spec.params.heads}

    def connectivity(self, spec: LayerSpec):
        n = spec.params.n
        r = causal_ranges(n) if spec.params.causal else full_ranges(n, n)
        return Ranges(r.lo, r.hi, n)


VARIANT = MultiHeadAttention()
