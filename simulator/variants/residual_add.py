"""`residual_add`: Y = X + R, the residual connection around a transformer sub-layer.

One add per element on the vector unit (positions of every batch element are the op's rows).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..connectivity import Pointwise
from ..graph import OpGraph, TensorSpec, VectorOp, VOp, VPass
from .base import LayerSpec, Variant, param


@dataclass(frozen=True)
class ResidualParams:
    n: int = param("int", minimum=1, doc="tokens (positions)")
    d: int = param("int", minimum=1, doc="model width")


class ResidualAdd(Variant):
    name = "residual_add"
    params_cls = ResidualParams

    def build(self, spec: LayerSpec) -> OpGraph:
        p, b = spec.params, spec.batch
        op = VectorOp("add", (VPass(VOp.ADD, "Y", ("X", "R")),), ("X", "R"), ("Y",), b * p.n, p.d, (),
                      phase="residual")
        return OpGraph((op,), tuple(TensorSpec(name, (b, p.n, p.d), role)
                                    for name, role in (("X", "input"), ("R", "input"), ("Y", "output"))))

    def report_fields(self, spec: LayerSpec) -> dict:
        return {"n": spec.params.n, "d": spec.params.d}

    def connectivity(self, spec: LayerSpec):
        return Pointwise(spec.params.n)


VARIANT = ResidualAdd()
