"""`restricted_self_attention`: self-attention over a neighbourhood of r positions (Table 1's last row).

One head of width d, no projections (the row counts QK^T and PV only), the same core as
`self_attention` with a band mask (docs/conventions/layers.md §4):
* centred (default): r = 2w + 1 is odd and row i sees keys [i - w, i + w] clipped to [0, n);
  an even r is rejected because "centred" is ambiguous for it (§4.1);
* causal: row i sees the r keys [i - r + 1, i] clipped to [0, n) (any r >= 1).

The scores GEMM and the P V GEMM issue only the tiles the band touches; the softmax runs on each
row's clipped window. Useful MACs = 2 B d with B = sum_i |N(i)| (§4.2).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..connectivity import Ranges
from ..graph import OpGraph, RowRanges, TensorSpec
from .base import LayerSpec, Variant, param
from .common import attention_core, causal_window_ranges, centred_ranges


@dataclass(frozen=True)
class RestrictedParams:
    n: int = param("int", minimum=1, doc="sequence length")
    d: int = param("int", minimum=1, doc="representation width (the single head's width)")
    window: int = param("int", minimum=1, doc="neighbourhood size r (the paper's r): odd when centred, r = 2w+1")
    causal: bool = param("bool", default=False, doc="a window of r positions ending at the query (i-r+1..i)")


def band_ranges(n: int, window: int, causal: bool) -> RowRanges:
    """Keys each query sees: centred radius (r-1)/2, or the r positions ending at the query."""
    return causal_window_ranges(n, window) if causal else centred_ranges(n, (window - 1) // 2)


class RestrictedSelfAttention(Variant):
    name = "restricted_self_attention"
    params_cls = RestrictedParams

    def check(self, chk, path, params) -> None:
        if not params.causal and params.window % 2 == 0:
            chk.add(f"{path}.window",
                    f"expected an odd neighbourhood size (the paper's r = 2w+1, centred on the query); "
                    f"got {params.window}. An even r has no centre: use {params.window - 1} or "
                    f"{params.window + 1}, or set causal: true for a window ending at the query")

    def build(self, spec: LayerSpec) -> OpGraph:
        p, b = spec.params, spec.batch
        ops, tensors = attention_core("", "X", "X", "X", "Y", b, p.n, p.n, p.d, p.d,
                                      band_ranges(p.n, p.window, p.causal), (), False)
        return OpGraph(tuple(ops), (TensorSpec("X", (b, p.n, p.d), "input"), *tensors,
                                    TensorSpec("Y", (b, p.n, p.d), "output")))

    def report_fields(self, spec: LayerSpec) -> dict:
        p = spec.params
        return {"n": p.n, "d": p.d, "heads": 1, "window": p.window}

    def connectivity(self, spec: LayerSpec):
        p = spec.params
        r = band_ranges(p.n, p.window, p.causal)
        return Ranges(r.lo, r.hi, p.n)


VARIANT = RestrictedSelfAttention()
