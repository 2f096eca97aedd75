"""Fitting measured counts: log-log exponents and the paper's O(.) classes.

Nothing here knows what the paper says: classes are chosen by how well each candidate form
explains the measurements, so a wrong simulator gives a wrong class.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Slope:
    exponent: float
    lo: float          # the fitted range of the variable
    hi: float
    points: int

    def describe(self, var: str) -> str:
        return f"{var} in [{self.lo:g}, {self.hi:g}] ({self.points} points)"


def loglog_slope(xs, ys) -> Slope:
    """Least-squares slope of log y against log x."""
    x = np.asarray(xs, np.float64)
    y = np.asarray(ys, np.float64)
    if len(x) < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("a log-log fit needs at least two positive points")
    slope, _ = np.polyfit(np.log(x), np.log(y), 1)
    return Slope(float(slope), float(x.min()), float(x.max()), len(x))


def leading_range(xs, ys, min_points: int = 3, tol: float = 0.02) -> tuple[list, list]:
    """The tail of the sweep where the local log-log slope has settled (the leading term dominates).

    Local slopes between neighbouring points are compared with the last one; the range starts at
    the first point from which every later local slope is within `tol` of it.
    """
    x = list(xs)
    y = list(ys)
    local = [math.log(y[i + 1] / y[i]) / math.log(x[i + 1] / x[i]) for i in range(len(x) - 1)]
    start = len(local) - 1
    while start > 0 and abs(local[start - 1] - local[-1]) <= tol:
        start -= 1
    start = min(start, max(0, len(x) - min_points))
    return x[start:], y[start:]


# --- class selection --------------------------------------------------------------------------
CANDIDATES = {
    "O(1)": lambda n, k, r: 1.0,
    "O(log n)": lambda n, k, r: math.log(n),
    "O(log_k n)": lambda n, k, r: math.log(n) / math.log(k),
    "O(n/k)": lambda n, k, r: n / k,
    "O(n/r)": lambda n, k, r: n / r,
    "O(n)": lambda n, k, r: float(n),
}


def classify(points, allowed=None) -> tuple[str, float, dict[str, float]]:
    """Pick the O(.) class whose form c*f(n, k, r) best explains measured values.

    `points` are (n, k, r, value) with k or r None when they do not apply (candidates needing them
    are skipped). The scale c is fitted in log space; the error is the RMS of log(value / (c f)).
    Returns (class, fitted scale, errors of every candidate considered).
    """
    errors: dict[str, float] = {}
    scales: dict[str, float] = {}
    for name, form in CANDIDATES.items():
        if allowed is not None and name not in allowed:
            continue
        try:
            f = np.array([form(n, k, r) for n, k, r, _ in points], np.float64)
        except TypeError:            # k or r is None: the candidate does not apply
            continue
        v = np.array([value for *_, value in points], np.float64)
        if np.any(f <= 0) or np.any(v <= 0):
            continue
        logc = float(np.mean(np.log(v) - np.log(f)))
        errors[name] = float(np.sqrt(np.mean((np.log(v) - np.log(f) - logc) ** 2)))
        scales[name] = math.exp(logc)
    best = min(errors, key=lambda name: (round(errors[name], 9), list(CANDIDATES).index(name)))
    return best, scales[best], errors


def crossover(xs, a, b) -> float | None:
    """The first x where series a stops being below series b, interpolated in log space.

    Returns None when a < b over the whole sweep (no crossover within it); xs[0] when a >= b from
    the start.
    """
    x = np.asarray(xs, np.float64)
    diff = np.log(np.asarray(a, np.float64)) - np.log(np.asarray(b, np.float64))
    if diff[0] >= 0:
        return float(x[0])
    for i in range(1, len(x)):
        if diff[i] == 0:
            return float(x[i])          # an exact tie on the sweep
        if diff[i] > 0:
            t = -diff[i - 1] / (diff[i] - diff[i - 1])
            return float(math.exp(math.log(x[i - 1]) + t * (math.log(x[i]) - math.log(x[i - 1]))))
    return None
