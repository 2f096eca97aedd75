"""The mapping search (simulator/search.py, docs/search_mapper.md).

* never worse than the heuristic, by every objective, over a fixed random grid of ops and hardware;
* on tiny problems equal to an exhaustive enumeration written here, independently, on run_gemm;
* deterministic (repeated calls, cleared cache, a fresh process);
* its mapping is legal and is the string the op-level report shows;
* a reconfigurable array lets it pick another dataflow when that is better.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator import cost, mapeval, search, simulate, to_frame
from simulator.engine import run_gemm
from simulator.enums import Counter, Dataflow
from simulator.graph import Gemm, RowRanges
from simulator.kernels.params import LOOP_ORDERS
from simulator.mapper import OBJECTIVES, default_gemm_mapping
from simulator.mapping import GemmMapping, check_gemm_mapping
from simulator.workload import load_workload
from tests.helpers import make_hw

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ("output_stationary", "weight_stationary", "input_stationary")


def objective_value(counts, hw, objective):
    cycles = int(counts[Counter.CYCLES])
    energy = float(cost.energy_pj(counts, hw))
    return {"cycles": cycles, "energy": energy, "edp": energy * cycles}[objective]


def value_of(op, hw, mapping, objective):
    return objective_value(run_gemm(op, hw, mapping).counts, hw, objective)


def causal(rows, length, shift=0):
    hi = np.minimum(np.arange(rows) + 1 + shift, length)
    return RowRanges.from_arrays(np.zeros(rows, np.int64), np.maximum(hi, 0))


def band(rows, length, width):
    i = np.arange(rows)
    return RowRanges.from_arrays(np.clip(i - width, 0, length), np.clip(i + width + 1, 0, length))


# --- never worse than the heuristic --------------------------------------------------------------

def random_cases(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        m, k, n = (int(x) for x in rng.integers(1, 201, 3))
        batch = int(rng.integers(1, 4))
        mask_axis, mask = "n", None
        if rng.random() < 0.4:
            mask_axis = "n" if rng.random() < 0.5 else "k"
            length = n if mask_axis == "n" else k
            mask = (causal(m, length, int(rng.integers(0, 4))) if rng.random() < 0.5
                    else band(m, length, int(rng.integers(0, 9))))
        op = Gemm(f"g{i}", "a", "b", "c", m, k, n, batch=batch, shared_b=bool(rng.random() < 0.3),
                  mask=mask, mask_axis=mask_axis, step_barrier=bool(rng.random() < 0.15))
        rows, cols = (int(x) for x in rng.integers(1, 9, 2))
        eb = 4
        need = 3 * max(rows, cols) ** 2 * eb       # the heuristic's smallest tile fits
        nlev = 1 if rng.random() < 0.6 else 2
        sizes = [int(2 * need * rng.integers(1, 40))]
        if nlev == 2:
            sizes.append(int(sizes[0] * rng.integers(2, 30)))
        kind = rng.integers(0, 3)
        flow = (FLOWS[int(rng.integers(0, 3))] if kind == 0 else list(FLOWS) if kind == 1
                else [FLOWS[j] for j in rng.permutation(3)[:2]])
        hw = make_hw(rows=rows, cols=cols, dataflow=flow, levels=sizes,
                     fold_overlap="pipelined" if rng.random() < 0.5 else "serial",
                     double_buffered=bool(rng.random() < 0.8), dram_bw=float(rng.choice([2.0, 8.0, 32.0])))
        cases.append((op, hw))
    return cases


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_never_worse_than_heuristic_and_scores_agree_with_run_gemm(seed):
    for op, hw in random_cases(18, seed):
        heuristic = default_gemm_mapping(op, hw)
        base = run_gemm(op, hw, heuristic).counts
        for objective in OBJECTIVES:
            result = search.search_gemm(op, hw, objective)
            check_gemm_mapping(result.mapping, (op.m, op.k, op.n), hw)
            counts = run_gemm(op, hw, result.mapping).counts
            got = objective_value(counts, hw, objective)
            want = objective_value(base, hw, objective)
            assert got <= want, (op, hw.mac_array, objective, result)
            # the batched evaluation is the engine's: same counts through run_gemm
            assert got == result.score and int(counts[Counter.CYCLES]) == result.cycles
            assert result.heuristic_score == want
            if op.mask is not None:
                assert int(counts[Counter.MACS]) == op.useful_macs    # the mask was kept


def test_searches_where_the_heuristic_finds_no_tile():
    hw = make_hw(rows=4, cols=7, sram_bytes=2 * 84 * 4)        # an array-sized tile of each operand, no more
    op = Gemm("g", "a", "b", "c", 30, 20, 25)
    with pytest.raises(Exception):
        default_gemm_mapping(op, hw)
    result = search.search_gemm(op, hw, "cycles")
    assert result.heuristic_score is None
    check_gemm_mapping(result.mapping, (30, 20, 25), hw)
    assert value_of(op, hw, result.mapping, "cycles") == result.score


# --- exhaustive on tiny problems ------------------------------------------------------------------

def every_mapping(dims, hw):
    """Every legal mapping: each tile size 1..dim per axis per level that nests and fits, every loop
    order per level, every dataflow (written independently of simulator/search.py)."""
    levels = hw.on_chip
    eb = hw.bytes_per_element
    flows = hw.mac_array.dataflows

    def chains(level, bound):
        if level < 0:
            yield ()
            return
        for tile in itertools.product(*(range(1, b + 1) for b in bound)):
            if any(bound[d] != dims[d] and bound[d] % tile[d] for d in range(3)):
                continue
            tm, tk, tn = tile
            if (tm * tk + tk * tn + tm * tn) * eb > levels[level].usable_bytes:
                continue
            for inner in chains(level - 1, tile):
                yield inner + (tile,)

    for tiles in chains(len(levels) - 1, dims):
        for orders in itertools.product(LOOP_ORDERS, repeat=len(levels)):
            for flow in flows:
                yield GemmMapping(tiles, orders, flow if len(flows) > 1 else None)


TINY = [
    # (M, K, N), batch, mask ("n" / "k" / None), hardware
    ((5, 4, 6), 1, None, dict(rows=2, cols=2, dataflow=list(FLOWS), sram_bytes=2 * 40 * 4)),
    ((7, 3, 5), 2, "n", dict(rows=2, cols=3, dataflow=list(FLOWS), fold_overlap="pipelined", sram_bytes=2 * 48 * 4)),
    ((6, 6, 4), 1, "k", dict(rows=1, cols=1, dataflow=["input_stationary", "output_stationary"],
                             sram_bytes=30 * 4, double_buffered=False)),
    ((8, 5, 3), 3, None, dict(rows=3, cols=2, dataflow="weight_stationary", sram_bytes=2 * 60 * 4, dram_bw=2.0)),
    ((4, 3, 4), 1, None, dict(rows=1, cols=2, dataflow="output_stationary", levels=[2 * 12 * 4, 2 * 30 * 4])),
    ((3, 4, 4), 2, "n", dict(rows=2, cols=1, dataflow="weight_stationary", fold_overlap="pipelined",
                             levels=[2 * 12 * 4, 2 * 32 * 4], dram_bw=4.0)),
]


@pytest.mark.parametrize("case", range(len(TINY)))
def test_tiny_problems_equal_exhaustive_enumeration(case):
    dims, batch, mask_axis, hw_kwargs = TINY[case]
    hw = make_hw(**hw_kwargs)
    mask = None
    if mask_axis is not None:
        mask = causal(dims[0], dims[2] if mask_axis == "n" else dims[1], shift=1)
    op = Gemm("tiny", "a", "b", "c", *dims, batch=batch, mask=mask, mask_axis=mask_axis or "n")
    counts = {m: run_gemm(op, hw, m).counts for m in every_mapping(dims, hw)}
    for objective in OBJECTIVES:
        best = min(objective_value(c, hw, objective) for c in counts.values())
        result = search.search_gemm(op, hw, objective)
        assert result.mode == "exhaustive"
        assert math.isclose(result.score, best, rel_tol=1e-12, abs_tol=0), (objective, result)
        assert math.isclose(value_of(op, hw, result.mapping, objective), best, rel_tol=1e-12, abs_tol=0)


def test_equivalent_loop_orders_walk_identically():
    """The only pruning the exhaustive space applies: orders that differ only in where a one-trip
    loop sits give the same counts, so one per class is enough."""
    rng = np.random.default_rng(5)
    hw = make_hw(rows=2, cols=3, levels=[2 * 200 * 4, 2 * 4000 * 4], fold_overlap="pipelined")
    for _ in range(12):
        dims = tuple(int(x) for x in rng.integers(2, 13, 3))
        outer = tuple(int(rng.choice([d, max(1, d // 2)])) for d in dims)
        outer = tuple(o if d % o == 0 or o == d else d for o, d in zip(outer, dims))
        inner = tuple(int(rng.choice([o, 1, 2])) if o % 2 == 0 else int(rng.choice([o, 1])) for o in outer)
        tiles = (inner, outer)
        op = Gemm("o", "a", "b", "c", *dims, batch=2)
        for orders in itertools.product(LOOP_ORDERS, repeat=2):
            canon = (search._canonical_order(orders[0], inner, outer),
                     search._canonical_order(orders[1], outer, dims))
            assert canon[0] in search._order_options(inner, outer)
            a = run_gemm(op, hw, GemmMapping(tiles, orders)).counts
            b = run_gemm(op, hw, GemmMapping(tiles, canon)).counts
            assert np.array_equal(a, b), (dims, tiles, orders, canon)


# --- the batched evaluation is the engine's ------------------------------------------------------

def test_batched_evaluation_equals_run_gemm():
    """The evaluation kernel walks each candidate exactly as run_gemm does (same counts), whatever
    ran before it in the same call."""
    hw = make_hw(rows=3, cols=2, dataflow=list(FLOWS), levels=[2 * 300 * 4, 2 * 3000 * 4])
    op = Gemm("s", "a", "b", "c", 17, 9, 13, batch=2, mask=band(17, 13, 2), mask_axis="n")
    cands = [(int(f), ((tm, 3, tn), (2 * tm, 9, 13)), (o0, o1))
             for f in Dataflow for tm in (1, 4) for tn in (2, 13) for o0 in ("mnk", "kmn") for o1 in ("nkm", "mkn")]
    rows = np.array([mapeval.row_of(*c) for c in cands], np.int64)
    for i, (flow, tiles, orders) in enumerate(cands):
        mapeval.clear_memo()
        # the candidate as the only seed, after all the others in the same call (fresh state each)
        order = np.concatenate([rows[i:i + 1], np.delete(rows, i, axis=0)])
        out = mapeval.evaluate(op, hw, order, "cycles", n_seeds=1, budget=0)
        want = run_gemm(op, hw, GemmMapping(tiles, orders, Dataflow(flow))).counts
        assert out.seed_scores[0] == int(want[Counter.CYCLES])
        if out.counts is not None and np.array_equal(out.best, rows[i]):
            assert np.array_equal(out.counts, want)
    walked = mapeval.evaluate(op, hw, rows, "cycles", n_seeds=len(rows))
    assert np.array_equal(walked.counts, run_gemm(op, hw, mapeval.mapping_of(walked.best, 2, True)).counts)


# --- determinism, caching ------------------------------------------------------------------------

def determinism_ops():
    hw = make_hw(rows=4, cols=4, dataflow=list(FLOWS), levels=[2 * 2000 * 4], fold_overlap="pipelined")
    hw2 = make_hw(rows=2, cols=4, dataflow="weight_stationary", levels=[2 * 500 * 4, 2 * 8000 * 4])
    ops = [Gemm("a", "a", "b", "c", 96, 40, 72, batch=2),
           Gemm("b", "a", "b", "c", 64, 16, 64, batch=3, mask=causal(64, 64), mask_axis="n"),
           Gemm("c", "a", "b", "c", 64, 64, 16, mask=causal(64, 64), mask_axis="k"),
           Gemm("d", "a", "b", "c", 120, 33, 50, shared_b=True, batch=2)]
    return [(op, h) for op in ops for h in (hw, hw2)]


def describe_all():
    return [search.search_gemm_mapping(op, hw, objective).describe()
            for op, hw in determinism_ops() for objective in OBJECTIVES]


def test_deterministic_across_calls_cache_and_processes():
    search.clear_cache()
    first = describe_all()
    assert describe_all() == first                       # cached
    search.clear_cache()
    assert describe_all() == first                       # recomputed
    script = ("import json; from tests.test_search_mapper import describe_all; "
              "print(json.dumps(describe_all()))")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == first


def test_cache_keys_on_content_and_prices_only_for_energy():
    search.clear_cache()
    hw = make_hw(rows=4, cols=4, sram_bytes=2 * 3000 * 4)
    pricier = make_hw(rows=4, cols=4, sram_bytes=2 * 3000 * 4, dram_bw=8.0)
    pricier = pricier.__class__(**{**pricier.__dict__, "name": "other"})
    op = Gemm("x", "a", "b", "c", 40, 30, 20, mask=causal(40, 20), mask_axis="n")
    same = Gemm("y", "p", "q", "r", 40, 30, 20, mask=causal(40, 20), mask_axis="n")
    other_mask = Gemm("z", "a", "b", "c", 40, 30, 20, mask=causal(40, 20, shift=3), mask_axis="n")
    search.search_gemm(op, hw)
    search.search_gemm(same, pricier)              # same shape, mask bytes and hardware fields: a hit
    assert search.cache_info()["hits"] == 1
    search.search_gemm(other_mask, hw)
    assert search.cache_info()["misses"] == 2
    dearer = make_hw(rows=4, cols=4, sram_bytes=2 * 3000 * 4)
    dearer = dearer.__class__(**{**dearer.__dict__, "memories": (
        dearer.memories[0], dearer.memories[1].__class__(**{**dearer.memories[1].__dict__, "read_pj_per_byte": 99.0}))})
    search.search_gemm(op, dearer, "cycles")       # prices do not matter to cycles
    assert search.cache_info()["hits"] == 2
    search.search_gemm(op, hw, "energy")
    search.search_gemm(op, dearer, "energy")       # ... but do to energy
    assert search.cache_info()["misses"] == 4


# --- reporting, dataflow choice ------------------------------------------------------------------

def test_report_shows_the_searched_mapping():
    hw = make_hw(rows=4, cols=4, dataflow=["weight_stationary", "output_stationary"], sram_bytes=2 * 4000 * 4,
                 fold_overlap="pipelined")
    wl = load_workload({"name": "w", "layers": [
        {"name": "attn", "variant": "multi_head_attention", "n": 24, "d": 16, "heads": 2, "causal": True},
        {"name": "ffn", "variant": "gemm", "m": 24, "k": 16, "n": 40}]})
    results = simulate(wl, hw, mapper="search", objective="energy")
    frame = to_frame(results, level="op")
    from simulator.simulate import layer_graph

    gemms = {(spec.name, op.name): op for spec in wl.layers for op in layer_graph(spec).ops if isinstance(op, Gemm)}
    rows = frame[frame["kind"] == "gemm"]
    assert len(rows) == len(gemms)
    for _, row in rows.iterrows():
        op = gemms[(row["layer"], row["op"])]
        mapping = search.search_gemm_mapping(op, hw, "energy")
        check_gemm_mapping(mapping, (op.m, op.k, op.n), hw)
        assert row["mapping"] == mapping.describe()
        assert row["mapping"].endswith(("weight_stationary", "output_stationary"))
    heuristic = to_frame(simulate(wl, hw), level="op")
    assert (frame["energy_pj"] <= heuristic["energy_pj"] * (1 + 1e-12)).all()


def test_reconfigurable_array_chooses_a_better_dataflow():
    # A GEMV (M = 1) on a weight-stationary array streams one row per fold: every fold pays the
    # full preload and skew.  Output-stationary streams K instead.  (Fast DRAM: compute-bound.)
    fast = dict(sram_bytes=1 << 16, dram_bw=256.0, sram_bw=512.0)
    hw = make_hw(rows=8, cols=8, dataflow=["weight_stationary", "output_stationary"], **fast)
    op = Gemm("gemv", "a", "b", "c", 1, 256, 256)
    result = search.search_gemm(op, hw, "cycles")
    assert result.mapping.dataflow == Dataflow.OUTPUT_STATIONARY
    assert "output_stationary" in result.mapping.describe()
    assert result.score < result.heuristic_score
    fixed = make_hw(rows=8, cols=8, dataflow="weight_stationary", **fast)
    only_ws = search.search_gemm(op, fixed, "cycles")
    assert only_ws.mapping.dataflow is None and result.score < 0.5 * only_ws.score
    assert value_of(op, hw, result.mapping, "cycles") == result.score
