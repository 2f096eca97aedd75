"""The ranged list scheduler's capacity range (scheduler.list_schedule_ranged, read by the sweep's
staging memo, sweep/capmemo.py): every capacity inside the range it reports gives the same
schedule, checked against the brute-force discrete-event simulator (tests/reference_schedule.py)
run at those capacities, on random task graphs; the range holds the capacity it ran at, and on a
hand-worked graph it is exactly the interval between the decisions' edges."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.schedule.scheduler import NO_CAPACITY_LIMIT

from .reference_schedule import simulate_tasks
from .test_schedule import run_package, task_graphs


def _schedule(g: dict, capacity: int) -> tuple:
    ref = simulate_tasks(dict(g, capacity=capacity))
    return ref["makespan"], sorted(ref["start"].items()), sorted(ref["end"].items()), ref["busy"]


@settings(max_examples=200, deadline=None)
@given(task_graphs(), st.integers(1, 40), st.data())
def test_every_capacity_in_the_range_gives_the_same_schedule(g, capacity, data):
    g = dict(g, capacity=capacity)
    cap_range = np.array([0, NO_CAPACITY_LIMIT], np.int64)
    start, end, _, stats = run_package(g, cap_range)
    lo, hi = int(cap_range[0]), int(cap_range[1])
    assert 1 <= lo <= capacity < hi
    # the same schedule as the plain scheduler (the range is an output only)
    plain = run_package(g)
    assert (plain[0] == start).all() and (plain[1] == end).all() and (plain[3] == stats).all()
    top = min(hi - 1, lo + 200)
    others = {lo, top, data.draw(st.integers(lo, top))}
    expected = _schedule(g, capacity)
    for other in others:
        assert _schedule(g, other) == expected, (lo, hi, other)


def test_the_range_is_bounded_on_some_graphs():
    """Two reservation groups of 6 bytes, hand-worked: the bounds are the tests' exact edges."""
    g = {"unit": [2, 0, 2, 0], "dur": [3, 5, 3, 5], "busy": [3, 5, 3, 5], "bytes": [0] * 4, "release": [0] * 4,
         "group": [0, 0, 1, 1], "prio": [0, 1, 2, 3], "succ": [[1], [], [3], []], "n_units": 4, "capacity": 10,
         "need": [6, 6], "producers": [[], []], "blocks": [], "parts": [], "fill_rate": 2.0, "spill_unit": 3}
    cap_range = np.array([0, NO_CAPACITY_LIMIT], np.int64)
    run_package(g, cap_range)
    # two groups of 6 bytes: both fit together from 12 bytes on, one at a time below
    assert tuple(cap_range) == (6, 12)
    assert _schedule(g, 11) == _schedule(g, 6) != _schedule(g, 12)
