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
from simulator.hardware import Hardware
from simulator.schedule import layer, plans, reuse

from .helpers import hw_dict
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


def test_a_larger_staging_level_or_other_logs_build_again(monkeypatch):
    """The staging size is part of the key (forwarding's limit, the capacity); logs that differ are refused
    after the sampled key matched (a log equal in its sampled rows only)."""
    wl = load_workload({"name": "w", "layers": [dict(ATTENTION, n=64)]})
    plans.clear()
    calls = count_builds(monkeypatch)
    simulate(wl, Hardware.from_dict(hw_dict(sram_bytes=1 << 16), source="<test>"))
    simulate(wl, Hardware.from_dict(hw_dict(sram_bytes=1 << 17), source="<test>"))
    assert len(calls) == 2
    (key, (graph, logs, plan)), = list(plans._KEPT.items())[-1:]
    changed = [type(log)(**{**log.__dict__, "rows": log.rows.copy()}) for log in logs]
    big = max(range(len(changed)), key=lambda i: len(changed[i].rows))
    rows = changed[big].rows
    inner = [i for i in range(len(rows)) if i % max(1, len(rows) // plans._SAMPLED_ROWS) and i != len(rows) - 1]
    assert inner
    rows[inner[0], 0] += 1                                # outside the sampled rows: same key, other log
    hw = Hardware.from_dict(hw_dict(sram_bytes=1 << 17), source="<test>")
    assert plans._key(graph, changed, hw, "overlapped") == key
    assert plans.find(graph, changed, hw, "overlapped") is None
    assert plans.find(graph, logs, hw, "overlapped") is plan


def test_kept_plans_stay_under_the_bound(monkeypatch):
    plans.clear()
    wl = load_workload({"name": "w", "layers": [dict(ATTENTION, n=16)]})
    simulate(wl, Hardware.from_dict(hw_dict(), source="<test>"))
    size = plans._kept_tasks[0]
    assert size > 0
    monkeypatch.setattr(plans, "KEPT_TASKS", 3 * size)
    plans.clear()
    for n in (16, 17, 18, 19, 20):
        wl = load_workload({"name": "w", "layers": [dict(ATTENTION, n=n)]})
        simulate(wl, Hardware.from_dict(hw_dict(), source="<test>"))
        assert 0 < plans._kept_tasks[0] <= 3 * size
        assert plans._kept_tasks[0] == sum(len(e[2].graph.tab) for e in plans._KEPT.values())
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
