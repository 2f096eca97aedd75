"""Pareto fronts against the definition, checked pair by pair (brute force)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simulator.sweep.pareto import dominated_brute_force, front_2d, non_dominated


def brute_force(values) -> np.ndarray:
    """Written from the definition, independent of the module: a point is on the front when no
    other point is <= in every objective and < in at least one."""
    values = np.asarray(values, dtype=float)
    keep = []
    for i, v in enumerate(values):
        keep.append(not any(all(w <= v) and any(w < v) for j, w in enumerate(values) if j != i))
    return np.array(keep, dtype=bool)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4).flatmap(lambda k: arrays(np.int64, st.tuples(st.integers(0, 40), st.just(k)),
                                                  elements=st.integers(0, 5))))
def test_front_equals_brute_force_with_many_ties(values):
    assert np.array_equal(non_dominated(values), brute_force(values))
    assert np.array_equal(non_dominated(values), ~dominated_brute_force(values))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 4).flatmap(lambda k: arrays(np.float64, st.tuples(st.integers(0, 60), st.just(k)),
                                                  elements=st.floats(1e-3, 1e12))))
def test_front_equals_brute_force_on_reals(values):
    assert np.array_equal(non_dominated(values), brute_force(values))


@settings(max_examples=150, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 50), st.just(2)),
              elements=st.sampled_from([0.0, 1.0, 2.0, 3.0, 1e12, np.inf])))
def test_front_2d_without_kernel_equals_the_kernel_and_brute_force(values):
    # the figures' standby draws the two-objective staircase with it (many ties, repeats, infinities)
    mask = front_2d(values[:, 0], values[:, 1])
    assert np.array_equal(mask, non_dominated(values))
    assert np.array_equal(mask, brute_force(values))


def test_known_front():
    pts = np.array([[1, 5], [2, 3], [3, 3], [2, 3], [4, 1], [5, 5], [4, 2]])
    assert non_dominated(pts).tolist() == [True, True, False, True, True, False, False]


def test_larger_random_fronts_in_three_and_four_objectives():
    rng = np.random.default_rng(0)
    for k in (3, 4):
        values = rng.integers(0, 30, size=(400, k))
        assert np.array_equal(non_dominated(values), ~dominated_brute_force(values))


def test_edge_cases():
    # a lone (or lexicographically first) point is on the front even with an infinite objective
    assert non_dominated([[np.inf, np.inf]]).tolist() == [True]
    assert non_dominated([[2.0, np.inf], [1.0, np.inf], [1.0, np.inf]]).tolist() == [False, True, True]
    assert non_dominated(np.empty((0, 3))).tolist() == []
    assert non_dominated([[1.0, 2.0]]).tolist() == [True]
    with pytest.raises(ValueError, match="NaN"):
        non_dominated([[1.0, float("nan")]])
    with pytest.raises(ValueError, match="2-D"):
        non_dominated([1.0, 2.0])
