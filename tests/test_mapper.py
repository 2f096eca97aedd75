"""The default (heuristic) mapper, simulator/mapper.py.

* never slower than the naive whole-extent mapping when that fits (the walk of both is the oracle),
  on attention GEMMs (plain and causal) over arrays, dataflows, fold modes, buffers and levels;
* never worse than 1.25x the search's best cycles on a grid of attention GEMMs (the benchmark,
  benchmarks/bench_mapper.py, measures the whole distribution);
* the counts the engine reports for a mapped GEMM are exactly run_gemm's for that mapping (the
  engine reuses the mapper's walk instead of walking again);
* cached on what it reads: prices, clock and the vector unit do not change it.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from simulator import load_workload, mapper, search, simulate
from simulator.engine import run_gemm
from simulator.enums import Counter
from simulator.errors import MappingError
from simulator.graph import Gemm
from simulator.mapping import GemmMapping, check_gemm_mapping, footprint_bytes
from simulator.simulate import layer_graph
from simulator.variants.common import causal_ranges
from simulator.hardware import Hardware
from tests.helpers import hw_dict, make_hw, with_changes

FLOWS = ("output_stationary", "weight_stationary", "input_stationary")


def attention_ops(ns=(64, 128, 256), ds=(64, 256)):
    ops = []
    for n, d in itertools.product(ns, ds):
        h = max(1, d // 64)
        ops += [Gemm("proj", "a", "b", "c", n, d, d, shared_b=True),
                Gemm("qk", "a", "b", "c", n, 64, n, batch=h),
                Gemm("av", "a", "b", "c", n, n, 64, batch=h),
                Gemm("qk_causal", "a", "b", "c", n, 64, n, batch=h, mask=causal_ranges(n), mask_axis="n"),
                Gemm("av_causal", "a", "b", "c", n, n, 64, batch=h, mask=causal_ranges(n), mask_axis="k")]
    return ops


HARDWARE = [
    dict(rows=32, cols=32, dataflow="weight_stationary", fold_overlap="serial", number_format="int8",
         sram_bytes=3 << 19, sram_bw=64.0, dram_bw=16.0),          # the issue's 32x32 ws with 1.5 MiB
    dict(rows=16, cols=8, dataflow="output_stationary", fold_overlap="pipelined", number_format="bf16",
         sram_bytes=1 << 20, sram_bw=128.0, dram_bw=8.0),
    dict(rows=8, cols=16, dataflow="input_stationary", fold_overlap="serial", number_format="fp32",
         sram_bytes=1 << 21, dram_bw=64.0, double_buffered=False),
    dict(rows=8, cols=8, dataflow="weight_stationary", fold_overlap="pipelined", number_format="bf16",
         levels=[1 << 17, 1 << 21], dram_bw=32.0),
]


@pytest.mark.parametrize("hw_kwargs", HARDWARE, ids=["ws32_serial", "os_pipelined", "is_single_buffer", "two_levels"])
def test_never_slower_than_the_whole_extent_mapping(hw_kwargs):
    hw = make_hw(**hw_kwargs)
    compared = 0
    for op in attention_ops():
        dims = (op.m, op.k, op.n)
        if any(footprint_bytes(dims, hw.bytes_per_element) > lv.usable_bytes for lv in hw.on_chip):
            continue
        whole = GemmMapping(tuple(dims for _ in hw.on_chip), tuple("mnk" for _ in hw.on_chip))
        chosen = mapper.default_gemm_mapping(op, hw)
        check_gemm_mapping(chosen, dims, hw)
        got = run_gemm(op, hw, chosen).counts[Counter.CYCLES]
        assert got <= run_gemm(op, hw, whole).counts[Counter.CYCLES], (op.name, dims, chosen)
        compared += 1
    assert compared >= 10


def test_the_issue_example_runs_at_the_naive_mappings_compute_cycles():
    """256x768x256 (M, K, N) on a 32x32 ws array with 1.5 MiB: the old default split the streamed M
    and took 121,344 compute cycles; the whole-M fold mapping SCALE-Sim uses takes 67,200."""
    hw = make_hw(**HARDWARE[0])
    op = Gemm("g", "a", "b", "c", 256, 768, 256)
    counts = run_gemm(op, hw, mapper.default_gemm_mapping(op, hw)).counts
    assert counts[Counter.ARRAY_CYCLES] == 67_200


@pytest.mark.parametrize("hw_kwargs", HARDWARE[:2], ids=["ws32_serial", "os_pipelined"])
def test_within_a_quarter_of_the_search(hw_kwargs):
    hw = make_hw(**hw_kwargs)
    for op in attention_ops(ns=(64, 256), ds=(64, 256)):
        got = run_gemm(op, hw, mapper.default_gemm_mapping(op, hw)).counts[Counter.CYCLES]
        best = search.search_gemm(op, hw).cycles
        assert best <= got <= 1.25 * best, (op.name, op.m, op.k, op.n)


def test_engine_counts_are_run_gemms_for_the_chosen_mapping():
    hw = make_hw(rows=8, cols=8, dataflow=["weight_stationary", "output_stationary"], sram_bytes=1 << 17)
    wl = load_workload({"name": "w", "layers": [
        {"name": "mha", "variant": "multi_head_attention", "n": 40, "d": 32, "heads": 2, "causal": True},
        {"name": "conv", "variant": "convolutional", "n": 30, "d": 16, "kernel": 3},
        {"name": "g", "variant": "gemm", "m": 70, "k": 50, "n": 90, "batch": 2}]})
    for mapper_name in ("heuristic", "search"):
        for spec, result in zip(wl.layers, simulate(wl, hw, mapper=mapper_name)):
            gemms = {op.name: op for op in layer_graph(spec).ops if isinstance(op, Gemm)}
            for r in result.ops:
                if r.op in gemms:
                    mapping = mapper.choose_gemm_mapping(gemms[r.op], hw, mapper_name)
                    assert r.mapping == mapping.describe()
                    assert np.array_equal(r.counts, run_gemm(gemms[r.op], hw, mapping).counts), (spec.name, r.op)


def test_cached_on_what_it_reads_and_not_on_prices():
    hw = make_hw(rows=8, cols=8, sram_bytes=1 << 17)
    priced = make_hw(rows=8, cols=8, sram_bytes=1 << 17)
    priced = type(priced)(**{**priced.__dict__, "clock_hz": 3e9, "memories": (
        type(priced.memories[0])(**{**priced.memories[0].__dict__, "read_pj_per_byte": 9.0}), priced.memories[1])})
    op = Gemm("g", "a", "b", "c", 300, 200, 100)
    mapper.clear_cache()
    first = mapper.default_gemm_mapping(op, hw)
    assert mapper.default_gemm_mapping(op, priced) is first                   # a cache hit
    slower = make_hw(rows=8, cols=8, sram_bytes=1 << 17, dram_bw=1.0)
    assert len(mapper._CACHE) == 1
    mapper.default_gemm_mapping(op, slower)                                  # bandwidth is read: a miss
    assert len(mapper._CACHE) == 2


def test_no_tile_fits():
    hw = make_hw(rows=4, cols=7, sram_bytes=2 * 84 * 4)
    with pytest.raises(MappingError, match="no tile of the \\(30, 20, 25\\) GEMM fits level 'l0'"):
        mapper.default_gemm_mapping(Gemm("g", "a", "b", "c", 30, 20, 25), hw)


def test_no_tile_fits_names_the_hardware_it_is_raised_on():
    """The plan cache keys on what the heuristic reads, not on names: a cached 'nothing fits' is
    worded for each hardware it is raised on (its own level name), never for the first one."""
    op = Gemm("g", "a", "b", "c", 30, 20, 25)
    mapper.clear_cache()
    for name in ("first_sram", "second_sram", "first_sram"):
        hw = Hardware.from_dict(with_changes(hw_dict(rows=4, cols=7, sram_bytes=2 * 84 * 4),
                                             {"memories[0].name": name}), source="<test>")
        with pytest.raises(MappingError, match=f"fits level '{name}' "):
            mapper.default_gemm_mapping(op, hw)
    assert len(mapper._CACHE) == 1          # one outcome, worded three times


@pytest.mark.parametrize("levels", [[4096, 65536], [2048, 1 << 20]])
@pytest.mark.parametrize("double_buffered", [False, True])
def test_the_heuristic_does_not_depend_on_the_walks_it_remembers(levels, double_buffered):
    """The walk memo (mapeval._MEMO) changes the work, never the choice: a remembered walk is charged
    to the step budget what walking it costs. Every candidate walked beforehand (the memo as full as
    it gets), the heuristic picks what it picks from a cold start; the budget binds in some of these
    cases (dropped > 0), where a free remembered walk used to change the pick (a sweep, then
    simulate() of one of its points, gave another mapping than simulate() alone)."""
    from simulator import mapeval

    ops = [Gemm("wide", "a", "b", "c", 64, 96, 80), Gemm("g", "a", "b", "c", 40, 24, 56),
           Gemm("batched", "a", "b", "c", 24, 32, 40, batch=3),
           Gemm("qk_causal", "a", "b", "c", 64, 64, 64, mask=causal_ranges(64), mask_axis="n")]
    bound = 0
    for rows, cols, flow in itertools.product((4, 16), (4,), FLOWS):
        hw = make_hw(rows=rows, cols=cols, dataflow=flow, levels=levels, double_buffered=double_buffered,
                     number_format="bf16", dram_bw=8.0)
        for op in ops:
            mapper.clear_cache()
            mapeval._MEMO.clear()
            try:
                cold = mapper.default_gemm_plan(op, hw)[0]
            except MappingError:
                continue
            cands = mapper.nested_candidates(op, hw, mapper._flow(op, hw))
            outcome = mapeval.evaluate(op, hw, cands, "cycles", budget=mapper.HEURISTIC_STEP_BUDGET,
                                       tolerance=mapper.PRUNE_TOLERANCE)
            bound += outcome.dropped > 0
            mapeval.evaluate(op, hw, cands, "cycles")            # no budget: every candidate remembered
            mapper.clear_cache()                                  # the plans, not the walks
            assert mapper.default_gemm_plan(op, hw)[0] == cold, (op.name, rows, cols, flow)
    mapper.clear_cache()
    mapeval._MEMO.clear()
    assert bound > 0           # the budget binds somewhere, so the memo had a choice to change
