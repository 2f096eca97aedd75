"""Reading a Hugging Face-style config.json into the shape of one transformer block.

The reader knows a few architectures (`model_type`), which keys each uses for the block's sizes,
and which MLP, norm and attention each runs. Keys that only concern the embeddings, the tokenizer,
training or the position encoding are recognised and ignored (they do not change the block's
counts); any other key is refused with its key path, because the reader cannot tell whether it
changes the block. Every problem is reported at once, like the YAML readers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..checks import Checker, describe
from ..errors import ConfigError

# hidden_act values -> the feed_forward activation that runs. BERT's "gelu" is the erf form; the
# vector unit has no erf, so it runs as the tanh form (they differ by under 1e-3).
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "relu": "relu", "silu": "silu",
               "swish": "silu"}

# Keys that do not change the block's shapes or counts: metadata, embeddings, tokenizer ids,
# dropout (inference), initialisation, the LM or classification heads, position encodings (RoPE is
# not modeled: see `not_modeled`).
_IGNORED = ("_name_or_path", "architectures", "model_type", "torch_dtype", "transformers_version", "bos_token_id",
            "eos_token_id", "pad_token_id", "vocab_size", "initializer_range", "use_cache", "tie_word_embeddings",
            "gradient_checkpointing")


@dataclass(frozen=True)
class Family:
    """How one model_type spells its sizes and which block it runs."""
    keys: dict                 # our name -> the config's key
    defaults: dict             # our name -> value when the key is absent
    ignored: tuple[str, ...]
    decoder: bool              # causal attention with a KV cache
    gated: bool                # SwiGLU-style MLP
    norm: str                  # layernorm | rmsnorm
    pre_norm: bool             # norm before each sub-layer (else after the residual add)
    bias_keys: tuple = ()      # (attention bias key, MLP bias key); None = always biased
    not_modeled: tuple = ()    # (key, what the simulator leaves out) shown with the report


_BERT = Family(
    keys={"d": "hidden_size", "heads": "num_attention_heads", "layers": "num_hidden_layers",
          "d_ff": "intermediate_size", "act": "hidden_act", "eps": "layer_norm_eps",
          "max_positions": "max_position_embeddings"},
    defaults={"act": "gelu", "eps": 1e-12, "max_positions": None},
    ignored=("attention_probs_dropout_prob", "hidden_dropout_prob", "position_embedding_type", "type_vocab_size",
             "classifier_dropout"),
    decoder=False, gated=False, norm="layernorm", pre_norm=False, bias_keys=(None, None))
_GPT2 = Family(
    keys={"d": "n_embd", "heads": "n_head", "layers": "n_layer", "d_ff": "n_inner", "act": "activation_function",
          "eps": "layer_norm_epsilon", "max_positions": "n_positions"},
    defaults={"d_ff": None, "act": "gelu_new", "eps": 1e-5, "max_positions": None},
    ignored=("attn_pdrop", "embd_pdrop", "resid_pdrop", "n_ctx", "summary_activation", "summary_first_dropout",
             "summary_proj_to_labels", "summary_type", "summary_use_proj", "task_specific_params", "scale_attn_weights",
             "reorder_and_upcast_attn"),
    decoder=True, gated=False, norm="layernorm", pre_norm=True, bias_keys=(None, None))
_LLAMA_KEYS = {"d": "hidden_size", "heads": "num_attention_heads", "kv_heads": "num_key_value_heads",
               "d_k": "head_dim", "layers": "num_hidden_layers", "d_ff": "intermediate_size", "act": "hidden_act",
               "eps": "rms_norm_eps", "max_positions": "max_position_embeddings"}
_LLAMA_DEFAULTS = {"kv_heads": None, "d_k": None, "act": "silu", "eps": 1e-6, "max_positions": None}
_ROPE = (("rope_theta", "rotary position embedding of Q and K (a few vector operations per element)"),)
_LLAMA = Family(
    keys=_LLAMA_KEYS, defaults=_LLAMA_DEFAULTS,
    ignored=("attention_dropout", "pretraining_tp", "rope_theta", "rope_scaling"),
    decoder=True, gated=True, norm="rmsnorm", pre_norm=True, bias_keys=("attention_bias", "mlp_bias"),
    not_modeled=_ROPE)
_MISTRAL = Family(
    keys=dict(_LLAMA_KEYS, window="sliding_window"), defaults=dict(_LLAMA_DEFAULTS, window=None),
    ignored=("attention_dropout", "rope_theta", "rope_scaling"),
    decoder=True, gated=True, norm="rmsnorm", pre_norm=True, bias_keys=(None, None), not_modeled=_ROPE)
FAMILIES = {"bert": _BERT, "gpt2": _GPT2, "llama": _LLAMA, "mistral": _MISTRAL}
_BIASED = {"bert": True, "gpt2": True, "mistral": False}


@dataclass(frozen=True)
class ModelShape:
    """One transformer block of a model, repeated `layers` times."""
    name: str
    model_type: str
    d: int
    heads: int
    kv_heads: int
    d_k: int
    d_ff: int
    layers: int
    activation: str
    norm: str
    norm_eps: float
    pre_norm: bool
    decoder: bool
    gated: bool
    attention_bias: bool
    mlp_bias: bool
    window: int | None
    max_positions: int | None
    not_modeled: tuple[str, ...]
    source: str
    sha256: str = ""


def load_model_config(path: str | Path) -> ModelShape:
    """Read and interpret a config.json; raise ConfigError listing every problem."""
    import hashlib
    from dataclasses import replace

    data, text = read_json(path)
    return replace(interpret(data, str(path)), sha256=hashlib.sha256(text.encode()).hexdigest())


def read_json(path: str | Path):
    """Strict JSON: duplicate keys, NaN and Infinity refused; errors name the file and the line.
    Returns (data, text)."""
    from ..yaml_io import read_text

    text = read_text(path, "a config.json file")

    def pairs(items):
        out = {}
        for key, value in items:
            if key in out:
                raise ValueError(f"duplicate key {key!r} (JSON readers silently keep only the last value)")
            out[key] = value
        return out

    def constant(name):
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant), text
    except json.JSONDecodeError as exc:
        raise ConfigError(str(path), [("", f"JSON error at line {exc.lineno}, column {exc.colno}: {exc.msg}")]) from None
    except ValueError as exc:
        raise ConfigError(str(path), [("", f"JSON error: {exc}")]) from None


def interpret(data, source: str = "<dict>") -> ModelShape:
    chk = Checker(source)
    if not isinstance(data, dict):
        chk.add("", f"expected a JSON object (a Hugging Face config.json), got {describe(data)}")
        chk.raise_if_any()
    mtype = data.get("model_type")
    if not isinstance(mtype, str) or mtype not in FAMILIES:
        chk.add("model_type", "missing key (the architecture: one of " + ", ".join(FAMILIES) + ")" if mtype is None
                else f"expected one of {', '.join(FAMILIES)} (architectures this reader can build); "
                     f"got {describe(mtype, True)}")
        chk.raise_if_any()
    fam = FAMILIES[mtype]
    known = set(_IGNORED) | set(fam.ignored) | set(fam.keys.values()) | {k for k in fam.bias_keys if k}
    for key in data:
        if key not in known:
            chk.add(str(key), f"unknown key for a {mtype} config: this reader cannot tell whether it changes the "
                              f"block, so it refuses the file (remove the key if it does not)")
    v = _values(chk, data, fam)
    chk.raise_if_any()
    return _shape(chk, data, fam, mtype, v, source)


def _values(chk: Checker, data: dict, fam: Family) -> dict:
    """Each size read with its key path (None where wrong; problems go to chk)."""
    v = {}
    for ours, key in fam.keys.items():
        if key not in data or (data[key] is None and ours in fam.defaults):
            if ours not in fam.defaults:
                chk.add(key, "missing key")
            v[ours] = fam.defaults.get(ours)
            continue
        raw = data[key]
        if ours == "act":
            v[ours] = chk.choice(key, raw, tuple(ACTIVATIONS))
        elif ours == "eps":
            v[ours] = chk.number(key, raw, minimum=0.0)
        else:
            v[ours] = chk.integer(key, raw, minimum=1)
    for key in fam.bias_keys:
        if key and key in data:
            chk.boolean(key, data[key])
    return v


def _shape(chk: Checker, data: dict, fam: Family, mtype: str, v: dict, source: str) -> ModelShape:
    d, heads = v["d"], v["heads"]
    kv = v.get("kv_heads") or heads
    d_k = v.get("d_k")
    if d_k is None:
        if d % heads:
            chk.add(fam.keys["heads"], f"{fam.keys['d']} = {d} is not divisible by {fam.keys['heads']} = {heads} "
                                       f"and the config gives no head_dim")
        d_k = d // heads
    if heads % kv:
        chk.add(fam.keys.get("kv_heads", ""), f"expected a divisor of {fam.keys['heads']} = {heads}; got {kv}")
    chk.raise_if_any()
    attn_key, mlp_key = fam.bias_keys
    biased = _BIASED.get(mtype, False)
    return ModelShape(
        name=Path(source).stem if source != "<dict>" else mtype, model_type=mtype, d=d, heads=heads, kv_heads=kv,
        d_k=d_k, d_ff=v["d_ff"] or 4 * d, layers=v["layers"], activation=ACTIVATIONS[v["act"]], norm=fam.norm,
        norm_eps=v["eps"], pre_norm=fam.pre_norm, decoder=fam.decoder, gated=fam.gated,
        attention_bias=bool(data.get(attn_key, False)) if attn_key else biased,
        mlp_bias=bool(data.get(mlp_key, False)) if mlp_key else biased, window=v.get("window"),
        max_positions=v["max_positions"],
        not_modeled=tuple(what for key, what in fam.not_modeled if key in data), source=source)
