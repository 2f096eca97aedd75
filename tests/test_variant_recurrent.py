"""The `recurrent` variant (vanilla RNN, LSTM, GRU; docs/conventions/layers.md §2) and the Recurrence op
it runs on.

Oracles: tests/reference_recurrent.py (a float64 Python loop over t) for the values;
simulator/analytic/recurrent.py (closed forms) for the counts. The count-only == functional checks
exercise the persistent walk state of simulator/recurrence.py (count-only walks all steps in one
kernel call per body GEMM; functional calls the kernel once per step).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator import cli
from simulator.analytic.recurrent import (GATES, recurrent_input_macs, recurrent_macs, recurrent_max_path_length,
                                          recurrent_sequential_steps, recurrent_vector_ops, recurrent_weight_bytes)
from simulator.enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, BoundaryCounter, Counter, VEC_KIND_NAMES
from simulator.errors import ConfigError
from simulator.report import to_frame
from simulator.simulate import simulate
from simulator.variants import REGISTRY
from simulator.variants.base import LayerSpec
from simulator.workload import load_workload
from tests.helpers import make_hw
from tests.reference_recurrent import reference

CELLS = ("rnn", "lstm", "gru")
BODY_GEMMS = {"rnn": ("recurrence.wh",), "lstm": ("recurrence.wh",), "gru": ("recurrence.wh_zr", "recurrence.wh_n")}

# Hardware variety for the functional and count-only == functional checks: every dataflow, an array
# that divides nothing (3x5), pipelined folds, an SRAM too small for the weights to stay resident,
# two on-chip levels (resident and not), single buffering and the low-precision formats.
HW = {
    "ws4x4": dict(rows=4, cols=4),
    "os3x5_pipelined": dict(rows=3, cols=5, dataflow="output_stationary", fold_overlap="pipelined"),
    "is3x5": dict(rows=3, cols=5, dataflow="input_stationary"),
    "ws3x5_tiny_sram": dict(rows=3, cols=5, sram_bytes=512),
    "two_levels_resident": dict(rows=4, cols=4, levels=[1 << 14, 1 << 18]),
    "two_levels_rereads": dict(rows=4, cols=4, levels=[512, 1 << 12]),
    "single_buffered": dict(rows=4, cols=4, double_buffered=False),
}
HW_FORMATS = {**HW, "fp16": dict(rows=3, cols=5, number_format="fp16"),
              "bf16_pipelined": dict(rows=4, cols=4, number_format="bf16", fold_overlap="pipelined"),
              "int8": dict(rows=4, cols=4, number_format="int8")}


def workload(n, d, cell, batch=1, name="rnn_layer"):
    return load_workload({"name": "w", "layers": [{"name": name, "variant": "recurrent", "n": n, "d": d,
                                                   "cell": cell, "batch": batch}]})


def run(n, d, cell, batch=1, hw=None, functional=False, seed=0):
    hw = hw if hw is not None else make_hw(rows=4, cols=4)
    return simulate(workload(n, d, cell, batch), hw, functional=functional, seed=seed)[0]


def vec_counts(r) -> dict[str, int]:
    kinds = {k: int(r.counts[Counter.VEC_OPS + i]) for i, k in enumerate(VEC_KIND_NAMES)}
    return {k: v for k, v in kinds.items() if v}


def dram_fill_b(op_result, hw) -> int:
    """Bytes of B (the weight) an op brought across the off-chip boundary."""
    last = hw.n_boundaries - 1
    return op_result.count(BOUNDARY_BASE + N_BOUNDARY_COUNTERS * last + BoundaryCounter.FILL_B)


def ops_by_name(r) -> dict:
    return {op.op: op for op in r.ops}


# --- values ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("hw_name", list(HW))
@pytest.mark.parametrize("cell", CELLS)
def test_functional_matches_float64_loop(cell, hw_name):
    """n = 7, d = 9, batch 2 on arrays d does not divide. Tolerance (fp32): each step's
    preactivation is a sum over 2d products (U x_t and W h_{t-1}), relative error about
    1e-5 sqrt(2d); |h| <= 1, and the error carried through the state at most adds up over the n
    steps, so atol = 1e-5 sqrt(2d) n."""
    n, d = 7, 9
    r = run(n, d, cell, batch=2, hw=make_hw(**HW[hw_name]), functional=True, seed=3)
    want = reference(cell, r.inputs)
    got = r.outputs["H"]
    assert got.shape == (2, n, d)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * math.sqrt(2 * d) * n)


@pytest.mark.parametrize("cell", CELLS)
def test_outputs_bounded_and_first_step_ignores_w(cell):
    """|h_t| < 1 for every cell (tanh; o tanh(c); a convex mix of tanh values and h_{t-1}).
    With h_0 = 0 the first step does not depend on W: the reference with W = 0 gives the same h_1."""
    r = run(5, 6, cell, batch=3, functional=True, seed=11)
    h = r.outputs["H"]
    assert np.all(np.abs(h) < 1.0)
    zero_w = dict(r.inputs)
    zero_w["W"] = np.zeros_like(r.inputs["W"])
    np.testing.assert_allclose(h[:, 0, :], reference(cell, zero_w)[:, 0, :], rtol=0, atol=1e-5 * math.sqrt(12))


# --- counts vs closed forms -----------------------------------------------------------------------
GRID = [(n, d, b) for n in (1, 2, 5) for d in (1, 3, 8) for b in (1, 3)]


@pytest.mark.parametrize("cell", CELLS)
def test_counts_match_closed_forms_over_grid(cell):
    hw = make_hw(rows=3, cols=5)
    for n, d, b in GRID:
        r = run(n, d, cell, batch=b, hw=hw)
        assert r.macs == recurrent_macs(n, d, cell, b) == b * {"rnn": 2, "lstm": 8, "gru": 6}[cell] * n * d * d
        assert vec_counts(r) == recurrent_vector_ops(n, d, cell, b), (n, d, b)
        ops = ops_by_name(r)
        assert ops["input_transform"].macs == recurrent_input_macs(n, d, cell, b)
        assert sum(ops[name].macs for name in BODY_GEMMS[cell]) == b * GATES[cell] * n * d * d
        assert r.sequential_steps == recurrent_sequential_steps(n) == n + 1
        assert r.max_path_length == recurrent_max_path_length(n)


def test_golden_macs_at_512():
    """The worked values of docs/conventions/counting.md §2.4 at n = d = 512 (count-only MACs come from
    the graph, not a walk)."""
    for cell, want in (("rnn", 268_435_456), ("lstm", 1_073_741_824), ("gru", 805_306_368)):
        graph = REGISTRY["recurrent"].build(workload(512, 512, cell).layers[0])
        rec = graph.ops[-1]
        body = sum(op.useful_macs for op in rec.body if hasattr(op, "useful_macs")) * rec.steps
        assert graph.ops[0].useful_macs + body == want == recurrent_macs(512, 512, cell)


@pytest.mark.parametrize("cell", CELLS)
def test_counts_do_not_depend_on_data(cell):
    """docs/conventions/layers.md §2.4: counts are the same whatever the values (seeds give different
    weights and inputs) and equal the closed forms; count-only gives the very same counter vector."""
    n, d, b = 6, 5, 2
    runs = [run(n, d, cell, batch=b, functional=True, seed=s) for s in (0, 1, 2)]
    assert not np.array_equal(runs[0].inputs["W"], runs[1].inputs["W"])
    count_only = run(n, d, cell, batch=b)
    for r in runs:
        np.testing.assert_array_equal(r.counts, count_only.counts)
        assert r.cycles == count_only.cycles
        assert r.macs == recurrent_macs(n, d, cell, b)
        assert vec_counts(r) == recurrent_vector_ops(n, d, cell, b)


@pytest.mark.parametrize("hw_name", list(HW_FORMATS))
@pytest.mark.parametrize("cell", CELLS)
def test_count_only_equals_functional(cell, hw_name):
    """The key test of simulator/recurrence.py: one walk over all steps (count-only) and one kernel
    call per step continuing the walk state (functional) give identical counters, op by op."""
    hw = make_hw(**HW_FORMATS[hw_name])
    fun = run(7, 9, cell, batch=2, hw=hw, functional=True, seed=5)
    cnt = run(7, 9, cell, batch=2, hw=hw)
    assert [op.op for op in fun.ops] == [op.op for op in cnt.ops]
    for a, b in zip(fun.ops, cnt.ops):
        np.testing.assert_array_equal(a.counts, b.counts, err_msg=a.op)
    assert fun.cycles == cnt.cycles
    assert fun.macs == recurrent_macs(7, 9, cell, 2)


# --- structure: sequential steps, path length, ops -------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_sequential_steps_and_path_length(cell):
    """sequential_steps = the input phase + n recurrent phases, whatever d, batch or hardware;
    max_path_length searched on Chain(n) is n (None for n = 1: no two positions to connect)."""
    for n in (1, 2, 3, 9):
        seen = set()
        for d, b, hw in ((1, 1, make_hw()), (7, 3, make_hw(rows=3, cols=5)), (4, 2, make_hw(sram_bytes=512))):
            r = run(n, d, cell, batch=b, hw=hw)
            seen.add((r.sequential_steps, r.max_path_length))
        assert seen == {(n + 1, n if n >= 2 else None)}
    spec = workload(40, 3, cell).layers[0]
    assert REGISTRY["recurrent"].max_path_length(spec) == 40
    assert REGISTRY["recurrent"].build(spec).phase_depth() == 41


@pytest.mark.parametrize("cell", CELLS)
def test_op_level_rows(cell):
    r = run(4, 5, cell, batch=2, functional=True)
    frame = to_frame([r], level="op")
    body = {"rnn": ["recurrence.wh", "recurrence.cell"], "lstm": ["recurrence.wh", "recurrence.cell"],
            "gru": ["recurrence.wh_zr", "recurrence.gates", "recurrence.wh_n", "recurrence.candidate"]}[cell]
    layout = ["split_w"] if cell == "gru" else []
    assert list(frame["op"]) == ["input_transform", "input_bias"] + layout + body
    assert set(frame.loc[frame["op"].str.startswith("recurrence."), "phase"]) == {"recurrence"}
    assert set(frame.loc[~frame["op"].str.startswith("recurrence."), "phase"]) == {"input"}
    assert frame["macs"].sum() == recurrent_macs(4, 5, cell, 2)
    assert frame["vector_ops"].sum() == sum(recurrent_vector_ops(4, 5, cell, 2).values())


def test_report_columns():
    r = run(6, 5, "lstm", batch=2)
    row = to_frame([r]).iloc[0]
    assert (row["n"], row["d"], row["batch"]) == (6, 5, 2)
    assert all(pd.isna(row[c]) for c in ("heads", "kernel", "window"))
    assert (row["sequential_steps"], row["max_path_length"]) == (7, 6)
    assert REGISTRY["recurrent"].report_fields(LayerSpec("x", "recurrent", workload(6, 5, "lstm").layers[0].params)) \
        == {"n": 6, "d": 5, "state_elements": 10}          # h and c of the one sequence
    assert row["state_bytes"] == 2 * 2 * 5 * 4                  # batch 2, h and c, fp32


def test_cell_defaults_to_rnn():
    w = load_workload({"name": "w", "layers": [{"variant": "recurrent", "n": 3, "d": 2}]})
    assert w.layers[0].params.cell == "rnn"


# --- timing: the steps cannot overlap --------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_cycles_linear_in_n_on_a_huge_array(cell):
    """A 256x256 array holds a whole d = 8 step many times over, and the input transform of all
    positions is a single fold; yet the recurrent steps run one after another: cycles are exactly
    affine in n, and each extra step costs at least one full fold (serial: 2R + C - 2 cycles of
    fill and drain on top of its stream) per dependent GEMM of the step."""
    rows = cols = 256
    hw = make_hw(rows=rows, cols=cols, sram_bytes=1 << 26)
    d, base = 8, 4
    cycles = [run(k * base, d, cell, batch=2, hw=hw).cycles for k in (1, 2, 3)]
    slope = cycles[1] - cycles[0]
    assert cycles[2] - cycles[1] == slope
    per_step = slope / base
    assert per_step >= len(BODY_GEMMS[cell]) * (2 * rows + cols - 2)
    # The contrast on the array: U x for all n positions is ONE fold (all batch x n rows stream
    # through the weight-stationary array at once), the recurrence issues one fold per step per
    # body GEMM (each streams only the batch's rows).
    b, n = 2, 3 * base
    r = run(n, d, cell, batch=b, hw=hw)
    ops = ops_by_name(r)
    assert ops["input_transform"].count(Counter.ARRAY_CYCLES) == 2 * rows + cols + b * n - 2
    for name in BODY_GEMMS[cell]:
        assert ops[name].count(Counter.FOLDS) == n
        assert ops[name].count(Counter.ARRAY_CYCLES) == n * (2 * rows + cols + b - 2)


# --- weight residency ------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_resident_weights_read_from_dram_once(cell):
    n, d, b = 6, 8, 2
    for hw in (make_hw(rows=4, cols=4, sram_bytes=1 << 20), make_hw(rows=4, cols=4, levels=[1 << 14, 1 << 18])):
        r = run(n, d, cell, batch=b, hw=hw)
        frame = to_frame([r], level="op").set_index("op")
        ops = ops_by_name(r)
        eb = hw.bytes_per_element
        assert sum(dram_fill_b(ops[name], hw) for name in BODY_GEMMS[cell]) == recurrent_weight_bytes(d, cell, eb)
        for name in BODY_GEMMS[cell]:
            assert "weights resident across steps" in frame.loc[name, "mapping"]
        if cell != "gru":
            # everything else the matvec reads off chip is h_{t-1}: batch x d per step
            assert frame.loc["recurrence.wh", "dram_read_bytes"] == GATES[cell] * d * d * eb + n * b * d * eb


@pytest.mark.parametrize("cell", CELLS)
def test_weights_reread_every_step_when_they_do_not_fit(cell):
    n, d, b = 6, 8, 2
    hw = make_hw(rows=4, cols=4, sram_bytes=512)
    r = run(n, d, cell, batch=b, hw=hw)
    frame = to_frame([r], level="op").set_index("op")
    ops = ops_by_name(r)
    eb = hw.bytes_per_element
    fills = sum(dram_fill_b(ops[name], hw) for name in BODY_GEMMS[cell])
    # the batch's rows form one m-tile here, so every weight tile is read exactly once per step
    assert fills == n * recurrent_weight_bytes(d, cell, eb)
    for name in BODY_GEMMS[cell]:
        assert "weights re-read every step" in frame.loc[name, "mapping"]
    resident = run(n, d, cell, batch=b, hw=make_hw(rows=4, cols=4, sram_bytes=1 << 20))
    assert resident.macs == r.macs
    assert frame["dram_read_bytes"].sum() > to_frame([resident], level="op")["dram_read_bytes"].sum()


def test_step_latency_includes_its_dependent_fill_and_drain():
    """Each step's matvec must load h_{t-1} (after the previous step's vector passes wrote it),
    compute, and write W h back before the step's vector passes read it: per step at least
    fill(batch x d) + array cycles + drain(batch x g d). (This failed before the kernel's step
    barrier existed: one walk across steps let step t+1's loads overlap step t.)"""
    n, d, b = 10, 16, 2
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 20, dram_bw=2.0)
    r = run(n, d, "rnn", batch=b, hw=hw)
    wh = ops_by_name(r)["recurrence.wh"]
    eb = hw.bytes_per_element
    fill_h, drain_wh = b * d * eb / 2.0, b * d * eb / 2.0
    array_per_step = wh.count(Counter.ARRAY_CYCLES) / n
    assert wh.cycles >= n * (fill_h + array_per_step + drain_wh)


def test_pipelined_fill_and_drain_paid_every_step():
    rows = cols = 256
    hw = make_hw(rows=rows, cols=cols, sram_bytes=1 << 26, fold_overlap="pipelined")
    n = 10
    wh = ops_by_name(run(n, 8, "rnn", batch=2, hw=hw))["recurrence.wh"]
    # one fold per step: max(T, R) stream slots plus the pipeline's fill and drain
    assert wh.count(Counter.ARRAY_CYCLES) == n * (rows + 2 * rows + cols - 2)


# --- validation ------------------------------------------------------------------------------------
def problems(layer: dict) -> list[str]:
    data = {"name": "w", "layers": [{"variant": "recurrent", **layer}]}
    with pytest.raises(ConfigError) as info:
        load_workload(data)
    return [f"{path}: {msg}" for path, msg in info.value.problems]


def test_bad_parameters_are_reported_by_key_path():
    assert problems({"n": 4, "d": 8, "cell": "LSTM"}) == [
        "layers[0].cell: expected one of rnn, lstm, gru; got 'LSTM' (did you mean 'lstm'?)"]
    assert problems({"n": 4, "d": 8, "cell": "vanilla"}) == [
        "layers[0].cell: expected one of rnn, lstm, gru; got 'vanilla'"]
    assert problems({"n": 0, "d": 8}) == ["layers[0].n: expected an integer in [1, 2^40], got 0"]
    assert problems({"n": 4, "d": 2.5}) == ["layers[0].d: expected an integer in [1, 2^40], got 2.5"]
    assert problems({"d": 8, "cell": "gru"}) == ["layers[0].n: missing key"]
    msgs = problems({"n": 4, "d": 8, "hidden": 8})
    assert len(msgs) == 1 and msgs[0].startswith("layers[0].hidden: unknown key")


def test_cli_validate_bad_workload(tmp_path, capsys):
    path = tmp_path / "bad_rnn.yaml"
    path.write_text("name: w\nlayers:\n  - variant: recurrent\n    n: 0\n    d: 4\n    cell: lstn\n")
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "layers[0].n: expected an integer in [1, 2^40], got 0" in err
    assert "layers[0].cell: expected one of rnn, lstm, gru; got 'lstn' (did you mean 'lstm'?)" in err
