"""Long recurrences scheduled from a few steps (simulator/schedule/periodic.py) against the whole task
graph scheduled step by step: every number of the layer's schedule must be identical."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import load_hardware, load_workload, simulate
from simulator.engine import _memo
from simulator.graph import Gemm, OpGraph, Recurrence, TensorSpec
from simulator.kernels.steplog import GemmLog, gemm_log_width
from simulator.schedule import layer, periodic

from .helpers import make_hw

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(str(p) for p in (ROOT / "hw_configs").glob("*.yaml"))
FIELDS = ("mode", "cycles", "serial_cycles", "compute_cycles", "busy", "spans", "fell_back")


def _schedules(spec: dict, hw, monkeypatch):
    """(the layer's schedule as simulate() gives it, the whole graph's, whether it was extrapolated)."""
    monkeypatch.setattr(periodic, "MIN_STEPS", 8)
    wl = load_workload({"name": "p", "layers": [dict(spec, name="rec")]})
    _memo(hw).pop("schedules", None)
    (fast,) = simulate(wl, hw)
    plans = _memo(hw).get("schedules", {})
    extrapolated = any(plan.extrapolated is not None for _, plan in plans.values())
    with monkeypatch.context() as m:
        m.setattr(periodic, "find", lambda *a: None)
        _memo(hw).pop("schedules", None)
        (whole,) = simulate(wl, hw)
    return fast.schedule, whole.schedule, extrapolated


def _assert_same(a, b) -> None:
    for f in FIELDS:
        assert getattr(a, f) == getattr(b, f), f
    assert np.array_equal(a.counts, b.counts)
    assert np.array_equal(a.stats, b.stats)


SMALL_HW = [
    dict(rows=4, cols=4, sram_bytes=1 << 20),                              # weights stay on chip
    dict(rows=4, cols=8, sram_bytes=4096, dataflow="output_stationary"),   # re-read every step
    dict(rows=8, cols=4, sram_bytes=8192, fold_overlap="pipelined", double_buffered=False),
    dict(rows=4, cols=4, levels=[2048, 16384], dataflow="input_stationary"),
]


@settings(max_examples=40, deadline=None)
@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), n=st.integers(9, 40), d=st.sampled_from([4, 8, 12, 16, 24]),
       batch=st.integers(1, 3), hw_index=st.integers(0, len(SMALL_HW) - 1),
       given_state=st.booleans())
def test_extrapolated_equals_whole_schedule_on_small_hardware(cell, n, d, batch, hw_index, given_state):
    with pytest.MonkeyPatch.context() as mp:
        spec = {"variant": "recurrent", "n": n, "d": d, "cell": cell, "batch": batch,
                "initial_state": "given" if given_state else "zero"}
        fast, whole, _ = _schedules(spec, make_hw(**SMALL_HW[hw_index]), mp)
        _assert_same(fast, whole)


@pytest.mark.parametrize("hw_path", BUNDLED)
@pytest.mark.parametrize("cell,n,d", [("rnn", 48, 512), ("lstm", 40, 1024), ("gru", 33, 256)])
def test_extrapolated_equals_whole_schedule_on_bundled_configs(hw_path, cell, n, d, monkeypatch):
    fast, whole, _ = _schedules({"variant": "recurrent", "n": n, "d": d, "cell": cell}, load_hardware(hw_path),
                                monkeypatch)
    _assert_same(fast, whole)


def test_the_fast_path_is_taken_where_it_should_be(monkeypatch):
    """Weights re-read every step (the table's long LSTMs) and weights kept on chip both extrapolate,
    so the comparisons above are not vacuous."""
    default = load_hardware(str(ROOT / "hw_configs" / "default.yaml"))
    for spec in ({"variant": "recurrent", "n": 64, "d": 1024, "cell": "lstm"},
                 {"variant": "recurrent", "n": 64, "d": 256, "cell": "rnn"}):
        fast, whole, extrapolated = _schedules(spec, default, monkeypatch)
        assert extrapolated, spec
        _assert_same(fast, whole)


def test_short_recurrences_are_scheduled_step_by_step():
    hw = make_hw()
    wl = load_workload({"name": "p", "layers": [{"variant": "recurrent", "n": periodic.MIN_STEPS - 1, "d": 8}]})
    _memo(hw).pop("schedules", None)
    simulate(wl, hw)
    assert all(plan.extrapolated is None for _, plan in _memo(hw)["schedules"].values())


# --- the steady state of a step log ----------------------------------------------------------------
def _log(steps: int, per_step: list[list[int]], first: list[list[int]] | None = None) -> np.ndarray:
    """A GEMM step log: each step's rows are `per_step` (values in the OCC column), step 0's `first`."""
    rows = []
    for t in range(steps):
        for occ in (first if t == 0 and first is not None else per_step):
            row = np.zeros(gemm_log_width(1), np.int64)
            row[GemmLog.B] = t
            row[GemmLog.OCC] = occ[0]
            row[GemmLog.OLD_C_B] = t - occ[1] if occ[1] >= 0 else -1    # drains a tile of step t - occ[1]
            rows.append(row)
    return np.array(rows)


def test_steady_from_finds_the_first_repeating_step():
    assert periodic.steady_from(_log(10, [[5, -1], [7, 0]]), 10) == 0
    assert periodic.steady_from(_log(10, [[5, -1], [7, 0]], first=[[9, -1], [7, 0]]), 10) == 1
    assert periodic.steady_from(_log(10, [[5, -1]], first=[[9, -1], [7, -1]]), 10) == 1   # step 0 longer
    # step 0 has no earlier tile to drain, the others drain the previous step's: steady from step 1
    assert periodic.steady_from(_log(10, [[5, 1]]), 10) == 1


def test_steady_from_refuses_logs_that_do_not_repeat():
    rows = _log(10, [[5, -1], [7, 0]])
    rows[-1, GemmLog.OCC] = 8                                   # the last step differs
    assert periodic.steady_from(rows, 10) is None
    alternating = _log(10, [[5, -1]])
    alternating[1::2, GemmLog.OCC] = 6                          # period two
    assert periodic.steady_from(alternating, 10) is None
    assert periodic.steady_from(_log(10, [[5, -1]])[:-1], 10) is None      # a step with no rows
    drifting = _log(10, [[5, 0]])
    drifting[5:, GemmLog.OLD_C_B] -= 1                          # drains a tile two steps back from step 5
    assert periodic.steady_from(drifting, 10) is None


def test_only_layers_whose_other_ops_feed_or_follow_the_recurrence_qualify():
    def gemm(name, deps=()):
        return Gemm(name, "A", "B", f"C_{name}", 4, 4, 4, deps=deps)

    rec = Recurrence("rec", 40, (gemm("wh"),), lambda s, t: None, lambda s, t: None, deps=("a",))
    tensors = (TensorSpec("A", (1, 4, 4), "input"),)
    chain = OpGraph((gemm("a"), rec, gemm("c", deps=("rec",))), tensors)
    beside = OpGraph((gemm("a"), rec, gemm("c", deps=("a",))), tensors)     # c may run during the steps
    assert periodic._ancestor_or_descendant(chain, 1)
    assert not periodic._ancestor_or_descendant(beside, 1)


def test_extrapolation_needs_equal_increments():
    stats = np.zeros(periodic.N_STATS, np.int64)
    outs = [(stats + k, np.array([10 * k, 1]), np.array([[0, 7 * k]])) for k in (4, 5, 6)]
    got_stats, sums, spans = periodic.extrapolate(outs, (4, 5, 6), 100)
    assert (got_stats == 100).all() and list(sums) == [1000, 1] and spans.tolist() == [[0, 700]]
    bent = outs[:2] + [(stats + 6, np.array([61, 1]), np.array([[0, 42]]))]
    assert periodic.extrapolate(bent, (4, 5, 6), 100) is None
    assert layer.SchedulePlan(None, None, False).extrapolated is None
