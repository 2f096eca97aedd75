"""Generation-time numbers and speed: every bundled model config's decode step on every bundled
hardware config (per generated token: MACs, DRAM bytes, cycles, seconds, bound), and how long the
count-only simulation of each takes.

Usage: python benchmarks/bench_generation.py [context ...]   (default contexts: 4095 and 8191,
i.e. the token at position 4096 and 8192; GPT-2 is capped at its 1024 positions)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

from simulator import load_hardware, simulate
from simulator.checks import Checker
from simulator.models.block import model_run
from simulator.models.config import load_model_config
from simulator.models.report import model_frame
from simulator.models.workload import model_workload
from simulator.report import markdown_table

ROOT = Path(__file__).resolve().parent.parent
DECODERS = ("llama3_8b_shaped", "gpt2_124m")


def per_token_rows(model: str, context: int, configs) -> list[dict]:
    shape = load_model_config(ROOT / "models" / f"{model}.json")
    run = model_run(Checker("bench"), "", shape, "decode", context)
    workload = model_workload(run)
    simulate(workload, configs)                       # warm (compilation, plans)
    start = time.perf_counter()
    results = simulate(workload, configs)
    elapsed = time.perf_counter() - start
    frame = model_frame(results, run)
    rows = []
    for _, r in frame[frame["layer"] == "per token"].iterrows():
        rows.append({"model": model, "context": context, "hw": r["hw"], "macs_per_token": int(r["macs"]),
                     "dram_bytes_per_token": int(r["dram_read_bytes"] + r["dram_write_bytes"]),
                     "cycles_per_token": int(r["cycles"]), "ms_per_token": round(r["seconds"] * 1e3, 3),
                     "utilization": round(float(r["utilization"]), 4),
                     "kv_cache_bytes_per_sequence": int(r["kv_cache_bytes"]), "bound": r["bound"],
                     "simulated_in_ms": round(elapsed * 1e3 / len(configs), 2)})
    return rows


def main(contexts) -> None:
    configs = [load_hardware(p) for p in sorted((ROOT / "hw_configs").glob("*.yaml"))]
    rows = []
    for model in DECODERS:
        limit = load_model_config(ROOT / "models" / f"{model}.json").max_positions
        for ctx in sorted({min(c, limit - 1) for c in contexts}):
            rows += per_token_rows(model, ctx, configs)
    print(markdown_table(pd.DataFrame(rows)))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [4095, 8191])
