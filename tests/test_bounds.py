"""Lower bounds: the per-candidate bounds the mappers prune with (kernels/bounds.py through
mapeval.bounds) and the per-op `bound_cycles` report column (simulator/bounds.py).

* every bound is <= what the tile walk counts, on random ops, mappings and hardware (masks,
  batches, shared weights, dependent steps, one or two levels, both buffering and fold modes);
* the closed forms are exact where they claim to be: unmasked one-level slot MACs, bytes per level
  and steps; masked array cycles; the whole-extent compute bound (also against a formula written
  here); the vector unit's cycles of a one-chunk op;
* report: the op-level bound never exceeds the op's cycles on any bundled config x workload; the
  layer level carries their sum and bound / (sum of op cycles).
"""
from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import cost, load_hardware, load_workload, mapeval, simulate, to_frame
from simulator.bounds import gemm_compute_bound, gemm_traffic_bound, op_bound, vector_compute_bound
from simulator.engine import run_gemm
from simulator.enums import Counter, Dataflow
from simulator.graph import Gemm, RowRanges, VectorOp
from simulator.kernels.bounds import LEVEL_BYTES, SLOT_MACS, STEPS, bounds_width, gemm_bounds
from simulator.kernels.params import LOOP_ORDERS
from simulator.mapping import GemmMapping
from simulator.simulate import layer_graph
from tests.helpers import make_hw

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ("output_stationary", "weight_stationary", "input_stationary")


@st.composite
def walk_cases(draw):
    m, k, n = (draw(st.integers(1, 40)) for _ in range(3))
    batch = draw(st.integers(1, 3))
    mask, axis = None, "n"
    if draw(st.booleans()):
        axis = draw(st.sampled_from(("n", "k")))
        length = n if axis == "n" else k
        lo = np.array([draw(st.integers(0, length)) for _ in range(m)], np.int64)
        hi = lo + np.array([draw(st.integers(0, length)) for _ in range(m)], np.int64)
        if draw(st.booleans()):
            lo, hi = np.sort(lo), np.sort(hi)
        mask = RowRanges.from_arrays(lo, np.minimum(hi, length))
    op = Gemm("g", "a", "b", "c", m, k, n, batch=batch, shared_b=draw(st.booleans()), mask=mask, mask_axis=axis,
              step_barrier=draw(st.booleans()))
    levels = draw(st.integers(1, 2))
    tiles, bound = [], (m, k, n)
    for _ in range(levels):
        tile = tuple(draw(st.integers(1, b)) for b in bound)
        tiles.append(tile)
        bound = tile
    tiles.reverse()
    for i in range(1, levels):           # nest: an outer tile is a multiple of the inner one or the whole axis
        tiles[i] = tuple(o if o == full or o % t == 0 else full for o, t, full in zip(tiles[i], tiles[i - 1], (m, k, n)))
    orders = tuple(draw(st.sampled_from(LOOP_ORDERS)) for _ in range(levels))
    eb = 4
    sizes, need = [], 0
    for t in tiles:                      # each level holds its tile (and 5 x 5 array tiles), outer >= inner
        need = max(need, (t[0] * t[1] + t[1] * t[2] + t[0] * t[2]) * eb, 3 * 5 * 5 * eb)
        need = max(need, (sizes[-1] if sizes else 0) // 2)
        sizes.append(2 * need * draw(st.integers(1, 3)))
    hw = make_hw(rows=draw(st.integers(1, 5)), cols=draw(st.integers(1, 5)), dataflow=draw(st.sampled_from(FLOWS)),
                 fold_overlap=draw(st.sampled_from(("serial", "pipelined"))), levels=sizes,
                 double_buffered=draw(st.booleans()), dram_bw=draw(st.sampled_from((1.5, 4.0, 7.25, 64.0))),
                 sram_bw=draw(st.sampled_from((3.0, 16.0, 64.0))))
    return op, hw, GemmMapping(tuple(tiles), orders)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=walk_cases())
def test_candidate_bounds_never_exceed_the_walk(case):
    op, hw, mapping = case
    counts = run_gemm(op, hw, mapping).counts
    row = np.array([mapeval.row_of(int(hw.mac_array.dataflow), mapping.tiles, mapping.orders)], np.int64)
    lb_cycles, _, steps = mapeval.bounds(op, hw, row, "cycles")
    lb_energy = mapeval.bounds(op, hw, row, "energy")[0]
    energy = float(cost.energy_pj(counts, hw))
    assert lb_cycles[0] <= counts[Counter.CYCLES], (op, hw.mac_array, mapping)
    assert lb_energy[0] <= energy
    assert mapeval.bounds(op, hw, row, "edp")[0][0] <= energy * counts[Counter.CYCLES]
    assert steps[0] == counts[Counter.TILES] + counts[Counter.SKIPPED_TILES]
    if op.mask is not None:                # the masked array cycles are exact
        assert mapeval.masked_array_bound(op, hw, row)[0] == counts[Counter.ARRAY_CYCLES]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=walk_cases())
def test_unmasked_one_level_closed_forms_are_exact(case):
    """Slot MACs, the bytes read and written at every level, and the steps, as the walk counts them."""
    op, hw, mapping = case
    if op.mask is not None or len(hw.on_chip) > 1:
        return
    counts = run_gemm(op, hw, mapping).counts
    row = np.array([mapeval.row_of(int(hw.mac_array.dataflow), mapping.tiles, mapping.orders)], np.int64)
    out = np.zeros((1, bounds_width(1)), np.int64)
    ha = mapeval.hw_arrays(hw)
    ones = np.ones(1)
    gemm_bounds(row, np.array([op.m, op.k, op.n], np.int64), op.batch, op.shared_b, op.step_barrier,
                hw.mac_array.rows, hw.mac_array.cols, int(hw.mac_array.fold_overlap) == 1, hw.bytes_per_element,
                ha.unit_bw, ha.fill_bw, ha.drain_bw, ha.dbuf, ones, ones, out)
    reads, writes = cost.level_bytes(counts, 2)
    assert out[0, SLOT_MACS] == counts[Counter.SLOT_MACS]
    assert list(out[0, LEVEL_BYTES:LEVEL_BYTES + 2]) == [int(r) for r in reads]
    assert list(out[0, LEVEL_BYTES + 2:LEVEL_BYTES + 4]) == [int(w) for w in writes]
    assert out[0, STEPS] == counts[Counter.TILES]


def whole_extent_cycles(m, k, n, R, C, flow, pipelined, batch):
    """The fewest array cycles of an unmasked GEMM: the whole op as one tile (fold table, written here)."""
    def cdiv(a, b):
        return -(-a // b)

    spatial, t = {"output_stationary": (cdiv(m, R) * cdiv(n, C), k),
                  "weight_stationary": (cdiv(k, R) * cdiv(n, C), m),
                  "input_stationary": (cdiv(k, R) * cdiv(m, C), n)}[flow]
    fill = R + C - 2 if flow == "output_stationary" else 2 * R + C - 2
    if not pipelined:
        return batch * spatial * (t + fill)
    return batch * spatial * (t if flow == "output_stationary" else max(t, R)) + fill


def test_gemm_compute_and_traffic_bounds_are_the_stated_formulas():
    rng = np.random.default_rng(7)
    for _ in range(60):
        m, k, n = (int(x) for x in rng.integers(1, 300, 3))
        R, C = (int(x) for x in rng.integers(1, 20, 2))
        batch = int(rng.integers(1, 4))
        flow = FLOWS[int(rng.integers(0, 3))]
        pipelined = bool(rng.random() < 0.5)
        hw = make_hw(rows=R, cols=C, dataflow=flow, fold_overlap="pipelined" if pipelined else "serial",
                     sram_bytes=1 << 24, dram_bw=float(rng.choice([3.0, 16.0])))
        op = Gemm("g", "a", "b", "c", m, k, n, batch=batch, shared_b=bool(rng.random() < 0.5))
        want = whole_extent_cycles(m, k, n, R, C, flow, pipelined, batch)
        assert gemm_compute_bound(op, hw, Dataflow[flow.upper()]) == want
        whole = run_gemm(op, hw, GemmMapping(((m, k, n),), ("mnk",))).counts
        assert whole[Counter.ARRAY_CYCLES] == want                       # the kernel agrees
        reads = (batch * m * k + (1 if op.shared_b else batch) * k * n) * 4
        assert gemm_traffic_bound(op, hw) == max(-(-reads // int(hw.memories[-1].read_bw_bytes_per_cycle)),
                                                 -(-batch * m * n * 4 // int(hw.memories[-1].write_bw_bytes_per_cycle)))


def test_vector_compute_bound_is_the_one_chunk_kernel_time():
    """With the whole op in one chunk (batch 1, a big buffer) the vector kernel takes exactly the bound."""
    hw = make_hw(rows=4, cols=4, lanes=5, sram_bytes=1 << 24)
    layers = [{"variant": "self_attention", "n": 37, "d": 16, "causal": True},
              {"variant": "restricted_self_attention", "n": 30, "d": 8, "window": 7},
              {"variant": "hard_attention", "n": 20, "d": 8, "queries": 3, "sampling": "sample"},
              {"variant": "local_attention", "target_len": 9, "source_len": 11, "d": 8, "window_radius": 2,
               "mode": "local_m"},
              {"variant": "position_embedding", "n": 12, "d": 8}]
    wl = load_workload({"name": "v", "layers": layers})
    checked = 0
    for spec, result in zip(wl.layers, simulate(wl, hw)):
        vector_ops = {op.name: op for op in layer_graph(spec).ops if isinstance(op, VectorOp)}
        for r in result.ops:
            if r.op in vector_ops and vector_ops[r.op].batch == 1:
                assert vector_compute_bound(vector_ops[r.op], hw) == r.counts[Counter.VECTOR_CYCLES], (spec.name, r.op)
                checked += 1
    assert checked >= 5


def test_report_bounds_hold_on_every_bundled_config_and_workload():
    configs = [load_hardware(p) for p in sorted(glob.glob(str(ROOT / "hw_configs" / "*.yaml")))]
    for path in sorted(glob.glob(str(ROOT / "workloads" / "*.yaml"))):
        wl = load_workload(path)
        results = simulate(wl, configs)
        ops = to_frame(results, level="op")
        assert (ops["bound_cycles"] <= ops["cycles"]).all(), ops[ops["bound_cycles"] > ops["cycles"]]
        assert (ops["bound_cycles"] >= 0).all()
        timed = ops[ops["cycles"] > 0]
        assert np.allclose(timed["mapping_efficiency"], timed["bound_cycles"] / timed["cycles"])
        assert ops.loc[ops["cycles"] == 0, "mapping_efficiency"].isna().all()      # layouts take no time
        layers = to_frame(results)
        for result, (_, row) in zip(results, layers.iterrows()):
            assert row["bound_cycles"] == sum(op.bound_cycles for op in result.ops)
            assert row["mapping_efficiency"] == row["bound_cycles"] / sum(op.cycles for op in result.ops)
            assert 0 < row["mapping_efficiency"] <= 1


def test_every_op_kind_has_a_bound():
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16)
    wl = load_workload({"name": "all", "layers": [
        {"variant": "self_attention", "n": 24, "d": 8, "fused": True},
        {"variant": "recurrent", "n": 5, "d": 8, "cell": "lstm"},
        {"variant": "hard_attention", "n": 10, "d": 8, "queries": 2, "sampling": "argmax"}]})
    for spec, result in zip(wl.layers, simulate(wl, hw)):
        graph = {op.name: op for op in layer_graph(spec).ops}
        for r in result.ops:
            assert 0 < r.bound_cycles <= r.cycles or (r.kind == "layout" and r.bound_cycles == 0), (r.op, r)
            if r.op in graph and r.kind != "layout":
                assert r.bound_cycles == op_bound(graph[r.op], hw)
        kinds = {r.kind for r in result.ops}
        assert kinds & {"fused", "gather", "gemm", "vector"}
