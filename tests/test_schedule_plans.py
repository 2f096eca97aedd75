"""Schedule plans reused across hardware objects (schedule/plans.py) and list schedules kept with
them, against the same layers scheduled with nothing kept: random layers of every variant, both
schedules, a first and a second design point that differ in what the plan depends on or not
(dataflow, bandwidths, sizes, double buffering), small and bundled hardware; every number of the
layer's schedule and its report row equal."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import load_hardware, load_workload, simulate
from simulator.errors import ConfigError
from simulator.hardware import Hardware
from simulator.schedule import layer, plans, reuse

from .helpers import hw_dict
from .test_schedule_build import assert_same_graph
from .test_schedule import ALL_VARIANTS

SECOND = st.sampled_from([
    {}, {"dataflow": "output_stationary"}, {"dataflow": "input_stationary"}, {"dram_bw": 3.0},
    {"sram_bw": 16.0}, {"sram_bytes": 1 << 13}, {"double_buffered": False}, {"lanes": 8},
])
FIRST = st.sampled_from([dict(rows=4, cols=4, sram_bytes=1 << 16), dict(rows=3, cols=5, sram_bytes=1 << 14),
                         dict(rows=4, cols=4, levels=[1 << 11, 1 << 15])])


def schedule_numbers(r) -> tuple:
    s = r.schedule
    return (r.cycles, s.mode, s.cycles, s.serial_cycles, s.compute_cycles, sorted(s.busy.items()), s.spans,
            s.fell_back, s.note, r.counts.tolist(), None if s.stats is None else s.stats.tolist())


def fresh(wl, raw: dict, schedule: str):
    """The layer simulated with no plan, task build or list schedule kept from before."""
    plans.clear()
    reuse.clear()
    (r,) = simulate(wl, Hardware.from_dict(raw, source="<test>"), schedule=schedule)
    return schedule_numbers(r)


def assert_points_equal(layer_dict: dict, raws: list, schedule: str):
    wl = load_workload({"name": "w", "layers": [dict(layer_dict, name="l")]})
    want = [fresh(wl, raw, schedule) for raw in raws]
    plans.clear()
    reuse.clear()
    for raw, numbers in zip(raws, want):             # in a row: the second may reuse the first's plan
        (r,) = simulate(wl, Hardware.from_dict(raw, source="<test>"), schedule=schedule)
        assert schedule_numbers(r) == numbers


@settings(max_examples=50, deadline=None)
@given(ALL_VARIANTS, FIRST, SECOND, st.sampled_from(["overlapped", "serial"]))
def test_kept_plans_give_the_numbers_of_a_fresh_schedule(layer_dict, first, second, schedule):
    assert_points_equal(layer_dict, [hw_dict(**first), hw_dict(**{**first, **second}), hw_dict(**first)], schedule)


@pytest.fixture(scope="module")
def bundled_raws():
    root = Path(__file__).resolve().parent.parent
    return [load_hardware(p).raw for p in sorted((root / "hw_configs").glob("*.yaml"))]


@settings(max_examples=12, deadline=None)
@given(ALL_VARIANTS, st.integers(0, 4), st.sampled_from(["weight_stationary", "output_stationary",
                                                         "input_stationary"]))
def test_kept_plans_on_bundled_configs(bundled_raws, layer_dict, which, dataflow):
    import copy

    raw = bundled_raws[which]
    other = copy.deepcopy(raw)
    other["mac_array"]["dataflow"] = dataflow
    assert_points_equal(layer_dict, [raw, other], "overlapped")


def count_builds(monkeypatch) -> list:
    calls = []
    real = layer.build_task_graph
    monkeypatch.setattr(layer, "build_task_graph", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


ATTENTION = {"variant": "multi_head_attention", "n": 24, "d": 16, "heads": 2, "name": "l"}


def test_a_second_point_with_equal_logs_reuses_the_plan_and_its_list_schedule(monkeypatch):
    """Only prices and the clock change: the logs are equal, the plan and its list schedule are kept."""
    wl = load_workload({"name": "w", "layers": [ATTENTION]})
    plans.clear()
    calls = count_builds(monkeypatch)
    runs = []
    real_run = layer._run_tasks
    monkeypatch.setattr(layer, "_run_tasks", lambda *a: runs.append(1) or real_run(*a))
    first = hw_dict()
    second = dict(hw_dict(), clock_hz=2.0e9)
    second["mac_array"] = dict(second["mac_array"], mac_energy_pj=0.7)
    a = simulate(wl, Hardware.from_dict(first, source="<test>"))[0]
    b = simulate(wl, Hardware.from_dict(second, source="<test>"))[0]
    assert len(calls) == 1 and len(runs) == 1
    assert schedule_numbers(a)[:-1] == schedule_numbers(b)[:-1]


def test_a_staging_size_outside_the_forwarding_window_or_other_logs_build_again(monkeypatch):
    """A plan holds for the forwarding limits of its window (half the staging level): a size inside
    reuses it, one outside builds again; logs that differ are refused after the sampled key
    matched (a log equal in its sampled rows only)."""
    wl = load_workload({"name": "w", "layers": [dict(ATTENTION, n=64)]})
    plans.clear()
    calls = count_builds(monkeypatch)
    simulate(wl, Hardware.from_dict(hw_dict(sram_bytes=1 << 15), source="<test>"))
    assert len(calls) == 1
    (key, [(graph, logs, plan)]), = plans._KEPT.table.items()
    lo, hi = plan.graph.forward_window
    assert 0 < lo <= 1 << 14 < hi                        # the layer forwards some blocks
    for size, same in ((2 * lo, True), (2 * lo + 1, True), (2 * lo - 1, False), (1 << 49, hi > 1 << 48)):
        hw = Hardware.from_dict(hw_dict(sram_bytes=size), source="<test>")
        assert (plans.find(graph, logs, hw, "overlapped") is plan) == same, size
    changed = [type(log)(**{**log.__dict__, "rows": log.rows.copy()}) for log in logs]
    big = max(range(len(changed)), key=lambda i: len(changed[i].rows))
    rows = changed[big].rows
    inner = [i for i in range(len(rows)) if i % max(1, len(rows) // plans._SAMPLED_ROWS) and i != len(rows) - 1]
    assert inner
    rows[inner[0], 0] += 1                                # outside the sampled rows: same key, other log
    hw = Hardware.from_dict(hw_dict(sram_bytes=1 << 15), source="<test>")
    assert plans.plan_key(graph, changed, hw, "overlapped") == key
    assert plans.find(graph, changed, hw, "overlapped") is None
    assert plans.find(graph, logs, hw, "overlapped") is plan


@settings(max_examples=30, deadline=None)
@given(ALL_VARIANTS, FIRST, st.sampled_from([1, 2, 3, 5, 7]))
def test_the_forwarding_window_is_where_the_graph_stays_the_same(layer_dict, first, scale):
    """Built afresh at a limit inside the window, the task graph equals the kept one; just outside
    it (where there is an outside), it differs in its forwarded reads."""
    from simulator.schedule.links import build_task_graph
    from simulator.schedule.oplog import run_logged
    from simulator.simulate import layer_graph

    wl = load_workload({"name": "w", "layers": [dict(layer_dict, name="l")]})
    graph = layer_graph(wl.layers[0])
    hw = Hardware.from_dict(hw_dict(**first), source="<test>")
    _, logs = run_logged(graph, hw)
    tg = build_task_graph(graph, logs, hw, False)
    lo, hi = tg.forward_window
    limit = hw.on_chip[-1].size_bytes // 2
    assert lo <= limit < hi
    def graph_at(limit: int):
        """The graph of the same logs with forwarding's limit `limit` (None: no valid hardware has it)."""
        raw = hw_dict(**{**first, "levels": [*first.get("levels", [first.get("sram_bytes")])[:-1], 2 * limit + 1]})
        try:
            return build_task_graph(graph, logs, Hardware.from_dict(raw, source="<test>"), False)
        except ConfigError:                               # a staging level too small for one tile
            return None

    for other in {lo, min(hi - 1, lo + (hi - lo) * scale // 8)}:
        if (again := graph_at(other)) is not None:
            assert_same_graph(again, tg)
    if hi < 1 << 40:
        assert len(graph_at(hi).parts) != len(tg.parts)


def test_kept_plans_stay_under_the_bound(monkeypatch):
    plans.clear()
    wl = load_workload({"name": "w", "layers": [dict(ATTENTION, n=16)]})
    simulate(wl, Hardware.from_dict(hw_dict(), source="<test>"))
    size = plans._KEPT.bytes                                       # tasks kept
    assert size > 0
    monkeypatch.setattr(plans._KEPT, "max_bytes", 3 * size)
    plans.clear()
    for n in (16, 17, 18, 19, 20):
        wl = load_workload({"name": "w", "layers": [dict(ATTENTION, n=n)]})
        simulate(wl, Hardware.from_dict(hw_dict(), source="<test>"))
        assert 0 < plans._KEPT.bytes <= 3 * size
        assert plans._KEPT.bytes == sum(len(e[2].graph.tab) for es in plans._KEPT.table.values() for e in es)
    assert 1 <= len(plans._KEPT) < 5
    plans.clear()


def test_same_value_compares_deeply():
    from simulator.schedule.plans import same_value

    a = {"x": np.arange(3), "y": (1, "s"), "z": 2.5}
    assert same_value(a, {"x": np.arange(3), "y": (1, "s"), "z": 2.5})
    assert not same_value(a, {"x": np.arange(3) + 1, "y": (1, "s"), "z": 2.5})
    assert not same_value(a, {"x": np.arange(3).astype(np.int32), "y": (1, "s"), "z": 2.5})
    assert not same_value(a, {"x": np.arange(3), "y": (1, "t"), "z": 2.5})
    assert not same_value(1, 1.0)
