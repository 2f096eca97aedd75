"""Pareto fronts: the points no other point beats on every objective (all minimised).

Point a dominates point b when a <= b in every objective and a < b in at least one. Points with
identical objective vectors do not dominate each other, so duplicates on the front are all kept.
"""
from __future__ import annotations

import numpy as np
from numba import njit


def non_dominated(values) -> np.ndarray:
    """Boolean mask of the rows of `values` (n points x k objectives) that no other row dominates.

    Rows are visited in lexicographic order: a dominating row is lexicographically smaller, so
    each row need only be compared with the front found so far. NaN objectives are not allowed.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array (points x objectives), got shape {values.shape}")
    n, k = values.shape
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    if np.isnan(values).any():
        raise ValueError("objective values contain NaN")
    order = np.lexsort(values.T[::-1])
    if k == 1:
        mask[values[:, 0] == values[:, 0].min()] = True
        return mask
    if k == 2:
        return _front_2d(values, order)
    return _front_scan(values, order, mask)


@njit(cache=True)
def _front_scan(values, order, mask):
    """k >= 3: rows in lexicographic order, each compared with the front found so far. A row's
    dominators all come before it, and a dominated dominator is itself dominated by a front row
    (transitivity), so the front so far suffices."""
    n, k = values.shape
    front = np.empty(n, np.int64)
    size = 0
    for i in order:
        beaten = False
        for f in range(size):
            j = front[f]
            le, lt = True, False
            for c in range(k):
                if values[j, c] > values[i, c]:
                    le = False
                    break
                if values[j, c] < values[i, c]:
                    lt = True
            if le and lt:
                beaten = True
                break
        if not beaten:
            front[size] = i
            size += 1
            mask[i] = True
    return mask


@njit(cache=True)
def _front_2d(values, order):
    """Two objectives: sorted by (x, y), a row is on the front when it is the first (also with an
    infinite y), its y is below every y of a row with smaller x, or it repeats the last front row
    exactly."""
    mask = np.zeros(values.shape[0], np.bool_)
    best_y = np.inf
    last_x, last_y, have_last = 0.0, 0.0, False
    for i in order:
        x, y = values[i, 0], values[i, 1]
        if not have_last or y < best_y or (x == last_x and y == last_y):     # the first row: nothing beats it
            mask[i] = True
            best_y = min(best_y, y)
            last_x, last_y, have_last = x, y, True
    return mask


def front_2d(xs, ys) -> np.ndarray:
    """non_dominated(column_stack([xs, ys])) in numpy alone, for a process that loads no compiled
    kernel (the figures' standby: sidework.Standby). Sorted by (x, y), identical rows are adjacent;
    the first of a run is on the front when its y is below every y before it (the very first row
    always), and the rest of the run shares its fate (_front_2d's rule, tested equal)."""
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    mask = np.zeros(len(xs), dtype=bool)
    if len(xs) == 0:
        return mask
    order = np.lexsort((ys, xs))
    x, y = xs[order], ys[order]
    first = np.ones(len(x), dtype=bool)
    first[1:] = (x[1:] != x[:-1]) | (y[1:] != y[:-1])
    below = np.empty(len(y))
    below[0] = np.inf
    below[1:] = np.minimum.accumulate(y)[:-1]
    run_start = np.maximum.accumulate(np.where(first, np.arange(len(x)), 0))
    on = first & (y < below)
    on[0] = True
    mask[order] = on[run_start]
    return mask


def dominated_brute_force(values) -> np.ndarray:
    """The definition, pair by pair (O(n^2 k)): for tests."""
    values = np.asarray(values, dtype=np.float64)
    le = np.all(values[:, None, :] <= values[None, :, :], axis=2)     # le[a, b]: a <= b everywhere
    lt = np.any(values[:, None, :] < values[None, :, :], axis=2)
    dominates = le & lt
    return dominates.any(axis=0)
