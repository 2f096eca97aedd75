"""hard_attention (Show, Attend and Tell) and attention_over_attention: outputs, counts, structure."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from simulator import cli, load_workload, simulate
from simulator.analytic import reader as closed
from simulator.engine import run_graph
from simulator.enums import Counter, VecKind
from simulator.errors import ConfigError
from simulator.simulate import draw_inputs
from simulator.variants import REGISTRY
from tests.helpers import make_hw
from tests.reference_reader import attention_over_attention, first_argmax, gather_rows, inverse_cdf, show_attend_tell

ROOT = Path(__file__).resolve().parent.parent
U32 = 2.0 ** -24
MODES = ("soft", "sample", "argmax")


def run(layers, hw, functional=False, seed=0):
    return simulate(load_workload({"name": "t", "layers": layers}), hw, functional=functional, seed=seed)


def hard(n, d, queries, sampling, **extra):
    return {"variant": "hard_attention", "n": n, "d": d, "queries": queries, "sampling": sampling, **extra}


def aoa(doc_len, query_len, d, **extra):
    return {"variant": "attention_over_attention", "doc_len": doc_len, "query_len": query_len, "d": d, **extra}


def vec_ops(counts) -> dict[str, int]:
    return {k: int(counts[Counter.VEC_OPS + VecKind[k.upper()]]) for k in closed.KINDS}


def tolerance(*reductions):
    """fp32: about 1e-5 sqrt(reduction length) relative per chained reduction, plus a few ulps."""
    return 1e-5 * math.sqrt(sum(reductions)) + 4 * U32


def op_macs(r) -> dict[str, int]:
    return {o.op: o.macs for o in r.ops if o.kind == "gemm"}


def weights(r):
    return [r.inputs[k][0].astype(np.float64) for k in ("W_c2pc", "W_d", "U_att")]


def layer_graph(layer):
    spec = load_workload({"name": "t", "layers": [layer]}).layers[0]
    return REGISTRY[spec.variant].build(spec)


# --- hard_attention: outputs ---------------------------------------------------------------------
@pytest.mark.parametrize("sampling", MODES)
@pytest.mark.parametrize("n,d,queries,batch", [(7, 5, 3, 1), (13, 6, 5, 2)])
def test_hard_attention_matches_reference(n, d, queries, batch, sampling):
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)           # 3x5: no size here divides the array
    (r,) = run([hard(n, d, queries, sampling, seed=17, batch=batch)], hw, functional=True, seed=4)
    ref = show_attend_tell(r.inputs["A"], r.inputs["Hq"], *weights(r), sampling,
                           r.inputs["U"][..., 0] if sampling == "sample" else None)
    alpha = r.outputs["alpha"]
    assert np.max(np.abs(alpha - ref["alpha"])) <= tolerance(d, d, n)
    if sampling == "soft":
        scale = np.max(np.abs(ref["context"]))
        assert np.max(np.abs(r.outputs["context"] - ref["context"])) <= tolerance(d, d, n, n) * scale
        assert "index" not in r.outputs and "U" not in r.inputs
        return
    index = r.outputs["index"][..., 0].astype(np.int64)
    np.testing.assert_array_equal(r.outputs["index"], index[..., None])         # whole numbers
    # exact replay from what memory holds (alpha as stored, U as drawn), and vs the float64 pipeline
    replay = inverse_cdf(alpha, r.inputs["U"][..., 0]) if sampling == "sample" else first_argmax(alpha)
    np.testing.assert_array_equal(index, replay)
    np.testing.assert_array_equal(index, ref["index"])
    np.testing.assert_array_equal(r.outputs["context"], gather_rows(r.inputs["A"], index))


def test_uniforms_are_default_rng_of_the_layer_seed_in_c_order():
    hw = make_hw(rows=4, cols=4, sram_bytes=4096)
    (r,) = run([hard(6, 3, 4, "sample", seed=1234, batch=3)], hw, functional=True, seed=99)
    want = np.random.default_rng(1234).random((3, 4, 1)).astype(np.float32)
    np.testing.assert_array_equal(r.inputs["U"], want)
    (other,) = run([hard(6, 3, 4, "sample", seed=1234, batch=3)], hw, functional=True, seed=5)
    np.testing.assert_array_equal(other.inputs["U"], want)        # simulate()'s seed does not move U


def test_one_location_hard_equals_soft():
    """L = 1 (docs/conventions/layers.md §6.5): alpha = 1, every mode picks location 0 and returns a_0
    exactly."""
    hw = make_hw(rows=4, cols=4, sram_bytes=4096)
    out = {m: run([hard(1, 5, 4, m, batch=2)], hw, functional=True, seed=8)[0] for m in MODES}
    a0 = np.broadcast_to(out["soft"].inputs["A"], (2, 4, 5))
    for m in MODES:
        np.testing.assert_array_equal(out[m].inputs["A"], out["soft"].inputs["A"])   # same draws in every mode
        assert np.all(out[m].outputs["alpha"] == 1.0)
        np.testing.assert_array_equal(out[m].outputs["context"], a0)
    for m in ("sample", "argmax"):
        assert np.all(out[m].outputs["index"] == 0)
    assert out["soft"].macs - out["sample"].macs == 4 * 1 * 5 * 2


def _run_store(layer, hw, seed, edit):
    """Run a layer's graph functionally on drawn inputs changed by `edit(store)`; return the store."""
    graph = layer_graph(layer)
    store = draw_inputs(graph, hw, seed, 0)
    edit(store)
    run_graph(graph, hw, store)
    return store


def _peaked(store, rows, d, gain):
    """W_c2pc = I, W_d = 0, U_att = gain: e_i = gain x sum_j tanh(a_ij), whatever the state."""
    store["W_c2pc"] = np.eye(d, dtype=np.float32)[None]
    store["W_d"] = np.zeros((1, d, d), np.float32)
    store["U_att"] = np.full((1, d, 1), gain, np.float32)
    store["A"] = np.asarray(rows, np.float32)[None, :, None] * np.ones((1, 1, d), np.float32)


def test_argmax_ties_pick_the_lowest_index():
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)
    layer = hard(5, 3, 4, "argmax")
    store = _run_store(layer, hw, 1, lambda s: _peaked(s, [-1.0, 0.5, 2.0, -2.0, 2.0], 3, 1.0))
    assert store["alpha"][0, 0, 2] == store["alpha"][0, 0, 4]      # a genuine tie in what memory holds
    assert np.all(store["index"] == 2)
    flat = _run_store(layer, hw, 1, lambda s: s.update(U_att=np.zeros((1, 3, 1), np.float32)))
    assert np.all(flat["alpha"] == flat["alpha"][0, 0, 0])          # U_att = 0: uniform alpha, all tied
    assert np.all(flat["index"] == 0)


def test_zero_probability_locations_are_never_sampled():
    hw = make_hw(rows=3, cols=5, sram_bytes=8192)
    layer = hard(6, 3, 600, "sample", seed=3)
    store = _run_store(layer, hw, 2, lambda s: _peaked(s, [-3.0, 3.0, -3.0, -3.0, 3.0, -3.0], 3, 60.0))
    alpha = store["alpha"][0]
    zero = alpha[0] == 0.0
    assert zero.sum() == 4 and np.all(alpha == alpha[0])           # exp(-358) underflows in fp32
    picked = store["index"][0, :, 0].astype(np.int64)
    assert not np.any(zero[picked])
    assert set(picked) == {1, 4}


@pytest.mark.parametrize("seed", [0, 1234])
def test_sampled_context_is_unbiased(seed):
    """docs/conventions/layers.md §6.4, checks 2 and 3: N = 4000 draws from one alpha (identical query
    states); per component
    |mean - soft| <= 5 sigma / sqrt(N), and each location's frequency within 5 binomial sigmas."""
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 14)
    n, d, big = 5, 4, 4000

    def same_state(store):
        store["Hq"] = np.repeat(store["Hq"][:, :1], big, axis=1)

    hard_store = _run_store(hard(n, d, big, "sample", seed=seed), hw, 6, same_state)
    soft_store = _run_store(hard(n, d, big, "soft"), hw, 6, same_state)
    alpha = hard_store["alpha"][0].astype(np.float64)
    assert np.all(alpha == alpha[0]) and np.array_equal(hard_store["alpha"], soft_store["alpha"])
    a = hard_store["A"][0].astype(np.float64)
    soft = alpha[0] @ a
    assert np.max(np.abs(soft_store["context"][0] - soft)) <= tolerance(n) * np.abs(soft).max()
    sigma = np.sqrt(alpha[0] @ (a - soft) ** 2)
    mean = hard_store["context"][0].astype(np.float64).mean(axis=0)
    assert np.all(np.abs(mean - soft) <= 5 * sigma / math.sqrt(big))
    freq = np.bincount(hard_store["index"][0, :, 0].astype(np.int64), minlength=n) / big
    assert np.all(np.abs(freq - alpha[0]) <= 5 * np.sqrt(alpha[0] * (1 - alpha[0]) / big))


@pytest.mark.parametrize("fmt", ["bf16", "int8"])
@pytest.mark.parametrize("sampling", ["sample", "argmax"])
def test_indices_are_exact_in_every_number_format(fmt, sampling):
    """Picked positions are addresses: never rounded to the number format (bf16 holds integers
    exactly only to 256, int8 quantises them), so the gather fetches the drawn row."""
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16, number_format=fmt)
    (r,) = run([hard(300, 2, 8, sampling, seed=5)], hw, functional=True, seed=2)
    index = r.outputs["index"][..., 0]
    assert np.array_equal(index, np.round(index))
    alpha = r.outputs["alpha"]
    replay = inverse_cdf(alpha, r.inputs["U"][..., 0]) if sampling == "sample" else first_argmax(alpha)
    np.testing.assert_array_equal(index, replay)
    np.testing.assert_array_equal(r.outputs["context"], gather_rows(r.inputs["A"], replay))


# --- hard_attention: counts and structure --------------------------------------------------------
HARD_GRID = [(n, d, q, m, b) for n in (1, 2, 7, 16) for d in (1, 5) for q in (1, 3) for m in MODES for b in (1, 2)]


def test_hard_attention_counts_match_closed_forms():
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)
    layers = [hard(n, d, q, m, batch=b, name=f"l{i}") for i, (n, d, q, m, b) in enumerate(HARD_GRID)]
    for (n, d, q, m, b), r in zip(HARD_GRID, run(layers, hw)):
        parts = closed.hard_attention_macs(n, d, q, m, b)
        assert op_macs(r) == parts
        assert r.macs == sum(parts.values())
        assert vec_ops(r.counts) == closed.hard_attention_vector_ops(n, d, q, m, b)
        assert int(r.counts[Counter.GATHER_ELEMS]) == closed.hard_attention_gather_elements(d, q, m, b)
        assert r.sequential_steps == (5 if m == "soft" else 6)
        assert r.max_path_length == 1
        assert (r.fields["n"], r.fields["d"]) == (n, d)


def test_soft_minus_hard_macs_is_queries_locations_width():
    hw = make_hw(rows=4, cols=4, sram_bytes=8192)
    n, d, q = 11, 6, 4
    soft, sample, argmax = run([hard(n, d, q, m, name=m) for m in MODES], hw)
    assert soft.macs - sample.macs == soft.macs - argmax.macs == q * n * d


def test_counts_do_not_depend_on_seeds_or_mode_outside_the_selection():
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)
    n, d, q = 9, 4, 5
    base = run([hard(n, d, q, "sample", seed=0)], hw)[0]
    for seed in (1, 1234):
        for functional_seed in (0, 3):
            (r,) = run([hard(n, d, q, "sample", seed=seed)], hw, functional=True, seed=functional_seed)
            assert np.array_equal(r.counts, base.counts) and r.cycles == base.cycles
    by_mode = {m: {o.op: o.counts for o in run([hard(n, d, q, m)], hw)[0].ops} for m in MODES}
    for op in ("project_annotations", "project_state", "attention_mlp", "score", "softmax"):
        assert np.array_equal(by_mode["soft"][op], by_mode["sample"][op])
        assert np.array_equal(by_mode["argmax"][op], by_mode["sample"][op])
    assert np.array_equal(by_mode["argmax"]["gather"], by_mode["sample"]["gather"])


@pytest.mark.parametrize("sampling", MODES)
def test_hard_count_only_equals_functional(sampling):
    hw = make_hw(rows=3, cols=5, sram_bytes=2048)
    layer = [hard(10, 7, 3, sampling, batch=2)]
    (a,), (b,) = run(layer, hw), run(layer, hw, functional=True, seed=1)
    assert np.array_equal(a.counts, b.counts) and a.cycles == b.cycles
    assert [o.op for o in a.ops] == [o.op for o in b.ops]


def test_hard_structure_does_not_depend_on_sizes():
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 15)
    for m in MODES:
        got = {(r.sequential_steps, r.max_path_length)
               for r in run([hard(n, d, q, m, name=f"l{n}_{d}_{q}") for n, d, q in
                             ((1, 2, 1), (8, 4, 8), (30, 3, 2), (3, 8, 40))], hw)}
        assert got == {(5 if m == "soft" else 6, 1)}


def test_show_attend_tell_workload():
    wl = load_workload(ROOT / "workloads" / "show_attend_tell.yaml")
    assert [s.params.sampling for s in wl.layers] == ["soft", "sample", "argmax"]
    assert wl.layers[1].params.seed == 1234
    p = wl.layers[0].params
    assert (p.n, p.d) == (196, 512)
    soft, sample, argmax = simulate(wl, make_hw(rows=32, cols=32, sram_bytes=1 << 20))
    assert soft.macs == sum(closed.hard_attention_macs(p.n, p.d, p.queries, "soft").values())
    assert soft.macs - sample.macs == p.queries * p.n * p.d == soft.macs - argmax.macs


# --- attention_over_attention --------------------------------------------------------------------
@pytest.mark.parametrize("nd,nq,d,batch", [(11, 4, 6, 1), (23, 7, 9, 2), (5, 13, 3, 1)])
def test_aoa_matches_reference_and_invariants(nd, nq, d, batch):
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)
    (r,) = run([aoa(nd, nq, d, batch=batch)], hw, functional=True, seed=12)
    ref = attention_over_attention(r.inputs["h_doc"], r.inputs["h_query"])
    tol = tolerance(d, max(nd, nq))           # probabilities: M's error (reduction d) through a softmax
    for name in ("alpha", "beta", "beta_avg", "s"):
        assert np.max(np.abs(r.outputs[name] - ref[name])) <= tol * max(1.0, np.abs(ref["M"]).max()), name
    out = {k: r.outputs[k].astype(np.float64) for k in r.outputs}
    sums_tol = tolerance(nd, nq, nd)
    assert np.all(out["s"] >= 0)
    assert np.all(np.abs(out["s"].sum(axis=1) - 1) <= sums_tol)
    assert np.all(np.abs(out["alpha"].sum(axis=1) - 1) <= sums_tol)          # columns over documents
    assert np.all(np.abs(out["beta"].sum(axis=2) - 1) <= sums_tol)           # rows over query words
    assert np.all(np.abs(out["beta_avg"].sum(axis=1) - 1) <= sums_tol)


def test_aoa_single_query_word():
    """n_Q = 1 (docs/conventions/layers.md §8.5): beta = 1, beta_avg = 1 and s = alpha's only column,
    exactly (fp32 holds n_D ones summed exactly and rounds n_D x fl(1/n_D) to 1)."""
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)
    for nd in (1, 3, 49, 97):
        (r,) = run([aoa(nd, 1, 4, batch=2)], hw, functional=True, seed=nd)
        assert np.all(r.outputs["beta"] == 1.0) and np.all(r.outputs["beta_avg"] == 1.0)
        np.testing.assert_array_equal(r.outputs["s"], r.outputs["alpha"][..., 0])


AOA_GRID = [(nd, nq, d, b) for nd in (1, 2, 9) for nq in (1, 4, 9) for d in (1, 6) for b in (1, 2)]


def test_aoa_counts_match_closed_forms():
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)
    layers = [aoa(nd, nq, d, batch=b, name=f"l{i}") for i, (nd, nq, d, b) in enumerate(AOA_GRID)]
    for (nd, nq, d, b), r in zip(AOA_GRID, run(layers, hw)):
        parts = closed.aoa_macs(nd, nq, d, b)
        assert op_macs(r) == parts and r.macs == sum(parts.values())
        ops = vec_ops(r.counts)
        assert ops == closed.aoa_vector_ops(nd, nq, b)
        assert ops["exp"] == 2 * nd * nq * b                         # separate shifts, no shared exp(M)
        assert r.sequential_steps == 4 and r.max_path_length == 1
        assert (r.fields["n"], r.fields["d"]) == (nd, d)
        assert r.fields.get("heads") == 1 and r.fields.get("window") is None   # one head, no window


def test_aoa_count_only_equals_functional():
    hw = make_hw(rows=3, cols=5, sram_bytes=2048)
    layer = [aoa(31, 6, 10, batch=2)]
    (a,), (b,) = run(layer, hw), run(layer, hw, functional=True, seed=3)
    assert np.array_equal(a.counts, b.counts) and a.cycles == b.cycles


def test_aoa_reader_workload():
    wl = load_workload(ROOT / "workloads" / "aoa_reader.yaml")
    (r,) = simulate(wl, make_hw(rows=32, cols=32, sram_bytes=1 << 20))
    p = wl.layers[0].params
    assert p.d == 256
    assert r.macs == p.doc_len * p.query_len * (p.d + 1)
    assert vec_ops(r.counts)["exp"] == 2 * p.doc_len * p.query_len


# --- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("layer,message", [
    (hard(8, 4, 2, "hard"),
     "layers[0].sampling: expected one of soft, sample, argmax; got 'hard'"),
    (hard(8, 4, 2, "Sample"),
     "layers[0].sampling: expected one of soft, sample, argmax; got 'Sample' (did you mean 'sample'?)"),
    (hard(0, 4, 2, "soft"), "layers[0].n: expected an integer in [1, 2^40], got 0"),
    (hard(8, 4, 2, "sample", seed=-1), "layers[0].seed: expected an integer in [0, 2^63-1], got -1"),
    ({"variant": "hard_attention", "n": 8, "d": 4}, "layers[0].queries: missing key"),
    (aoa(10, 0, 4), "layers[0].query_len: expected an integer in [1, 2^40], got 0"),
    ({"variant": "attention_over_attention", "doc_len": 10, "d": 4}, "layers[0].query_len: missing key"),
])
def test_bad_parameters(layer, message):
    with pytest.raises(ConfigError) as exc:
        load_workload({"name": "t", "layers": [layer]})
    assert message in str(exc.value)


def test_cli_validate_rejects_bad_reader_layers(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nlayers:\n"
                    "  - {variant: hard_attention, n: 196, d: 512, queries: 16, sampling: stochastic}\n"
                    "  - {variant: attention_over_attention, doc_len: 500, query_len: -3, d: 256}\n")
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "layers[0].sampling: expected one of soft, sample, argmax; got 'stochastic'" in err
    assert "layers[1].query_len: expected an integer in [1, 2^40], got -3" in err
