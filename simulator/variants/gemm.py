"""`gemm`: a plain matrix multiply C (m x n) = A (m x k) @ B (k x n), per batch element."""
from __future__ import annotations

from dataclasses import dataclass

from ..graph import Gemm, OpGraph, TensorSpec
from .base import LayerSpec, Variant, param


@dataclass(frozen=True)
class GemmParams:
    m: int = param("int", minimum=1, doc="rows of A and C")
    k: int = param("int", minimum=1, doc="reduction length")
    n: int = param("int", minimum=1, doc="columns of B and C")


class GemmVariant(Variant):
    name = "gemm"
    params_cls = GemmParams

    def build(self, spec: LayerSpec) -> OpGraph:
        p, b = spec.params, spec.batch
        tensors = (TensorSpec("A", (b, p.m, p.k), "input"),
                   TensorSpec("B", (b, p.k, p.n), "input"),
                   TensorSpec("C", (b, p.m, p.n), "output"))
        op = Gemm("gemm", "A", "B", "C", p.m, p.k, p.n, batch=b, phase="gemm")
        return OpGraph((op,), tensors)


VARIANT = GemmVariant()
