"""Transformer blocks from model configs: the bundled configs, the block's counts, the report,
`attnsim run --model` and the workload `model:` form, and every refusal by its key path.

Oracles: parameter counts written here from each architecture's definition (checked against the
published totals), and the closed form MACs per decode token = non-embedding weights + attention.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import cli, load_hardware, load_workload, simulate
from simulator.checks import Checker
from simulator.errors import ConfigError
from simulator.models.block import model_run
from simulator.models.config import interpret, load_model_config
from simulator.models.report import model_frame
from simulator.models.workload import model_workload

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
DEFAULT = load_hardware(ROOT / "hw_configs" / "default.yaml")


def raw(name):
    return json.loads((MODELS / f"{name}.json").read_text())


# --- the bundled shapes: independent parameter counts == the published totals ------------------------
def llama_matrices(c):
    d, h, kv, f = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["intermediate_size"]
    dk = d // h
    return c["num_hidden_layers"] * (d * h * dk + 2 * d * kv * dk + h * dk * d + 3 * d * f)


def gpt2_matrices(c):
    d = c["n_embd"]
    return c["n_layer"] * (d * 3 * d + d * d + d * 4 * d + 4 * d * d)


def bert_matrices(c):
    d, f = c["hidden_size"], c["intermediate_size"]
    return c["num_hidden_layers"] * (4 * d * d + 2 * d * f)


def test_bundled_shapes_give_the_published_parameter_totals():
    """Meta-Llama-3-8B 8,030,261,248 (untied embeddings and LM head, RMSNorm weights); GPT-2
    124,439,808 (tied head, learned positions, biases, LayerNorms); bert-base-uncased BertModel
    109,482,240 (word, position and token-type embeddings, biases, LayerNorms, pooler)."""
    c = raw("llama3_8b_shaped")
    d, layers = c["hidden_size"], c["num_hidden_layers"]
    assert 2 * c["vocab_size"] * d + llama_matrices(c) + layers * 2 * d + d == 8_030_261_248
    c = raw("gpt2_124m")
    d, layers = c["n_embd"], c["n_layer"]
    biases_norms = layers * (3 * d + d + 4 * d + d + 4 * d) + 2 * d
    assert (c["vocab_size"] + c["n_positions"]) * d + gpt2_matrices(c) + biases_norms == 124_439_808
    c = raw("bert_base_uncased")
    d, f, layers = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    embeddings = (c["vocab_size"] + c["max_position_embeddings"] + c["type_vocab_size"]) * d + 2 * d
    per_layer_rest = 4 * d + 2 * d + f + d + 2 * d
    assert embeddings + bert_matrices(c) + layers * per_layer_rest + d * d + d == 109_482_240


def frame_for(name, phase, hw=DEFAULT, **step):
    shape = load_model_config(MODELS / f"{name}.json")
    chk = Checker("t")
    run = model_run(chk, "", shape, phase, step.get("context"), step.get("tokens"), step.get("batch"))
    assert run is not None, chk.problems
    results = simulate(model_workload(run), hw)
    return model_frame(results, run).set_index("layer"), run


@pytest.mark.parametrize("name,matrices", [("llama3_8b_shaped", llama_matrices), ("gpt2_124m", gpt2_matrices)])
@pytest.mark.parametrize("context,batch", [(0, 1), (1000, 1), (777, 3)])
def test_decode_macs_per_token_are_weights_plus_attention(name, matrices, context, batch):
    c = raw(name)
    f, run = frame_for(name, "decode", context=context, batch=batch)
    s = run.shape
    attention = s.layers * 2 * s.heads * s.d_k * (context + 1)
    assert f.loc["per token", "macs"] == matrices(c) + attention
    assert f.loc["total", "macs"] == batch * (matrices(c) + attention)


def test_multi_token_steps_and_encoder_prefill():
    c = raw("llama3_8b_shaped")
    f, run = frame_for("llama3_8b_shaped", "decode", context=500, tokens=4)
    s = run.shape
    assert f.loc["total", "macs"] == 4 * llama_matrices(c) + s.layers * 2 * s.heads * s.d_k * (4 * 500 + 4 * 5 // 2)
    assert f.loc["per token", "macs"] * 4 == f.loc["total", "macs"]
    c = raw("bert_base_uncased")
    f, run = frame_for("bert_base_uncased", "prefill", tokens=128, batch=2)
    s = run.shape
    # bidirectional: every token sees all 128
    assert f.loc["per sequence", "macs"] == 128 * bert_matrices(c) + s.layers * 2 * s.heads * s.d_k * 128 * 128
    assert pd.isna(f.loc["attention", "kv_cache_bytes"])          # an encoder keeps no cache


def test_report_rows_add_up():
    f, run = frame_for("gpt2_124m", "decode", context=300, batch=2, tokens=2)
    layers = ["attention_norm", "attention", "attention_residual", "ffn_norm", "feed_forward", "ffn_residual"]
    assert list(f.index) == layers + ["total", "per token"]
    for col in ("macs", "vector_ops", "cycles", "dram_read_bytes", "dram_write_bytes"):
        assert f.loc["total", col] == f.loc[layers, col].sum()
        assert f.loc["per token", col] * 4 == pytest.approx(f.loc["total", col], rel=1e-12)
    s = run.shape
    cache = s.layers * 2 * s.kv_heads * s.d_k * (300 + 2) * 2 * DEFAULT.bytes_per_element
    assert f.loc["total", "kv_cache_bytes"] == f.loc["attention", "kv_cache_bytes"] == cache
    assert f.loc["per token", "kv_cache_bytes"] == cache // 2                        # per sequence
    assert set(f["phase"]) == {"decode"} and set(f["repeat"]) == {s.layers}
    assert set(f["bound"]) <= {"memory", "compute", "balanced"}
    assert f.loc["total", "sequential_steps"] == f.loc[layers, "sequential_steps"].sum()


def test_llama_decode_is_memory_bound_and_reads_every_weight():
    """One decode token reads every weight of the stack at least once: DRAM reads >= 2 bytes per
    non-embedding weight (bf16) plus the KV cache; the DRAM port, not the array, sets the pace."""
    f, run = frame_for("llama3_8b_shaped", "decode", context=4095)
    s = run.shape
    weights = llama_matrices(raw("llama3_8b_shaped"))
    cache = s.layers * 2 * s.kv_heads * s.d_k * 4095 * 2
    assert f.loc["per token", "dram_read_bytes"] >= 2 * weights + cache
    assert f.loc["per token", "bound"] == "memory"


def test_sliding_window_config():
    """A Mistral-style config with sliding_window: past the window, each token reads only the window."""
    cfg = {"model_type": "mistral", "hidden_size": 256, "num_attention_heads": 8, "num_key_value_heads": 2,
           "num_hidden_layers": 3, "intermediate_size": 512, "sliding_window": 64, "max_position_embeddings": 4096,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
    shape = interpret(cfg)
    chk = Checker("t")
    run = model_run(chk, "", shape, "decode", 1000)
    r = simulate(model_workload(run), DEFAULT)
    att = next(x for x in r if x.layer == "attention")
    weights = 3 * (256 * 256 + 2 * 256 * 64 + 256 * 256 + 3 * 256 * 512)
    assert sum(x.macs for x in r) == weights + 3 * 2 * 8 * 32 * 64
    assert att.fields["kv_cache_bytes"] == 3 * 2 * 2 * 32 * 63 * 2          # the window - 1 rows kept


def test_workload_file_form_equals_the_flag_form(tmp_path):
    wl = load_workload(ROOT / "workloads" / "llama3_8b_decode.yaml")
    assert wl.model is not None and wl.model.context == 4095 and len(wl.layers) == 6
    f, _ = frame_for("llama3_8b_shaped", "decode", context=4095)
    by_file = model_frame(simulate(wl, DEFAULT), wl.model).set_index("layer")
    assert list(by_file["macs"]) == list(f["macs"]) and list(by_file["cycles"]) == list(f["cycles"])
    moved = tmp_path / "w.yaml"       # a relative config path is read from the workload file's folder
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "c.json").write_text((MODELS / "gpt2_124m.json").read_text())
    moved.write_text("model: {config: m/c.json, phase: decode, context: 10}\n")
    w = load_workload(moved)
    assert w.name == "c_decode" and w.model.context == 10 and len(w.sha256) == 64


# --- the command line ---------------------------------------------------------------------------------
def test_cli_model_run(capsys, tmp_path):
    out = tmp_path / "r.csv"
    assert cli.main(["run", "--model", str(MODELS / "llama3_8b_shaped.json"), "--phase", "decode", "--context",
                     "2047", "--batch", "2", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame["layer"])[-2:] == ["total", "per token"]
    assert frame["workload_file"].iloc[0] == "models/llama3_8b_shaped.json"
    assert cli.main(["run", "--model", str(MODELS / "gpt2_124m.json"), "--phase", "prefill", "--tokens", "64"]) == 0
    text = capsys.readouterr().out
    assert "gpt2_124m (gpt2, 12 blocks), prefill: 64 tokens after 0 cached, batch 1" in text
    assert "per sequence" in text


@pytest.mark.parametrize("args,message", [
    (["run", "--model", "M/llama3_8b_shaped.json"], "attnsim: error: --model needs --phase prefill or --phase decode"),
    (["run", "--phase", "decode", "W/gemm_smoke.yaml"], "attnsim: error: --phase only apply with --model CONFIG.json"),
    (["run"], "attnsim: error: give a workload file"),
    (["run", "W/gemm_smoke.yaml", "--model", "M/gpt2_124m.json", "--phase", "decode"], "not both"),
    (["run", "--model", "M/bert_base_uncased.json", "--phase", "decode"],
     "  --phase: bert_base_uncased is an encoder (bert: bidirectional attention keeps no KV cache, so there is no "
     "decode step); use prefill"),
    (["run", "--model", "M/gpt2_124m.json", "--phase", "decode", "--context", "1024"],
     "  --context: context + tokens = 1024 + 1 = 1025 exceeds the model's 1024 positions"),
    (["run", "--model", "M/gpt2_124m.json", "--phase", "generate"],
     "  --phase: expected one of prefill, decode; got 'generate'"),
    (["run", "--model", "M/gpt2_124m.json", "--phase", "prefill", "--tokens", "0"],
     "  --tokens: expected an integer >= 1, got 0"),
    (["run", "M/gpt2_124m.json"], "this is a model config: run it with attnsim run --model"),
    (["run", "--model", "M/gpt2_124m.json", "--phase", "decode", "--context", "5", "--batch", "100000000000000"],
     "  --batch: batch x tokens = 100000000000000 x 1 = 100000000000000 new tokens in one step; the simulator "
     "takes at most 16,777,216"),
])
def test_cli_model_errors(capsys, args, message):
    args = [a.replace("M/", f"{MODELS}/").replace("W/", f"{ROOT / 'workloads'}/") for a in args]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# --- refusals, each by its key path --------------------------------------------------------------------
LLAMA = raw("llama3_8b_shaped")


@pytest.mark.parametrize("change,problem", [
    ({"model_type": "t5"}, ("model_type", "expected one of bert, gpt2, llama, mistral (architectures this reader "
                                          "can build); got 't5'")),
    ({"model_type": None}, ("model_type", "missing key (the architecture: one of bert, gpt2, llama, mistral)")),
    ({"model_type": ["llama"]}, ("model_type", "expected one of bert, gpt2, llama, mistral (architectures this "
                                               "reader can build); got a list")),
    ({"num_local_experts": 8}, ("num_local_experts", "unknown key for a llama config: this reader cannot tell "
                                                      "whether it changes the block, so it refuses the file "
                                                      "(remove the key if it does not)")),
    ({"hidden_size": None}, ("hidden_size", "missing key")),
    ({"hidden_size": "4096"}, ("hidden_size", "expected an integer >= 1, got '4096'")),
    ({"num_key_value_heads": 5}, ("num_key_value_heads", "expected a divisor of num_attention_heads = 32; got 5")),
    ({"hidden_act": "gelu_fast"}, ("hidden_act", "expected one of gelu, gelu_new, gelu_pytorch_tanh, relu, silu, "
                                                 "swish; got 'gelu_fast' (did you mean 'gelu'?)")),
    ({"attention_bias": "no"}, ("attention_bias", "expected true or false, got 'no'")),
    ({"hidden_size": 4100}, ("num_attention_heads", "hidden_size = 4100 is not divisible by num_attention_heads = "
                                                    "32 and the config gives no head_dim")),
])
def test_config_refusals(change, problem):
    cfg = {k: v for k, v in dict(LLAMA, **change).items() if v is not None or k in ("rope_scaling",)}
    with pytest.raises(ConfigError) as exc:
        interpret(cfg, "c.json")
    assert problem in exc.value.problems


def test_strict_json(tmp_path):
    cases = {"dup.json": ('{"model_type": "gpt2", "n_embd": 8, "n_embd": 16}', "duplicate key 'n_embd'"),
             "nan.json": ('{"model_type": "gpt2", "layer_norm_epsilon": NaN}', "NaN is not a number JSON allows"),
             "bad.json": ('{"model_type": "gpt2",}', "JSON error at line 1, column 23"),
             "list.json": ("[1, 2]", "expected a JSON object (a Hugging Face config.json), got a list")}
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ConfigError) as exc:
            load_model_config(path)
        assert any(message in m for _, m in exc.value.problems), (name, exc.value.problems)
    with pytest.raises(ConfigError, match="file not found"):
        load_model_config(tmp_path / "missing.json")


def test_workload_model_section_errors(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("model: {config: nowhere.json, phase: decode, tokenz: 2}\n")
    with pytest.raises(ConfigError) as exc:
        load_workload(path)
    assert ("model.tokenz", "unknown key (did you mean 'tokens'?)") in exc.value.problems
    path.write_text("model: {config: nowhere.json, phase: decode}\nlayers: []\n")
    with pytest.raises(ConfigError) as exc:
        load_workload(path)
    assert ("layers", "a workload either lists layers or builds them from a model: section, not both") \
        in exc.value.problems
    path.write_text("model: {config: nowhere.json, phase: decode}\n")
    with pytest.raises(ConfigError) as exc:
        load_workload(path)
    assert exc.value.problems == (("model.config", f"{tmp_path / 'nowhere.json'}: file not found"),)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(LLAMA, num_key_value_heads=7)))
    path.write_text(f"model: {{config: {bad}, phase: prefill, tokens: 8}}\n")
    with pytest.raises(ConfigError) as exc:
        load_workload(path)
    assert exc.value.problems == (("model.config", f"{bad}: num_key_value_heads: expected a divisor of "
                                                   f"num_attention_heads = 32; got 7"),)


def test_sweep_runs_model_workloads_but_refuses_layer_grid_on_them(tmp_path):
    from simulator.sweep.spec import load_sweep

    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"name: s\nbase_hw: {ROOT / 'hw_configs' / 'default.yaml'}\n"
                     f"workloads: [{ROOT / 'workloads' / 'llama3_8b_decode.yaml'}, {ROOT / 'workloads' / 'gemm_smoke.yaml'}]\n"
                     "hw_grid: {mac_array.rows: [32, 64]}\nlayer_grid: {d: [768, 1024]}\n")
    spec = load_sweep(sweep)
    model_cases = [c for c in spec.cases if c.workload_index == 0]
    assert model_cases and all(c.workload is None for c in model_cases)
    assert "layer_grid cannot change them" in model_cases[0].problems[0][1]
    sweep.write_text(sweep.read_text().replace("layer_grid: {d: [768, 1024]}\n", ""))
    assert all(c.workload is not None for c in load_sweep(sweep).cases)


@pytest.mark.parametrize("name,phase", [("llama3_8b_shaped", "decode"), ("llama3_8b_shaped", "prefill"),
                                        ("gpt2_124m", "decode"), ("bert_base_uncased", "prefill")])
def test_report_invariants_on_every_bundled_config(name, phase):
    """cycles >= the busy cycles of the compute units, utilization <= 1, every count finite and >= 0,
    on every bundled hardware config (prefill at 512 tokens keeps the test quick)."""
    configs = [load_hardware(p) for p in sorted((ROOT / "hw_configs").glob("*.yaml"))]
    step = {"tokens": 512} if phase == "prefill" else {}
    for hw in configs:
        f, _ = frame_for(name, phase, hw=hw, **step)
        numbers = f[["macs", "slot_macs", "vector_ops", "cycles", "compute_cycles", "stall_cycles",
                     "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "energy_pj"]]
        assert (numbers.astype(float) >= 0).all().all() and numbers.astype(float).map(np.isfinite).all().all()
        assert (f["cycles"] >= f["compute_cycles"]).all() and (f["slot_macs"] >= f["macs"]).all()
        assert (f["utilization"].astype(float) <= 1).all(), hw.name
