"""Shared helpers for the benchmark scripts (run by hand; they print tables, they assert nothing)."""
from __future__ import annotations

import statistics
import time


def best_of(fn, repeat: int = 5, min_time: float = 0.05) -> float:
    """Median seconds per call of fn(), each sample looping until min_time has passed."""
    samples = []
    for _ in range(repeat):
        loops, start = 0, time.perf_counter()
        while True:
            fn()
            loops += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        samples.append(elapsed / loops)
    return statistics.median(samples)


def print_table(headers, rows) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(str(h).rjust(w) for h, w in zip(headers, widths)))
    for r in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))
