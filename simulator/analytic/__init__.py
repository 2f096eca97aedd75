"""Closed-form counts: the independent oracle the kernels are tested against.

gemm.py holds the tile-walk closed forms (spec/systolic.md); one module per layer family holds
the spec's closed forms for that family (spec/variants.md).
"""
from .gemm import axis_sum, cdiv, gemm_array_counts, gemm_boundary_counts, softmax_ops

__all__ = ["axis_sum", "cdiv", "gemm_array_counts", "gemm_boundary_counts", "softmax_ops"]
