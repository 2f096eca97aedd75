"""The heuristic's one-level search on a cached candidate space (kernels/gemmspace.py) chooses what
the one-call search chose before it was split: the same mapping, the same counts, walked or not.

The oracle, `reference_plan`, is that earlier search written out here from the package's general
kernels (mapspace.level_tiles with the level's capacity, bounds.gemm_bounds on every fitting row,
evaluate.walk_best_first): it lists and bounds the candidates afresh for each hardware, with no
cache and no precomputed terms. Hypothesis draws GEMMs (batched, shared B, step barriers, masks
on n or k) and one-level hardware (array shape, dataflow, fold overlap, number format, level size,
bandwidths, double buffering), and each case also runs after other cases have filled the cache.
The GEMM bounds kept across hardware objects (engine._gemm_bound) are held to bounds.gemm_bound.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import mapper
from simulator.bounds import gemm_traffic_bound
from simulator.enums import Dataflow, n_counters
from simulator.errors import MappingError
from simulator.graph import Gemm, RowRanges
from simulator.kernels.bounds import EST_CYCLES, LB_CYCLES, LEVEL_BYTES, STEPS, gemm_bounds, hull_fractions
from simulator.kernels.bounds import masked_array_cycles
from simulator.kernels.evaluate import walk_best_first
from simulator.kernels.gemm import gemm_state_size
from simulator.kernels.mapspace import COARSE_WALKS, level_tiles
from simulator.kernels.params import LOOP_ORDERS
from simulator.lowering import lower_gemm
from simulator.mapeval import ORDER_RANKS, hw_arrays
from simulator.mapping import GemmMapping
from tests.helpers import make_hw

FLOWS = ("output_stationary", "weight_stationary", "input_stationary")
FORMATS = ("int8", "bf16", "fp32")


def reference_plan(op, hw):
    """(tiles, order, counts or None, stats) of the one-level heuristic, or the MappingError text."""
    flow = Dataflow(op.dataflow if op.dataflow is not None else hw.mac_array.dataflow)
    arr, eb = hw.mac_array, hw.bytes_per_element
    dims = np.array([op.m, op.k, op.n], np.int64)
    cap = hw.on_chip[0].usable_bytes // eb
    fits = (op.m * op.k + op.k * op.n + op.m * op.n) * eb <= hw.on_chip[0].usable_bytes
    units = mapper.axis_units(flow, arr.rows, arr.cols)
    sizes = [np.array(mapper.axis_sizes(u, int(d), int(d)), np.int64) for u, d in zip(units, dims)]
    if not fits and sizes[0][0] * sizes[1][0] + sizes[1][0] * sizes[2][0] + sizes[0][0] * sizes[2][0] > cap:
        return "no tile fits"
    table, count = mapper._ORDERS
    tiles = level_tiles(int(flow), *sizes, cap, dims, table, count, np.int64(1))
    seeds = np.array([[int(flow), op.m, op.k, op.n, 1]], np.int64)[:int(fits)]
    cands = np.concatenate([seeds, tiles])
    n, n_seeds = len(cands), len(seeds)
    plan = lower_gemm(op, GemmMapping(((op.m, op.k, op.n),), ("mnk",)), hw)
    masked = op.mask is not None
    lo, hi = (op.mask.lo, op.mask.hi) if masked else (plan.lo, plan.hi)
    mask_on_n = op.mask_axis == "n"
    frac = np.ones(n)
    pipelined = int(arr.fold_overlap) == 1
    if masked:
        hull_fractions(cands[:, 1].copy(), cands[:, 3 if mask_on_n else 2].copy(), lo, hi, op.m,
                       op.n if mask_on_n else op.k, frac)
    ha = hw_arrays(hw)
    out = np.zeros((n, LEVEL_BYTES + 4), np.int64)
    gemm_bounds(cands, dims, op.batch, bool(op.shared_b), bool(op.step_barrier), arr.rows, arr.cols, pipelined, eb,
                ha.unit_bw, ha.fill_bw, ha.drain_bw, ha.dbuf, frac, frac, out)
    lb, key = out[:, LB_CYCLES].astype(np.float64), out[:, EST_CYCLES].astype(np.float64)
    if masked:
        cyc = np.zeros(n, np.int64)
        masked_array_cycles(cands, lo, hi, op.m, op.n if mask_on_n else op.k, op.k if mask_on_n else op.n, mask_on_n,
                            pipelined, arr.rows, arr.cols, op.batch, bool(op.step_barrier), cyc)
        traffic = float(gemm_traffic_bound(op, hw))
        lb = np.array([max(float(c), traffic) for c in cyc])
        key = np.maximum(key, lb)
    coarsest = out[n_seeds:, STEPS].min() if n > n_seeds else 0
    budget = max(mapper.HEURISTIC_STEP_BUDGET + (op.batch if fits else 0),
                 int(out[:n_seeds, STEPS].sum()) + COARSE_WALKS * int(coarsest))
    stats = np.zeros(4, np.int64)
    counts = np.zeros(n_counters(hw.n_boundaries), np.int64)
    best, counted = walk_best_first(cands, lb, key, out[:, STEPS].copy(), n_seeds, budget, mapper.PRUNE_TOLERANCE,
                                    ha.flow_pos, ORDER_RANKS, plan.ip, plan.rates, lo, hi, gemm_state_size(1), stats,
                                    counts, np.full(n, -1, np.int64), np.zeros((0, len(counts)), np.int64),
                                    np.zeros(1, np.int64))
    row = cands[best]
    return (tuple(int(x) for x in row[1:4]), int(row[4])), (counts.tolist() if counted else None)


def package_plan(op, hw):
    """The same from mapper._heuristic (uncached mapping; the candidate space may be cached)."""
    outcome = mapper._heuristic(op, hw)
    if isinstance(outcome, MappingError):
        return "no tile fits"
    mapping, counts = outcome
    return (mapping.tiles[0], LOOP_ORDERS.index(mapping.orders[0])), (counts.tolist() if counts is not None else None)


@st.composite
def gemms(draw):
    m, k, n = draw(st.integers(1, 48)), draw(st.integers(1, 48)), draw(st.integers(1, 48))
    masked = draw(st.sampled_from([None, "n", "k"]))
    mask = None
    if masked:
        length = n if masked == "n" else k
        lo = [draw(st.integers(0, length)) for _ in range(m)]
        mask = RowRanges.from_arrays(lo, [draw(st.integers(x, length)) for x in lo])
    return Gemm("g", "a", "b", "c", m, k, n, batch=draw(st.integers(1, 3)), shared_b=draw(st.booleans()),
                step_barrier=draw(st.booleans()), mask=mask, mask_axis=masked or "n")


@st.composite
def one_level_hw(draw):
    return make_hw(rows=draw(st.integers(1, 8)), cols=draw(st.integers(1, 8)), dataflow=draw(st.sampled_from(FLOWS)),
                   fold_overlap=draw(st.sampled_from(["serial", "pipelined"])),
                   number_format=draw(st.sampled_from(FORMATS)),
                   sram_bytes=draw(st.sampled_from([1536, 2048, 8192, 1 << 16])),
                   sram_bw=draw(st.sampled_from([1.0, 3.0, 16.0, 64.0])),
                   dram_bw=draw(st.sampled_from([0.5, 2.0, 7.0, 64.0])),
                   double_buffered=draw(st.booleans()))


@settings(max_examples=200, deadline=None)
@given(op=gemms(), hw=one_level_hw())
def test_cached_space_chooses_what_the_one_call_search_chose(op, hw):
    expected = reference_plan(op, hw)
    assert package_plan(op, hw) == expected          # the space possibly cached by an earlier case
    mapper.clear_cache()
    assert package_plan(op, hw) == expected          # built afresh
    assert package_plan(op, hw) == expected          # from the space just cached


def cached_plan(op, hw):
    """The plan as the engine gets it: mapper.default_gemm_plan, through its cache."""
    try:
        mapping, counts = mapper.default_gemm_plan(op, hw)
    except MappingError:
        return "no tile fits"
    return (mapping.tiles[0], LOOP_ORDERS.index(mapping.orders[0])), (counts.tolist() if counts is not None else None)


MEMORIES = st.tuples(st.sampled_from([1536, 2048, 3072, 4096, 6144, 8192, 1 << 14, 1 << 16]),
                     st.sampled_from([0.5, 7.0]), st.sampled_from([3.0, 64.0]), st.booleans())


@settings(max_examples=80, deadline=None)
@given(op=gemms(), rows=st.integers(1, 8), cols=st.integers(1, 8), flow=st.sampled_from(FLOWS),
       number_format=st.sampled_from(FORMATS), memories=st.lists(MEMORIES, min_size=2, max_size=8))
def test_plans_cached_across_memories_are_the_fresh_ones(op, rows, cols, flow, number_format, memories):
    """One op on one array under a run of memories (size, DRAM and SRAM bandwidth, double
    buffering), the caches kept between them: the plan cache (keyed by which candidates fit), the
    candidate space, the kept walks and bounds (per bandwidths); each compared with a from-scratch
    search."""
    mapper.clear_cache()
    for size, dram_bw, sram_bw, double_buffered in memories + memories[::-1]:
        hw = make_hw(rows=rows, cols=cols, dataflow=flow, number_format=number_format, sram_bytes=size,
                     dram_bw=dram_bw, sram_bw=sram_bw, double_buffered=double_buffered)
        assert cached_plan(op, hw) == reference_plan(op, hw), (size, dram_bw, sram_bw, double_buffered)


@settings(max_examples=60, deadline=None)
@given(op=gemms(), hws=st.lists(one_level_hw(), min_size=1, max_size=4))
def test_gemm_bounds_kept_across_hardware_are_the_fresh_ones(op, hws):
    """engine._gemm_bound keeps bounds.gemm_bound per (op_key, walk_key) across hardware objects."""
    from simulator.bounds import gemm_bound
    from simulator.engine import _gemm_bound

    for hw in hws + hws:
        assert _gemm_bound(op, hw) == gemm_bound(op, hw)


def test_lru_bounds_entries_and_bytes():
    from simulator.lru import Lru

    made = []
    memo = Lru(3, max_bytes=100, weigh=lambda entry: entry)
    for key, weight in [("a", 10), ("b", 20), ("c", 30), ("a", 10), ("d", 50), ("e", 500)]:
        memo.get(key, lambda w=weight, k=key: made.append(k) or w)
    assert made == ["a", "b", "c", "d", "e"]           # "a" came from the memo the second time
    assert list(memo.table) == ["e"] and memo.bytes == 500   # the newest stays even when alone too big
    memo.get("f", lambda: 1)
    assert list(memo.table) == ["f"] and memo.bytes == 1
    small = Lru(2)
    for key in "abcb":
        small.get(key, lambda k=key: k)
    assert list(small.table) == ["c", "b"]
    weighed = Lru(10, max_bytes=10, weigh=len)
    weighed.put("a", "xxxx")
    weighed.put("b", "xxxx")
    weighed.put("a", "xx")                              # replaced: its old weight goes
    assert weighed.bytes == 6 and list(weighed.table) == ["b", "a"]
    assert weighed.find("b") == "xxxx" and list(weighed.table) == ["a", "b"] and weighed.find("z") is None
    weighed.put("c", "xxxxxx")                          # over 10: the least recently used ("a") goes
    assert list(weighed.table) == ["b", "c"] and weighed.bytes == 10
