"""Big sweeps: time and the parent's peak memory at 10,000, 100,000 and 1,000,000 design points.

Usage: python benchmarks/bench_sweep_scale.py [--points 10000,100000,1000000] [--jobs 2]
The grid is clock x MAC energy x DRAM read energy on workloads/gemm_smoke.yaml (2 layers per
point): the layers count alike at every point, so each worker simulates them once (sweep/memo.py)
and re-prices them per point; what is measured is the sweep machinery around the model (points,
rows, chunk files, the report). Each size runs as a fresh process calling run_sweep(); it reports
its own peak resident memory (the parent's, ru_maxrss of RUSAGE_SELF) and its workers' largest
(RUSAGE_CHILDREN). Prints a table; asserts nothing. Folders are temporary.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402


def price_grid(points: int) -> dict:
    """clock x MAC energy x DRAM read energy with `points` combinations (points a product of three
    factors of roughly equal size: 10^4 = 25 x 20 x 20, 10^5 = 50 x 50 x 40, 10^6 = 100^3)."""
    a = round(points ** (1 / 3))
    while points % a:
        a += 1
    b = round((points // a) ** 0.5)
    while (points // a) % b:
        b += 1
    c = points // a // b
    return {"clock_hz": [5e8 + 1e6 * i for i in range(a)],
            "mac_array.mac_energy_pj": [0.5 + 0.01 * i for i in range(b)],
            "memories[1].read_pj_per_byte": [10.0 + 0.1 * i for i in range(c)]}


def one(points: int, jobs: int) -> dict:
    from simulator.sweep.run import run_sweep
    from simulator.sweep.spec import sweep_from_dict

    started = time.perf_counter()
    spec = sweep_from_dict({"name": f"scale_{points}", "base_hw": str(ROOT / "hw_configs/default.yaml"),
                            "workloads": [str(ROOT / "workloads/gemm_smoke.yaml")], "hw_grid": price_grid(points),
                            "max_points": max(points, 100_000)}, source="<bench>")
    with tempfile.TemporaryDirectory() as out:
        outcome = run_sweep(spec, out, jobs=jobs, warn=lambda message: None)
        csv_mb = (Path(out) / "results.csv").stat().st_size / 2 ** 20
    return {"points": spec.n_points, "rows": outcome.rows, "eval_s": outcome.eval_seconds,
            "report_s": outcome.report_seconds, "total_s": time.perf_counter() - started, "csv_mb": csv_mb,
            "parent_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "parent_cpu_s": _cpu_s(resource.RUSAGE_SELF), "children_cpu_s": _cpu_s(resource.RUSAGE_CHILDREN)}


def _cpu_s(who) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def row(points: int, jobs: int) -> list:
    proc = subprocess.run([sys.executable, __file__, "--one", str(points), str(jobs)], capture_output=True, text=True)
    if proc.returncode != 0:
        return [points, jobs, "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]] + ["-"] * 8
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    return [f"{m['points']:,}", jobs, f"{m['rows']:,}", f"{m['eval_s']:.1f}", f"{m['points'] / m['eval_s']:,.0f}",
            f"{m['report_s']:.1f}", f"{m['total_s']:.1f}", f"{m['parent_cpu_s']:.1f}", f"{m['children_cpu_s']:.1f}",
            f"{m['parent_mib']:.0f}", f"{m['worker_mib']:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", default="10000,100000,1000000")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    rows = [row(int(p), args.jobs) for p in args.points.split(",")]
    print("price grid on gemm_smoke (2 layers per point), run_sweep in a fresh process; memory = peak RSS")
    print_table(["points", "jobs", "rows", "eval s", "points/s", "report s", "total s", "parent CPU s",
                  "children CPU s", "parent MiB",
                 "worker MiB"], rows)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(one(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        main()
