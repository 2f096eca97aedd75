"""`recurrent`: one recurrent layer (vanilla RNN, LSTM or GRU): Table 1's recurrent row
(docs/conventions/layers.md §2).

Input width = hidden width = d; g gate blocks of width d per cell (rnn 1, lstm 4 in the order
i, f, o, g, gru 3 in the order z, r, candidate). Weights U (d x g d) for the input, W (d x g d)
for the recurrence, bias (g d); h_0 = c_0 = 0, or given as inputs (`initial_state: given`: with n = 1
the layer is one decode step, reading the state h_0 (and c_0) and writing h_1 (and c_1)).

Lowering:
* phase "input": U x for every position as ONE GEMM over batch x n rows (weights shared), then the
  bias add (one vector pass, g d adds per position). Nothing here depends on h.
* a `Recurrence` of n steps (phase "recurrence"): per step W h_{t-1} as a matrix-vector GEMM with
  the batch as its M = batch rows, then the cell's vector passes. Combining W h_{t-1} with the
  precomputed (U x_t + b) is an explicit vector add per preactivation element per step.
  GRU has two dependent GEMMs per step: W_zr h_{t-1}, then W_n (r * h_{t-1}) (r applied before
  W_n, Cho et al. 2014); h_t = (1 - z) n~ + z h_{t-1} executed as n~ + z (h_{t-1} - n~).
  Gate blocks are column slices of the (batch x g d) product: free Layouts.

MACs per batch element: g n d^2 (input) + g n d^2 (recurrent) = 2 n d^2, 8 n d^2, 6 n d^2.
Non-MAC counts by kind: simulator/analytic/recurrent.py. sequential_steps = 1 + n (the input
phase, then one phase per step); max_path_length is searched on connectivity.Chain(n).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..connectivity import Chain
from ..graph import Gemm, Layout, OpGraph, Recurrence, TensorSpec, VectorOp, VOp, VPass
from .base import LayerSpec, Variant, param
from .common import weight_init

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
GATE_NAMES = {"rnn": ("a",), "lstm": ("i", "f", "o", "g"), "gru": ("z", "r", "n")}


@dataclass(frozen=True)
class RecurrentParams:
    n: int = param("int", minimum=1, doc="sequence length (number of recurrent steps)")
    d: int = param("int", minimum=1, doc="hidden width = input width")
    cell: str = param("choice", default="rnn", choices=CELLS,
                      doc="rnn (vanilla tanh), lstm (gates i, f, o, g) or gru (gates z, r, candidate)")
    initial_state: str = param("choice", default="zero", choices=("zero", "given"),
                               doc="zero: h_0 = c_0 = 0; given: h_0 (and c_0) are inputs, e.g. the state a "
                                   "previous decode step left (n: 1 is then one decode step)")


def _column_blocks(names: tuple[str, ...], d: int):
    """(1, rows, len(names) d) -> one (1, rows, d) block per name: gate k owns columns [k d, (k+1) d)."""
    def fn(x):
        x = np.asarray(x)
        x = x.reshape(1, -1, len(names) * d)
        return tuple(np.ascontiguousarray(x[:, :, k * d:(k + 1) * d]) for k in range(len(names)))
    return fn


class Recurrent(Variant):
    name = "recurrent"
    params_cls = RecurrentParams

    def build(self, spec: LayerSpec) -> OpGraph:
        p, batch = spec.params, spec.batch
        n, d, cell = p.n, p.d, p.cell
        g = GATES[cell]
        gd = g * d
        rows = batch * n

        ops = [
            Gemm("input_transform", "X", "U", "UX", rows, d, gd, shared_b=True, phase="input"),
            VectorOp("input_bias", (VPass(VOp.ADD, "UXb", ("UX", "bias")),), ("UX", "bias"), ("UXb",),
                     rows, gd, (), col_vectors=("bias",), phase="input", deps=("input_transform",)),
        ]
        tensors = [
            TensorSpec("X", (batch, n, d), "input"),
            TensorSpec("U", (1, d, gd), "weight", weight_init(d)),
            TensorSpec("W", (1, d, gd), "weight", weight_init(d)),
            TensorSpec("bias", (1, 1, gd), "weight", weight_init(d)),
            TensorSpec("UX", (1, rows, gd), "intermediate"),
            TensorSpec("UXb", (1, rows, gd), "intermediate"),
        ]
        rec_deps = ("input_bias",)
        if cell == "gru":
            ops.append(Layout("split_w", ("W",), ("W_zr", "W_n"), _split_w(d), phase="input"))
            tensors += [TensorSpec("W_zr", (1, d, 2 * d), "intermediate"),
                        TensorSpec("W_n", (1, d, d), "intermediate")]
            rec_deps = ("input_bias", "split_w")

        body, step_tensors, carried = _BODIES[cell](batch, d)
        ux_names = tuple(f"ux_{x}" for x in GATE_NAMES[cell])
        given = p.initial_state == "given"
        before, after = _glue(batch, n, d, ux_names, carried, given)
        ops.append(Recurrence("recurrence", n, tuple(body), before, after, phase="recurrence", deps=rec_deps))
        tensors += [TensorSpec(name, (1, batch, d), "intermediate") for name in ux_names]
        tensors += [TensorSpec(name, shape, "intermediate") for name, shape in step_tensors]
        if given:
            tensors += [TensorSpec(f"{prev[0]}_0", (batch, d), "input") for prev, _ in carried]
        tensors.append(TensorSpec("H", (batch, n, d), "output"))
        if given and cell == "lstm":
            tensors.append(TensorSpec("c_n", (batch, d), "output"))      # h_n is H's last row
        return OpGraph(tuple(ops), tuple(tensors))

    def report_fields(self, spec: LayerSpec) -> dict:
        """`state_elements`: h (and c) carried from step to step, read and written by every step."""
        p = spec.params
        fields = {"n": p.n, "d": p.d, "state_elements": spec.batch * p.d * (2 if p.cell == "lstm" else 1)}
        if p.initial_state == "given":
            fields["phase"] = "decode" if p.n == 1 else "prefill"
        return fields

    def connectivity(self, spec: LayerSpec):
        return Chain(spec.params.n)


def _split_w(d: int):
    def fn(w):
        w = np.asarray(w).reshape(1, d, 3 * d)
        return np.ascontiguousarray(w[:, :, :2 * d]), np.ascontiguousarray(w[:, :, 2 * d:])
    return fn


def _glue(batch: int, n: int, d: int, ux_names: tuple[str, ...], carried: tuple[tuple[str, str], ...],
          given: bool = False):
    """before(store, t): the step's slice of U x + b (one block per gate) and the carried state;
    after(store, t): h_t into the output sequence H, and the state carried to step t+1.
    `carried` pairs (state read by the step, state it writes): h_prev <- h, c_prev <- c. With a
    `given` initial state, step 0 reads h_0 (and c_0) from the inputs and the last step leaves c_n."""
    g = len(ux_names)

    def before(store, t):
        if t == 0:
            dtype = np.asarray(store["UXb"]).dtype       # float32 on the array, float64 in the reference
            store["H"] = np.zeros((batch, n, d), dtype)
            for prev, _ in carried:
                initial = np.asarray(store[f"{prev[0]}_0"]) if given else np.zeros((batch, d), dtype)
                store[prev] = initial.reshape(1, batch, d)                # h_0, c_0 (zero unless given)
        ux_t = np.asarray(store["UXb"]).reshape(batch, n, g * d)[:, t, :]
        for k, name in enumerate(ux_names):
            store[name] = np.ascontiguousarray(ux_t[:, k * d:(k + 1) * d]).reshape(1, batch, d)

    def after(store, t):
        store["H"][:, t, :] = np.asarray(store["h"]).reshape(batch, d)
        for prev, new in carried:
            store[prev] = np.asarray(store[new]).reshape(1, batch, d)
        if given and t == n - 1 and "c" in store:
            store["c_n"] = np.asarray(store["c"]).reshape(batch, d)

    return before, after


def _rnn_body(batch: int, d: int):
    """h_t = tanh(W h_{t-1} + (U x_t + b))."""
    body = [
        Gemm("wh", "h_prev", "W", "wh", batch, d, d, shared_b=True, phase="step"),
        VectorOp("cell", (VPass(VOp.ADD, "pre", ("wh", "ux_a")),
                          VPass(VOp.TANH, "h", ("pre",))),
                 ("wh", "ux_a"), ("h",), batch, d, (), phase="step", deps=("wh",)),
    ]
    tensors = [("h_prev", (1, batch, d)), ("wh", (1, batch, d)), ("h", (1, batch, d))]
    return body, tensors, (("h_prev", "h"),)


def _lstm_body(batch: int, d: int):
    """[i, f, o, g] = [sig, sig, sig, tanh](W h_{t-1} + (U x_t + b)); c_t = f c_{t-1} + i g;
    h_t = o tanh(c_t)."""
    gates = GATE_NAMES["lstm"]
    wh_blocks = tuple(f"wh_{x}" for x in gates)
    passes = tuple(VPass(VOp.ADD, f"pre_{x}", (f"wh_{x}", f"ux_{x}")) for x in gates) + (
        VPass(VOp.SIGMOID, "gi", ("pre_i",)),
        VPass(VOp.SIGMOID, "gf", ("pre_f",)),
        VPass(VOp.SIGMOID, "go", ("pre_o",)),
        VPass(VOp.TANH, "gg", ("pre_g",)),
        VPass(VOp.MUL, "fc", ("gf", "c_prev")),
        VPass(VOp.MUL, "ig", ("gi", "gg")),
        VPass(VOp.ADD, "c", ("fc", "ig")),
        VPass(VOp.TANH, "tc", ("c",)),
        VPass(VOp.MUL, "h", ("go", "tc")),
    )
    body = [
        Gemm("wh", "h_prev", "W", "wh", batch, d, 4 * d, shared_b=True, phase="step"),
        Layout("split_gates", ("wh",), wh_blocks, _column_blocks(gates, d), phase="step", deps=("wh",)),
        VectorOp("cell", passes, wh_blocks + tuple(f"ux_{x}" for x in gates) + ("c_prev",), ("h", "c"),
                 batch, d, (), phase="step", deps=("split_gates",)),
    ]
    tensors = ([("h_prev", (1, batch, d)), ("c_prev", (1, batch, d)), ("wh", (1, batch, 4 * d))]
               + [(name, (1, batch, d)) for name in wh_blocks] + [("h", (1, batch, d)), ("c", (1, batch, d))])
    return body, tensors, (("h_prev", "h"), ("c_prev", "c"))


def _gru_body(batch: int, d: int):
    """z, r = sig(W_zr h_{t-1} + (U_zr x_t + b_zr)); n~ = tanh(W_n (r h_{t-1}) + (U_n x_t + b_n));
    h_t = n~ + z (h_{t-1} - n~)  (= (1 - z) n~ + z h_{t-1})."""
    body = [
        Gemm("wh_zr", "h_prev", "W_zr", "wh_zr", batch, d, 2 * d, shared_b=True, phase="step"),
        Layout("split_zr", ("wh_zr",), ("wh_z", "wh_r"), _column_blocks(("z", "r"), d), phase="step",
               deps=("wh_zr",)),
        VectorOp("gates", (VPass(VOp.ADD, "pre_z", ("wh_z", "ux_z")),
                           VPass(VOp.ADD, "pre_r", ("wh_r", "ux_r")),
                           VPass(VOp.SIGMOID, "z", ("pre_z",)),
                           VPass(VOp.SIGMOID, "r", ("pre_r",)),
                           VPass(VOp.MUL, "rh", ("r", "h_prev"))),
                 ("wh_z", "wh_r", "ux_z", "ux_r", "h_prev"), ("z", "rh"), batch, d, (), phase="step",
                 deps=("split_zr",)),
        Gemm("wh_n", "rh", "W_n", "wh_n", batch, d, d, shared_b=True, phase="step", deps=("gates",)),
        VectorOp("candidate", (VPass(VOp.ADD, "pre_n", ("wh_n", "ux_n")),
                               VPass(VOp.TANH, "nt", ("pre_n",)),
                               VPass(VOp.SUB, "diff", ("h_prev", "nt")),
                               VPass(VOp.MUL, "zd", ("z", "diff")),
                               VPass(VOp.ADD, "h", ("nt", "zd"))),
                 ("wh_n", "ux_n", "h_prev", "z"), ("h",), batch, d, (), phase="step", deps=("wh_n",)),
    ]
    tensors = ([("h_prev", (1, batch, d)), ("wh_zr", (1, batch, 2 * d))]
               + [(name, (1, batch, d)) for name in ("wh_z", "wh_r", "z", "rh", "wh_n", "h")])
    return body, tensors, (("h_prev", "h"),)


_BODIES = {"rnn": _rnn_body, "lstm": _lstm_body, "gru": _gru_body}

VARIANT = Recurrent()
