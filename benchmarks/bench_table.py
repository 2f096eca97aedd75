"""Wall time of `attnsim table` on the default hardware, as a whole process (target: < 60 s on 2 cores;
the generation section adds about 1.5 s of CPU).

Usage: python benchmarks/bench_table.py [runs]
The first run may include Numba compilation (a cold cache); later runs load the on-disk cache.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time


def main(runs: int) -> None:
    times = []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "simulator", "table", "--out", out], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        print(f"run {i + 1}: {times[-1]:.2f} s")
    print(f"attnsim table: min {min(times):.2f} s, max {max(times):.2f} s over {runs} runs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
