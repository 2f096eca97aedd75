"""`norm`: LayerNorm or RMSNorm over the d features of every position (docs/variants/generation.md).

On the vector unit, no MACs. Per row of d (the HF/PyTorch convention: biased variance, eps inside
the square root, affine gamma (and beta for LayerNorm)):
* layernorm: mean = rowsum(x) / d; xc = x - mean; var = rowsum(xc^2) / d; r = rsqrt(var + eps);
  y = xc r gamma + beta;
* rmsnorm: ms = rowsum(x^2) / d; r = rsqrt(ms + eps); y = x r gamma.
Per-row statistics are one value per row (a reduction of d elements costs d - 1 adds). Positions
of every batch element are the rows of one op, so gamma and beta are read once.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..connectivity import Pointwise
from ..graph import OpGraph, TensorSpec, VectorOp, VOp, VPass
from .base import LayerSpec, Variant, param

KINDS = ("layernorm", "rmsnorm")


@dataclass(frozen=True)
class NormParams:
    n: int = param("int", minimum=1, doc="tokens (positions)")
    d: int = param("int", minimum=1, doc="features normalised per position")
    kind: str = param("choice", default="layernorm", choices=KINDS, doc="layernorm or rmsnorm")
    eps: float = param("float", default=1e-5, minimum=0.0, doc="added to the variance (mean square) before rsqrt")


def norm_passes(kind: str, d: int, eps: float) -> tuple[tuple[VPass, ...], tuple[str, ...]]:
    """The passes from X to Y, and the per-row scalar temporaries they use."""
    if kind == "layernorm":
        stats = ("sum", "mean", "sumsq", "var", "var_eps", "rstd")
        passes = (VPass(VOp.RSUM, "sum", ("X",)),
                  VPass(VOp.SCALE, "mean", ("sum",), 1.0 / d),
                  VPass(VOp.SUB, "xc", ("X", "mean")),
                  VPass(VOp.SQUARE, "xc2", ("xc",)),
                  VPass(VOp.RSUM, "sumsq", ("xc2",)),
                  VPass(VOp.SCALE, "var", ("sumsq",), 1.0 / d),
                  VPass(VOp.ADD_CONST, "var_eps", ("var",), eps),
                  VPass(VOp.RSQRT, "rstd", ("var_eps",)),
                  VPass(VOp.MUL, "xn", ("xc", "rstd")),
                  VPass(VOp.MUL, "xg", ("xn", "gamma")),
                  VPass(VOp.ADD, "Y", ("xg", "beta")))
        return passes, stats
    stats = ("sumsq", "ms", "ms_eps", "rms_inv")
    passes = (VPass(VOp.SQUARE, "x2", ("X",)),
              VPass(VOp.RSUM, "sumsq", ("x2",)),
              VPass(VOp.SCALE, "ms", ("sumsq",), 1.0 / d),
              VPass(VOp.ADD_CONST, "ms_eps", ("ms",), eps),
              VPass(VOp.RSQRT, "rms_inv", ("ms_eps",)),
              VPass(VOp.MUL, "xn", ("X", "rms_inv")),
              VPass(VOp.MUL, "Y", ("xn", "gamma")))
    return passes, stats


class Norm(Variant):
    name = "norm"
    params_cls = NormParams

    def build(self, spec: LayerSpec) -> OpGraph:
        p = spec.params
        rows = spec.batch * p.n
        passes, stats = norm_passes(p.kind, p.d, p.eps)
        affine = ("gamma", "beta") if p.kind == "layernorm" else ("gamma",)
        op = VectorOp("norm", passes, ("X",) + affine, ("Y",), rows, p.d, tuple((s, 1) for s in stats),
                      phase="norm", col_vectors=affine)
        tensors = (TensorSpec("X", (spec.batch, p.n, p.d), "input"),
                   TensorSpec("gamma", (1, 1, p.d), "weight", lambda rng, shape: 1.0 + 0.1 * rng.standard_normal(shape)),
                   *((TensorSpec("beta", (1, 1, p.d), "weight", lambda rng, shape: 0.1 * rng.standard_normal(shape)),)
                     if p.kind == "layernorm" else ()),
                   TensorSpec("Y", (spec.batch, p.n, p.d), "output"))
        return OpGraph((op,), tensors)

    def report_fields(self, spec: LayerSpec) -> dict:
        return {"n": spec.params.n, "d": spec.params.d}

    def connectivity(self, spec: LayerSpec):
        return Pointwise(spec.params.n)


VARIANT = Norm()
