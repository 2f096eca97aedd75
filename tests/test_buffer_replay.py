"""The GEMM kernel against a brute-force buffer replay (tests/reference_buffer.py), plus the DRAM
traffic and timing invariants of docs/conventions/systolic.md §5.2.

The replay is written from docs/architecture.md ("The GEMM tile walk (kernels/gemm.py)"); every counter it produces
must equal the kernel's exactly, on random small problems with random legal nested tilings, loop
orders, dataflows, fold modes, buffering, non-power-of-two bandwidths and masks.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.engine import run_gemm
from simulator.enums import BOUNDARY_BASE, BoundaryCounter, Counter
from simulator.graph import Gemm, RowRanges
from simulator.hardware import Hardware
from simulator.mapper import PRUNE_TOLERANCE, default_gemm_mapping
from simulator.mapping import GemmMapping
from tests import reference_buffer as ref
from tests.helpers import hw_dict, make_hw

FLOWS = ("output_stationary", "weight_stationary", "input_stationary")
FLOW_CODES = {"output_stationary": "os", "weight_stationary": "ws", "input_stationary": "is"}
ORDERS = ("mkn", "mnk", "kmn", "knm", "nmk", "nkm")
BANDWIDTHS = (1.0, 2.5, 3.0, 5.5, 7.25, 12.0, 64.0)
FORMATS = {"fp32": 4, "fp16": 2, "int8": 1}
MAX_STEPS = 1200          # innermost steps per problem, so the pure-Python replay stays quick

SCALARS = ("macs", "slot_macs", "folds", "tiles", "skipped_tiles", "array_cycles", "cycles",
           "unit_read_a", "unit_read_b", "unit_read_c", "unit_write_c")
PER_BOUNDARY = ("fill_a", "fill_b", "fill_c", "drain_c")

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- building cases -----------------------------------------------------------------------------
def cdiv(a, b):
    return -(-a // b)


def footprint(tile, eb):
    tm, tk, tn = tile
    return (tm * tk + tk * tn + tm * tn) * eb


@st.composite
def cases(draw, masks=True):
    """A random (op, hw, mapping): nested tilings, orders, buffering, bandwidths, mask."""
    dims = m, k, n = tuple(draw(st.integers(1, 40)) for _ in range(3))
    batch = draw(st.integers(1, 3))
    shared_b = draw(st.booleans())
    levels = draw(st.integers(1, 2))

    # level-0 tile, coarsened while the walk has too many innermost steps
    t0 = [draw(st.integers(1, d)) for d in dims]
    while batch * cdiv(m, t0[0]) * cdiv(k, t0[1]) * cdiv(n, t0[2]) > MAX_STEPS:
        axis = max(range(3), key=lambda a: cdiv(dims[a], t0[a]))
        t0[axis] = min(dims[axis], 2 * t0[axis])
    tiles = [tuple(t0)]
    for _ in range(1, levels):
        inner = tiles[-1]
        outer = []
        for d, t in zip(dims, inner):
            if draw(st.booleans()):
                outer.append(d)                                   # the whole axis
            else:
                outer.append(t * draw(st.integers(1, d // t)))    # a multiple of the inner tile
        tiles.append(tuple(outer))
    orders = tuple(draw(st.sampled_from(ORDERS)) for _ in range(levels))

    rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    flow = draw(st.sampled_from(FLOWS))
    mode = draw(st.sampled_from(("serial", "pipelined")))
    fmt = draw(st.sampled_from(tuple(FORMATS)))
    eb = FORMATS[fmt]
    dbuf = [draw(st.booleans()) for _ in range(levels)]

    d = hw_dict(rows=rows, cols=cols, dataflow=flow, fold_overlap=mode, number_format=fmt,
                levels=[1] * levels)
    size = 0
    for i in range(levels):
        need = max(footprint(tiles[i], eb), 3 * rows * cols * eb) * (2 if dbuf[i] else 1)
        size = max(size, need + draw(st.integers(0, 64)))          # outer levels are never smaller
        mem = d["memories"][i]
        mem["size_bytes"] = size
        mem["double_buffered"] = dbuf[i]
        mem["read_bw_bytes_per_cycle"] = draw(st.sampled_from(BANDWIDTHS))
        mem["write_bw_bytes_per_cycle"] = draw(st.sampled_from(BANDWIDTHS))
    d["memories"][-1]["read_bw_bytes_per_cycle"] = draw(st.sampled_from(BANDWIDTHS[:5]))
    d["memories"][-1]["write_bw_bytes_per_cycle"] = draw(st.sampled_from(BANDWIDTHS[:5]))
    hw = Hardware.from_dict(d, source="<test>")

    mask, axis = None, "n"
    if masks and draw(st.booleans()):
        axis = draw(st.sampled_from(("n", "k")))
        length = n if axis == "n" else k
        if draw(st.integers(0, 4)) == 0:             # a fully empty mask
            lo = [draw(st.integers(0, length))] * m
            hi = lo
        else:
            lo = [draw(st.integers(0, length)) for _ in range(m)]
            hi = [draw(st.integers(0, length)) for _ in range(m)]  # hi <= lo: an empty row
        mask = RowRanges.from_arrays(np.array(lo), np.array(hi))
    op = Gemm("g", "a", "b", "c", m, k, n, batch=batch, shared_b=shared_b, mask=mask, mask_axis=axis)
    return op, hw, GemmMapping(tuple(tiles), orders)


# --- the two sides --------------------------------------------------------------------------------
def replay(op, hw, mapping) -> dict:
    """The reference's counters for `op` on `hw` under `mapping` (rates straight from the doc)."""
    return flatten(ref.replay(*reference_setup(op, hw, mapping)))


def reference_setup(op, hw, mapping) -> tuple:
    """(problem, levels, array) of the reference model for `op` on `hw` under `mapping`."""
    mems = hw.memories
    levels = [ref.Level(tile, order, mems[i].double_buffered,
                        fill_bw=min(mems[i + 1].read_bw_bytes_per_cycle, mems[i].write_bw_bytes_per_cycle),
                        drain_bw=min(mems[i].read_bw_bytes_per_cycle, mems[i + 1].write_bw_bytes_per_cycle))
              for i, (tile, order) in enumerate(zip(mapping.tiles, mapping.orders))]
    arr = hw.mac_array
    array = ref.Array(arr.rows, arr.cols, FLOW_CODES[hw.dataflow_name], int(arr.fold_overlap) == 1,
                      mems[0].read_bw_bytes_per_cycle, mems[0].write_bw_bytes_per_cycle, hw.bytes_per_element)
    masked = op.mask is not None
    problem = ref.Problem(op.m, op.k, op.n, op.batch, op.shared_b,
                          mask_axis=op.mask_axis if masked else None,
                          mask_lo=tuple(int(x) for x in op.mask.lo) if masked else (),
                          mask_hi=tuple(int(x) for x in op.mask.hi) if masked else ())
    return problem, levels, array


def computed_product(op, hw, mapping, a, b) -> np.ndarray:
    """C in float64 as the walk must compute it: the sum, over the innermost steps the reference
    walk computes (masked-out steps skipped), of that step's A tile times its B tile."""
    problem, levels, _ = reference_setup(op, hw, mapping)
    c = np.zeros((op.batch, op.m, op.n))
    for step in ref.innermost_steps(problem, levels):
        if ref.useful_macs(problem, step) == 0:
            continue
        (m0, m1), (k0, k1), (n0, n1) = step.m, step.k, step.n
        bb = 0 if op.shared_b else step.b
        c[step.b, m0:m1, n0:n1] += a[step.b, m0:m1, k0:k1].astype(np.float64) @ b[bb, k0:k1, n0:n1]
    return c


def flatten(result: dict) -> dict:
    out = {name: result[name] for name in SCALARS}
    for b, bnd in enumerate(result["boundaries"]):
        for name in PER_BOUNDARY:
            out[f"b{b}.{name}"] = bnd[name]
    return out


def kernel_counters(counts: np.ndarray, n_boundaries: int) -> dict:
    out = {name: int(counts[Counter[name.upper()]]) for name in SCALARS}
    for b in range(n_boundaries):
        for name in PER_BOUNDARY:
            out[f"b{b}.{name}"] = int(counts[BOUNDARY_BASE + 4 * b + BoundaryCounter[name.upper()]])
    return out


def run(op, hw, mapping=None, store=None) -> dict:
    return kernel_counters(run_gemm(op, hw, mapping, store=store).counts, hw.n_boundaries)


def describe(op, hw, mapping) -> str:
    mems = [(m.size_bytes, m.read_bw_bytes_per_cycle, m.write_bw_bytes_per_cycle, m.double_buffered)
            for m in hw.memories]
    mask = None if op.mask is None else (op.mask_axis, op.mask.lo.tolist(), op.mask.hi.tolist())
    return (f"MKN=({op.m},{op.k},{op.n}) batch={op.batch} shared_b={op.shared_b} mask={mask} "
            f"array={hw.mac_array.rows}x{hw.mac_array.cols} {hw.dataflow_name} "
            f"{'pipelined' if hw.mac_array.fold_overlap else 'serial'} fmt={hw.format_name} "
            f"mapping={mapping.describe()} memories(size, rbw, wbw, dbuf)={mems}")


def diff(want: dict, got: dict) -> dict:
    return {key: (want[key], got[key]) for key in want if want[key] != got[key]}


def dram(counters: dict, hw, name: str) -> int:
    return counters[f"b{hw.n_boundaries - 1}.{name}"]


def compulsory(op, hw) -> dict:
    """Bytes of A and B the math reads and of C it writes, each word once (the mask's words only)."""
    eb = hw.bytes_per_element
    b_copies = 1 if op.shared_b else op.batch
    if op.mask is None:
        a, b, c = op.m * op.k, op.k * op.n, op.m * op.n
    else:
        lo, hi = op.mask.lo.tolist(), op.mask.hi.tolist()
        live_rows = sum(1 for i in range(op.m) if hi[i] > lo[i])
        valid = sum(hi[i] - lo[i] for i in range(op.m))
        covered = len({j for i in range(op.m) for j in range(lo[i], hi[i])})   # union of the ranges
        if op.mask_axis == "n":      # row i of C needs columns [lo_i, hi_i): all of A's row, those B columns
            a, b, c = live_rows * op.k, covered * op.k, valid
        else:                        # row i reduces over k in [lo_i, hi_i): those A words and B rows
            a, b, c = valid, covered * op.n, live_rows * op.n
    return {"fill_a": op.batch * a * eb, "fill_b": b_copies * b * eb, "fill_c": 0, "drain_c": op.batch * c * eb}


# --- the reference itself, on a case worked by hand ---------------------------------------------------
def test_replay_on_a_hand_worked_case():
    """2x2 os array, serial, one double-buffered level; M=K=N=2, tile (1, 2, 2), order mnk.

    Two steps (rows 0 and 1), each: 1 fold, T=2, array cycles 1*(2+2+2-2) = 4; unit reads
    A 1*1*2 + B 1*2*2 = 6 words = 24 B at 8 B/cycle -> 3; writes 2 words = 8 B -> 1; own = 4.
    Step 0 fills A (8 B) + B (16 B) = 24 B at 4 B/cycle -> F = 6 (exposed first fill).
    Step 1 fills A only (8 B) -> F = 2, and drains the first C row (8 B at 2 B/cycle) -> D = 4.
    dur(0) = max(4, F(1)=2, D(0)=0) = 4; dur(1) = max(4, 0, D(1)=4) = 4; final drain 8 B -> 4.
    cycles = 4 + 4 + 6 + 4 = 18.
    """
    problem = ref.Problem(2, 2, 2)
    level = ref.Level((1, 2, 2), "mnk", True, fill_bw=4.0, drain_bw=2.0)
    array = ref.Array(2, 2, "os", False, unit_read_bw=8.0, unit_write_bw=8.0, elem_bytes=4)
    got = ref.replay(problem, [level], array)
    assert got["boundaries"] == [dict(fill_a=16, fill_b=16, fill_c=0, drain_c=16)]
    assert (got["tiles"], got["folds"], got["array_cycles"], got["cycles"]) == (2, 2, 8, 18)
    assert (got["unit_read_a"], got["unit_read_b"], got["unit_read_c"], got["unit_write_c"]) == (16, 32, 0, 16)


# --- kernel == replay ----------------------------------------------------------------------------
@settings(max_examples=600, **SETTINGS)
@given(case=cases())
def test_kernel_matches_buffer_replay(case):
    op, hw, mapping = case
    want, got = replay(op, hw, mapping), run(op, hw, mapping)
    assert want == got, f"{describe(op, hw, mapping)}\nreplay vs kernel: {diff(want, got)}"


@pytest.mark.parametrize("flow", FLOWS)
def test_fully_masked_op_skips_everything(flow):
    """No computed step: no traffic and no time, not even the pipelined fill and drain."""
    op = Gemm("g", "a", "b", "c", 6, 5, 7, batch=2, mask=RowRanges.from_arrays(np.full(6, 3), np.full(6, 3)))
    hw = make_hw(rows=2, cols=3, dataflow=flow, fold_overlap="pipelined", levels=[4096, 8192])
    mapping = GemmMapping(((2, 5, 3), (6, 5, 7)), ("mnk", "kmn"))
    want, got = replay(op, hw, mapping), run(op, hw, mapping)
    assert want == got
    assert got["skipped_tiles"] == 2 * 3 * 3 and all(v == 0 for k, v in got.items() if k != "skipped_tiles")


# --- invariants ------------------------------------------------------------------------------------
@settings(max_examples=150, **SETTINGS)
@given(case=cases())
def test_dram_traffic_at_least_compulsory_footprint(case):
    op, hw, mapping = case
    got = run(op, hw, mapping)
    need = compulsory(op, hw)
    for name in ("fill_a", "fill_b", "drain_c"):
        assert dram(got, hw, name) >= need[name], (name, describe(op, hw, mapping))
    if op.mask is None:   # the plain bounds of docs/conventions/systolic.md §5.2, spelled out
        eb = hw.bytes_per_element
        assert dram(got, hw, "fill_a") >= op.batch * op.m * op.k * eb
        assert dram(got, hw, "fill_b") >= (1 if op.shared_b else op.batch) * op.k * op.n * eb
        assert dram(got, hw, "drain_c") >= op.batch * op.m * op.n * eb


@settings(max_examples=80, **SETTINGS)
@given(case=cases(masks=False))
def test_whole_problem_tile_moves_exactly_the_compulsory_footprint(case):
    op, hw, _ = case
    whole = (op.m, op.k, op.n)
    levels = len(hw.on_chip)
    d = hw_dict(rows=hw.mac_array.rows, cols=hw.mac_array.cols, dataflow=hw.dataflow_name,
                number_format=hw.format_name, levels=[2 * max(footprint(whole, hw.bytes_per_element),
                                                              3 * 36 * hw.bytes_per_element)] * levels)
    big = Hardware.from_dict(d, source="<test>")
    mapping = GemmMapping((whole,) * levels, ("mnk",) * levels)
    got = run(op, big, mapping)
    assert {name: dram(got, big, name) for name in PER_BOUNDARY} == compulsory(op, big)


@settings(max_examples=100, **SETTINGS)
@given(case=cases(), grow=st.sampled_from((2, 3, 7, 64)))
def test_traffic_does_not_depend_on_buffer_size(case, grow):
    op, hw, mapping = case
    d = copy.deepcopy(hw.raw)
    for mem in d["memories"][:-1]:
        mem["size_bytes"] *= grow
    bigger = Hardware.from_dict(d, source="<test>")
    small, large = run(op, hw, mapping), run(op, bigger, mapping)
    traffic = [key for key in small if key.startswith("b")]
    assert {k: small[k] for k in traffic} == {k: large[k] for k in traffic}


@settings(max_examples=150, **SETTINGS)
@given(case=cases())
def test_utilization_at_most_one_and_stalls_non_negative(case):
    op, hw, mapping = case
    got = run(op, hw, mapping)
    slots_per_cycle = hw.mac_array.rows * hw.mac_array.cols
    assert got["macs"] == op.useful_macs
    assert got["macs"] <= got["slot_macs"] <= got["array_cycles"] * slots_per_cycle
    assert got["macs"] <= got["cycles"] * slots_per_cycle          # utilization <= 1
    assert got["cycles"] - got["array_cycles"] >= 0                 # stall cycles


@settings(max_examples=100, **SETTINGS)
@given(case=cases(), seed=st.integers(0, 2**16))
def test_functional_and_count_only_agree(case, seed):
    op, hw, mapping = case
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((op.batch, op.m, op.k)).astype(np.float32)
    b = rng.standard_normal((1 if op.shared_b else op.batch, op.k, op.n)).astype(np.float32)
    store = {"a": a, "b": b}
    assert run(op, hw, mapping, store=store) == run(op, hw, mapping)
    if hw.format_name == "fp32":
        # every loop order and nesting (partial sums revisited), masks (skipped tiles stay zero)
        want = computed_product(op, hw, mapping, a, b)
        if op.mask is None:
            np.testing.assert_allclose(want, np.matmul(a.astype(np.float64), b.astype(np.float64)),
                                       rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(store["c"], want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


# --- the default mapper ------------------------------------------------------------------------------
SIZES = [8192 << i for i in range(10)]         # 8 KiB .. 4 MiB


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("dims", [(128, 64, 128), (512, 64, 512), (200, 96, 300), (1, 768, 768),
                                  (384, 768, 64), (97, 33, 250)])
def test_default_mapper_never_slower_with_a_bigger_buffer(dims, flow):
    """The default mapper minimises cycles, so more SRAM should never cost cycles beyond its pruning
    slack (mapper.PRUNE_TOLERANCE: it skips candidates that could win by at most that fraction). Not
    a theorem (its walk budget could break it), so this grid guards against a regression. DRAM
    traffic may grow: a bigger buffer can admit a faster tiling that re-reads more."""
    op = Gemm("g", "a", "b", "c", *dims)
    cycles = []
    for size in SIZES:
        hw = make_hw(rows=8, cols=8, dataflow=flow, levels=[size], dram_bw=5.5, sram_bw=24.0)
        cycles.append(run(op, hw, default_gemm_mapping(op, hw))["cycles"])
    grows = [(SIZES[i], cycles[i], SIZES[i + 1], cycles[i + 1])
             for i in range(len(SIZES) - 1) if cycles[i + 1] > cycles[i] * (1 + PRUNE_TOLERANCE)]
    assert not grows, f"cycles grow with the buffer (size, cycles, bigger size, cycles): {grows}"
