"""First contact: the CLI's start-up and the main job as whole processes, and a functional GEMM.

Usage: python benchmarks/bench_cli.py [--runs N] [--skip-cold] [--vs OTHER_CHECKOUT]

Each command runs as its own process (`python -m simulator ...`, wall clock from start to exit,
start-up and imports included) N times after one warm-up run; the table gives the minimum and the
median. "cold" runs point NUMBA_CACHE_DIR at an empty folder, so every kernel compiles (once per
run). With --vs, the same commands run from another checkout of the repository (an older commit, for
before/after figures measured in the same session), alternating with this one's.

The last table times one functional simulate() of a 1024^3 int8 GEMM on edge_32x32 (drawing the
inputs and emulating the format included) against numpy's float32 matmul of the same shape, in this
process. Prints tables; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402

WARM = [
    ("attnsim --help", ["--help"]),
    ("attnsim validate (hardware)", ["validate", "hw_configs/default.yaml"]),
    ("attnsim validate (hw + workload + sweep)",
     ["validate", "hw_configs/default.yaml", "workloads/bert_base_layer.yaml", "sweeps/quick.yaml"]),
    ("attnsim run (2 layers)", ["run", "workloads/gemm_smoke.yaml"]),
    ("attnsim table", ["table", "--out", "{tmp}/table"]),
]
COLD = [
    ("attnsim run (2 layers), cold cache", ["run", "workloads/gemm_smoke.yaml"]),
    ("attnsim table, cold cache", ["table", "--out", "{tmp}/table"]),
]


def time_process(root: Path, argv: list[str], env: dict) -> float:
    """Wall seconds of `python -m simulator ARGV` run from `root`, its output discarded."""
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "simulator", *argv], cwd=root, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall_s = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} in {root} exited {res.returncode}:\n{res.stderr[-2000:]}")
    return wall_s


def env_for(root: Path, cache_dir: str | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root))       # this checkout's package, whatever is installed
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    else:
        env.pop("NUMBA_CACHE_DIR", None)
    return env


def measure(roots: list[Path], commands, runs: int, cold: bool) -> list[list]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, argv in commands:
            argv = [a.format(tmp=tmp) for a in argv]
            samples = {root: [] for root in roots}
            for i in range(runs + (0 if cold else 1)):
                for root in roots:                      # alternate checkouts: drift hits both alike
                    cache = tempfile.mkdtemp(dir=tmp) if cold else None
                    wall_s = time_process(root, argv, env_for(root, cache))
                    if cold or i > 0:                   # the first warm run fills the cache: not counted
                        samples[root].append(wall_s)
            row = [label]
            for root in roots:
                row += [f"{min(samples[root]):.2f}", f"{statistics.median(samples[root]):.2f}"]
            rows.append(row)
    return rows


def functional_gemm(repeat: int = 3) -> list[list]:
    import numpy as np

    from simulator import load_hardware, load_workload, simulate

    hw = load_hardware(ROOT / "hw_configs" / "edge_32x32.yaml")
    if hw.format_name != "int8":
        raise SystemExit(f"edge_32x32.yaml is {hw.format_name} now: this line times int8")
    wl = load_workload({"name": "g", "layers": [{"name": "g", "variant": "gemm", "m": 1024, "k": 1024, "n": 1024}]})
    simulate(wl, hw, functional=True)                   # warm: kernels loaded, plans memoised
    sim_s, np_s = [], []
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    b = rng.standard_normal((1024, 1024), dtype=np.float32)
    for _ in range(repeat):
        start = time.perf_counter()
        simulate(wl, hw, functional=True, seed=1)
        sim_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        a @ b
        np_s.append(time.perf_counter() - start)
    sim, ref = min(sim_s), min(np_s)
    return [["functional simulate(), 1024^3 int8 GEMM on edge_32x32", f"{sim:.3f}"],
            ["numpy float32 matmul, 1024^3", f"{ref:.3f}"],
            ["ratio", f"{sim / ref:.1f}x"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--vs", type=Path, help="another checkout of the repository, timed alongside")
    parser.add_argument("--only-gemm", action="store_true", help="the functional GEMM line alone")
    args = parser.parse_args()
    roots = [ROOT] + ([args.vs.resolve()] if args.vs else [])
    headers = ["command"]
    for root in roots:
        name = "this" if root == ROOT else root.name
        headers += [f"{name} min s", f"{name} median s"]
    if args.only_gemm:
        print_table(["functional GEMM", "seconds (best of 3)"], functional_gemm())
        return
    print(f"whole processes, {args.runs} runs each ({os.cpu_count()} CPUs)")
    print_table(headers, measure(roots, WARM, args.runs, cold=False))
    if not args.skip_cold:
        print()
        print_table(headers, measure(roots, COLD, max(1, args.runs // 3), cold=True))
    print()
    print_table(["functional GEMM", "seconds (best of 3)"], functional_gemm())


if __name__ == "__main__":
    main()
