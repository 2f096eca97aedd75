"""Closed-form counts: the independent oracle the kernels are tested against.

gemm.py holds the tile-walk closed forms (docs/conventions/systolic.md); one module per layer family
holds that family's closed forms (docs/conventions/layers.md, docs/conventions/counting.md), as its
variant executes them.
"""
from .gemm import axis_sum, cdiv, gemm_array_counts, gemm_boundary_counts, softmax_ops

__all__ = ["axis_sum", "cdiv", "gemm_array_counts", "gemm_boundary_counts", "softmax_ops"]
