"""GEMM engine speed: count-only and functional walks against numpy.matmul of the same GEMM.

Usage: python benchmarks/bench_gemm.py [--quick]
Targets (issue: the spine): count-only <= 1% of numpy matmul at 4096^3 on 32x32; functional <= 3x
numpy matmul at 1024 and above; per-call Python overhead of a count-only run well under 1 ms.
Functional and numpy times are the fastest of several runs, each side timed in its own phase.
fp32 hardware, so numpy's float32 matmul computes exactly what the functional walk computes.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import best_of, print_table  # noqa: E402
from simulator.engine import run_gemm  # noqa: E402
from simulator.graph import Gemm  # noqa: E402
from simulator.hardware import Hardware  # noqa: E402
from simulator.mapper import default_gemm_mapping  # noqa: E402


def hardware(side: int) -> Hardware:
    return Hardware.from_dict({
        "name": f"bench_{side}x{side}", "clock_hz": 1e9, "number_format": "fp32",
        "mac_array": {"rows": side, "cols": side, "dataflow": "weight_stationary", "fold_overlap": "serial",
                      "mac_energy_pj": 1.0},
        "vector_unit": {"lanes": side, "cycles_per_op": {k: 1 for k in
                        ("add", "mul", "max", "exp", "div", "tanh", "sigmoid", "sin", "cos", "rsqrt")},
                        "op_energy_pj": 1.0},
        "memories": [{"name": "sram", "size_bytes": 8 << 20, "read_bw_bytes_per_cycle": 4 * side,
                      "write_bw_bytes_per_cycle": 4 * side, "read_pj_per_byte": 1.0, "write_pj_per_byte": 1.0},
                     {"name": "dram", "size_bytes": None, "read_bw_bytes_per_cycle": 64,
                      "write_bw_bytes_per_cycle": 64, "read_pj_per_byte": 50.0, "write_pj_per_byte": 50.0}]})


def _phase(fn, reps: int) -> float:
    time.sleep(0.2)
    fn()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return min(samples)


def main(quick: bool) -> None:
    sizes = (256, 1024) if quick else (256, 1024, 4096)
    t0 = time.perf_counter()
    run_gemm(Gemm("g", "a", "b", "c", 8, 8, 8), hardware(32))            # compile (or load cache)
    rng = np.random.default_rng(0)
    small = {"a": np.ones((1, 8, 8), np.float32), "b": np.ones((1, 8, 8), np.float32)}
    run_gemm(Gemm("g", "a", "b", "c", 8, 8, 8), hardware(32), store=small)
    print(f"kernel compile/cache load: {time.perf_counter() - t0:.2f} s (first calls, both modes)\n")
    rows = []
    for side in (32, 128):
        hw = hardware(side)
        for n in sizes:
            op = Gemm("g", "a", "b", "c", n, n, n)
            mapping = default_gemm_mapping(op, hw)
            count = best_of(lambda: run_gemm(op, hw, mapping), repeat=5)
            a = rng.standard_normal((1, n, n)).astype(np.float32)
            b = rng.standard_normal((1, n, n)).astype(np.float32)
            reps = 7 if n < 4096 else 3
            # numpy's and SciPy's OpenBLAS builds keep separate spinning thread pools: time each side
            # in its own phase, after a pause, and keep the least-disturbed run of each.
            mm = _phase(lambda: a[0] @ b[0], reps)
            func = _phase(lambda: run_gemm(op, hw, mapping, store={"a": a, "b": b}), reps)
            rows.append((f"{side}x{side}", n, f"{count * 1e3:.3f}", f"{func * 1e3:.1f}", f"{mm * 1e3:.1f}",
                         f"{100 * count / mm:.3f}%", f"{func / mm:.2f}x", mapping.describe()))
    print_table(("array", "M=K=N", "count ms", "functional ms", "numpy ms", "count/numpy", "func/numpy",
                 "mapping"), rows)
    hw = hardware(32)
    tiny = Gemm("g", "a", "b", "c", 64, 64, 64)
    per_call = best_of(lambda: run_gemm(tiny, hw), repeat=7)
    mapped = default_gemm_mapping(tiny, hw)
    per_call_mapped = best_of(lambda: run_gemm(tiny, hw, mapped), repeat=7)
    print(f"\ncount-only call, 64^3 on 32x32: {per_call * 1e6:.1f} us with the default mapper, "
          f"{per_call_mapped * 1e6:.1f} us with a given mapping")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
