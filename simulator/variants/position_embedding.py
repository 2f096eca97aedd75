"""`position_embedding`: Y = X + PE, the paper's sinusoidal position encoding
(docs/conventions/layers.md §5).

PE(pos, 2i) = sin(pos div_i), PE(pos, 2i+1) = cos(pos div_i), div_i = exp(2i * -(ln 10000 / d)),
pos = 0..n-1, i = 0..d/2-1: channels INTERLEAVED (even sin, odd cos) as in the paper and the
Annotated Transformer, frequencies in its exp/log form. d must be even (an odd d leaves the last
channel undefined in the paper's formula).

mode `computed` (default) computes the table on the vector unit every forward
(docs/conventions/layers.md §5.2):
  frequencies: d/2 multiplies (2i times -ln(10000)/d) and d/2 exps on a 1 x d/2 row;
  angles: n d/2 multiplies (position, a per-row scalar, times the frequencies, a column vector
  shared by every row), then n d/2 sin and n d/2 cos; the interleave is a free Layout;
  add: n d adds per batch element (the PE table is read again for each batch element).
mode `table` reads a precomputed PE (a weight holding the exact float64 values, stored in the number
format), then only the n d adds per batch element. 0 MACs in both modes.

The positions 0..n-1 and the exponents 2i are index bookkeeping: free Layouts produce them as
integer tensors (exact in every number format), which the vector passes read from memory.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..connectivity import Pointwise
from ..graph import Layout, OpGraph, TensorSpec, VectorOp, VOp, VPass
from .base import LayerSpec, Variant, param

BASE = 10000.0


@dataclass(frozen=True)
class PositionEmbeddingParams:
    n: int = param("int", minimum=1, doc="sequence length (positions 0..n-1)")
    d: int = param("int", minimum=1, doc="model width (even: channels 2i and 2i+1 share a frequency)")
    mode: str = param("choice", default="computed", choices=("computed", "table"),
                      doc="computed: PE computed on the vector unit every forward; table: a precomputed "
                          "PE read from memory")


def pe_table(n: int, d: int) -> np.ndarray:
    """The exact PE (n, d) in float64, interleaved, in the exp/log form."""
    div = np.exp(np.arange(0, d, 2, dtype=np.float64) * -(math.log(BASE) / d))
    angle = np.arange(n, dtype=np.float64)[:, None] * div[None, :]
    pe = np.empty((n, d), np.float64)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return pe


def _interleave(n: int, d: int):
    def fn(s, c):
        pe = np.empty((1, n, d), np.result_type(s, c))
        pe[0, :, 0::2] = np.asarray(s).reshape(n, d // 2)
        pe[0, :, 1::2] = np.asarray(c).reshape(n, d // 2)
        return (pe,)
    return fn


def _repeat(batch: int, n: int, d: int):
    def fn(pe):
        return (np.broadcast_to(np.asarray(pe).reshape(1, n, d), (batch, n, d)).copy(),)
    return fn


class PositionEmbedding(Variant):
    name = "position_embedding"
    params_cls = PositionEmbeddingParams

    def check(self, chk, path, params) -> None:
        if params.d % 2:
            chk.add(f"{path}.d",
                    f"expected an even width: the paper's PE(pos, 2i) = sin(pos/10000^(2i/d)) and "
                    f"PE(pos, 2i+1) = cos(pos/10000^(2i/d)) fill channels in pairs, so an odd d leaves the "
                    f"last channel undefined; got {params.d}")

    def build(self, spec: LayerSpec) -> OpGraph:
        p, b = spec.params, spec.batch
        n, d, half = p.n, p.d, p.d // 2
        tensors = [TensorSpec("X", (b, n, d), "input")]
        ops = []
        if p.mode == "table":
            tensors.append(TensorSpec("PE", (1, n, d), "weight", lambda rng, shape: pe_table(n, d).reshape(shape)))
            pe_deps: tuple[str, ...] = ()
        else:
            ops += [
                Layout("exponents", (), ("two_i",),
                       lambda: (np.arange(0, d, 2, dtype=np.int64).reshape(1, 1, half),), phase="frequencies"),
                VectorOp("frequencies",
                         (VPass(VOp.SCALE, "freq.log", ("two_i",), -(math.log(BASE) / d)),
                          VPass(VOp.EXP, "div", ("freq.log",))),
                         ("two_i",), ("div",), 1, half, (), phase="frequencies", deps=("exponents",)),
                Layout("positions", (), ("pos",),
                       lambda: (np.arange(n, dtype=np.int64).reshape(1, n, 1),), phase="angles"),
                VectorOp("angles",
                         (VPass(VOp.MUL, "angle", ("pos", "div")),
                          VPass(VOp.SIN, "pe_sin", ("angle",)),
                          VPass(VOp.COS, "pe_cos", ("angle",))),
                         ("pos", "div"), ("pe_sin", "pe_cos"), n, half, (("pos", 1),), phase="angles",
                         deps=("frequencies", "positions"), col_vectors=("div",)),
                Layout("interleave", ("pe_sin", "pe_cos"), ("PE",), _interleave(n, d), phase="angles",
                       deps=("angles",)),
            ]
            tensors += [TensorSpec("two_i", (1, 1, half), "intermediate"),
                        TensorSpec("div", (1, 1, half), "intermediate"),
                        TensorSpec("pos", (1, n, 1), "intermediate"),
                        TensorSpec("pe_sin", (1, n, half), "intermediate"),
                        TensorSpec("pe_cos", (1, n, half), "intermediate"),
                        TensorSpec("PE", (1, n, d), "intermediate")]
            pe_deps = ("interleave",)
        ops += [
            Layout("repeat_pe", ("PE",), ("PE_b",), _repeat(b, n, d), phase="add", deps=pe_deps),
            VectorOp("add", (VPass(VOp.ADD, "Y", ("X", "PE_b")),), ("X", "PE_b"), ("Y",), n, d, (), batch=b,
                     phase="add", deps=("repeat_pe",)),
        ]
        tensors += [TensorSpec("PE_b", (b, n, d), "intermediate"), TensorSpec("Y", (b, n, d), "output")]
        return OpGraph(tuple(ops), tuple(tensors))

    def report_fields(self, spec: LayerSpec) -> dict:
        return {"n": spec.params.n, "d": spec.params.d}

    def connectivity(self, spec: LayerSpec):
        return Pointwise(spec.params.n)


VARIANT = PositionEmbedding()
