"""Dask scale-out: the same grid evaluated on a LocalCluster of 1 and of 2 single-threaded worker
processes; evaluation time, speed-up and whether the rows are identical.

Usage: python benchmarks/bench_sweep_dask.py [--points N]
The grid is the first N points (default 960) of bench_sweep.py's BERT-base array x buffer x
dataflow grid, heuristic mapper, count-only: every point simulates (no memo hits), so the
workers, not the parent, are busy. Each cluster's workers load the compiled kernels first (one
warm-up evaluation on every worker, timed apart); the chunks `attnsim sweep` would cut for that
many workers (21 points each here: store.auto_chunk_size) are then submitted through the sweep's
DaskExecutor and timed until the last result is back. Prints a table; asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sweep import bert_sweep  # noqa: E402
from benchmarks.common import print_table  # noqa: E402
from simulator.sweep.evaluate import EvalContext  # noqa: E402
from simulator.sweep.executors import DaskExecutor  # noqa: E402
from simulator.sweep.spec import sweep_from_dict  # noqa: E402
from simulator.sweep.store import auto_chunk_size, inner_periods, pending_ranges, unpack  # noqa: E402

def _warm(sweep: dict) -> None:
    """Runs on each worker: load the compiled kernels (BERT-base on the base hardware)."""
    from simulator.sweep.evaluate import EvalContext, evaluate_chunk
    from simulator.sweep.spec import sweep_from_dict

    evaluate_chunk(EvalContext.from_spec(sweep_from_dict(sweep, source="<bench>")), 0, 1)


def _cpu_s() -> float:
    """Runs on each worker: the CPU seconds its process has used."""
    return time.process_time()


def measure(workers: int, points: int) -> tuple[float, float, float, list]:
    spec = sweep_from_dict(bert_sweep("heuristic"), source="<bench>")
    # chunks as run_sweep cuts them for this many workers (store.auto_chunk_size: a multiple of the
    # grid's inner period, 21 points here: one array shape's buffer sizes and dataflows)
    size = auto_chunk_size(0.0, points, workers, periods=inner_periods(len(a.rows) for a in spec.expansion.axes))
    ranges = pending_ranges(points, [], size)
    started = time.perf_counter()
    with DaskExecutor(EvalContext.from_spec(spec), "bench", workers, None) as ex:
        ex.client.run(_warm, {**bert_sweep("heuristic"), "hw_grid": {}})
        cpu = ex.client.run(_cpu_s)
        ready = time.perf_counter()
        chunks = [unpack(c.data, "bench") for c in ex.run(ranges) if c is not None]
        done = time.perf_counter()
        cpu_s = sum(ex.client.run(_cpu_s).values()) - sum(cpu.values())
    rows = sorted(row for c in chunks for row in c.rows)
    return ready - started, done - ready, cpu_s, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=960)
    args = parser.parse_args()
    one_start, one_s, one_cpu, one_rows = measure(1, args.points)
    two_start, two_s, two_cpu, two_rows = measure(2, args.points)
    same = "yes" if one_rows == two_rows else "NO"
    print(f"BERT-base array x buffer x dataflow grid, first {args.points} points, heuristic mapper, Dask LocalCluster")
    print("'worker cpu s': CPU seconds the workers used while evaluating (about 2 x eval s when each had a core)")
    print_table(["workers", "layer evals", "start s", "eval s", "worker cpu s", "layer evals/s", "speed-up",
                 "rows identical"],
                [[1, len(one_rows), f"{one_start:.1f}", f"{one_s:.2f}", f"{one_cpu:.2f}", f"{len(one_rows) / one_s:,.0f}",
                  "1.00", "-"],
                 [2, len(two_rows), f"{two_start:.1f}", f"{two_s:.2f}", f"{two_cpu:.2f}", f"{len(two_rows) / two_s:,.0f}",
                  f"{one_s / two_s:.2f}", same]])


if __name__ == "__main__":
    main()
