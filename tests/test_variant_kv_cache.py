"""`kv_cache_attention`: decode and prefill with a KV cache, grouped query heads, sliding windows.

Oracles: simulator/analytic/generation.py (closed forms written from the math) for the counts,
tests/reference_generation.py (float64 per-head loops) for the values.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import load_workload, simulate, to_frame
from simulator.analytic import generation as closed
from simulator.enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, BoundaryCounter, Counter, VEC_KIND_NAMES
from simulator.errors import ConfigError
from tests.helpers import make_hw
from tests.reference_generation import kv_attention, kv_attention_layer

U32 = 2.0 ** -24


def layer(**params):
    return {"variant": "kv_cache_attention", **params}


def run(params, hw, functional=False, seed=0):
    return simulate(load_workload({"name": "t", "layers": [layer(**params)]}), hw, functional=functional,
                    seed=seed)[0]


def vec(r) -> dict[str, int]:
    kinds = {k: int(r.counts[Counter.VEC_OPS + i]) for i, k in enumerate(VEC_KIND_NAMES)}
    return {k: v for k, v in kinds.items() if v}


def closed_args(p):
    heads = p["heads"]
    return dict(context=p["context"], new_tokens=p["new_tokens"], d=p["d"], heads=heads,
                kv_heads=p.get("kv_heads", heads), d_k=p.get("d_k", p["d"] // heads),
                projections=p.get("projections", True), causal=p.get("causal", True), window=p.get("window"),
                batch=p.get("batch", 1))


def check_counts(r, p, hw):
    args = closed_args(p)
    parts = closed.kv_cache_attention_macs(**args)
    assert r.macs == sum(parts.values())
    ops = {o.op: o.macs for o in r.ops if o.kind == "gemm"}
    assert ops == parts
    assert vec(r) == {k: v for k, v in closed.kv_cache_attention_vector_ops(**args, bias=p.get("bias", False)).items()
                      if v}
    row = to_frame([r]).iloc[0]
    assert (row["context"], row["new_tokens"], row["kv_heads"]) == (p["context"], p["new_tokens"], args["kv_heads"])
    assert row["phase"] == ("decode" if p["new_tokens"] == 1 else "prefill")
    if args["causal"]:
        want = closed.kv_cache_elements(p["context"], p["new_tokens"], args["kv_heads"], args["d_k"],
                                        args["window"], args["batch"])
        assert row["kv_cache_bytes"] == want * hw.bytes_per_element
    else:
        assert pd.isna(row["kv_cache_bytes"])              # an encoder keeps nothing for later tokens
    assert r.sequential_steps == (5 if args["projections"] else 3)


# --- closed forms -------------------------------------------------------------------------------
EDGE_CASES = [
    dict(context=0, new_tokens=1, d=8, heads=2),                         # the very first token
    dict(context=0, new_tokens=9, d=8, heads=2),                         # a causal prefill
    dict(context=13, new_tokens=1, d=12, heads=4, kv_heads=1),           # MQA decode
    dict(context=13, new_tokens=1, d=12, heads=4, kv_heads=4),           # MHA decode
    dict(context=6, new_tokens=3, d=12, heads=6, kv_heads=2, d_k=5),     # d_k given, h d_k != d
    dict(context=5, new_tokens=4, d=8, heads=2, causal=False),           # bidirectional (encoder)
    dict(context=20, new_tokens=3, d=8, heads=2, window=4),              # sliding window past the cache
    dict(context=2, new_tokens=5, d=8, heads=2, window=4),               # window longer than the cache
    dict(context=9, new_tokens=2, d=8, heads=2, window=1),               # a token sees itself only
    dict(context=7, new_tokens=2, d=8, heads=4, kv_heads=2, projections=False),
    dict(context=7, new_tokens=2, d=8, heads=4, kv_heads=2, bias=True, batch=3),
]


@pytest.mark.parametrize("p", EDGE_CASES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_counts_equal_closed_forms_on_edge_cases(p):
    hw = make_hw(rows=3, cols=5, sram_bytes=1 << 14)
    check_counts(run(p, hw), p, hw)


@st.composite
def kv_layers(draw):
    kv = draw(st.sampled_from([1, 2, 3]))
    group = draw(st.sampled_from([1, 2, 4]))
    heads = kv * group
    d_k = draw(st.integers(1, 6))
    p = dict(context=draw(st.integers(0, 40)), new_tokens=draw(st.integers(1, 7)), d=draw(st.integers(1, 12)),
             heads=heads, kv_heads=kv, d_k=d_k, batch=draw(st.integers(1, 2)),
             projections=draw(st.booleans()))
    if draw(st.booleans()):
        p["window"] = draw(st.integers(1, 50))
    elif draw(st.booleans()):
        p["causal"] = False
    if p["projections"]:
        p["bias"] = draw(st.booleans())
    return p


@settings(max_examples=60, deadline=None)
@given(p=kv_layers(), hw_index=st.integers(0, 2))
def test_counts_equal_closed_forms_over_random_layers(p, hw_index):
    hw = [make_hw(rows=4, cols=4, sram_bytes=1 << 13),
          make_hw(rows=3, cols=5, dataflow="output_stationary", sram_bytes=1 << 12),
          make_hw(rows=2, cols=3, dataflow="input_stationary", levels=[1024, 1 << 14])][hw_index]
    check_counts(run(p, hw), p, hw)


def test_issue_closed_form_with_projections():
    """2 heads d_k (t L + t(t+1)/2) + t d heads d_k + 2 t d kv_heads d_k + t heads d_k d, per sequence."""
    L, t, d, h, kv, dk = 11, 4, 24, 6, 2, 4
    want = 2 * h * dk * (t * L + t * (t + 1) // 2) + t * d * h * dk + 2 * t * d * kv * dk + t * h * dk * d
    r = run(dict(context=L, new_tokens=t, d=d, heads=h, kv_heads=kv, d_k=dk, batch=3), make_hw())
    assert r.macs == 3 * want


def test_path_length_over_the_whole_sequence():
    hw = make_hw()
    assert run(dict(context=30, new_tokens=1, d=4, heads=1), hw).max_path_length == 1
    assert run(dict(context=0, new_tokens=1, d=4, heads=1), hw).max_path_length is None   # one position
    # a window of w positions reaches w - 1 back per layer: ceil((n - 1) / (w - 1)) layers
    # (docs/conventions/layers.md §4.3)
    for n, w in ((31, 4), (40, 9), (17, 2)):
        r = run(dict(context=n - 1, new_tokens=1, d=4, heads=1, window=w), hw)
        assert r.max_path_length == math.ceil((n - 1) / (w - 1))


# --- values ------------------------------------------------------------------------------------------
def tolerance(*reductions):
    return 1e-5 * math.sqrt(sum(reductions)) + 4 * U32


VALUE_CASES = [
    dict(context=5, new_tokens=3, d=16, heads=4, kv_heads=2),
    dict(context=0, new_tokens=6, d=16, heads=4, kv_heads=1),
    dict(context=9, new_tokens=4, d=16, heads=4, window=3, bias=True),
    dict(context=7, new_tokens=1, d=16, heads=4, kv_heads=1, d_k=5),
    dict(context=3, new_tokens=4, d=12, heads=6, kv_heads=3, causal=False),
]


@pytest.mark.parametrize("hw_args", [dict(rows=3, cols=5), dict(rows=4, cols=4, dataflow="output_stationary",
                                                                 sram_bytes=2048)])
@pytest.mark.parametrize("p", VALUE_CASES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_functional_matches_float64_reference(p, hw_args):
    hw = make_hw(**hw_args)
    r = run(dict(p, batch=2), hw, functional=True, seed=7)
    a = closed_args(p)
    ref = kv_attention_layer(r.inputs, a["heads"], a["kv_heads"], a["causal"], a["window"], p.get("bias", False))
    assert r.outputs["Y"].shape == (2, p["new_tokens"], p["d"])
    width = a["heads"] * a["d_k"]
    err = np.max(np.abs(r.outputs["Y"] - ref))
    assert err <= tolerance(p["d"], p["context"] + p["new_tokens"], a["d_k"], width) * np.max(np.abs(ref))


def test_functional_without_projections_and_bf16():
    p = dict(context=6, new_tokens=3, d=16, heads=4, kv_heads=2, projections=False, window=5)
    for fmt, rel in (("fp32", tolerance(4, 9)), ("bf16", 3e-2)):
        hw = make_hw(rows=4, cols=4, number_format=fmt)
        r = run(dict(p, batch=2), hw, functional=True, seed=2)
        f = {k: np.asarray(v, np.float64) for k, v in r.inputs.items()}
        ref = kv_attention(f["Q_new"], f["K_cache"], f["V_cache"], f["K_new"], f["V_new"], 4, 2, True, 5)
        assert np.max(np.abs(r.outputs["O"] - ref)) <= rel * np.max(np.abs(ref)), fmt


def test_count_only_equals_functional_counts():
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)
    for p in VALUE_CASES:
        a, b = run(p, hw), run(p, hw, functional=True)
        assert np.array_equal(a.counts, b.counts) and a.cycles == b.cycles, p


def test_decode_equals_a_causal_layer_on_the_last_row():
    """Decoding token L after a prefill of L tokens gives the last row of a causal prefill of L + 1
    tokens (same weights, K/V cache = the prefill's projections): the cache is the layer's memory."""
    d, h, kv, L = 12, 4, 2, 6
    hw = make_hw(rows=4, cols=4)
    full = run(dict(context=0, new_tokens=L + 1, d=d, heads=h, kv_heads=kv), hw, functional=True, seed=4)
    f = {k: np.asarray(v, np.float64) for k, v in full.inputs.items()}
    k_all = (f["X"][0] @ f["W_K"][0]).reshape(L + 1, kv, d // h).transpose(1, 0, 2)
    v_all = (f["X"][0] @ f["W_V"][0]).reshape(L + 1, kv, d // h).transpose(1, 0, 2)
    step = kv_attention_layer({"X": f["X"][:, L:], "W_Q": f["W_Q"], "W_K": f["W_K"], "W_V": f["W_V"],
                               "W_O": f["W_O"], "K_cache": k_all[None, :, :L], "V_cache": v_all[None, :, :L]}, h, kv)
    np.testing.assert_allclose(step[0, 0], kv_attention_layer(f, h, kv)[0, L], rtol=1e-12, atol=1e-12)
    assert np.max(np.abs(full.outputs["Y"][0, L] - step[0, 0])) <= tolerance(d, L, 3, d) * np.abs(step).max()


# --- GQA: each cached row read once per group ---------------------------------------------------
def dram_fill_b(op, hw) -> int:
    return op.count(BOUNDARY_BASE + N_BOUNDARY_COUNTERS * (hw.n_boundaries - 1) + BoundaryCounter.FILL_B)


@pytest.mark.parametrize("hw_args", [dict(rows=8, cols=8), dict(rows=8, cols=4, dataflow="output_stationary"),
                                     dict(rows=4, cols=8, dataflow="input_stationary", sram_bytes=1 << 14)])
def test_gqa_reads_each_cached_row_once_per_group(hw_args):
    """Decode, 8 query heads: K (scores) and V (context) come from DRAM exactly once per KV head, so
    the cache traffic falls by heads / kv_heads exactly. (The group's stacked query rows are one m
    tile of these mappings: the array's m granule is at least 8. A mapping that splits a group's
    rows over several m tiles re-reads K per tile, as any GEMM re-reads B.)"""
    hw = make_hw(**hw_args)
    L, heads, dk, b = 37, 8, 16, 2
    reads = {}
    for kv in (8, 4, 2, 1):
        r = run(dict(context=L, new_tokens=1, d=heads * dk, heads=heads, kv_heads=kv, batch=b), hw)
        ops = {o.op: o for o in r.ops}
        want = closed.kv_cache_read_elements(L, 1, kv, dk, None, b) * hw.bytes_per_element
        assert dram_fill_b(ops["scores"], hw) == want          # K^T, every row once per KV head
        assert dram_fill_b(ops["context"], hw) == want         # V
        reads[kv] = dram_fill_b(ops["scores"], hw) + dram_fill_b(ops["context"], hw)
    for kv in (4, 2, 1):
        assert reads[8] == reads[kv] * (8 // kv)


def test_gqa_prefill_and_window_traffic():
    """Prefill: the appended K/V rows (the projections' writes) shrink by the group size exactly; the
    cache reads never grow (how much they shrink depends on how many query rows share a K tile, a
    mapping choice). A window reads only the rows it shows."""
    hw = make_hw(rows=8, cols=8, sram_bytes=1 << 15)
    last = hw.n_boundaries - 1
    drain = BOUNDARY_BASE + N_BOUNDARY_COUNTERS * last + BoundaryCounter.DRAIN_C

    def traffic(**p):
        r = run(dict(d=64, heads=8, d_k=8, **p), hw)
        ops = {o.op: o for o in r.ops}
        reads = dram_fill_b(ops["scores"], hw) + dram_fill_b(ops["context"], hw)
        return reads, ops["k_projection"].count(drain) + ops["v_projection"].count(drain)

    (mha, mha_append), (gqa, gqa_append), (mqa, mqa_append) = (traffic(context=0, new_tokens=48, kv_heads=kv)
                                                                for kv in (8, 2, 1))
    assert mha >= gqa >= mqa
    assert mha_append == 4 * gqa_append == 8 * mqa_append == 2 * 48 * 8 * 8 * 4
    # a window of 16 at context 500: only the 16 visible rows per KV head are read (2 KV heads)
    assert traffic(context=500, new_tokens=1, kv_heads=2, window=16)[0] == 2 * (2 * 16 * 8 * 4)


# --- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("params,message", [
    (dict(context=4, new_tokens=1, d=16, heads=4, kv_heads=3),
     "layers[0].kv_heads: expected a divisor of heads = 4 (each KV head serves an equal group of query heads); got 3"),
    (dict(context=4, new_tokens=1, d=10, heads=4),
     "layers[0].heads: d = 10 is not divisible by heads = 4; choose heads dividing d, or give the per-head width "
     "d_k explicitly"),
    (dict(context=4, new_tokens=1, d=16, heads=4, window=8, causal=False),
     "layers[0].window: a sliding window looks back from each token: it needs causal: true"),
    (dict(context=4, new_tokens=1, d=16, heads=4, bias=True, projections=False),
     "layers[0].bias: biases belong to the projections; with projections: false there are none"),
    (dict(context=-1, new_tokens=1, d=16, heads=4), "layers[0].context: expected an integer in [0, 2^40], got -1"),
    (dict(context=4, new_tokens=0, d=16, heads=4), "layers[0].new_tokens: expected an integer in [1, 2^40], got 0"),
    (dict(context=4, d=16, heads=4), "layers[0].new_tokens: missing key"),
    (dict(context=4, new_tokens=1, d=16, heads=4, kv_heads=0), "layers[0].kv_heads: expected an integer in [1, 2^40], got 0"),
])
def test_bad_parameters(params, message):
    with pytest.raises(ConfigError) as exc:
        load_workload({"name": "t", "layers": [layer(**params)]})
    assert message in [f"{path}: {msg}" for path, msg in exc.value.problems]
