"""Pareto fronts: the points no other point beats on every objective (all minimised).

Point a dominates point b when a <= b in every objective and a < b in at least one. Points with
identical objective vectors do not dominate each other, so duplicates on the front are all kept.
"""
from __future__ import annotations

import numpy as np


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
    return _front_blocks(values, order, mask)


def _front_blocks(values: np.ndarray, order: np.ndarray, mask: np.ndarray, block: int = 256) -> np.ndarray:
    """k >= 3: blocks of rows in lexicographic order, each compared at once with the front so far
    and with itself. A row's dominators all come before it, and a dominated dominator is itself
    dominated by the front (transitivity), so the front so far plus the block suffices."""
    front = np.empty((0, values.shape[1]))
    for start in range(0, len(order), block):
        idx = order[start:start + block]
        rows = values[idx]
        alive = np.flatnonzero(~_dominated_by(front, rows))
        alive = alive[~dominated_brute_force(rows[alive])]     # dominators dominated by the front are covered
        mask[idx[alive]] = True
        front = np.vstack([front, rows[alive]])
    return mask


def _dominated_by(front: np.ndarray, rows: np.ndarray, cells: int = 4_000_000) -> np.ndarray:
    """For each row: does some row of `front` dominate it (compared in slices of bounded memory)."""
    out = np.zeros(len(rows), dtype=bool)
    step = max(1, cells // max(1, len(rows) * rows.shape[1]))
    for start in range(0, len(front), step):
        f = front[start:start + step, None, :]
        out |= (np.all(f <= rows[None], axis=2) & np.any(f < rows[None], axis=2)).any(axis=0)
    return out


def _front_2d(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Two objectives: sorted by (x, y), a row is on the front when its y is below every y of a
    row with smaller x, or it repeats the last front row exactly."""
    mask = np.zeros(len(values), dtype=bool)
    best_y = np.inf
    last = None
    for i in order:
        x, y = values[i]
        if y < best_y or (last is not None and x == last[0] and y == last[1]):
            mask[i] = True
            best_y = min(best_y, y)
            last = (x, y)
    return mask


def dominated_brute_force(values) -> np.ndarray:
    """The definition, pair by pair (O(n^2 k)): for tests."""
    values = np.asarray(values, dtype=np.float64)
    le = np.all(values[:, None, :] <= values[None, :, :], axis=2)     # le[a, b]: a <= b everywhere
    lt = np.any(values[:, None, :] < values[None, :, :], axis=2)
    dominates = le & lt
    return dominates.any(axis=0)
