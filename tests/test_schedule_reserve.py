"""Op reservations without a second list schedule (schedule/reserve.py) against the definition:
every reservation group list-scheduled alone (listed_reservations), on the task graphs of random
layers of every variant, on small and bundled hardware, overlapped and serial graphs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import load_hardware, load_workload
from simulator.schedule.links import build_task_graph
from simulator.schedule.oplog import run_logged
from simulator.schedule.reserve import alone_asap, listed_reservations, op_reservations
from simulator.schedule.tasks import T
from simulator.simulate import layer_graph

from .helpers import make_hw
from .test_schedule import ALL_VARIANTS, SMALL_HW


@pytest.fixture(scope="module")
def bundled_hw():
    root = Path(__file__).resolve().parent.parent
    return [load_hardware(p) for p in sorted((root / "hw_configs").glob("*.yaml"))]


def task_graph(layer: dict, hw, serial: bool):
    wl = load_workload({"name": "w", "layers": [dict(layer, name="l")]})
    graph = layer_graph(wl.layers[0])
    _, logs = run_logged(graph, hw)
    return build_task_graph(graph, logs, hw, serial=serial)


@settings(max_examples=60, deadline=None)
@given(ALL_VARIANTS, SMALL_HW, st.booleans())
def test_reservations_equal_the_alone_list_schedule(layer, hw_kwargs, serial):
    tg = task_graph(layer, make_hw(**hw_kwargs), serial)
    assert np.array_equal(op_reservations(tg), listed_reservations(tg))


@settings(max_examples=15, deadline=None)
@given(ALL_VARIANTS, st.integers(0, 4))
def test_reservations_equal_the_alone_list_schedule_on_bundled_configs(bundled_hw, layer, which):
    tg = task_graph(layer, bundled_hw[which], False)
    assert np.array_equal(op_reservations(tg), listed_reservations(tg))


@settings(max_examples=40, deadline=None)
@given(ALL_VARIANTS, SMALL_HW, st.booleans())
def test_per_build_reservations_equal_the_layer_wide_ones(layer, hw_kwargs, serial):
    """Where each group is one op result, op_reservations works per build; the same numbers come
    from the ASAP pass (or list schedule) over the whole layer's graph, groups side by side."""
    from simulator.schedule.reserve import _layer_reservations

    tg = task_graph(layer, make_hw(**hw_kwargs), serial)
    assert np.array_equal(op_reservations(tg), _layer_reservations(tg))
    assert tg.results is None or len(tg.results) == tg.n_groups


def test_results_that_share_a_build_compute_its_reservation_once(monkeypatch):
    """Attention's Q, K, V projections share one GEMM build: its reservation is worked out once and
    kept with the build, so a second layer graph on the same builds computes none again."""
    from simulator.schedule import reserve, reuse

    reuse.clear()
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16)
    layer = {"variant": "multi_head_attention", "n": 24, "d": 16, "heads": 2}
    tg = task_graph(layer, hw, False)
    assert tg.results is not None
    calls = []
    real = reserve._layer_reservations
    monkeypatch.setattr(reserve, "_layer_reservations", lambda g: calls.append(len(g.tab)) or real(g))
    first = op_reservations(tg)
    assert 0 < len(calls) <= len({id(t.memo) for t in tg.results}) < len(tg.results)
    assert np.array_equal(first, real(tg))
    calls.clear()
    assert np.array_equal(op_reservations(task_graph(layer, hw, False)), first) and len(calls) < len(tg.results)


def alone_proven(layer: dict, hw) -> bool:
    tg = task_graph(layer, hw, False)
    return bool(alone_asap(tg.tab, tg.local_edges, tg.n_units, tg.n_groups)[2])


def test_the_shortcut_is_taken_for_unfused_attention_and_refused_where_stages_compete():
    """Both branches are live: plain multi-head attention is proven (no unit wanted twice at
    once); fused attention's pipelined stages compete for the array, and a recurrence's barriers
    are listed after the tasks they order, so those fall back to the list schedule."""
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16)
    assert alone_proven({"variant": "multi_head_attention", "n": 24, "d": 16, "heads": 2}, hw)
    assert not alone_proven({"variant": "self_attention", "n": 48, "d": 8, "fused": True}, hw)
    assert not alone_proven({"variant": "recurrent", "n": 3, "d": 4, "cell": "lstm"}, hw)


def test_an_overlap_on_one_unit_is_not_proven():
    """Two tasks of one group on one unit, both ready at cycle 0: the ASAP times overlap, the list
    scheduler would serialize them, so the shortcut must refuse."""
    tab = np.zeros((2, T.WIDTH), np.int64)
    tab[:, T.DUR] = (5, 3)
    edges = np.zeros((0, 2), np.int64)
    assert not alone_asap(tab, edges, 4, 1)[2]
    tab[1, T.UNIT] = 1                                # on different units they do not compete
    start, end, proven = alone_asap(tab, edges, 4, 1)
    assert proven and list(start) == [0, 0] and list(end) == [5, 3]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 2), st.integers(0, 20), st.integers(0, 6), st.integers(0, 50),
                          st.integers(0, 50)), max_size=40))
def test_peak_holdings_equal_a_cycle_by_cycle_count(rows):
    """Brute force: per op, at every cycle where something happens, the bytes reserved by tasks
    started at or before it less those returned by tasks ended at or before it (all of a cycle's
    returns go before its reservations, so the held bytes peak after both)."""
    from simulator.schedule.reserve import peak_holdings

    op = np.array([r[0] for r in rows], np.int64)
    start = np.array([r[1] for r in rows], np.int64)
    end = start + np.array([r[2] for r in rows], np.int64)
    alloc = np.array([r[3] for r in rows], np.int64)
    release = np.array([r[4] for r in rows], np.int64)
    want = []
    for g in range(3):
        mine = [i for i in range(len(rows)) if op[i] == g and (alloc[i] or release[i])]
        cycles = {int(start[i]) for i in mine} | {int(end[i]) for i in mine}
        want.append(max([0] + [sum(int(alloc[i]) for i in mine if start[i] <= c)
                               - sum(int(release[i]) for i in mine if end[i] <= c) for c in cycles]))
    assert list(peak_holdings(op, start, end, alloc, release, 3)) == want
