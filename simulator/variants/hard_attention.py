"""`hard_attention`: the attention step of Xu et al. 2015, "Show, Attend and Tell"
(docs/conventions/layers.md §6).

The LSTM is not simulated: the layer takes the annotations A (batch, L, D_a) and the previous
decoder states Hq (batch, queries, d_h) as inputs and computes, for every query state h,

    e_i   = U_att . tanh(W_c2pc a_i + W_d h)        (the official code's attention MLP)
    alpha = softmax(e)                              (over the L locations, no scale)
    soft:   context = sum_i alpha_i a_i             (the deterministic expectation, §6.1)
    sample: context = a_s, s ~ Multinoulli(alpha)   (inverse CDF in float64, one uniform per row, §6.4)
    argmax: context = a_s, s = first maximum of alpha (the code's test-time mode)

Widths: D_a = d_att = d_h = d (one parameter d). No biases: the code's c shifts every e_i
equally and cancels in the softmax; its b is omitted (a bias may be folded into W_c2pc's accumulator,
docs/conventions/counting.md §1.3).

Lowering (per image; the queries are independent given Hq):
* project_annotations: W_c2pc a_i for every location once per image, L d^2 MACs on the array;
* project_state: W_d h for every query, queries d^2 MACs;
* attention_mlp (vector unit): the pair add and tanh, queries L d of each, run as batch*queries
  problems of L rows, W_d h a column vector (VectorOp.col_vectors) against the projected
  annotations repeated per query by a free Layout, so they are re-read from memory once per query;
* score: U_att contraction on the array, a GEMM with N = 1 (queries L d MACs);
* softmax over L (SM(L) per query, no scale);
* soft: context = alpha A on the array (queries L d MACs);
  sample / argmax: a `sample` or `argmax` pass over alpha read back from memory (so the draw is
  replayable from the stored alpha in every number format), then a Gather of the picked
  annotation rows (0 MACs, d elements per query).

The uniforms are the input tensor U (batch, queries, 1): its init ignores simulate()'s generator
and draws numpy.random.default_rng(seed).random(shape), C-order over (batch, queries), so a
checker replays them from result.inputs["U"]. Outputs: context (batch, queries, d), alpha
(batch, queries, L) and, for sample/argmax, index (batch, queries, 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..connectivity import Ranges
from ..graph import Gather, Gemm, Layout, OpGraph, TensorSpec, VectorOp, VOp, VPass
from .base import LayerSpec, Variant, param
from .common import softmax_op, weight_init

MODES = ("soft", "sample", "argmax")


@dataclass(frozen=True)
class HardAttentionParams:
    n: int = param("int", minimum=1, doc="number of annotation locations L (14 x 14 = 196 in the paper)")
    d: int = param("int", minimum=1, doc="annotation width D_a; also the attention MLP width d_att and the "
                                         "decoder state width d_h")
    queries: int = param("int", minimum=1, doc="caption steps: query states h_{t-1} attended with")
    sampling: str = param("choice", default="sample", choices=MODES,
                          doc="soft (expectation), sample (Multinoulli by inverse CDF) or argmax")
    seed: int = param("seed", default=0, doc="seed of the uniforms U (numpy default_rng); sample mode only")


def uniforms(seed: int):
    """U's init: one float64 uniform per (batch, query) row from default_rng(seed), C-order.
    simulate()'s own generator is ignored, so the stream depends on this seed alone."""
    return lambda _rng, shape: np.random.default_rng(seed).random(shape)


def repeat_per_query(batch: int, n: int, queries: int, d: int):
    """(1, batch*L, d) projected annotations -> (batch*queries, L, d), image b's copy for each query."""
    def fn(x):
        x = x.reshape(batch, 1, n, d)
        return (np.broadcast_to(x, (batch, queries, n, d)).reshape(batch * queries, n, d),)
    return fn


class HardAttention(Variant):
    name = "hard_attention"
    params_cls = HardAttentionParams

    def build(self, spec: LayerSpec) -> OpGraph:
        p, b = spec.params, spec.batch
        n, d, q = p.n, p.d, p.queries
        ops = [
            Gemm("project_annotations", "A", "W_c2pc", "PA", b * n, d, d, shared_b=True, phase="projections"),
            Gemm("project_state", "Hq", "W_d", "PH", b * q, d, d, shared_b=True, phase="projections"),
            Layout("repeat_annotations", ("PA",), ("PA_rep",), repeat_per_query(b, n, q, d), phase="projections",
                   deps=("project_annotations",)),
            VectorOp("attention_mlp", (VPass(VOp.ADD, "pre", ("PA_rep", "PH")), VPass(VOp.TANH, "T", ("pre",))),
                     ("PA_rep", "PH"), ("T",), n, d, (), batch=b * q, phase="mlp", col_vectors=("PH",),
                     deps=("repeat_annotations", "project_state")),
            Gemm("score", "T", "U_att", "E", b * q * n, d, 1, shared_b=True, phase="score", deps=("attention_mlp",)),
            softmax_op("softmax", "E", "alpha", q, n, b, None, None, "softmax", ("score",)),
        ]
        tensors = [TensorSpec("A", (b, n, d), "input"),
                   TensorSpec("Hq", (b, q, d), "input"),
                   TensorSpec("W_c2pc", (1, d, d), "weight", weight_init(d)),
                   TensorSpec("W_d", (1, d, d), "weight", weight_init(d)),
                   TensorSpec("U_att", (1, d, 1), "weight", weight_init(d))]
        if p.sampling == "sample":
            tensors.append(TensorSpec("U", (b, q, 1), "input", uniforms(p.seed)))
        tensors += [TensorSpec("PA", (1, b * n, d), "intermediate"),
                    TensorSpec("PH", (1, b * q, d), "intermediate"),
                    TensorSpec("PA_rep", (b * q, n, d), "intermediate"),
                    TensorSpec("T", (b * q, n, d), "intermediate"),
                    TensorSpec("E", (1, b * q * n, 1), "intermediate"),
                    TensorSpec("alpha", (b, q, n), "output"),
                    TensorSpec("context", (b, q, d), "output")]
        if p.sampling == "soft":
            ops.append(Gemm("context", "alpha", "A", "context", q, n, d, batch=b, phase="context", deps=("softmax",)))
        else:
            ops += self._select(p, b)
            tensors.append(TensorSpec("index", (b, q, 1), "output"))
        return OpGraph(tuple(ops), tuple(tensors))

    @staticmethod
    def _select(p, b: int) -> list:
        """sample / argmax pass over the stored alpha, then the gather of the picked annotations."""
        if p.sampling == "sample":
            pick = VectorOp("sample", (VPass(VOp.SAMPLE, "index", ("alpha", "U")),), ("alpha", "U"), ("index",),
                            p.queries, p.n, (("U", 1), ("index", 1)), batch=b, phase="select", deps=("softmax",))
        else:
            pick = VectorOp("argmax", (VPass(VOp.ARGMAX, "index", ("alpha",)),), ("alpha",), ("index",),
                            p.queries, p.n, (("index", 1),), batch=b, phase="select", deps=("softmax",))
        gather = Gather("gather", "A", "index", "context", p.queries, p.d, p.n, batch=b, phase="gather",
                        deps=(pick.name,))
        return [pick, gather]

    def report_fields(self, spec: LayerSpec) -> dict:
        return {"n": spec.params.n, "d": spec.params.d, "heads": 1}

    def connectivity(self, spec: LayerSpec):
        """Every query step reads all L locations (soft: weighted; hard: the one drawn, which may
        be any of them): cross attention, one hop."""
        p = spec.params
        return Ranges(np.zeros(p.queries, np.int64), np.full(p.queries, p.n, np.int64), p.n, cross=True)


VARIANT = HardAttention()
