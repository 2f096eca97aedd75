"""Exponent fits, O(.) classification and crossover interpolation on synthetic data."""
from __future__ import annotations

import math

import pytest

from simulator.table.fits import classify, crossover, leading_range, loglog_slope


def test_slope_of_exact_power_laws():
    xs = [64, 128, 256, 512]
    assert loglog_slope(xs, [3 * x ** 2 for x in xs]).exponent == pytest.approx(2)
    assert loglog_slope(xs, [x for x in xs]).exponent == pytest.approx(1)


def test_leading_range_drops_the_points_where_a_lower_term_matters():
    xs = [2 ** i for i in range(4, 14)]
    ys = [x * 65 - 1056 if x > 64 else x * x for x in xs]          # restricted attention's band size
    fx, fy = leading_range(xs, ys)
    assert fx[0] >= 256
    assert loglog_slope(fx, fy).exponent == pytest.approx(1, abs=0.01)


@pytest.mark.parametrize("truth,points", [
    ("O(1)", [(n, None, None, 1) for n in (64, 256, 1024, 4096)]),
    ("O(n)", [(n, None, None, n) for n in (64, 256, 1024, 4096)]),
    ("O(n/k)", [(n, k, None, math.ceil(2 * (n - 1) / (k - 1))) for n in (64, 256, 1024) for k in (3, 5, 9)]),
    ("O(log_k n)", [(n, k, None, math.ceil(math.log(n, k))) for n in (64, 256, 1024, 4096) for k in (2, 3, 5)]),
    ("O(n/r)", [(n, None, r, math.ceil(2 * (n - 1) / (r - 1))) for n in (256, 1024, 4096) for r in (9, 17, 33)]),
])
def test_classify_recovers_the_generating_class(truth, points):
    assert classify(points)[0] == truth


def test_crossover_interpolates_in_log_space():
    xs = [64, 128, 256, 512, 1024]
    attention = [2 * n * n * 256 for n in xs]
    rnn = [2 * n * 256 * 256 for n in xs]
    assert crossover(xs, attention, rnn) == pytest.approx(256)
    assert crossover(xs, [1] * 5, [2] * 5) is None
    assert crossover(xs, [3] * 5, [2] * 5) == 64
