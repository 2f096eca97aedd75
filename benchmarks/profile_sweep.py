"""Where a sweep chunk's time goes, stage by stage (cProfile, one process, one core).

Usage: python benchmarks/profile_sweep.py [--points 300] [--grids array,prices,gemm10k]
Three grids, heuristic mapper, count-only:
* "array": bench_sweep.py's rows x cols x SRAM x dataflow grid on workloads/bert_base_layer.yaml
  (3 layers per point): every point simulates;
* "prices": clock x MAC energy x DRAM read energy on the same workload: the layers count alike at
  every point, so the worker's memo (sweep/memo.py) simulates them once and every other point is
  re-priced;
* "gemm10k": bench_sweep.py's 10,000-point grid (rows x cols x SRAM size x DRAM read bandwidth) on
  workloads/gemm_smoke.yaml (2 single-GEMM layers per point): every point simulates.
One chunk of --points points is evaluated after a warm-up chunk (kernels loaded, caches warm for
other points). Each stage is a function's cumulative time; indented stages are inside the one above
(so shares do not add up across levels). cProfile adds its own overhead per call, more to the many
small calls; the wall time without the profiler is printed first. Prints tables; asserts nothing.
"""
from __future__ import annotations

import argparse
import cProfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sweep import bert_sweep, ten_thousand_sweep  # noqa: E402
from benchmarks.common import print_table, stage_rows  # noqa: E402
from simulator.sweep.evaluate import EvalContext, evaluate_chunk  # noqa: E402
from simulator.sweep.spec import sweep_from_dict  # noqa: E402

# (depth, label, module path suffix, function name)
STAGES = [
    (0, "whole chunk", "sweep/evaluate.py", "evaluate_chunk"),
    (1, "point hardware: template or from_dict, hash", "sweep/evaluate.py", "_point_hardware"),
    (2, "Hardware.from_dict (validation)", "simulator/hardware.py", "from_dict"),
    (2, "point hash (grid.PointHasher)", "sweep/grid.py", "__call__"),
    (1, "memo lookup + simulate() or the GEMM path on a miss", "sweep/memo.py", "layers"),
    (2, "single-GEMM layers' path (sweep/gemmrows.py)", "sweep/gemmrows.py", "layer_parts"),
    (3, "a layer's row parts: kept, or made for a new key", "sweep/gemmrows.py", "parts"),
    (4, "a new key: plan, mapping check, bound, row parts", "sweep/gemmrows.py", "_new"),
    (5, "heuristic mapper", "simulator/mapper.py", "space_plan"),
    (6, "walk context (a new array or bandwidth)", "simulator/mapper.py", "walk_context"),
    (6, "kernel: best_of_space (one level)", "kernels/gemmspace.py", "best_of_space"),
    (5, "row parts (rows.op_parts)", "sweep/rows.py", "op_parts"),
    (3, "engine.run_gemm (search mapper)", "simulator/engine.py", "run_gemm"),
    (3, "staging memo: lookup, or the layer on a miss", "sweep/capmemo.py", "parts"),
    (4, "its key: each op's plan (mapper, vector chunks)", "sweep/capmemo.py", "_op_plans"),
    (2, "simulate()", "simulator/simulate.py", "simulate"),
    (3, "guard: counts bounded before running", "simulator/guard.py", "check_workload"),
    (3, "step_rows: steps a layer will log", "schedule/oplog.py", "step_rows"),
    (3, "run_logged: ops walked with step logs", "schedule/oplog.py", "run_logged"),
    (4, "mapping (heuristic mapper)", "simulator/mapper.py", "choose_gemm_plan"),
    (4, "lowering (GEMM plans)", "simulator/lowering.py", "lower_gemm"),
    (4, "kernel: gemm_walk", "kernels/gemm.py", "gemm_walk"),
    (4, "kernel: vector_walk", "kernels/vector.py", "vector_walk"),
    (3, "plan_layer: task graph + schedule", "schedule/layer.py", "plan_layer"),
    (4, "build_task_graph", "schedule/links.py", "build_task_graph"),
    (4, "list_schedule (event-driven)", "schedule/scheduler.py", "list_schedule_ranged"),
    (3, "run_plan: counts as scheduled", "schedule/layer.py", "run_plan"),
    (2, "row parts of a new entry", "sweep/rows.py", "row_parts"),
    (1, "pricing the rows", "sweep/rows.py", "priced_cells"),
]


def price_sweep() -> dict:
    grid = {"clock_hz": [5e8 + 1e7 * i for i in range(20)],
            "mac_array.mac_energy_pj": [0.5 + 0.1 * i for i in range(10)],
            "memories[1].read_pj_per_byte": [10.0 + i for i in range(10)]}
    return {**bert_sweep("heuristic"), "hw_grid": grid}


def profile(sweep: dict, points: int) -> tuple[float, int, list]:
    spec = sweep_from_dict(sweep, source="<bench>")
    ctx = EvalContext.from_spec(spec)
    evaluate_chunk(ctx, 0, 20)                          # warm-up: kernels loaded, caches started
    start = min(500, spec.n_points - 2 * points)
    t = time.perf_counter()
    evaluate_chunk(ctx, start, start + points)
    wall = time.perf_counter() - t
    ctx2 = EvalContext.from_spec(spec)
    evaluate_chunk(ctx2, 0, 20)
    prof = cProfile.Profile()
    prof.enable()
    out = evaluate_chunk(ctx2, start + points, start + 2 * points)
    prof.disable()
    rows = stage_rows(prof, STAGES, "whole chunk")
    return wall, len(out.rows), rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--grids", default="array,prices,gemm10k", help="comma-separated grid names")
    args = parser.parse_args()
    grids = {"array": bert_sweep("heuristic"), "prices": price_sweep(), "gemm10k": ten_thousand_sweep()}
    for name in args.grids.split(","):
        sweep = grids[name]
        wall, rows, table = profile(sweep, args.points)
        print(f"grid '{name}': {args.points} points, {rows} layer evaluations in {wall:.2f} s without the profiler "
              f"= {rows / wall:,.0f} layer evals/s on one core")
        print_table(["stage (profiled)", "ms", "share"], table)
        print()


if __name__ == "__main__":
    main()
