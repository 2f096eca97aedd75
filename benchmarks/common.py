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


def stage_rows(prof, stages, total_label: str) -> list:
    """Table rows of a cProfile run by stage: `stages` lists (depth, label, module path suffix,
    function name); each row is the label indented by depth, its cumulative ms and its share of
    the `total_label` stage (indented stages are inside the one above: shares do not add up)."""
    import pstats

    cum: dict = {}
    for (path, _line, name), (_cc, _nc, _tt, ct, _callers) in pstats.Stats(prof).stats.items():
        for _depth, label, suffix, fn in stages:
            if name == fn and path.endswith(suffix):
                cum[label] = cum.get(label, 0.0) + ct
    total = cum.get(total_label, 0.0) or 1.0
    return [["  " * d + label, f"{cum.get(label, 0.0) * 1e3:,.0f}", f"{100 * cum.get(label, 0.0) / total:.0f}%"]
            for d, label, _s, _f in stages]
