"""Sweep throughput: layer evaluations per second, and a 10,000-point sweep end to end.

Usage: python benchmarks/bench_sweep.py
* BERT-base layer (workloads/bert_base_layer.yaml: 3 layers) over an array x buffer grid, count-only,
  heuristic mapper and search mapper, at --jobs 1 and --jobs 2: layer evaluations per second
  while evaluating (the report writing is timed apart); the heuristic once more with the serial
  schedule (each layer's ops one after another: no task-level schedule).
* `attnsim sweep` on a 10,000-point grid (rows x cols x SRAM size x DRAM bandwidth) of the two-GEMM
  workloads/gemm_smoke.yaml, as a whole process with --jobs 2 (start-up, evaluation, report, figures).
Prints tables; asserts nothing. Folders are temporary.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402
from simulator.sweep.run import run_sweep  # noqa: E402
from simulator.sweep.evaluate import EvalContext, evaluate_chunk  # noqa: E402
from simulator.sweep.spec import sweep_from_dict  # noqa: E402

SIZES = [8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]
BUFFERS = [2 ** k for k in range(18, 25)]       # 256 KiB .. 16 MiB


def bert_sweep(mapper: str, schedule: str = "overlapped") -> dict:
    """rows x cols x SRAM size x dataflow (heuristic: 11 x 11 x 7 x 3 = 2,541 points); the search
    mapper costs about 10 ms per layer, so it gets a 4 x 4 x 4 = 64-point corner of the grid.
    `schedule`: the hardware's (default.yaml's is overlapped), set by a one-value grid key."""
    grid = {"mac_array.rows": SIZES, "mac_array.cols": SIZES, "memories[0].size_bytes": BUFFERS,
            "mac_array.dataflow": ["output_stationary", "weight_stationary", "input_stationary"]}
    if mapper == "search":
        grid = {"mac_array.rows": [16, 32, 64, 128], "mac_array.cols": [16, 32, 64, 128],
                "memories[0].size_bytes": BUFFERS[:4]}
    if schedule != "overlapped":
        grid["schedule"] = [schedule]
    return {"name": f"bench_bert_{mapper}", "base_hw": str(ROOT / "hw_configs/default.yaml"),
            "workloads": [str(ROOT / "workloads/bert_base_layer.yaml")], "hw_grid": grid,
            "objectives": ["cycles", "energy_pj", "area_mm2"], "mapper": mapper}


def measure(mapper: str, jobs: int, schedule: str = "overlapped") -> dict:
    """One measurement, in this process (run by main() in a fresh process, so no mapping or plan
    cache is warm). The compiled kernels are loaded first, by one evaluation of a different layer,
    and that one-time cost is reported apart."""
    start = time.perf_counter()
    warm = sweep_from_dict({**bert_sweep(mapper), "workloads": [str(ROOT / "workloads/gemm_smoke.yaml")],
                            "hw_grid": {}}, source="<bench>")
    evaluate_chunk(EvalContext.from_spec(warm), 0, 1)
    load_s = time.perf_counter() - start
    spec = sweep_from_dict(bert_sweep(mapper, schedule), source="<bench>")
    with tempfile.TemporaryDirectory() as out:
        outcome = run_sweep(spec, out, jobs=jobs, warn=lambda message: None)
    return {"points": spec.n_points, "layers": outcome.rows, "eval_s": outcome.eval_seconds,
            "report_s": outcome.report_seconds, "load_s": load_s}


def throughput(mapper: str, jobs: int, schedule: str = "overlapped") -> list:
    proc = subprocess.run([sys.executable, __file__, "--one", mapper, str(jobs), schedule], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        return [mapper, schedule, jobs, "-", "-", "-", "failed: " + proc.stderr.strip().splitlines()[-1], "-", "-"]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    return [mapper, schedule, jobs, m["points"], m["layers"], f"{m['eval_s']:.2f}", f"{m['layers'] / m['eval_s']:,.0f}",
            f"{m['report_s']:.2f}", f"{m['load_s']:.2f}"]


def ten_thousand_sweep() -> dict:
    """rows x cols x SRAM size x DRAM read bandwidth (10 x 10 x 10 x 10) on gemm_smoke: every point
    differs in a field the counts depend on, so a worker's memo never hits."""
    grid = {"mac_array.rows": [4, 8, 12, 16, 24, 32, 48, 64, 96, 128],
            "mac_array.cols": [4, 8, 12, 16, 24, 32, 48, 64, 96, 128],
            "memories[0].size_bytes": [2 ** k for k in range(17, 27)],          # 128 KiB .. 64 MiB
            "memories[1].read_bw_bytes_per_cycle": [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]}
    sweep = {"name": "bench_10k", "base_hw": str(ROOT / "hw_configs/default.yaml"),
             "workloads": [str(ROOT / "workloads/gemm_smoke.yaml")], "hw_grid": grid,
             "objectives": ["cycles", "energy_pj", "area_mm2"]}
    return sweep


def ten_thousand(jobs: int) -> list:
    sweep = ten_thousand_sweep()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_10k.yaml"
        path.write_text(yaml.safe_dump(sweep, sort_keys=False))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "simulator", "sweep", str(path), "--out", str(Path(tmp) / "out"),
                        "--jobs", str(jobs), "--quiet"], check=True, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        rows = sum(1 for _ in open(Path(tmp) / "out" / "results.csv")) - 1
    return [10_000, rows, jobs, f"{elapsed:.2f}", f"{10_000 / elapsed:,.0f}"]


def main() -> None:
    rows = [throughput(mapper, jobs) for mapper in ("heuristic", "search") for jobs in (1, 2)]
    rows.insert(2, throughput("heuristic", 2, "serial"))
    print("BERT-base layer (3 layers per point) over an array x buffer grid, count-only, each run a fresh process;")
    print("'start s' (importing, loading the compiled kernels) is paid once per process, before 'eval s'")
    print_table(["mapper", "schedule", "jobs", "points", "layer evals", "eval s", "layer evals/s", "report s",
                 "start s"], rows)
    print()
    print("10,000-point sweep end to end (attnsim sweep as a process, gemm_smoke: 2 layers per point)")
    print_table(["points", "rows", "jobs", "wall s", "points/s"], [ten_thousand(jobs) for jobs in (1, 2)])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), *sys.argv[4:5])))
    else:
        main()
