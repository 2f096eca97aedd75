"""GEMM kernel == closed forms (analytic.py) == functional numpy reference."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import analytic
from simulator.engine import run_gemm
from simulator.enums import BOUNDARY_BASE, BoundaryCounter, Counter, Dataflow, FoldOverlap, NumberFormat
from simulator.errors import MappingError, SizeError
from simulator.graph import Gemm
from simulator.kernels.params import LOOP_ORDERS
from simulator.mapper import default_gemm_mapping
from simulator.mapping import GemmMapping
from tests.helpers import make_hw

FLOWS = ("output_stationary", "weight_stationary", "input_stationary")
MODES = ("serial", "pipelined")


def _boundary(counts, b, which):
    return int(counts[BOUNDARY_BASE + 4 * b + which])


@st.composite
def tiled_gemms(draw, levels=1):
    m, k, n = (draw(st.integers(1, 70)) for _ in range(3))
    tiles = []
    bound = (m, k, n)
    for _ in range(levels):
        tile = tuple(draw(st.integers(1, b)) for b in bound)
        tiles.append(tile)
        bound = tile
    tiles.reverse()   # innermost first
    # nest exactly: make each outer tile a multiple of the inner one or the whole axis
    for i in range(1, len(tiles)):
        outer = list(tiles[i])
        for d, full in enumerate((m, k, n)):
            if outer[d] != full and outer[d] % tiles[i - 1][d]:
                outer[d] = full
        tiles[i] = tuple(outer)
    orders = tuple(draw(st.sampled_from(LOOP_ORDERS)) for _ in range(levels))
    return (m, k, n), tuple(tiles), orders


def _hw_for(tiles, rows, cols, flow, mode, levels=1):
    sizes = []
    need = 3 * rows * cols * 4
    for t in tiles:
        need = max(need, (t[0] * t[1] + t[1] * t[2] + t[0] * t[2]) * 4)
        sizes.append(2 * need)
    return make_hw(rows=rows, cols=cols, dataflow=flow, fold_overlap=mode, levels=sizes)


@settings(max_examples=120, deadline=None)
@given(case=tiled_gemms(levels=1), rows=st.integers(1, 9), cols=st.integers(1, 9),
       flow=st.sampled_from(FLOWS), mode=st.sampled_from(MODES), batch=st.integers(1, 3))
def test_array_counts_equal_closed_forms(case, rows, cols, flow, mode, batch):
    dims, tiles, orders = case
    hw = _hw_for(tiles, rows, cols, flow, mode)
    op = Gemm("g", "a", "b", "c", *dims, batch=batch)
    counts = run_gemm(op, hw, GemmMapping(tiles, orders)).counts
    want = analytic.gemm_array_counts(dims, batch, tiles[0], Dataflow[flow.upper()], rows, cols,
                                      FoldOverlap[mode.upper()], 4)
    got = {"macs": counts[Counter.MACS], "slot_macs": counts[Counter.SLOT_MACS], "folds": counts[Counter.FOLDS],
           "tiles": counts[Counter.TILES], "array_cycles": counts[Counter.ARRAY_CYCLES],
           "unit_read_a": counts[Counter.UNIT_READ_A], "unit_read_b": counts[Counter.UNIT_READ_B],
           "unit_read_c": counts[Counter.UNIT_READ_C], "unit_write_c": counts[Counter.UNIT_WRITE_C]}
    assert {k: int(v) for k, v in got.items()} == want


@settings(max_examples=60, deadline=None)
@given(case=tiled_gemms(levels=2), flow=st.sampled_from(FLOWS), mode=st.sampled_from(MODES))
def test_array_counts_do_not_depend_on_outer_levels(case, flow, mode):
    dims, tiles, orders = case
    hw = _hw_for(tiles, 3, 5, flow, mode)
    counts = run_gemm(Gemm("g", "a", "b", "c", *dims), hw, GemmMapping(tiles, orders)).counts
    want = analytic.gemm_array_counts(dims, 1, tiles[0], Dataflow[flow.upper()], 3, 5, FoldOverlap[mode.upper()], 4)
    assert int(counts[Counter.ARRAY_CYCLES]) == want["array_cycles"]
    assert int(counts[Counter.UNIT_READ_C]) == want["unit_read_c"]
    assert int(counts[Counter.SLOT_MACS]) == want["slot_macs"]


@settings(max_examples=150, deadline=None)
@given(case=tiled_gemms(levels=1), batch=st.integers(1, 3), shared_b=st.booleans())
def test_dram_traffic_equals_closed_forms(case, batch, shared_b):
    dims, tiles, orders = case
    hw = _hw_for(tiles, 4, 4, "weight_stationary", "serial")
    op = Gemm("g", "a", "b", "c", *dims, batch=batch, shared_b=shared_b)
    counts = run_gemm(op, hw, GemmMapping(tiles, orders)).counts
    want = analytic.gemm_boundary_counts(dims, batch, tiles[0], orders[0], 4, shared_b)
    got = {"fill_a": _boundary(counts, 0, BoundaryCounter.FILL_A),
           "fill_b": _boundary(counts, 0, BoundaryCounter.FILL_B),
           "fill_c": _boundary(counts, 0, BoundaryCounter.FILL_C),
           "drain_c": _boundary(counts, 0, BoundaryCounter.DRAIN_C)}
    assert got == want


def test_whole_problem_resident_moves_exactly_the_footprint():
    dims = (37, 19, 23)
    hw = _hw_for([dims], 4, 4, "output_stationary", "serial")
    counts = run_gemm(Gemm("g", "a", "b", "c", *dims), hw, GemmMapping((dims,), ("mnk",))).counts
    m, k, n = dims
    assert _boundary(counts, 0, BoundaryCounter.FILL_A) == m * k * 4
    assert _boundary(counts, 0, BoundaryCounter.FILL_B) == k * n * 4
    assert _boundary(counts, 0, BoundaryCounter.FILL_C) == 0
    assert _boundary(counts, 0, BoundaryCounter.DRAIN_C) == m * n * 4


# --- functional mode --------------------------------------------------------------------------
def _store(rng, batch, m, k, n, fmt):
    from simulator import numerics
    return {"a": numerics.store(rng.standard_normal((batch, m, k)), fmt),
            "b": numerics.store(rng.standard_normal((batch, k, n)), fmt)}


def _tolerance(a, b, fmt, c_ref):
    """Elementwise error bound for C computed from the stored A and B (spec: tolerance from the format).

    fp32 accumulation of K products: gamma_K |A||B| (gamma_K = K u / (1 - K u), u = 2**-24); the
    result is then rounded to the storage format: u_fmt |C| (fp16/bf16), or half the int8 step.
    """
    k = a.shape[2]
    u32 = 2.0 ** -24
    gamma = k * u32 / (1 - k * u32)
    mag = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    if fmt == NumberFormat.INT8:
        # int8: inputs re-quantised exactly, integer sums exact; output quantised to max|C|/127
        return np.max(np.abs(c_ref)) / 127 / 2 * (1 + 1e-6) + 4 * u32 * mag
    u_out = {NumberFormat.FP32: u32, NumberFormat.FP16: 2.0 ** -11, NumberFormat.BF16: 2.0 ** -8}[fmt]
    return gamma * mag + u_out * (np.abs(c_ref) + gamma * mag) + 1e-30


@pytest.mark.parametrize("fmt", ["fp32", "fp16", "bf16", "int8"])
@pytest.mark.parametrize("flow", FLOWS)
def test_functional_output_matches_numpy(fmt, flow):
    rng = np.random.default_rng(7)
    batch, m, k, n = 2, 45, 77, 30           # none divides the 4x4 array or the tiles
    hw = make_hw(rows=4, cols=4, dataflow=flow, number_format=fmt, sram_bytes=4096)
    store = _store(rng, batch, m, k, n, hw.number_format)
    op = Gemm("g", "a", "b", "c", m, k, n, batch=batch)
    result = run_gemm(op, hw, store=store)
    assert "x" in result.mapping and result.counts[Counter.TILES] > 4     # really tiled
    ref = np.einsum("bmk,bkn->bmn", store["a"].astype(np.float64), store["b"].astype(np.float64))
    err = np.abs(store["c"].astype(np.float64) - ref)
    assert np.all(err <= _tolerance(store["a"], store["b"], hw.number_format, ref))
    # and the check is not vacuous: a perturbed output fails it
    bad = store["c"].astype(np.float64).copy()
    bad[0, 0, 0] += 10 * _tolerance(store["a"], store["b"], hw.number_format, ref)[0, 0, 0] + 1e-3
    assert not np.all(np.abs(bad - ref) <= _tolerance(store["a"], store["b"], hw.number_format, ref))


def test_shared_b_functional():
    rng = np.random.default_rng(3)
    hw = make_hw(sram_bytes=2048)
    store = {"a": rng.standard_normal((3, 9, 13)).astype(np.float32),
             "b": rng.standard_normal((1, 13, 6)).astype(np.float32)}
    run_gemm(Gemm("g", "a", "b", "c", 9, 13, 6, batch=3, shared_b=True), hw, store=store)
    np.testing.assert_allclose(store["c"], store["a"] @ store["b"][0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [77, 1100])               # 1100: more terms than float32 sums hold exactly
def test_int8_products_are_exact_integer_sums(k):
    """int8 GEMMs sum the quantised integers exactly, whatever the grouping: the whole product (an
    unmasked walk) and the walk's runs of K tiles (chunked past 2**24 / 127**2 terms) both equal
    int64 arithmetic, scaled back."""
    from simulator import numerics
    rng = np.random.default_rng(11)
    a = numerics.store(rng.standard_normal((2, 9, k)), NumberFormat.INT8)
    b = numerics.store(rng.standard_normal((1, k, 7)), NumberFormat.INT8)
    qa, sa = numerics.quantize_int8(a)
    qb, sb = numerics.quantize_int8(b)
    exact = (qa.astype(np.int64) @ qb.astype(np.int64)).astype(np.float64) * (sa * sb)
    whole = numerics.gemm_output(a, b, None, (2, 9, 7), NumberFormat.INT8)
    cut = [0, 5, 40, k]                                       # K split into runs, and C into two n blocks
    runs = np.array([(bl, 0, 9, n0, n1, k0, k1) for bl in range(2) for n0, n1 in ((0, 3), (3, 7))
                     for k0, k1 in zip(cut, cut[1:])], np.int64)
    pieces = numerics.gemm_output(a, b, runs, (2, 9, 7), NumberFormat.INT8)
    assert np.array_equal(whole, exact) and np.array_equal(pieces, exact)


def test_int8_functional_gemm_without_a_walk_equals_the_walked_one():
    """The mapper's counts and one product (unmasked int8) give what walking the mapping gives."""
    rng = np.random.default_rng(5)
    hw = make_hw(rows=4, cols=4, number_format="int8", sram_bytes=4096)
    op = Gemm("g", "a", "b", "c", 45, 77, 30, batch=2)
    store = _store(rng, 2, 45, 77, 30, hw.number_format)
    walked = dict(store)
    fast = run_gemm(op, hw, store=store)
    pinned = run_gemm(op, hw, default_gemm_mapping(op, hw), store=walked)      # given a mapping: walked
    assert np.array_equal(store["c"], walked["c"])
    assert np.array_equal(fast.counts, pinned.counts) and fast.counts[Counter.TILES] > 4


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("mode", MODES)
def test_count_only_equals_functional_counts(flow, mode):
    rng = np.random.default_rng(1)
    hw = make_hw(rows=3, cols=5, dataflow=flow, fold_overlap=mode, levels=[1536, 8192])
    op = Gemm("g", "a", "b", "c", 23, 41, 17, batch=2)
    store = _store(rng, 2, 23, 41, 17, hw.number_format)
    functional = run_gemm(op, hw, store=store)
    count_only = run_gemm(op, hw)
    assert np.array_equal(functional.counts, count_only.counts)
    assert functional.mapping == count_only.mapping


# --- guards -----------------------------------------------------------------------------------
def test_int64_overflow_is_refused_before_the_kernel():
    hw = make_hw()
    with pytest.raises(SizeError, match="overflows the simulator's 64-bit counters"):
        run_gemm(Gemm("g", "a", "b", "c", 2 ** 22, 2 ** 22, 2 ** 22, batch=4), hw)


def test_mapping_that_does_not_fit_is_refused():
    hw = make_hw(sram_bytes=1024)
    with pytest.raises(MappingError, match=r"L0 \(l0\): tile \(16, 16, 16\) needs 3072 bytes, 512 usable"):
        run_gemm(Gemm("g", "a", "b", "c", 16, 16, 16), hw, GemmMapping(((16, 16, 16),), ("mnk",)))


def test_mapping_that_does_not_nest_is_refused():
    hw = make_hw(levels=[4096, 65536])
    mapping = GemmMapping(((4, 4, 4), (6, 8, 8)), ("mnk", "mnk"))
    with pytest.raises(MappingError, match="L1: tile m=6 is neither the whole dimension"):
        run_gemm(Gemm("g", "a", "b", "c", 16, 16, 16), hw, mapping)


def test_unknown_loop_order_is_refused():
    hw = make_hw()
    with pytest.raises(MappingError, match="loop order 'mmk' is not one of"):
        run_gemm(Gemm("g", "a", "b", "c", 8, 8, 8), hw, GemmMapping(((8, 8, 8),), ("mmk",)))
