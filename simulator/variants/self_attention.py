"""`self_attention`: Attention(X, X, X) with no projections: Table 1's self-attention row.

One head of width d: QK^T (n x d x n) and PV (n x n x d) on the array, the scaled softmax on the
vector unit: 2 n^2 d MACs (causal: d n(n+1) in total).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..connectivity import Ranges
from ..graph import OpGraph, TensorSpec
from .base import LayerSpec, Variant, param
from .common import attention_core, causal_ranges, full_ranges


@dataclass(frozen=True)
class SelfAttentionParams:
    n: int = param("int", minimum=1, doc="sequence length")
    d: int = param("int", minimum=1, doc="representation width (the single head's width)")
    causal: bool = param("bool", default=False, doc="query i sees keys 0..i only")
    fused: bool = param("bool", default=False, doc="FlashAttention-style tiling (scores stay on chip)")


def attention_ranges(n: int, causal: bool):
    return causal_ranges(n) if causal else None


class SelfAttention(Variant):
    name = "self_attention"
    params_cls = SelfAttentionParams

    def build(self, spec: LayerSpec) -> OpGraph:
        p, b = spec.params, spec.batch
        ops, tensors = attention_core("", "X", "X", "X", "Y", b, p.n, p.n, p.d, p.d,
                                      attention_ranges(p.n, p.causal), (), p.fused)
        return OpGraph(tuple(ops), (TensorSpec("X", (b, p.n, p.d), "input"), *tensors,
                                    TensorSpec("Y", (b, p.n, p.d), "output")))

    def report_fields(self, spec: LayerSpec) -> dict:
        return {"n": spec.params.n, "d": spec.params.d, "heads": 1}

    def connectivity(self, spec: LayerSpec):
        r = causal_ranges(spec.params.n) if spec.params.causal else full_ranges(spec.params.n, spec.params.n)
        return Ranges(r.lo, r.hi, spec.params.n)


VARIANT = SelfAttention()
