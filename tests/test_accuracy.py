"""Functional results made visible: the float64 reference of a layer's graph (simulator/exact.py)
against the references written apart from the package (tests/reference_*.py) for every variant; the
error columns against metrics computed here from those references; mode and seed in provenance;
--save-outputs."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import cli, load_workload, simulate, to_frame
from simulator.accuracy import error_metrics
from simulator.exact import run_exact

from .helpers import make_hw
from .reference_attention import attention, multi_head
from .reference_generation import feed_forward, kv_attention_layer, norm
from .reference_local import conv1d, position_embedding, restricted_attention
from .reference_luong import luong_attention
from .reference_reader import attention_over_attention, show_attend_tell
from .reference_recurrent import lstm_cell_state, reference

ROOT = Path(__file__).resolve().parent.parent


def f64(r, name):
    return np.asarray(r.inputs[name], np.float64)


def weights(r, *names):
    return [f64(r, k)[0] for k in names]


def sat(r, sampling):
    return show_attend_tell(r.inputs["A"], r.inputs["Hq"], *weights(r, "W_c2pc", "W_d", "U_att"), sampling,
                            r.inputs["U"][..., 0] if sampling == "sample" else None)


# (layer, {output tensor: reference of the functional run's inputs}); every variant, masks, fused
# kernels, data-dependent windows, sampling and recurrences included
CASES = [
    ({"variant": "gemm", "m": 7, "k": 9, "n": 5, "batch": 2}, {"C": lambda r: f64(r, "A") @ f64(r, "B")}),
    ({"variant": "self_attention", "n": 11, "d": 6, "causal": True},
     {"Y": lambda r: attention(f64(r, "X"), f64(r, "X"), f64(r, "X"), True)}),
    ({"variant": "self_attention", "n": 13, "d": 5, "fused": True, "batch": 2},
     {"Y": lambda r: attention(f64(r, "X"), f64(r, "X"), f64(r, "X"))}),
    ({"variant": "multi_head_attention", "n": 9, "d": 12, "heads": 3, "causal": True},
     {"Y": lambda r: multi_head(f64(r, "X"), *weights(r, "W_Q", "W_K", "W_V", "W_O"), 3, True)}),
    ({"variant": "multi_head_attention", "n": 7, "d": 8, "heads": 2, "fused": True},
     {"Y": lambda r: multi_head(f64(r, "X"), *weights(r, "W_Q", "W_K", "W_V", "W_O"), 2)}),
    ({"variant": "restricted_self_attention", "n": 12, "d": 4, "window": 5},
     {"Y": lambda r: restricted_attention(f64(r, "X"), 5)}),
    ({"variant": "restricted_self_attention", "n": 10, "d": 3, "window": 4, "causal": True},
     {"Y": lambda r: restricted_attention(f64(r, "X"), 4, True)}),
    *[({"variant": "recurrent", "n": 4, "d": 5, "cell": cell, "batch": 2},
       {"H": lambda r, c=cell: reference(c, r.inputs)})
      for cell in ("rnn", "lstm", "gru")],
    ({"variant": "recurrent", "n": 3, "d": 4, "cell": "lstm", "initial_state": "given"},
     {"H": lambda r: reference("lstm", r.inputs), "c_n": lambda r: lstm_cell_state(r.inputs)}),
    ({"variant": "convolutional", "n": 9, "d": 4, "kernel": 3, "dilation": 2, "padding": "causal"},
     {"Y": lambda r: conv1d(f64(r, "X"), f64(r, "W")[0], 3, 2, "causal")}),
    ({"variant": "convolutional", "n": 8, "d": 3, "kernel": 2, "padding": "same"},
     {"Y": lambda r: conv1d(f64(r, "X"), f64(r, "W")[0], 2, 1, "same")}),
    ({"variant": "position_embedding", "n": 9, "d": 6, "mode": "computed"},
     {"Y": lambda r: position_embedding(r.inputs["X"])}),
    # table mode reads the PE as a weight, stored in the number format like any other input
    ({"variant": "position_embedding", "n": 9, "d": 6, "mode": "table"}, {"Y": lambda r: f64(r, "X") + f64(r, "PE")}),
    *[({"variant": "global_attention", "target_len": 4, "source_len": 6, "d": 3, "score": score, "d_a": 5},
       {"Y": lambda r, s=score: luong_attention(r.inputs, s, "global")["Y"],
        "alignment": lambda r, s=score: luong_attention(r.inputs, s, "global")["alignment"]})
      for score in ("dot", "general", "concat")],
    *[({"variant": "local_attention", "target_len": 5, "source_len": 8, "d": 3, "window_radius": 2, "mode": mode,
        "score": "general", "d_p": 4, "batch": 2},
       {"Y": lambda r, m=mode: luong_attention(r.inputs, "general", m, 2)["Y"],
        "alignment": lambda r, m=mode: luong_attention(r.inputs, "general", m, 2)["alignment"]})
      for mode in ("local_m", "local_p")],
    *[({"variant": "hard_attention", "n": 7, "d": 4, "queries": 3, "sampling": s, "seed": 5},
       {"alpha": lambda r, s=s: sat(r, s)["alpha"], **({"context": lambda r, s=s: sat(r, s)["context"]}
                                                       if s == "soft" else {})})
      for s in ("soft", "sample", "argmax")],
    ({"variant": "attention_over_attention", "doc_len": 9, "query_len": 4, "d": 5},
     {k: (lambda r, k=k: attention_over_attention(r.inputs["h_doc"], r.inputs["h_query"])[k])
      for k in ("alpha", "beta", "beta_avg", "s")}),
    ({"variant": "kv_cache_attention", "context": 5, "new_tokens": 3, "d": 16, "heads": 4, "kv_heads": 2,
      "batch": 2}, {"Y": lambda r: kv_attention_layer(r.inputs, 4, 2)}),
    ({"variant": "kv_cache_attention", "context": 9, "new_tokens": 4, "d": 16, "heads": 4, "window": 3, "bias": True},
     {"Y": lambda r: kv_attention_layer(r.inputs, 4, 4, True, 3, True)}),
    *[({"variant": "feed_forward", "n": 5, "d": 6, "d_ff": 9, "gated": g, "activation": a, "bias": True},
       {"Y": lambda r, g=g, a=a: feed_forward(r.inputs, g, a, True)})
      for g, a in ((False, "gelu"), (True, "silu"), (False, "relu"))],
    *[({"variant": "norm", "n": 4, "d": 7, "kind": kind, "eps": 1e-3}, {"Y": lambda r, k=kind: norm(r.inputs, k, 1e-3)})
      for kind in ("layernorm", "rmsnorm")],
    ({"variant": "residual_add", "n": 3, "d": 4}, {"Y": lambda r: f64(r, "X") + f64(r, "R")}),
]


def functional(layer, number_format="fp32", seed=3):
    wl = load_workload({"name": "t", "layers": [dict(layer, name="l")]})
    (r,) = simulate(wl, make_hw(rows=3, cols=5, sram_bytes=4096, number_format=number_format), functional=True,
                    seed=seed)
    return r


@pytest.mark.parametrize("layer,refs", CASES, ids=lambda v: v["variant"] if isinstance(v, dict) and "variant" in v
                         else None)
def test_the_float64_graph_reference_equals_the_handwritten_references(layer, refs):
    """Both are float64 from the same inputs: they agree to rounding (1e-9 of the largest value)."""
    r = functional(layer)
    exact = run_exact(r.graph, r.inputs)
    for name, ref_of in refs.items():
        want = np.asarray(ref_of(r), np.float64)
        got = np.asarray(exact[name], np.float64).reshape(want.shape)
        assert np.max(np.abs(got - want)) <= 1e-9 * max(1.0, np.abs(want).max()), name


def oracle_metrics(got, ref) -> tuple[float, float | None, float | None]:
    diff = np.asarray(got, np.float64).ravel() - np.asarray(ref, np.float64).ravel()
    ref = np.asarray(ref, np.float64).ravel()
    err, energy = float((diff ** 2).sum()), float((ref ** 2).sum())
    return (float(np.abs(diff).max()), math.sqrt(err / energy) if energy else None,
            10 * math.log10(energy / err) if err and energy else None)


def test_error_metrics_by_hand():
    m = error_metrics([(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.5, 4.0]))])
    # errors (0, -0.5, 0); reference energy 1 + 6.25 + 16 = 23.25
    assert m == {"max_abs_error": 0.5, "rel_rms_error": math.sqrt(0.25 / 23.25),
                 "sqnr_db": 10 * math.log10(23.25 / 0.25)}
    assert error_metrics([(np.ones(3), np.ones(3))]) == {"max_abs_error": 0.0, "rel_rms_error": 0.0, "sqnr_db": None}
    assert error_metrics([(np.zeros(2), np.zeros(2))])["rel_rms_error"] is None
    assert error_metrics([(np.array([np.inf]), np.array([1.0]))])["max_abs_error"] == math.inf


@pytest.mark.parametrize("fmt", ["fp32", "bf16", "fp16", "int8"])
@pytest.mark.parametrize("layer,refs", [CASES[3], CASES[8], CASES[-4]], ids=["mha", "lstm", "ffn"])
def test_layer_error_columns_equal_metrics_against_the_handwritten_reference(layer, refs, fmt):
    r = functional(layer, fmt)
    row = to_frame([r]).iloc[0]
    got = np.concatenate([np.asarray(r.outputs[name], np.float64).ravel() for name in refs])
    want = np.concatenate([np.asarray(ref_of(r), np.float64).ravel() for ref_of in refs.values()])
    max_abs, rel, sqnr = oracle_metrics(got, want)
    assert row["max_abs_error"] == pytest.approx(max_abs, rel=1e-6, abs=1e-12)
    assert row["rel_rms_error"] == pytest.approx(rel, rel=1e-6, abs=1e-15)
    assert row["sqnr_db"] == pytest.approx(sqnr, rel=1e-6)
    assert row["mode"] == "functional" and row["seed"] == 3


def test_narrower_formats_err_more():
    """The same layer and seed on the same array: fp32 < bf16, fp16 < bf16 (more mantissa bits) < int8."""
    layer = {"variant": "multi_head_attention", "n": 16, "d": 16, "heads": 2}
    err = {fmt: to_frame([functional(layer, fmt)]).iloc[0]["rel_rms_error"] for fmt in ("fp32", "fp16", "bf16", "int8")}
    assert err["fp32"] < 1e-5 < err["fp16"] < err["bf16"] < err["int8"] < 1
    assert err["fp32"] <= 1e-5 * math.sqrt(16 + 16 + 8 + 16)     # docs/conventions/counting.md §1.6 (fp32)


def test_op_error_columns_follow_the_graph():
    """Per op: the tensors it writes. A causal score GEMM compares only the entries under its mask
    (the array computes whole tiles; what lies outside the mask is never read)."""
    r = functional({"variant": "self_attention", "n": 11, "d": 6, "causal": True})
    ops = to_frame([r], level="op").set_index("op")
    assert list(ops.columns[-3:]) == ["max_abs_error", "rel_rms_error", "sqnr_db"]
    assert (ops["rel_rms_error"] < 1e-5).all(), ops["rel_rms_error"]
    assert ops.loc["context", "rel_rms_error"] == pytest.approx(to_frame([r]).iloc[0]["rel_rms_error"], rel=1e-12)
    x = f64(r, "X")[0]
    s = x @ x.T                           # the scale 1/sqrt(d) is applied by the softmax op
    keep = np.tril(np.ones((11, 11), bool))
    scores = np.asarray(r.tensors["S"], np.float64).reshape(11, 11)
    assert ops.loc["scores", "max_abs_error"] == pytest.approx(np.abs(scores - s)[keep].max(), rel=1e-6, abs=1e-12)


def test_count_only_reports_have_no_error_columns_and_say_so():
    wl = load_workload({"name": "t", "layers": [{"name": "g", "variant": "gemm", "m": 4, "k": 4, "n": 4}]})
    (r,) = simulate(wl, make_hw())
    frame = to_frame([r])
    assert "max_abs_error" not in frame and "max_abs_error" not in to_frame([r], level="op")
    assert frame.iloc[0]["mode"] == "count-only" and pd.isna(frame.iloc[0]["seed"])


def test_cli_functional_report_and_provenance(capsys):
    smoke = ROOT / "workloads" / "gemm_smoke.yaml"
    assert cli.main(["run", str(smoke), "--functional", "--seed", "4", "--format", "csv"]) == 0
    frame = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert (frame["mode"] == "functional").all() and (frame["seed"] == 4).all()
    assert (frame["sqnr_db"] > 40).all()                      # bf16 on default.yaml
    assert cli.main(["run", str(smoke), "--functional"]) == 0
    assert "functional, seed 0" in capsys.readouterr().out


def test_save_outputs_writes_every_layer(tmp_path, capsys):
    smoke = ROOT / "workloads" / "gemm_smoke.yaml"
    out = tmp_path / "saved"
    assert cli.main(["run", str(smoke), "--functional", "--seed", "2", "--save-outputs", str(out),
                     "--hw", str(ROOT / "hw_configs" / "edge_32x32.yaml"), "--format", "csv"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["gemm_smoke.proj.edge_32x32.npz", "gemm_smoke.qk.edge_32x32.npz"]
    wl = load_workload(smoke)
    results = simulate(wl, make_hw(), functional=True, seed=2)      # other hardware: same inputs (the seed)
    with np.load(out / "gemm_smoke.qk.edge_32x32.npz") as saved:
        assert sorted(saved.files) == ["input/A", "input/B", "output/C", "reference/C"]
        a, b = saved["input/A"].astype(np.float64), saved["input/B"].astype(np.float64)
        np.testing.assert_allclose(saved["reference/C"], a @ b, rtol=1e-12, atol=1e-9)
        assert saved["output/C"].shape == (1, 512, 512)
        assert np.abs(saved["output/C"] - a @ b).max() > 0          # int8 arithmetic is not exact
        assert results[0].inputs["A"].shape == saved["input/A"].shape
    assert not list(out.glob(".*"))                                 # no temporary files left behind
    assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--save-outputs", "{tmp}/f"], "--save-outputs needs --functional"),
    (["--functional", "--save-outputs", "{tmp}/file.txt"], "--save-outputs {tmp}/file.txt: is a file; give a folder"),
    (["--functional", "--save-outputs", "{tmp}/file.txt/sub"], "--save-outputs {tmp}/file.txt/sub: cannot create"),
])
def test_save_outputs_errors(tmp_path, capsys, args, message):
    (tmp_path / "file.txt").write_text("x")
    smoke = ROOT / "workloads" / "gemm_smoke.yaml"
    code = cli.main(["run", str(smoke), *(a.format(tmp=tmp_path) for a in args)])
    err = capsys.readouterr().err
    assert code == 2 and message.format(tmp=tmp_path) in err and "Traceback" not in err
