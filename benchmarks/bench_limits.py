"""What the limits cost and how fast hostile inputs are refused.

Usage: python benchmarks/bench_limits.py
* guard.check_workload per simulate() call on every bundled workload (default config): the cached
  fast path (fits on the worst valid hardware), and the full check (coarse, then tight bounds);
* `attnsim run` on hostile inputs, as a process: wall time to the exit-2 refusal.
Prints tables; asserts nothing.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402
from simulator import load_hardware, load_workload  # noqa: E402
from simulator import guard  # noqa: E402
from simulator.simulate import layer_graph  # noqa: E402

HOSTILE = {
    "conv n = 1e10 (count-only)": "name: x\nlayers:\n  - {name: c, variant: convolutional, n: 10000000000, d: 64, kernel: 3}\n",
    "hard attention 1e8 x 1e6 x 1e8": "name: x\nlayers:\n  - {name: h, variant: hard_attention, n: 100000000, d: 1000000, "
                                      "queries: 100000000}\n",
    "gemm batch 2^40 (work)": "name: x\nlayers:\n  - {name: g, variant: gemm, m: 24, k: 16, n: 20, batch: 1099511627776}\n",
    "YAML 10,000 deep": "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "5000-digit integer": "name: x\nlayers:\n  - {variant: gemm, m: " + "9" * 5000 + ", k: 1, n: 1}\n",
    "3.3 MiB of unknown keys (hardware)": "".join(f"key_{i:07d}: 1\n" for i in range(250_000)),
}


def guard_costs() -> list:
    hw = load_hardware(ROOT / "hw_configs" / "default.yaml")
    rows = []
    for path in sorted((ROOT / "workloads").glob("*.yaml")):
        workload = load_workload(path)
        graphs = [layer_graph(s) for s in workload.layers]
        guard.check_workload(workload, graphs, [hw], False, "heuristic", "cycles")
        fast = _time(lambda: guard.check_workload(workload, graphs, [hw], False, "heuristic", "cycles"))
        saved = guard._fits_any_hardware
        guard._fits_any_hardware = lambda *a: False
        try:
            full = _time(lambda: guard.check_workload(workload, graphs, [hw], False, "heuristic", "cycles"))
        finally:
            guard._fits_any_hardware = saved
        fits = guard._fits_any_hardware(workload, graphs, False)
        rows.append([path.stem, len(graphs), "yes" if fits else "no", f"{fast * 1e6:,.1f}", f"{full * 1e6:,.1f}"])
    return rows


def _time(fn, repeat: int = 200) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def refusals() -> list:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for what, text in HOSTILE.items():
            path = Path(tmp) / "hostile.yaml"
            path.write_text(text)
            start = time.perf_counter()
            argv = ["run", str(ROOT / "workloads" / "gemm_smoke.yaml"), "--hw", str(path)] if "hardware" in what \
                else ["run", str(path)]
            res = subprocess.run([sys.executable, "-m", "simulator", *argv], capture_output=True, text=True)
            rows.append([what, res.returncode, f"{time.perf_counter() - start:.2f}", len(res.stderr)])
    return rows


def main() -> None:
    print("guard.check_workload per simulate() call (default config); 'fast' is what a sweep pays")
    print_table(["workload", "layers", "fits any hw", "fast us", "full us"], guard_costs())
    print()
    print("hostile inputs: `python -m simulator run FILE` as a process (start-up included)")
    print_table(["input", "exit", "wall s", "stderr chars"], refusals())


if __name__ == "__main__":
    main()
