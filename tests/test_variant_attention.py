"""self_attention and multi_head_attention (unfused and fused): counts, outputs, structure."""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulator import load_workload, simulate, to_frame
from simulator.analytic import attention as closed
from simulator.enums import BOUNDARY_BASE, BoundaryCounter, Counter, VecKind
from simulator.errors import ConfigError
from simulator.lowering import flash_block_sizes
from tests.helpers import make_hw
from tests.reference_attention import attention, multi_head

U32 = 2.0 ** -24


def run(layers, hw, functional=False, seed=0):
    return simulate(load_workload({"name": "t", "layers": layers}), hw, functional=functional, seed=seed)


def vec(counts, kind):
    return int(counts[Counter.VEC_OPS + VecKind[kind.upper()]])


def tolerance(*reductions):
    """fp32: a few ulps per accumulated term along each chained reduction
    (docs/conventions/counting.md §1.6)."""
    return 1e-5 * math.sqrt(sum(reductions)) + 4 * U32


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("n,d,batch", [(13, 7, 1), (21, 10, 2)])
def test_self_attention_matches_numpy_and_closed_forms(n, d, batch, causal, fused):
    hw = make_hw(rows=4, cols=4, sram_bytes=4096)          # 4x4 array: 13, 21, 7, 10 do not divide it
    (r,) = run([{"variant": "self_attention", "n": n, "d": d, "causal": causal, "fused": fused, "batch": batch}],
               hw, functional=True, seed=5)
    x = r.inputs["X"].astype(np.float64)
    ref = attention(x, x, x, causal)
    assert np.max(np.abs(r.outputs["Y"] - ref)) <= tolerance(d, n) * np.max(np.abs(ref))
    assert r.macs == closed.self_attention_macs(n, d, causal, batch)
    assert r.sequential_steps == (1 if fused else 3)
    assert r.max_path_length == 1
    if not fused:
        want = closed.attention_softmax_ops(n, 1, causal, batch)
        assert {k: vec(r.counts, k) for k in want} == want


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("fused", [False, True])
def test_multi_head_matches_numpy_and_closed_forms(causal, fused):
    n, d, heads, batch = 11, 12, 3, 2
    hw = make_hw(rows=3, cols=5, sram_bytes=8192)
    (r,) = run([{"variant": "multi_head_attention", "n": n, "d": d, "heads": heads, "causal": causal,
                 "fused": fused, "batch": batch}], hw, functional=True, seed=11)
    w = {k: r.inputs[k][0].astype(np.float64) for k in ("W_Q", "W_K", "W_V", "W_O")}
    ref = multi_head(r.inputs["X"].astype(np.float64), w["W_Q"], w["W_K"], w["W_V"], w["W_O"], heads, causal)
    assert np.max(np.abs(r.outputs["Y"] - ref)) <= tolerance(d, n, d // heads, d) * np.max(np.abs(ref))
    parts = closed.multi_head_macs(n, d, heads, d // heads, causal, batch)
    assert r.macs == sum(parts.values())
    if not causal:
        assert r.macs == batch * (4 * n * d * d + 2 * n * n * d)  # docs/conventions/layers.md §1.2
    ops = {o.op: o.macs for o in r.ops if o.kind == "gemm"}
    for name in ("q_projection", "k_projection", "v_projection", "output_projection"):
        assert ops[name] == parts[name]
    assert r.sequential_steps == (3 if fused else 5)


def test_general_head_width():
    """h d_k != d (docs/conventions/layers.md §1.2, general form)."""
    (r,) = run([{"variant": "multi_head_attention", "n": 9, "d": 10, "heads": 3, "d_k": 4}], make_hw(sram_bytes=8192),
               functional=True)
    assert r.macs == sum(closed.multi_head_macs(9, 10, 3, 4).values())
    w = {k: r.inputs[k][0].astype(np.float64) for k in ("W_Q", "W_K", "W_V", "W_O")}
    ref = multi_head(r.inputs["X"].astype(np.float64), w["W_Q"], w["W_K"], w["W_V"], w["W_O"], 3)
    assert np.allclose(r.outputs["Y"], ref, rtol=0, atol=tolerance(10, 9, 4, 12) * np.abs(ref).max())


def test_twelve_heads_vs_one_head_same_macs_twelve_times_the_softmax():
    """The source's question (docs/conventions/layers.md §1.3): equal MACs, h x the softmax work."""
    layers = [{"name": "h12", "variant": "multi_head_attention", "n": 64, "d": 96, "heads": 12},
              {"name": "h1", "variant": "multi_head_attention", "n": 64, "d": 96, "heads": 1}]
    twelve, one = run(layers, make_hw(rows=16, cols=16, sram_bytes=1 << 18))
    assert twelve.macs == one.macs
    assert vec(twelve.counts, "exp") == 12 * vec(one.counts, "exp") == 12 * 64 * 64


def test_causal_scores_skip_tiles_above_the_diagonal():
    hw = make_hw(rows=4, cols=4, sram_bytes=2048)
    (dense,) = run([{"variant": "self_attention", "n": 64, "d": 8}], hw)
    (causal,) = run([{"variant": "self_attention", "n": 64, "d": 8, "causal": True}], hw)
    scores = {o.op: o for o in causal.ops}["scores"]
    assert scores.counts[Counter.SKIPPED_TILES] > 0
    assert scores.counts[Counter.SLOT_MACS] < {o.op: o for o in dense.ops}["scores"].counts[Counter.SLOT_MACS]


def test_sequential_steps_do_not_change_with_n():
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16)
    steps = {run([{"variant": "multi_head_attention", "n": n, "d": 16, "heads": 2}], hw)[0].sequential_steps
             for n in (8, 32, 128)}
    assert steps == {5}


# --- fused (FlashAttention) -----------------------------------------------------------------
def _dram(r):
    c = r.counts
    b = len(r.hw.memories) - 2
    reads = sum(int(c[BOUNDARY_BASE + 4 * b + k]) for k in (BoundaryCounter.FILL_A, BoundaryCounter.FILL_B,
                                                               BoundaryCounter.FILL_C))
    return reads, int(c[BOUNDARY_BASE + 4 * b + BoundaryCounter.DRAIN_C])


@pytest.mark.parametrize("n,d,sram", [(64, 8, 2048), (100, 16, 4096), (257, 8, 8192)])
def test_fused_dram_traffic_is_algorithm_1_exactly(n, d, sram):
    hw = make_hw(rows=4, cols=4, sram_bytes=sram)
    (r,) = run([{"variant": "self_attention", "n": n, "d": d, "fused": True}], hw)
    m_elems, _, _ = flash_block_sizes(hw, d)
    want = closed.flash_dram_elements(n, d, m_elems)
    reads, writes = _dram(r)
    assert (reads // 4, writes // 4) == (want["reads"], want["writes"])
    ops = closed.flash_vector_ops(n, d, m_elems)
    assert {k: vec(r.counts, k) for k in ops} == ops


def test_fused_spec_worked_example():
    """docs/conventions/counting.md §3.3: N = 4096, d = 64, M = 49152 elements -> 18,456,576 element
    accesses."""
    hw = make_hw(rows=8, cols=8, sram_bytes=2 * 49152 * 4)
    (r,) = run([{"variant": "self_attention", "n": 4096, "d": 64, "fused": True}], hw)
    reads, writes = _dram(r)
    assert (reads + writes) // 4 == 18_456_576
    assert closed.standard_attention_dram_elements(4096, 64) == 68_157_440


def test_fused_traffic_falls_below_unfused_once_scores_do_not_fit():
    hw = make_hw(rows=8, cols=8, sram_bytes=1 << 15)     # 16 KiB usable: n^2 scores do not fit beyond n ~ 64
    rows = []
    for n in (32, 256, 1024):
        unfused, fused = run([{"name": "u", "variant": "self_attention", "n": n, "d": 16},
                              {"name": "f", "variant": "self_attention", "n": n, "d": 16, "fused": True}], hw)
        rows.append((n, sum(_dram(unfused)), sum(_dram(fused))))
    for n, unfused, fused in rows[1:]:
        assert fused < unfused / 2, (n, unfused, fused)
    assert rows[-1][1] / rows[-1][2] > rows[1][1] / rows[1][2]     # the gap widens with n


def test_count_only_equals_functional_counts():
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)
    layers = [{"variant": "multi_head_attention", "n": 17, "d": 12, "heads": 4, "causal": True, "fused": f,
               "name": f"l{f}"} for f in (False, True)]
    for a, b in zip(run(layers, hw), run(layers, hw, functional=True)):
        assert np.array_equal(a.counts, b.counts)
        assert a.cycles == b.cycles


def test_op_frame_names_every_primitive():
    (r,) = run([{"variant": "multi_head_attention", "n": 16, "d": 8, "heads": 2}], make_hw(sram_bytes=8192))
    frame = to_frame([r], level="op")
    assert list(frame["op"]) == ["q_projection", "k_projection", "v_projection", "split_q", "split_k", "split_v",
                                 "transpose_k", "scores", "softmax", "context", "merge_heads", "output_projection"]
    assert frame.loc[frame["kind"] == "layout", "cycles"].eq(0).all()


@pytest.mark.parametrize("layer,message", [
    ({"variant": "multi_head_attention", "n": 8, "d": 10, "heads": 3},
     "layers[0].heads: d = 10 is not divisible by heads = 3; choose heads dividing d, or give the per-head width "
     "d_k explicitly"),
    ({"variant": "self_attention", "n": -4, "d": 8}, "layers[0].n: expected an integer in [1, 2^40], got -4"),
    ({"variant": "multi_head_attention", "n": 8, "d": 8, "heads": 2, "fused": "yes"},
     "layers[0].fused: expected true or false, got 'yes'"),
])
def test_bad_parameters(layer, message):
    with pytest.raises(ConfigError) as exc:
        load_workload({"name": "t", "layers": [layer]})
    assert message in str(exc.value)
