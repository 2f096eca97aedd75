"""The overlapped schedule: what it changes, and what it costs.

Usage: python benchmarks/bench_schedule.py [--quick]
* Cost: count-only simulation of workloads/bert_base_layer.yaml (3 layers) with the overlapped and
  the serial schedule, in one run: warm (the same hardware object, its schedule plans kept, as a
  loop over one design keeps its mapped GEMM plans) and cold (a fresh hardware object each time,
  as every sweep point is). Target: overlapped warm <= 2x serial warm.
* Before/after: serial vs overlapped cycles and per-unit utilisation (busy / cycles) of the
  BERT-base attention layer, fused attention at n = 4096, and an LSTM layer on every bundled config;
  the heads question (12 heads of 64 vs one of 768) on 32x32, 64x64 and 128x128 arrays.
Prints tables; asserts nothing.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.common import best_of, print_table  # noqa: E402
from simulator import load_hardware, load_workload, simulate  # noqa: E402
from simulator.hardware import Hardware  # noqa: E402

LAYERS = {
    "BERT-base attention (n=512)": {"variant": "multi_head_attention", "n": 512, "d": 768, "heads": 12},
    "fused attention (n=4096)": {"variant": "multi_head_attention", "n": 4096, "d": 768, "heads": 12, "fused": True},
    "LSTM (n=512, d=512)": {"variant": "recurrent", "n": 512, "d": 512, "cell": "lstm"},
}


def cost_table() -> None:
    hw = load_hardware(ROOT / "hw_configs" / "default.yaml")
    wl = load_workload(ROOT / "workloads" / "bert_base_layer.yaml")

    def fresh():
        return Hardware.from_dict(hw.raw, source=hw.source)

    rows = []
    for mode in ("serial", "overlapped"):
        warm = best_of(lambda: simulate(wl, hw, schedule=mode), repeat=7, min_time=0.3)
        cold = best_of(lambda: simulate(wl, fresh(), schedule=mode), repeat=5, min_time=0.3)
        rows.append([mode, f"{warm * 1e6:,.0f}", f"{cold * 1e6:,.0f}"])
    base_warm, base_cold = (float(x.replace(",", "")) for x in rows[0][1:])
    for r in rows:
        r += [f"{float(r[1].replace(',', '')) / base_warm:.2f}x", f"{float(r[2].replace(',', '')) / base_cold:.2f}x"]
    print("count-only bert_base_layer (3 layers) on default.yaml, microseconds per workload evaluation")
    print_table(["schedule", "warm us", "cold us", "warm vs serial", "cold vs serial"], rows)


def before_after(quick: bool) -> None:
    configs = sorted((ROOT / "hw_configs").glob("*.yaml"))
    rows = []
    for label, layer in LAYERS.items():
        for path in configs:
            if quick and path.stem not in ("default", "tpu_v1"):
                continue
            hw = load_hardware(path)
            (r,) = simulate(load_workload({"name": "b", "layers": [dict(layer, name="l")]}), hw)
            busy = r.schedule.busy
            rows.append([label, hw.name, f"{r.serial_cycles:,}", f"{r.cycles:,}", f"{r.serial_cycles / r.cycles:.3f}",
                         f"{busy['array'] / r.serial_cycles:.2f} -> {busy['array'] / r.cycles:.2f}",
                         f"{busy['vector'] / r.serial_cycles:.2f} -> {busy['vector'] / r.cycles:.2f}",
                         f"{busy['dram_read'] / r.cycles:.2f}", f"{busy['dram_write'] / r.cycles:.2f}"])
    print("\nserial -> overlapped, utilisation = busy cycles / layer cycles (serial -> overlapped)")
    print_table(["layer", "hw", "serial cycles", "overlapped", "speed-up", "array", "vector", "dram read",
                 "dram write"], rows)


def heads_question() -> None:
    from simulator.table.extensions import heads_question as measure
    from simulator.table.settings import TableSettings

    s = TableSettings()                      # the sizes attnsim table measures at
    frame = measure(load_hardware(ROOT / "hw_configs" / "default.yaml"), s.heads_arrays, s.heads_n, s.heads_d)
    rows = [[r.array, r.heads, f"{r.serial_cycles:,}", f"{r.cycles:,}", f"{r.serial_cycles / r.cycles:.3f}",
             f"{r.serial_utilization:.3f}", f"{r.utilization:.3f}"] for r in frame.itertuples()]
    print("\nthe heads question on default.yaml's memories (attnsim table's heads.csv)")
    print_table(["array", "heads", "serial cycles", "overlapped", "speed-up", "serial util", "overlapped util"], rows)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    cost_table()
    before_after(quick)
    heads_question()
