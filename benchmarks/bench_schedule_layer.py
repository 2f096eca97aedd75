"""The overlapped schedule's cost per layer, before and after, in one run.

Usage: python benchmarks/bench_schedule_layer.py [--pairs 4] [--rounds 3] [--ref REV] [--profile]
The BERT-base attention layer (12 heads, n = 512, d = 768; workloads/bert_base_layer.yaml's first
layer) on consecutive points of bench_sweep.py's 'array' grid (rows x cols x SRAM x dataflow,
heuristic mapper, count-only): `pairs` random (rows, cols) pairs, each with all 7 SRAM sizes and 3
dataflows, in grid order, each point evaluated once per round on a fresh Hardware object, as a
sweep worker does (mappings are warmed first, so the mapper's share is out of the figures; kept
GEMM task builds are not: they come only from earlier points of the round). The checkout under
test and git revision REV (default: the merge base with main) run in alternating processes,
`rounds` each, per point the best, so both see the same machine load; REV is exported with
`git archive` to a folder under the temporary directory, kept between runs for its compiled
kernels. Per point: the whole simulate(), its schedule part (plan_layer + run_plan: task graph,
reservations, list schedule, report numbers), step_rows, and the point's whole loop (Hardware
built, simulated, released: memory freed with the point's plans is paid here). The layer's numbers (cycles, busy
cycles, spans, counts, fall-backs) must be identical: the script says so. `--profile` instead
prints where the checkout's time goes on the same chunk (cProfile). Prints tables; asserts
nothing else.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = [8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]          # bench_sweep.py's 'array' grid
BUFFERS = [2 ** k for k in range(18, 25)]
DATAFLOWS = ["output_stationary", "weight_stationary", "input_stationary"]


def grid_chunk(pairs: int, seed: int = 14) -> list:
    """`pairs` random (rows, cols) pairs of the grid, each with every SRAM size and dataflow, in the
    grid's own order (dataflow fastest): the consecutive points a sweep worker evaluates."""
    rng = random.Random(seed)
    chosen = sorted(rng.sample([(r, c) for r in SIZES for c in SIZES], pairs))
    return [(r, c, sram, flow) for r, c in chosen for sram in BUFFERS for flow in DATAFLOWS]


def measure(pairs: int) -> dict:
    """In this process: every valid point of the chunk simulated once (mappings cached, kernels
    loaded), then the kept task builds forgotten, then every point once more on a fresh Hardware
    object, timed, in grid order (what a sweep worker does); the layer's numbers."""
    from simulator import load_hardware, load_workload, simulate
    from simulator.hardware import Hardware
    from simulator.schedule import layer, oplog

    spent = {"schedule": 0.0, "step_rows": 0.0}

    def timed(fn, key):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start
        return wrapper

    import yaml

    first = yaml.safe_load((ROOT / "workloads" / "bert_base_layer.yaml").read_text())["layers"][0]
    wl = load_workload({"name": "attention", "layers": [first]})
    base = load_hardware(ROOT / "hw_configs" / "default.yaml")
    raws = []
    for rows, cols, sram, dataflow in grid_chunk(pairs):
        raw = copy.deepcopy(base.raw)
        raw["mac_array"].update(rows=rows, cols=cols, dataflow=dataflow)
        raw["memories"][0]["size_bytes"] = sram
        try:
            simulate(wl, Hardware.from_dict(raw, source="<bench>"))          # warm: mappings, kernels
        except Exception:                                                   # an invalid grid point
            continue
        raws.append((f"{rows}x{cols} {sram >> 10} KiB {dataflow[:1].upper()}S", raw))
    for module in ("reuse", "plans"):                         # kept task builds: only from this round
        try:
            importlib.import_module(f"simulator.schedule.{module}").clear()
        except ImportError:                             # a revision without them
            pass
    layer.plan_layer, layer.run_plan = timed(layer.plan_layer, "schedule"), timed(layer.run_plan, "schedule")
    oplog.step_rows = timed(oplog.step_rows, "step_rows")
    out = []
    for label, raw in raws:
        begin = time.perf_counter()
        hw = Hardware.from_dict(raw, source="<bench>")
        spent.update(schedule=0.0, step_rows=0.0)
        start = time.perf_counter()
        (r,) = simulate(wl, hw)
        total = time.perf_counter() - start
        s = r.schedule
        numbers = [r.cycles, s.serial_cycles, s.compute_cycles, sorted(s.busy.items()), list(s.spans),
                   r.counts.tolist(), s.fell_back, s.mode]
        del hw, r, s                          # the point's plans go with its Hardware object
        loop = time.perf_counter() - begin
        out.append({"point": label, "times": [total, spent["schedule"], spent["step_rows"], loop],
                    "numbers": numbers})
    return {"points": out}


# (depth, label, module path suffix, function name): cumulative times, indented ones inside the one above
STAGES = [
    (0, "simulate()", "simulator/simulate.py", "simulate"),
    (1, "step_rows", "schedule/oplog.py", "step_rows"),
    (1, "run_logged (walks, mappings warm)", "schedule/oplog.py", "run_logged"),
    (1, "plan_layer", "schedule/layer.py", "plan_layer"),
    (2, "build_task_graph", "schedule/links.py", "build_task_graph"),
    (3, "op task builds (reuse / op_tasks)", "schedule/reuse.py", "all_op_tasks"),
    (4, "GEMM builder kernel", "schedule/build_gemm.py", "build_gemm"),
    (3, "stacking", "schedule/links.py", "_stacked"),
    (3, "block links (match_blocks)", "schedule/links.py", "block_edges"),
    (3, "ordering (CSR, ranks)", "schedule/order.py", "ordered"),
    (3, "forwarding tables", "schedule/links.py", "_forwarding"),
    (2, "op reservations", "schedule/reserve.py", "op_reservations"),
    (2, "kept plans (find / keep)", "schedule/plans.py", "find"),
    (1, "run_plan", "schedule/layer.py", "run_plan"),
    (2, "list_schedule", "schedule/scheduler.py", "list_schedule_ranged"),
    (2, "summarize", "schedule/layer.py", "summarize"),
]


def profile(pairs: int) -> None:
    """Where the checkout's time goes on the chunk (cProfile around the timed pass; its own
    overhead weighs most on the many small calls)."""
    import cProfile

    from benchmarks.common import print_table, stage_rows
    from simulator.schedule import reuse

    prof = cProfile.Profile()
    clear = reuse.clear
    reuse.clear = lambda: (clear(), prof.enable())            # start when the timed pass does
    measure(pairs)
    prof.disable()
    print_table(["stage (profiled)", "ms", "share"], stage_rows(prof, STAGES, "simulate()"))


def export(rev: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    where = Path(tempfile.gettempdir()) / f"attnsim_bench_{sha[:12]}"
    if not (where / "simulator").is_dir():
        where.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return where


def run_one(tree: Path, pairs: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--one", str(tree), "--pairs", str(pairs)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.splitlines()[-1])


def merge(runs: list) -> list:
    """Per point and column, the best of the rounds."""
    best = [dict(p) for p in runs[0]["points"]]
    for run in runs[1:]:
        for b, p in zip(best, run["points"]):
            b["times"] = [min(x, y) for x, y in zip(b["times"], p["times"])]
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ref", default=None)
    parser.add_argument("--one", default=None)
    parser.add_argument("--profile", action="store_true", help="only profile the checkout under test")
    args = parser.parse_args()
    if args.profile:
        sys.path.insert(0, str(ROOT))
        profile(args.pairs)
        return
    if args.one:
        sys.path.insert(0, args.one)
        print(json.dumps(measure(args.pairs)))
        return
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import print_table

    ref = args.ref or subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True,
                                     check=True).stdout.strip()
    trees = {"before": export(ref), "after": ROOT}
    runs = {"before": [], "after": []}
    for _ in range(args.rounds):
        for label, tree in trees.items():
            runs[label].append(run_one(tree, args.pairs))
    before, after = merge(runs["before"]), merge(runs["after"])
    same = all(b["numbers"] == a["numbers"] for b, a in zip(before, after)) and len(before) == len(after)
    rows = []
    for b, a in sorted(zip(before, after), key=lambda pair: pair[0]["times"][0]):
        rows.append([b["point"], f"{b['times'][0] * 1e3:.2f}", f"{a['times'][0] * 1e3:.2f}",
                     f"{b['times'][1] * 1e3:.2f}", f"{a['times'][1] * 1e3:.2f}",
                     f"{b['times'][1] / max(a['times'][1], 1e-9):.2f}x"])
    totals = [sum(p["times"][k] for p in run) for run in (before, after) for k in (0, 1, 2)]
    loops = [sum(p["times"][3] for p in run if len(p["times"]) > 3) for run in (before, after)]
    print(f"BERT-base attention layer, {len(before)} consecutive points of the 'array' grid ({args.pairs} rows x cols "
          f"pairs), before = {ref[:12]}, best of {args.rounds} alternating rounds; ms per layer evaluation")
    print_table(["point", "simulate before", "after", "schedule before", "after", "schedule speed-up"], rows[::3])
    print_table(["", "simulate ms/layer", "schedule (plan_layer + run_plan)", "step_rows", "layer evals/s",
                 "point loop ms"],
                [[label, f"{totals[3 * i] / len(before) * 1e3:.3f}", f"{totals[3 * i + 1] / len(before) * 1e3:.3f}",
                  f"{totals[3 * i + 2] / len(before) * 1e3:.3f}", f"{len(before) / totals[3 * i]:,.0f}",
                  f"{loops[i] / len(before) * 1e3:.3f}"]
                 for i, label in enumerate(("before", "after"))])
    print(f"speed-up: simulate {totals[0] / totals[3]:.2f}x, schedule part {totals[1] / totals[4]:.2f}x, point loop "
          f"{loops[0] / max(loops[1], 1e-9):.2f}x; same numbers at every point: {'yes' if same else 'NO'}")
    print("(point loop: the Hardware object built, the layer simulated, both released: what a worker spends per point)")


if __name__ == "__main__":
    main()
