"""How fast a BERT-base sweep could go at best on the overlapped schedule: the list scheduler's floor.

Usage: python benchmarks/bench_sweep_floor.py [--every K]   (default K = 7: 363 of the 2,541 points)

Evaluates every K-th point of bench_sweep.py's BERT-base grid (rows x cols x SRAM size x dataflow,
heuristic mapper, count-only) in this one process, one point at a time, with the overlapped schedule
and then the serial one. While it runs, the attention layer's task graphs are counted and the
compiled list scheduler (schedule/scheduler.list_schedule_ranged) is timed on its own. Prints:
* the task graphs' sizes (tasks per attention layer: the tile steps of its ops on every unit);
* the list scheduler's share of the evaluation and its cost per task;
* the ceiling on layer evaluations/s if everything but the list schedule were free, per core and
  for two cores: the rate no implementation of this exact schedule can pass at this cost per task.
Asserts nothing. Timings are one run's; the ratios within it are what to quote.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sweep import bert_sweep  # noqa: E402
from benchmarks.common import print_table  # noqa: E402
import simulator.schedule.layer as layer  # noqa: E402
from simulator.sweep.evaluate import EvalContext, evaluate_chunk  # noqa: E402
from simulator.sweep.spec import sweep_from_dict  # noqa: E402


class Probe:
    """Counts the task graphs built and times the list scheduler, by wrapping the two names that
    schedule/layer.py calls (this process only)."""

    def __init__(self):
        self.tasks: list[int] = []
        self.schedule_s = 0.0
        self.schedules = self.scheduled_tasks = 0
        build, run = layer.build_task_graph, layer.list_schedule_ranged

        def counted_build(*args, **kwargs):
            graph = build(*args, **kwargs)
            self.tasks.append(len(graph.tab))
            return graph

        def timed_run(*args):
            start = time.perf_counter()
            run(*args)
            self.schedule_s += time.perf_counter() - start
            self.schedules += 1
            self.scheduled_tasks += len(args[0])

        layer.build_task_graph, layer.list_schedule_ranged = counted_build, timed_run

    def reset(self) -> None:
        self.tasks, self.schedule_s, self.schedules, self.scheduled_tasks = [], 0.0, 0, 0


def evaluate(schedule: str, every: int, probe: Probe) -> tuple[int, int, float]:
    """(points, layer evaluations, seconds) over every `every`-th point, in a fresh context (no
    memo shared with the other schedule); the grid's last point is evaluated before the clock starts."""
    spec = sweep_from_dict(bert_sweep("heuristic", schedule), source="<bench>")
    ctx = EvalContext.from_spec(spec)
    evaluate_chunk(ctx, spec.n_points - 1, spec.n_points)
    probe.reset()
    points = layers = 0
    start = time.perf_counter()
    for pid in range(0, spec.n_points, every):
        layers += len(evaluate_chunk(ctx, pid, pid + 1).cells)
        points += 1
    return points, layers, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=7, help="evaluate every K-th point of the grid")
    args = parser.parse_args()
    probe = Probe()
    points, layers, seconds = evaluate("overlapped", args.every, probe)
    probe_tasks = probe.tasks            # kept: the serial run below resets the probe
    tasks = np.array(probe_tasks or [0])
    ns_per_task = 1e9 * probe.schedule_s / max(probe.scheduled_tasks, 1)
    sched_s, n_sched = probe.schedule_s, probe.schedules
    s_points, s_layers, s_seconds = evaluate("serial", args.every, probe)
    ceiling = layers / sched_s if sched_s else float("inf")
    print(f"BERT-base grid, every {args.every}th point, one core, one point per call; "
          f"attention-layer task graphs built: {len(probe_tasks)} (the other points reused one)")
    print_table(["tasks per graph", "mean", "median", "min", "max"],
                [["", f"{tasks.mean():,.0f}", f"{np.median(tasks):,.0f}", f"{tasks.min():,}", f"{tasks.max():,}"]])
    print()
    print_table(["schedule", "points", "layer evals", "eval s", "layer evals/s", "list scheduler s", "share",
                 "ns per task"],
                [["overlapped", points, layers, f"{seconds:.2f}", f"{layers / seconds:,.0f}", f"{sched_s:.2f}",
                  f"{100 * sched_s / seconds:.0f}%", f"{ns_per_task:.0f}"],
                 ["serial", s_points, s_layers, f"{s_seconds:.2f}", f"{s_layers / s_seconds:,.0f}", "-", "-", "-"]])
    print()
    print(f"ceiling with everything but the {n_sched} list schedules free: {ceiling:,.0f} layer evals/s on one core, "
          f"{2 * ceiling:,.0f} on two (target 50,000)")
    needed = ns_per_task * 2 * ceiling / 50_000
    print(f"50,000/s on two cores, with nothing else costing time, needs the list scheduler at {needed:.1f} ns per "
          f"task ({ns_per_task / needed:.1f}x faster than now)")


if __name__ == "__main__":
    main()
