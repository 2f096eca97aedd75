"""The mappers: how good the default mapping is, and how fast both mappers are, against a baseline.

Usage: python benchmarks/bench_mapper.py [--baseline REV] [--quick]
* Quality: over a grid of attention-shaped GEMMs (QK^T, AV, projections, FFN; plain and causal) and
  layers of every variant, on every bundled hardware config, the default (heuristic) mapping's total
  cycles over the search's: median, p95, max, share within 10% and within 25%; and how often the
  default is slower than the naive whole-extent mapping where that fits (the target is never).
* Speed, this tree and the baseline (default: d7b599f, the commit before the mapper rework), each
  in fresh processes on this machine in this run: the search (and the heuristic) per op with cold
  caches on the GEMMs of a BERT-base layer on every bundled config; and both mappers' layer
  evaluations per second over benchmarks/bench_sweep.py's BERT-base grid (the search gets its
  64-point corner), evaluated in one process after a first pass has built the graphs and loaded
  the kernels, with the mapping caches cleared (every design point maps every op afresh).
Prints tables; asserts nothing. The baseline is extracted with `git archive` into a temporary folder.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402

BASELINE = "d7b599f"

# Run in a subprocess from either tree: per-op search (and heuristic) times with cold caches.
PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from simulator import load_hardware, load_workload, mapper, search
from simulator.graph import Gemm
from simulator.simulate import layer_graph
root = Path(sys.argv[2])
hws = [load_hardware(p) for p in sorted((root / "hw_configs").glob("*.yaml"))]
wl = load_workload(root / "workloads" / "bert_base_layer.yaml")
ops = {(o.m, o.k, o.n, o.batch): o for s in wl.layers for o in layer_graph(s).ops if isinstance(o, Gemm)}
ops = list(ops.values())
def heuristic(op, hw):
    try:
        return mapper.default_gemm_mapping(op, hw)                       # this tree
    except TypeError:
        return mapper.default_gemm_mapping((op.m, op.k, op.n), hw, op.mask, op.mask_axis)   # baseline
def clear():
    search.clear_cache()
    getattr(mapper, "clear_cache", getattr(getattr(mapper, "_heuristic", None), "cache_clear", lambda: None))()
for hw in hws[:1]:
    for op in ops:
        search.search_gemm(op, hw)                                       # compile the kernels first
out = {"search_ms": {}, "heuristic_us": {}}
for hw in hws:
    for op in ops:
        best_s = best_h = 1e9
        for _ in range(3):
            clear()
            t = time.perf_counter(); heuristic(op, hw); best_h = min(best_h, time.perf_counter() - t)
            clear()
            t = time.perf_counter(); search.search_gemm(op, hw); best_s = min(best_s, time.perf_counter() - t)
        key = f"{hw.name} {op.batch}x{op.m}x{op.k}x{op.n}"
        out["search_ms"][key] = best_s * 1e3
        out["heuristic_us"][key] = best_h * 1e6
print(json.dumps(out))
"""


# Run in a subprocess from either tree: bench_sweep.py's BERT-base sweep evaluated in this process,
# once to build graphs, path lengths and compiled kernels, then timed with the mapping caches cleared
# (every design point is new hardware, so every op is mapped afresh, as in a sweep with a cold cache).
SWEEP_PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
from benchmarks.bench_sweep import bert_sweep
from simulator import mapper, search
from simulator.sweep.evaluate import EvalContext, evaluate_chunk
from simulator.sweep.spec import sweep_from_dict
name = sys.argv[3]
spec = sweep_from_dict(bert_sweep(name), source="<bench>")
ctx = EvalContext.from_spec(spec)
def clear():
    search.clear_cache()
    getattr(mapper, "clear_cache", getattr(getattr(mapper, "_heuristic", None), "cache_clear", lambda: None))()
evaluate_chunk(ctx, 0, spec.n_points)
best = 1e9
for _ in range(2):
    clear()
    t = time.perf_counter()
    chunk = evaluate_chunk(ctx, 0, spec.n_points)
    best = min(best, time.perf_counter() - t)
print(json.dumps({"evals": len(chunk.rows), "seconds": best, "rate": len(chunk.rows) / best}))
"""


def quality_items():
    """(kind, name, workload dict) of every grid item: one GEMM or one layer per workload."""
    items = []
    for n in (64, 128, 256, 512):
        for d in (64, 256, 768):
            h = max(1, d // 64)
            for name, (m, k, nn, batch) in {"proj": (n, d, d, 1), "qk": (n, 64, n, h), "av": (n, n, 64, h),
                                            "ffn_in": (n, d, 4 * d, 1), "ffn_out": (n, 4 * d, d, 1)}.items():
                items.append(("gemm", f"{name} n={n} d={d}",
                              {"variant": "gemm", "m": m, "k": k, "n": nn, "batch": batch}))
    for n, d in ((128, 256), (512, 768)):
        items += [("layer", f"self_attention n={n} d={d}", {"variant": "self_attention", "n": n, "d": d}),
                  ("layer", f"self_attention causal n={n}", {"variant": "self_attention", "n": n, "d": d, "causal": True}),
                  ("layer", f"self_attention fused n={n}", {"variant": "self_attention", "n": n, "d": d, "fused": True}),
                  ("layer", f"multi_head_attention n={n}", {"variant": "multi_head_attention", "n": n, "d": d,
                                                            "heads": d // 64}),
                  ("layer", f"multi_head_attention causal n={n}", {"variant": "multi_head_attention", "n": n, "d": d,
                                                                   "heads": d // 64, "causal": True}),
                  ("layer", f"restricted n={n}", {"variant": "restricted_self_attention", "n": n, "d": d, "window": 65}),
                  ("layer", f"convolutional n={n}", {"variant": "convolutional", "n": n, "d": d, "kernel": 3}),
                  ("layer", f"position_embedding n={n}", {"variant": "position_embedding", "n": n, "d": d}),
                  ("layer", f"attention_over_attention n={n}", {"variant": "attention_over_attention", "doc_len": n,
                                                                "query_len": 30, "d": d})]
        for cell in ("rnn", "lstm", "gru"):
            items.append(("layer", f"recurrent {cell} n={n // 4}", {"variant": "recurrent", "n": n // 4, "d": d,
                                                                    "cell": cell}))
        for score in ("dot", "general", "concat"):
            items.append(("layer", f"global {score} t={n // 8}", {"variant": "global_attention", "target_len": n // 8,
                                                                  "source_len": n // 8 + 2, "d": d, "score": score}))
        for mode in ("local_m", "local_p"):
            items.append(("layer", f"local {mode} t={n // 8}", {"variant": "local_attention", "mode": mode,
                                                                "target_len": n // 8, "source_len": n // 8 + 2,
                                                                "d": d, "window_radius": 10, "score": "general"}))
        for sampling in ("soft", "sample", "argmax"):
            items.append(("layer", f"hard {sampling} n={n // 2}", {"variant": "hard_attention", "n": n // 2, "d": d,
                                                                   "queries": 16, "sampling": sampling}))
    for n in (128, 256, 512):      # masked GEMMs: causal scores and context
        items.append(("layer", f"causal core n={n} (masked GEMMs)", {"variant": "self_attention", "n": n, "d": 64,
                                                                     "causal": True}))
    return items


def quality(quick: bool):
    from simulator import load_hardware, load_workload, simulate
    from simulator.engine import run_gemm
    from simulator.enums import Counter
    from simulator.graph import Gemm
    from simulator.mapping import GemmMapping, footprint_bytes
    from simulator.simulate import layer_graph

    hws = [load_hardware(p) for p in sorted((ROOT / "hw_configs").glob("*.yaml"))]
    items = quality_items()[::4] if quick else quality_items()
    rows, naive_checked, naive_worse = [], 0, 0
    start = time.perf_counter()
    for kind, name, layer in items:
        wl = load_workload({"name": "grid", "layers": [dict(layer, name="x")]})
        for hw in hws:
            h = simulate(wl, hw)[0]
            s = simulate(wl, hw, mapper="search")[0]
            rows.append((kind, name, hw.name, h.cycles, s.cycles))
            for op in layer_graph(wl.layers[0]).ops:       # the naive whole-extent mapping, where it fits
                if isinstance(op, Gemm) and not isinstance(op.mask, str) and \
                        footprint_bytes((op.m, op.k, op.n), hw.bytes_per_element) <= hw.on_chip[0].usable_bytes:
                    whole = run_gemm(op, hw, GemmMapping(((op.m, op.k, op.n),), ("mnk",))).counts[Counter.CYCLES]
                    mine = next(r for r in h.ops if r.op == op.name).cycles
                    naive_checked += 1
                    naive_worse += mine > whole
    return rows, naive_checked, naive_worse, time.perf_counter() - start


def distribution(ratios) -> list:
    r = sorted(ratios)
    return [len(r), f"{statistics.median(r):.4f}", f"{r[min(len(r) - 1, int(0.95 * len(r)))]:.4f}", f"{r[-1]:.4f}",
            f"{sum(x <= 1.10 for x in r) / len(r):.1%}", f"{sum(x <= 1.25 for x in r) / len(r):.1%}"]


def baseline_tree(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "simulator", "benchmarks", "hw_configs",
                              "workloads"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def probe(tree: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tree), str(ROOT)], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sweep_rate(tree: Path, mapper: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", SWEEP_PROBE, str(tree), str(ROOT), mapper], capture_output=True,
                          text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(rev: str, quick: bool) -> None:
    rows, checked, worse, seconds = quality(quick)
    print(f"Default (heuristic) / search total cycles, {len(rows)} items = grid x {len({r[2] for r in rows})} "
          f"bundled configs ({seconds:.0f} s)")
    table = [[kind] + distribution([r[3] / r[4] for r in rows if kind in ("all", r[0])])
             for kind in ("gemm", "layer", "all")]
    print_table(["items", "count", "median", "p95", "max", "within 10%", "within 25%"], table)
    print(f"default slower than the naive whole-extent mapping (where it fits): {worse} of {checked} GEMM ops")
    worst = sorted(rows, key=lambda r: -r[3] / r[4])[:5]
    print("largest ratios: " + "; ".join(f"{n} on {hw}: {h:,} / {s:,} = {h / s:.3f}" for _, n, hw, h, s in worst))
    with tempfile.TemporaryDirectory() as tmp:
        old = baseline_tree(rev, Path(tmp))
        per_op = {"this tree": probe(ROOT), f"baseline {rev}": probe(old)}
        rates = {(tree, mapper): sweep_rate(path, mapper) for tree, path in (("this tree", ROOT), (f"baseline {rev}", old))
                 for mapper in ("heuristic", "search")}
    print()
    new, base = per_op["this tree"], per_op[f"baseline {rev}"]
    keys = list(new["search_ms"])
    print("Search per op, cold caches (best of 3), the distinct GEMMs of workloads/bert_base_layer.yaml")
    print_table(["hw, batch x M x K x N", "this tree ms", f"{rev} ms", "speed-up", "heuristic us (this)",
                 f"heuristic us ({rev})"],
                [[k, f"{new['search_ms'][k]:.2f}", f"{base['search_ms'][k]:.2f}",
                  f"{base['search_ms'][k] / new['search_ms'][k]:.1f}x", f"{new['heuristic_us'][k]:.0f}",
                  f"{base['heuristic_us'][k]:.0f}"] for k in keys])
    total_new = sum(new["search_ms"].values())
    total_base = sum(base["search_ms"].values())
    print(f"all ops: {total_new:.1f} ms vs {total_base:.1f} ms, {total_base / total_new:.1f}x")
    print()
    print("Layer evaluations per second, bench_sweep.py's BERT-base sweep in one process (graphs and kernels "
          "warm, mapping caches cleared; best of 2)")
    print_table(["tree", "mapper", "layer evals", "eval s", "evals/s"],
                [[t, m, r["evals"], f"{r['seconds']:.2f}", f"{r['rate']:,.0f}"] for (t, m), r in rates.items()])
    for mapper in ("heuristic", "search"):
        ratio = rates[("this tree", mapper)]["rate"] / rates[(f"baseline {rev}", mapper)]["rate"]
        print(f"{mapper}: this tree / baseline = {ratio:.2f}x")


if __name__ == "__main__":
    args = sys.argv[1:]
    rev = args[args.index("--baseline") + 1] if "--baseline" in args else BASELINE
    main(rev, quick="--quick" in args)
