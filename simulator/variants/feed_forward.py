"""`feed_forward`: the position-wise feed-forward network of a transformer block
(docs/variants/generation.md).

Plain: Y = act(X W_up [+ b_up]) W_down [+ b_down] (the paper's FFN with ReLU, BERT and GPT-2 with
GELU). Gated (SwiGLU-style, Llama's MLP): Y = (act(X W_gate) * (X W_up)) W_down. Weights are shared
by every position, so the GEMMs run over all batch x n rows. MACs n d d_ff (3 if gated else 2).

The activation runs on the vector unit, one pass per primitive:
* relu: max(x, 0), one comparison per element;
* silu: x sigmoid(x), a sigmoid and a multiply;
* gelu: the tanh form x (0.5 + 0.5 tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GPT-2's gelu_new; the vector
  unit has no erf, so BERT's erf form runs as this too: they differ by under 1e-3): square, scale,
  add_const, multiply, tanh, scale, add_const, multiply = 5 multiplies, 2 adds, 1 tanh.
The gated form multiplies by the up projection in the same vector op (one more multiply).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..connectivity import Pointwise
from ..graph import Gemm, OpGraph, TensorSpec, VectorOp, VOp, VPass
from .base import LayerSpec, Variant, param
from .common import bias_add, weight_init

ACTIVATIONS = ("relu", "gelu", "silu")
_GELU_C = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True)
class FeedForwardParams:
    n: int = param("int", minimum=1, doc="tokens (positions)")
    d: int = param("int", minimum=1, doc="model width")
    d_ff: int = param("int", minimum=1, doc="hidden width")
    gated: bool = param("bool", default=False, doc="SwiGLU-style: act(x W_gate) * (x W_up), then W_down")
    activation: str = param("choice", default="relu", choices=ACTIVATIONS,
                            doc="relu (the paper), gelu (tanh form), silu")
    bias: bool = param("bool", default=False, doc="each projection adds a bias")


def activation_passes(kind: str, src: str, dst: str) -> tuple[VPass, ...]:
    """dst = act(src) as vector passes (temporaries named after dst)."""
    if kind == "relu":
        return (VPass(VOp.MAX_CONST, dst, (src,), 0.0),)
    if kind == "silu":
        return (VPass(VOp.SIGMOID, f"{dst}.sigmoid", (src,)), VPass(VOp.MUL, dst, (src, f"{dst}.sigmoid")))
    t = f"{dst}."
    return (VPass(VOp.SQUARE, t + "x2", (src,)),
            VPass(VOp.SCALE, t + "ax2", (t + "x2",), _GELU_C * 0.044715),
            VPass(VOp.ADD_CONST, t + "poly", (t + "ax2",), _GELU_C),          # c (1 + a x^2)
            VPass(VOp.MUL, t + "arg", (src, t + "poly")),                     # c (x + a x^3)
            VPass(VOp.TANH, t + "tanh", (t + "arg",)),
            VPass(VOp.SCALE, t + "half", (t + "tanh",), 0.5),
            VPass(VOp.ADD_CONST, t + "gate", (t + "half",), 0.5),
            VPass(VOp.MUL, dst, (src, t + "gate")))


class FeedForward(Variant):
    name = "feed_forward"
    params_cls = FeedForwardParams

    def build(self, spec: LayerSpec) -> OpGraph:
        p = spec.params
        rows = spec.batch * p.n
        ops = [Gemm("up_projection", "X", "W_up", "U", rows, p.d, p.d_ff, shared_b=True, phase="up")]
        tensors = [TensorSpec("X", (spec.batch, p.n, p.d), "input"),
                   TensorSpec("W_up", (1, p.d, p.d_ff), "weight", weight_init(p.d)),
                   TensorSpec("U", (1, rows, p.d_ff), "intermediate")]
        if p.gated:
            ops.append(Gemm("gate_projection", "X", "W_gate", "G", rows, p.d, p.d_ff, shared_b=True, phase="up"))
            tensors += [TensorSpec("W_gate", (1, p.d, p.d_ff), "weight", weight_init(p.d)),
                        TensorSpec("G", (1, rows, p.d_ff), "intermediate")]
        ops.append(self._activation(p, rows, tuple(op.name for op in ops)))
        if p.bias:
            tensors += [TensorSpec(f"b_{x}", (1, 1, p.d_ff), "weight", weight_init(p.d))
                        for x in (("gate", "up") if p.gated else ("up",))]
        ops.append(Gemm("down_projection", "H", "W_down", "Yp" if p.bias else "Y", rows, p.d_ff, p.d,
                        shared_b=True, phase="down", deps=("activation",)))
        tensors += [TensorSpec("H", (1, rows, p.d_ff), "intermediate"),
                    TensorSpec("W_down", (1, p.d_ff, p.d), "weight", weight_init(p.d_ff))]
        if p.bias:
            ops.append(bias_add("down_bias", "Yp", "b_down", "Y", rows, p.d, "down", ("down_projection",)))
            tensors += [TensorSpec("Yp", (1, rows, p.d), "intermediate"),
                        TensorSpec("b_down", (1, 1, p.d), "weight", weight_init(p.d_ff))]
        tensors.append(TensorSpec("Y", (spec.batch, p.n, p.d), "output"))
        return OpGraph(tuple(ops), tuple(tensors))

    @staticmethod
    def _activation(p: FeedForwardParams, rows: int, deps: tuple[str, ...]) -> VectorOp:
        """H = act(U [+ b_up]), or act(G [+ b_gate]) * (U [+ b_up]) when gated: one vector op."""
        passes: tuple[VPass, ...] = ()
        inputs = ("G", "U") if p.gated else ("U",)
        biases = tuple(f"b_{x}" for x in (("gate", "up") if p.gated else ("up",))) if p.bias else ()
        pre = {}
        for tensor, b in zip(inputs, biases or (None,) * len(inputs)):
            pre[tensor] = tensor if b is None else f"{tensor}.biased"
            if b is not None:
                passes += (VPass(VOp.ADD, pre[tensor], (tensor, b)),)
        act_in = pre["G"] if p.gated else pre["U"]
        act_out = "act" if p.gated else "H"
        passes += activation_passes(p.activation, act_in, act_out)
        if p.gated:
            passes += (VPass(VOp.MUL, "H", ("act", pre["U"])),)
        return VectorOp("activation", passes, inputs + biases, ("H",), rows, p.d_ff, (), phase="activation",
                        deps=deps, col_vectors=biases)

    def report_fields(self, spec: LayerSpec) -> dict:
        return {"n": spec.params.n, "d": spec.params.d}

    def connectivity(self, spec: LayerSpec):
        return Pointwise(spec.params.n)


VARIANT = FeedForward()
