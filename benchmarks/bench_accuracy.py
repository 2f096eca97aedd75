"""The error of each number format on the BERT-base layer (workloads/bert_base_layer.yaml): the
functional run against the float64 reference of the same graph on the same inputs, the columns
`attnsim run --functional` adds, and what the error columns cost.

Usage: python benchmarks/bench_accuracy.py [--ops]
Every format runs on default.yaml's array and memories with only `number_format` changed, seed 0.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.common import print_table  # noqa: E402
from simulator import load_hardware, load_workload, simulate, to_frame  # noqa: E402
from simulator.hardware import Hardware  # noqa: E402

FORMATS = ("fp32", "fp16", "bf16", "int8")


def with_format(hw: Hardware, fmt: str) -> Hardware:
    return Hardware.from_dict(dict(hw.raw, number_format=fmt, name=f"default_{fmt}"), source=hw.source)


def main(ops: bool) -> None:
    base = load_hardware(ROOT / "hw_configs" / "default.yaml")
    wl = load_workload(ROOT / "workloads" / "bert_base_layer.yaml")
    rows, op_rows = [], []
    for fmt in FORMATS:
        start = time.perf_counter()
        results = simulate(wl, with_format(base, fmt), functional=True, seed=0)
        simulated = time.perf_counter() - start
        frame = to_frame(results)
        errors = time.perf_counter() - start - simulated
        for r in frame.itertuples():
            rows.append([fmt, r.layer, f"{r.max_abs_error:.3g}", f"{r.rel_rms_error:.2e}", f"{r.sqnr_db:.1f}"])
        rows.append([fmt, "(time)", f"simulate {simulated:.2f} s", f"error columns {errors:.2f} s", ""])
        if ops:
            for r in to_frame(results, level="op").itertuples():
                if r.kind != "layout":
                    op_rows.append([fmt, r.layer, r.op, f"{r.rel_rms_error:.2e}", f"{r.sqnr_db:.1f}"])
    print("BERT-base layer on default.yaml's array, seed 0: error against the float64 reference")
    print_table(["format", "layer", "max_abs_error", "rel_rms_error", "sqnr_db"], rows)
    if ops:
        print()
        print_table(["format", "layer", "op", "rel_rms_error", "sqnr_db"], op_rows)


if __name__ == "__main__":
    main("--ops" in sys.argv)
