"""upper_bounds.py: every bound is at least what the kernels count (the oracle here is the kernel itself:
a bound below a real count would let a wrap through), the tight GEMM bound is exact where its
docstring says so, and the work bounds cover the steps walked."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import upper_bounds as bounds
from simulator.engine import run_fused, run_gemm, run_vector
from simulator.enums import Counter, n_counters
from simulator.graph import FusedAttention, Gemm, RowRanges, VectorOp, VOp, VPass, softmax_passes
from simulator.guard import _Layer
from simulator.hardware import load_hardware
from simulator.mapping import GemmMapping
from simulator.simulate import layer_graph, simulate
from simulator.workload import load_workload
from tests.fuzzing import HW_FILES, SMALL_WORKLOAD
from tests.helpers import make_hw
from tests.test_gemm_oracles import FLOWS, MODES, _hw_for, tiled_gemms


def assert_dominates(bound, counts, what=""):
    counts = [int(c) for c in counts]
    assert len(bound) == len(counts)
    low = [(i, b, c) for i, (b, c) in enumerate(zip(bound, counts)) if b < c]
    assert not low, f"{what}: bound below the count at (counter, bound, count) {low}"


@st.composite
def masks(draw, rows, length):
    lo = [draw(st.integers(0, length)) for _ in range(rows)]
    return RowRanges.from_arrays(lo, [draw(st.integers(x, length)) for x in lo])


@settings(max_examples=150, deadline=None)
@given(case=tiled_gemms(levels=2), rows=st.integers(1, 9), cols=st.integers(1, 9), flow=st.sampled_from(FLOWS),
       mode=st.sampled_from(MODES), batch=st.integers(1, 3), masked=st.sampled_from([None, "n", "k"]),
       data=st.data())
def test_gemm_bounds_dominate_the_walk(case, rows, cols, flow, mode, batch, masked, data):
    (m, k, n), tiles, orders = case
    hw = _hw_for(tiles, rows, cols, flow, mode, levels=2)
    mask = data.draw(masks(m, n if masked == "n" else k)) if masked else None
    op = Gemm("g", "a", "b", "c", m, k, n, batch=batch, mask=mask, mask_axis=masked or "n")
    mapping = GemmMapping(tiles, orders)
    counts = run_gemm(op, hw, mapping).counts
    assert_dominates(bounds.gemm_bound(op, hw, mapping), counts, "tight")
    assert_dominates(bounds.op_bound(op, hw), counts, "coarse")
    assert bounds.op_work(op, hw, mapping) >= counts[Counter.TILES] + counts[Counter.SKIPPED_TILES]
    if masked is None:        # exact where every step is walked
        tight = bounds.gemm_bound(op, hw, mapping)
        for c in (Counter.MACS, Counter.SLOT_MACS, Counter.FOLDS, Counter.TILES, Counter.UNIT_READ_A,
                  Counter.UNIT_READ_B, Counter.UNIT_WRITE_C):
            assert tight[c] == counts[c], c.name


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 20), cols=st.integers(1, 30), batch=st.integers(1, 3), lanes=st.integers(1, 9),
       sram=st.sampled_from([64, 512, 1 << 20]), sample=st.booleans(), data=st.data())
def test_vector_bounds_dominate_the_walk(rows, cols, batch, lanes, sram, sample, data):
    hw = make_hw(rows=1, cols=1, lanes=lanes, sram_bytes=sram)
    ranges = data.draw(st.one_of(st.none(), masks(rows, cols)))
    passes, widths = softmax_passes("S", "P", "sm")
    if sample:
        passes += (VPass(VOp.SAMPLE, "idx", ("P", "u")),)
        widths += (("u", 1), ("idx", 1))
    op = VectorOp("v", passes, ("S", "u") if sample else ("S",), ("P", "idx") if sample else ("P",), rows, cols,
                  widths, batch=batch, ranges=ranges)
    counts = run_vector(op, hw).counts
    assert_dominates(bounds.op_bound(op, hw), counts)
    assert bounds.op_work(op, hw) >= 1


@settings(max_examples=40, deadline=None)
@given(n_q=st.integers(1, 40), n_kv=st.integers(1, 40), d=st.integers(1, 12), batch=st.integers(1, 2),
       flow=st.sampled_from(FLOWS), mode=st.sampled_from(MODES), sram=st.sampled_from([4096, 65536]),
       causal=st.booleans())
def test_fused_bounds_dominate_the_walk(n_q, n_kv, d, batch, flow, mode, sram, causal):
    hw = make_hw(rows=4, cols=4, dataflow=flow, fold_overlap=mode, sram_bytes=sram)
    mask = RowRanges.from_arrays(np.zeros(n_q), np.minimum(np.arange(1, n_q + 1), n_kv)) if causal else None
    op = FusedAttention("f", "q", "k", "v", "o", n_q, n_kv, d, 0.5, batch=batch, mask=mask)
    counts = run_fused(op, hw).counts
    assert_dominates(bounds.fused_bound(op, hw), counts, "tight")
    assert_dominates(bounds.combine(bounds.op_terms(op), hw), counts, "coarse")


@pytest.mark.parametrize("hw_path", HW_FILES, ids=lambda p: p.stem)
def test_every_variant_layer_under_both_tiers(hw_path):
    """Every layer type (recurrences, gathers, data-dependent windows included) on every preset:
    the coarse layer bound and the tight one (the guard's, with the real mappings) dominate the
    layer's summed counts, and the work bounds its steps."""
    hw = load_hardware(hw_path)
    workload = load_workload(SMALL_WORKLOAD)
    for index, (spec, result) in enumerate(zip(workload.layers, simulate(workload, hw))):
        graph = layer_graph(spec)
        counts = result.counts
        assert_dominates(bounds.layer_bound(graph, hw), counts, f"{spec.name} coarse")
        layer = _Layer(workload, index, spec, graph, hw, ("heuristic", "cycles"))
        tight, _, work = layer._tight(need_counts=True)
        assert_dominates(tight, counts, f"{spec.name} tight")
        assert work >= counts[Counter.TILES] + counts[Counter.SKIPPED_TILES], spec.name
        assert bounds.layer_work(graph) >= work, spec.name          # the coarse tier covers the tight


def test_bound_layout_matches_the_counters():
    hw = make_hw(levels=[4096, 65536])
    op = Gemm("g", "a", "b", "c", 8, 8, 8)
    assert len(bounds.op_bound(op, hw)) == n_counters(hw.n_boundaries) == len(run_gemm(op, hw).counts)


def test_unknown_op_types_have_no_silent_bound():
    with pytest.raises(TypeError, match="no count bound for op type object: add one to upper_bounds.py"):
        bounds.op_terms(object())


def test_transfer_time_covers_rounding():
    # ceil(x / bw) per transfer, summed, never exceeds the bound (float quotients rounded up too)
    sizes = [7, 1, 13, 1 << 40, 3]
    bw = 0.3
    actual = sum(int(np.ceil(np.float64(x) / bw)) for x in sizes)
    assert bounds.transfer_time(sum(sizes), bw, len(sizes)) >= actual


@pytest.mark.parametrize("hw_path", HW_FILES, ids=lambda p: p.stem)
def test_the_worst_hardware_bounds_every_valid_config(hw_path):
    """The guard skips a workload that fits on the worst hardware the field limits admit; that is
    sound only if its coarse bounds dominate every valid config's."""
    from simulator.enums import BOUNDARY_BASE
    from simulator.guard import _worst_hardware

    hw, worst = load_hardware(hw_path), _worst_hardware()
    workload = load_workload(SMALL_WORKLOAD)
    for spec in workload.layers:
        graph = layer_graph(spec)
        mine, most = bounds.layer_bound(graph, hw), bounds.layer_bound(graph, worst)
        assert all(a <= b for a, b in zip(mine[:BOUNDARY_BASE], most[:BOUNDARY_BASE])), spec.name
        assert max(mine[BOUNDARY_BASE:]) <= min(most[BOUNDARY_BASE:]), spec.name


def test_more_memory_levels_than_the_limit_are_refused():
    from simulator.errors import ConfigError
    from tests.helpers import hw_dict

    from simulator.hardware import Hardware

    with pytest.raises(ConfigError, match=r"memories: expected at most 16 memory levels, got 17"):
        Hardware.from_dict(hw_dict(levels=[4096] * 16))
    assert Hardware.from_dict(hw_dict(levels=[4096] * 15)).n_boundaries == 15
