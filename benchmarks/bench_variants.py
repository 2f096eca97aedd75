"""Whole-workload speed: count-only over every shipped workload x hardware config, and a functional
BERT-base layer against the plain numpy computation of the same layer.

Usage: python benchmarks/bench_variants.py
Targets (issue: the variants): count-only of everything < 2 s after compilation; functional
bert_base_layer <= 3x the numpy reference (float32, same operations, no simulation).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.common import print_table  # noqa: E402
from simulator import load_hardware, load_workload, simulate  # noqa: E402


def numpy_bert(inputs: dict, heads: int = 12) -> None:
    """The BERT layer of workloads/bert_base_layer.yaml in plain float32 numpy."""
    x = inputs["X"][0]
    n, d = x.shape
    dk = d // heads

    def split(y):
        return y.reshape(n, heads, dk).transpose(1, 0, 2)

    q, k, v = (split(x @ inputs[w][0]) for w in ("W_Q", "W_K", "W_V"))
    s = q @ k.transpose(0, 2, 1) * np.float32(1 / np.sqrt(dk))
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    o = (p @ v).transpose(1, 0, 2).reshape(n, d) @ inputs["W_O"][0]
    h = o @ _FFN[0]
    h @ _FFN[1]


_FFN = (np.ones((768, 3072), np.float32), np.ones((3072, 768), np.float32))


def main() -> None:
    hws = [load_hardware(p) for p in sorted((ROOT / "hw_configs").glob("*.yaml"))]
    wls = [load_workload(p) for p in sorted((ROOT / "workloads").glob("*.yaml"))]
    t0 = time.perf_counter()
    simulate(wls[0], hws[0])
    for wl in wls:
        simulate(wl, hws[0])
    print(f"first pass (compile or load the kernel cache): {time.perf_counter() - t0:.2f} s")
    rows, total = [], 0.0
    for wl in wls:
        start = time.perf_counter()
        results = simulate(wl, hws)
        elapsed = time.perf_counter() - start
        total += elapsed
        rows.append((wl.name, len(wl.layers), len(results), f"{elapsed * 1e3:.1f}"))
    print_table(("workload", "layers", "layer x hw results", "count-only ms"), rows)
    print(f"all {len(wls)} workloads x {len(hws)} hardware configs, count-only: {total:.3f} s\n")

    hw = next(h for h in hws if h.name == "default")
    fp32 = type(hw).from_dict({**hw.raw, "number_format": "fp32", "name": "default_fp32"})
    bert = load_workload(ROOT / "workloads" / "bert_base_layer.yaml")
    for config in (fp32, hw):
        draw, execute, total, reference = _functional_bert(bert, config)
        print(f"functional bert_base_layer on {config.name} ({config.format_name}): simulate() {total:.3f} s = "
              f"input drawing {draw:.3f} s + execution {execute:.3f} s; numpy computation of the same layer "
              f"{reference:.3f} s; execution / numpy = {execute / reference:.2f}x")


def _functional_bert(bert, config):
    """Fastest of three runs of each part, each part timed in its own phase (two BLAS pools)."""
    from simulator.engine import run_graph
    from simulator.simulate import draw_inputs
    from simulator.variants import REGISTRY

    graphs = [REGISTRY[s.variant].build(s) for s in bert.layers]
    stores = [draw_inputs(g, config, 0, i) for i, g in enumerate(graphs)]
    draw = min(_timed(lambda: [draw_inputs(g, config, 0, i) for i, g in enumerate(graphs)]) for _ in range(3))
    execute = min(_timed(lambda: [run_graph(g, config, dict(st)) for g, st in zip(graphs, stores)]) for _ in range(3))
    total = min(_timed(lambda: simulate(bert, config, functional=True)) for _ in range(3))
    inputs = {k: np.asarray(v, np.float32) for k, v in stores[0].items()}
    time.sleep(0.2)
    reference = min(_timed(lambda: numpy_bert(inputs)) for _ in range(3))
    return draw, execute, total, reference


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
