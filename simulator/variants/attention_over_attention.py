"""`attention_over_attention`: the AoA layer of Cui et al. 2017 (docs/conventions/layers.md §8).

Inputs are the contextual embeddings h_doc (batch, n_D, d) and h_query (batch, n_Q, d) (d = 2 d_h,
a bi-GRU's two directions concatenated; the encoders are not simulated, see the recurrent variant):

    M        = h_doc h_query^T                  (n_D x n_Q, on the array: n_D n_Q d MACs; no scaling)
    alpha    = column-wise softmax of M         (over documents, one per query column)
    beta     = row-wise softmax of M            (over query words, one per document row)
    beta_avg = (1/n_D) sum_t beta(t)            (column mean: (n_D - 1) n_Q adds + n_Q multiplies)
    s        = alpha beta_avg                   (n_D, on the array: a GEMM with N = 1, n_D n_Q MACs)

The column softmax runs as a row softmax of M^T (a free transpose Layout), and so does the mean
(row sums of beta^T, then a multiply by 1/n_D). Each softmax has its own max shift, so exps are
2 n_D n_Q; the alternative in §8.2, one shared exp(M) under a global shift (n_D n_Q exps, with an
underflow risk), is not used. The pointer sum over candidate words (n_D scatter-adds) is outside the
layer. No masks: every document and query position is valid.

Outputs: s (batch, n_D) and, for checkers, alpha (batch, n_D, n_Q), beta (batch, n_D, n_Q) and
beta_avg (batch, n_Q).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..connectivity import Ranges
from ..graph import Gemm, Layout, OpGraph, TensorSpec, VectorOp, VOp, VPass
from .base import LayerSpec, Variant, param
from .common import softmax_op, transpose_last


@dataclass(frozen=True)
class AoAParams:
    doc_len: int = param("int", minimum=1, doc="document length n_D")
    query_len: int = param("int", minimum=1, doc="query length n_Q")
    d: int = param("int", minimum=1, doc="contextual embedding width (2 d_h for a bi-GRU of d_h per direction)")


class AttentionOverAttention(Variant):
    name = "attention_over_attention"
    params_cls = AoAParams

    def build(self, spec: LayerSpec) -> OpGraph:
        p, b = spec.params, spec.batch
        nd, nq, d = p.doc_len, p.query_len, p.d
        ops = (
            Layout("transpose_query", ("h_query",), ("h_query^T",), transpose_last, phase="matching"),
            Gemm("matching", "h_doc", "h_query^T", "M", nd, d, nq, batch=b, phase="matching",
                 deps=("transpose_query",)),
            Layout("transpose_m", ("M",), ("M^T",), transpose_last, phase="matching", deps=("matching",)),
            softmax_op("column_softmax", "M^T", "alpha^T", nq, nd, b, None, None, "softmax", ("transpose_m",)),
            softmax_op("row_softmax", "M", "beta", nd, nq, b, None, None, "softmax", ("matching",)),
            Layout("transpose_alpha", ("alpha^T",), ("alpha",), transpose_last, phase="softmax",
                   deps=("column_softmax",)),
            Layout("transpose_beta", ("beta",), ("beta^T",), transpose_last, phase="softmax", deps=("row_softmax",)),
            VectorOp("average", (VPass(VOp.RSUM, "beta_sum", ("beta^T",)),
                                 VPass(VOp.SCALE, "beta_avg", ("beta_sum",), 1.0 / nd)),
                     ("beta^T",), ("beta_avg",), nq, nd, (("beta_sum", 1), ("beta_avg", 1)), batch=b,
                     phase="average", deps=("transpose_beta",)),
            Gemm("attended", "alpha", "beta_avg", "s", nd, nq, 1, batch=b, phase="attended",
                 deps=("transpose_alpha", "average")),
        )
        tensors = (TensorSpec("h_doc", (b, nd, d), "input"),
                   TensorSpec("h_query", (b, nq, d), "input"),
                   TensorSpec("h_query^T", (b, d, nq), "intermediate"),
                   TensorSpec("M", (b, nd, nq), "intermediate"),
                   TensorSpec("M^T", (b, nq, nd), "intermediate"),
                   TensorSpec("alpha^T", (b, nq, nd), "intermediate"),
                   TensorSpec("beta^T", (b, nq, nd), "intermediate"),
                   TensorSpec("alpha", (b, nd, nq), "output"),
                   TensorSpec("beta", (b, nd, nq), "output"),
                   TensorSpec("beta_avg", (b, nq), "output"),
                   TensorSpec("s", (b, nd), "output"))
        return OpGraph(ops, tensors)

    def report_fields(self, spec: LayerSpec) -> dict:
        return {"n": spec.params.doc_len, "d": spec.params.d, "heads": 1}

    def connectivity(self, spec: LayerSpec):
        """Every document output s_i reads every query word in one hop (cross attention)."""
        p = spec.params
        return Ranges(np.zeros(p.doc_len, np.int64), np.full(p.doc_len, p.query_len, np.int64), p.query_len,
                      cross=True)


VARIANT = AttentionOverAttention()
