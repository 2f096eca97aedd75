"""Useful MACs of a sub-GEMM under a mask of per-row ranges [lo_i, hi_i) on the n or k axis: the
tile walk skips a step whose useful MACs are zero (docs/architecture.md)."""
import numpy as np
from numba import njit


@njit(cache=True)
def masked_useful(mask_axis, lo, hi, m0, m1, k0, k1, n0, n1):
    """Useful MACs of a sub-GEMM under per-row ranges [lo_i, hi_i) on the n or k axis."""
    if mask_axis == 1:
        a0, a1, other = n0, n1, k1 - k0
    else:
        a0, a1, other = k0, k1, n1 - n0
    total = 0
    for i in range(m0, m1):
        ov = min(hi[i], a1) - max(lo[i], a0)
        if ov > 0:
            total += ov
    return total * other


@njit(cache=True)
def _clamped_sum(x, pre, m0, m1, a0, a1):
    """Sum of min(max(x_i, a0), a1) over rows m0..m1-1 of a non-decreasing x (pre: its prefix sums)."""
    p = m0 + np.searchsorted(x[m0:m1], a0)                 # first row with x_i >= a0
    q = m0 + np.searchsorted(x[m0:m1], a1, side="right")   # first row with x_i > a1
    return a0 * (p - m0) + (pre[q] - pre[p]) + a1 * (m1 - q)


@njit(cache=True)
def masked_useful_sorted(mask_axis, lo, hi, pre_lo, pre_hi, m0, m1, k0, k1, n0, n1):
    """masked_useful for ranges whose starts and ends are both non-decreasing in the row (causal,
    bands, windows): a row's overlap with [a0, a1) is clamp(hi_i) - clamp(lo_i), summed in O(log)."""
    if mask_axis == 1:
        a0, a1, other = n0, n1, k1 - k0
    else:
        a0, a1, other = k0, k1, n1 - n0
    return (_clamped_sum(hi, pre_hi, m0, m1, a0, a1) - _clamped_sum(lo, pre_lo, m0, m1, a0, a1)) * other


@njit(cache=True)
def sorted_mask(mask_axis, lo, hi):
    """(whether starts and ends are both non-decreasing, their prefix sums) of a mask's ranges."""
    n = lo.shape[0] if mask_axis != 0 else 0
    pre_lo = np.zeros(n + 1, np.int64)
    pre_hi = np.zeros(n + 1, np.int64)
    ok = mask_axis != 0
    for i in range(n):
        pre_lo[i + 1] = pre_lo[i] + lo[i]
        pre_hi[i + 1] = pre_hi[i] + hi[i]
        if i > 0 and (lo[i] < lo[i - 1] or hi[i] < hi[i - 1]):
            ok = False
    return ok, pre_lo, pre_hi
