"""What tied and derived keys and constraints cost, and what tying saves.

Usage: python benchmarks/bench_sweep_expand.py
* The expansion on its own: loading a sweep file whose grid has 1,000,000 points with the sections
  of sweeps/square_arrays.yaml (the load evaluates every point's derived keys and early constraints,
  to report per-point errors before anything runs) against the same grid without them; and per point
  in a worker: the values and constraints, next to validating the point's hardware dict.
* sweeps/square_arrays.yaml end to end as a process (its summary lines), against the same sweep with
  mac_array.cols swept in hw_grid instead of tied (the full rows x cols product, 150 points).
Prints tables; asserts nothing. Folders are temporary.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import best_of, print_table  # noqa: E402
from simulator.hardware import Hardware  # noqa: E402
from simulator.sweep.grid import apply_values  # noqa: E402
from simulator.sweep.spec import sweep_from_dict  # noqa: E402

SQUARE = ROOT / "sweeps" / "square_arrays.yaml"


def square(**changes) -> dict:
    sweep = yaml.safe_load(SQUARE.read_text())
    sweep.update(base_hw=str(ROOT / sweep["base_hw"]), workloads=[str(ROOT / w) for w in sweep["workloads"]])
    sweep.update(changes)
    return sweep


def million() -> dict:
    return {"mac_array.rows": list(range(1, 101)), "mac_array.dataflow": ["weight_stationary", "output_stationary"],
            "memories[0].size_bytes": [2 ** k for k in range(10, 30)], "clock_hz": [1.0e9 + i for i in range(250)]}


def expansion_rows() -> list:
    rows = []
    for label, sweep in (("hw_grid only", square(hw_grid=million(), tied=None, derived=None, constraints=None)),
                         ("tied + 2 derived + 2 constraints", square(hw_grid=million()))):
        start = time.perf_counter()
        spec = sweep_from_dict({k: v for k, v in sweep.items() if v is not None}, source="<bench>")
        load_s = time.perf_counter() - start
        exp = spec.expansion
        per_point = best_of(lambda: exp.failing(exp.env(123_457), 123_457, late=False))
        rows.append([label, f"{spec.n_points:,}", f"{load_s:.2f}", f"{load_s / spec.n_points * 1e6:.2f}",
                     f"{per_point * 1e6:.2f}", f"{spec.filtered_early:,}"])
    spec = sweep_from_dict(square(hw_grid=million()), source="<bench>")
    data = apply_values(spec.base_data, spec.hw_parts, spec.point_values(123_457))
    validate = best_of(lambda: Hardware.from_dict(data, source="<bench>"))
    rows.append(["(validating one point's hardware)", "", "", "", f"{validate * 1e6:.2f}", ""])
    return rows


def end_to_end(label: str, sweep: dict) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(yaml.safe_dump({k: v for k, v in sweep.items() if v is not None}, sort_keys=False))
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "simulator", "sweep", str(path), "--out", str(Path(tmp) / "o"),
                               "--jobs", "1"], capture_output=True, text=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - start
    lines = proc.stderr.strip().splitlines()
    return [label, f"{wall:.2f}", lines[-2], lines[-1]]


def main() -> None:
    print("Expansion of a 1,000,000-point grid (load: parse, check, evaluate every point's derived keys and")
    print("early constraints); 'us per point' in a worker: the point's values and early constraints")
    print_table(["sections", "points", "load s", "load us/point", "us per point", "filtered early"], expansion_rows())
    print()
    print("sweeps/square_arrays.yaml as a process (--jobs 1), and the same sweep with cols swept, not tied")
    full = square(tied=None, hw_grid={**square()["hw_grid"], "mac_array.cols": [8, 16, 32, 64, 128]})
    for row in (end_to_end("tied (30 points)", square()), end_to_end("rows x cols (150 points)", full)):
        print(f"{row[0]}: wall {row[1]} s")
        print(f"  {row[2]}\n  {row[3]}")


if __name__ == "__main__":
    main()
