"""The other parts of a transformer block and the recurrent decode step: `feed_forward`, `norm`,
`residual_add`, `recurrent` with `initial_state: given`, and the `repeat` key.

Oracles: simulator/analytic/generation.py for the counts, tests/reference_generation.py and
tests/reference_recurrent.py (float64) for the values.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import load_workload, simulate, to_frame
from simulator.analytic import generation as closed
from simulator.enums import Counter, VEC_KIND_NAMES
from simulator.errors import ConfigError
from tests.helpers import make_hw
from tests.reference_generation import feed_forward, norm
from tests.reference_recurrent import lstm_cell_state, reference

U32 = 2.0 ** -24


def run(layer, hw, functional=False, seed=0):
    return simulate(load_workload({"name": "t", "layers": [layer]}), hw, functional=functional, seed=seed)[0]


def vec(r) -> dict[str, int]:
    kinds = {k: int(r.counts[Counter.VEC_OPS + i]) for i, k in enumerate(VEC_KIND_NAMES)}
    return {k: v for k, v in kinds.items() if v}


# --- feed-forward ------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), d=st.integers(1, 10), d_ff=st.integers(1, 20), batch=st.integers(1, 3),
       gated=st.booleans(), activation=st.sampled_from(["relu", "gelu", "silu"]), bias=st.booleans(),
       hw_index=st.integers(0, 1))
def test_feed_forward_counts_equal_closed_forms(n, d, d_ff, batch, gated, activation, bias, hw_index):
    hw = [make_hw(rows=3, cols=5, sram_bytes=4096), make_hw(rows=4, cols=4, dataflow="output_stationary")][hw_index]
    r = run({"variant": "feed_forward", "n": n, "d": d, "d_ff": d_ff, "gated": gated, "activation": activation,
             "bias": bias, "batch": batch}, hw)
    parts = closed.feed_forward_macs(n, d, d_ff, gated, batch)
    assert r.macs == n * d * d_ff * (3 if gated else 2) * batch == sum(parts.values())
    assert {o.op: o.macs for o in r.ops if o.kind == "gemm"} == parts
    assert vec(r) == closed.feed_forward_vector_ops(n, d, d_ff, gated, activation, bias, batch)
    assert r.sequential_steps == 3 and r.max_path_length is None      # position-wise: no two positions meet


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "silu"])
def test_feed_forward_matches_float64(gated, activation):
    n, d, d_ff = 7, 10, 13
    for bias in (False, True):
        r = run({"variant": "feed_forward", "n": n, "d": d, "d_ff": d_ff, "gated": gated, "activation": activation,
                 "bias": bias, "batch": 2}, make_hw(rows=3, cols=5, sram_bytes=2048), functional=True, seed=3)
        ref = feed_forward(r.inputs, gated, activation, bias)
        tol = 1e-5 * math.sqrt(d + d_ff) + 8 * U32
        assert np.max(np.abs(r.outputs["Y"] - ref)) <= tol * np.max(np.abs(ref)), (activation, gated, bias)


def test_gelu_is_the_tanh_form_within_1e3_of_erf():
    """The vector unit has no erf: `gelu` runs the tanh form, which differs from BERT's erf GELU by
    under 1e-3 everywhere (max about 4.7e-4 near |x| = 2)."""
    from math import erf

    from tests.reference_generation import gelu_tanh

    x = np.linspace(-8, 8, 4001)
    exact = np.array([0.5 * v * (1 + erf(v / math.sqrt(2))) for v in x])
    assert np.max(np.abs(gelu_tanh(x) - exact)) < 1e-3


def test_count_only_equals_functional_for_block_parts():
    hw = make_hw(rows=3, cols=5, sram_bytes=2048)
    for layer in ({"variant": "feed_forward", "n": 5, "d": 6, "d_ff": 11, "gated": True, "activation": "silu",
                   "bias": True, "batch": 2},
                  {"variant": "norm", "n": 6, "d": 9, "kind": "layernorm", "batch": 2},
                  {"variant": "norm", "n": 6, "d": 9, "kind": "rmsnorm"},
                  {"variant": "residual_add", "n": 4, "d": 7, "batch": 3}):
        a, b = run(layer, hw), run(layer, hw, functional=True)
        assert np.array_equal(a.counts, b.counts) and a.cycles == b.cycles, layer


# --- norms and residual ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["layernorm", "rmsnorm"])
@pytest.mark.parametrize("n,d,batch", [(1, 1, 1), (5, 8, 3), (9, 33, 2)])
def test_norm_counts_and_values(kind, n, d, batch):
    hw = make_hw(rows=4, cols=4, sram_bytes=1024, lanes=5)
    r = run({"variant": "norm", "n": n, "d": d, "kind": kind, "batch": batch, "eps": 1e-3}, hw, functional=True,
            seed=1)
    assert r.macs == 0
    assert vec(r) == {k: v for k, v in closed.norm_vector_ops(n, d, kind, batch).items() if v}
    ref = norm(r.inputs, kind, 1e-3)
    assert np.max(np.abs(r.outputs["Y"] - ref)) <= (1e-5 * math.sqrt(d) + 8 * U32) * max(1.0, np.abs(ref).max())


def test_norm_reads_its_parameters_once():
    """gamma and beta are shared by every position of every sequence: read from DRAM once."""
    hw = make_hw(sram_bytes=1 << 16)
    n, d, b = 8, 16, 4
    for kind, params in (("layernorm", 2), ("rmsnorm", 1)):
        row = to_frame([run({"variant": "norm", "n": n, "d": d, "kind": kind, "batch": b}, hw)]).iloc[0]
        assert row["dram_read_bytes"] == (b * n * d + params * d) * 4
        assert row["dram_write_bytes"] == b * n * d * 4


def test_residual_add():
    hw = make_hw()
    r = run({"variant": "residual_add", "n": 6, "d": 5, "batch": 2}, hw, functional=True)
    assert vec(r) == closed.residual_vector_ops(6, 5, 2) == {"add": 60}
    np.testing.assert_array_equal(r.outputs["Y"], r.inputs["X"] + r.inputs["R"])


# --- recurrent decode: one step from a given state --------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recurrent_decode_step_reads_and_writes_the_state(cell):
    """n = 1 with a given state: per op DRAM traffic equals the closed form (weights, the step's
    activations, and the state h_0 (c_0) read and h_1 (c_1) written), and the report says decode
    and the state size."""
    d, b = 12, 3
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 18)
    eb = hw.bytes_per_element
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    # The closed form reads every operand once: pin the input transform to its whole extent (the
    # default mapper may split it for speed and re-read x; the recurrence's own mappings hold W).
    whole = {"input_transform": {"tiles": [[b, d, gates * d]], "loop_orders": ["mnk"]}}
    layer = {"variant": "recurrent", "n": 1, "d": d, "cell": cell, "initial_state": "given", "batch": b,
             "mapping": whole}
    r = run(layer, hw)
    ops = to_frame([r], level="op").set_index("op")
    want = closed.recurrent_decode_dram_elements(d, cell, b)
    state = want.pop("state")
    for name, (reads, writes) in want.items():
        assert (ops.loc[name, "dram_read_bytes"], ops.loc[name, "dram_write_bytes"]) == (reads * eb, writes * eb), name
    row = to_frame([r]).iloc[0]
    assert row["phase"] == "decode"
    assert row["state_bytes"] == closed.recurrent_state_elements(d, cell, b) * eb
    # the state is a fixed share of the step's traffic, whatever came before: O(d), not O(n)
    assert state[0] * eb <= row["dram_read_bytes"] and state[1] * eb <= row["dram_write_bytes"]
    assert row["dram_write_bytes"] >= closed.recurrent_state_elements(d, cell, b) * eb


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recurrent_from_a_given_state_matches_float64(cell):
    """Continuing from the state: the float64 loop started at h_0 (c_0) gives the same h_t; two decode
    steps chained through the state equal one run of two steps."""
    d, b = 9, 2
    hw = make_hw(rows=3, cols=5)
    r = run({"variant": "recurrent", "n": 3, "d": d, "cell": cell, "initial_state": "given", "batch": b}, hw,
            functional=True, seed=8)
    np.testing.assert_allclose(r.outputs["H"], reference(cell, r.inputs), rtol=0, atol=1e-5 * math.sqrt(2 * d) * 3)
    if cell == "lstm":
        np.testing.assert_allclose(r.outputs["c_n"], lstm_cell_state(r.inputs), rtol=0, atol=1e-4)
    zero = reference(cell, {k: v for k, v in r.inputs.items() if k not in ("h_0", "c_0")})
    assert not np.allclose(zero, r.outputs["H"], atol=1e-3)        # the given state matters


def test_recurrent_decode_counts_do_not_depend_on_the_state_mode():
    hw = make_hw(rows=4, cols=4)
    for cell in ("rnn", "lstm", "gru"):
        a = run({"variant": "recurrent", "n": 1, "d": 6, "cell": cell, "initial_state": "given"}, hw)
        z = run({"variant": "recurrent", "n": 1, "d": 6, "cell": cell}, hw, functional=True)
        g = run({"variant": "recurrent", "n": 1, "d": 6, "cell": cell, "initial_state": "given"}, hw, functional=True)
        assert np.array_equal(a.counts, z.counts) and np.array_equal(a.counts, g.counts)
        assert pd.isna(to_frame([z]).iloc[0]["phase"])


# --- repeat: a stack of identical layers -----------------------------------------------------------
def test_repeat_multiplies_every_count_cycle_and_step():
    hw = make_hw(rows=3, cols=5)
    base = {"variant": "kv_cache_attention", "context": 9, "new_tokens": 2, "d": 8, "heads": 2}
    one, four = (run(dict(base, repeat=k), hw) for k in (1, 4))
    assert np.array_equal(four.counts, 4 * one.counts) and four.cycles == 4 * one.cycles
    assert four.sequential_steps == 4 * one.sequential_steps
    assert four.max_path_length == one.max_path_length
    a, b = to_frame([one]).iloc[0], to_frame([four]).iloc[0]
    assert (a["repeat"], b["repeat"]) == (1, 4)
    assert b["kv_cache_bytes"] == 4 * a["kv_cache_bytes"]
    for col in ("macs", "dram_read_bytes", "energy_pj", "cycles"):
        assert b[col] == pytest.approx(4 * a[col], rel=1e-12)
    assert b["utilization"] == pytest.approx(a["utilization"], rel=1e-12)


@pytest.mark.parametrize("layer,message", [
    ({"variant": "feed_forward", "n": 4, "d": 8, "d_ff": 0}, "layers[0].d_ff: expected an integer in [1, 2^40], got 0"),
    ({"variant": "feed_forward", "n": 4, "d": 8, "d_ff": 16, "activation": "swish"},
     "layers[0].activation: expected one of relu, gelu, silu; got 'swish'"),
    ({"variant": "feed_forward", "n": 4, "d": 8, "d_ff": 16, "gated": "yes"},
     "layers[0].gated: expected true or false, got 'yes'"),
    ({"variant": "norm", "n": 4, "d": 8, "kind": "batchnorm"},
     "layers[0].kind: expected one of layernorm, rmsnorm; got 'batchnorm'"),
    ({"variant": "norm", "n": 4, "d": 8, "eps": -1e-5}, "layers[0].eps: expected a number >= 0, got -1e-05"),
    ({"variant": "residual_add", "n": 4}, "layers[0].d: missing key"),
    ({"variant": "recurrent", "n": 1, "d": 8, "initial_state": "carried"},
     "layers[0].initial_state: expected one of zero, given; got 'carried'"),
    ({"variant": "gemm", "m": 2, "k": 2, "n": 2, "repeat": 0}, "layers[0].repeat: expected an integer in [1, 1000000], got 0"),
])
def test_bad_parameters(layer, message):
    with pytest.raises(ConfigError) as exc:
        load_workload({"name": "t", "layers": [layer]})
    assert message in [f"{path}: {msg}" for path, msg in exc.value.problems]


def test_repeat_overflow_is_refused():
    from simulator.engine import zero_counts
    from simulator.errors import SizeError
    from simulator.results import OpResult

    counts = zero_counts(make_hw())
    counts[Counter.MACS] = 2 ** 44
    op = OpResult.make("g", "gemm", "array", "", counts)
    assert op.repeated(2 ** 18).macs == 2 ** 62
    with pytest.raises(SizeError, match="beyond int64"):
        op.repeated(2 ** 19)



def test_convolution_decode_step_shares_its_weight_over_the_batch():
    """A causal convolution's decode step is `convolutional` with n = k, valid padding: one output,
    k d^2 MACs, a state of (k - 1) d inputs per sequence. The batch's outputs are rows of one GEMM, so
    the weight (larger than the SRAM here) comes from DRAM once for the whole batch."""
    from simulator.enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, BoundaryCounter

    k, d = 3, 24
    hw = make_hw(rows=4, cols=4, sram_bytes=4096)                      # W is 3 x 24 x 24 x 4 = 6912 bytes
    fill_b = BOUNDARY_BASE + N_BOUNDARY_COUNTERS * (hw.n_boundaries - 1) + BoundaryCounter.FILL_B
    reads = {}
    for b in (1, 4):
        r = run({"variant": "convolutional", "n": k, "d": d, "kernel": k, "padding": "valid", "batch": b}, hw)
        assert r.macs == b * k * d * d
        assert to_frame([r]).iloc[0]["state_bytes"] == b * (k - 1) * d * 4
        reads[b] = r.total.count(fill_b)
    assert reads[1] == reads[4] == k * d * d * 4
