"""A model's transformer block as workload layers, for one prefill or decode step.

The block is norm, attention (with its KV cache), residual add, norm, feed-forward, residual add
(pre-norm: GPT-2, Llama, Mistral), or attention, add, norm, feed-forward, add, norm (post-norm:
BERT); every layer carries `repeat: num_hidden_layers`, so the report's rows are the whole stack of
blocks, one row per kind of layer. Embeddings, the final norm and the LM head are outside it.

Phases: `prefill` processes `tokens` new tokens of each of `batch` sequences after `context` cached
ones (default: a whole context window from scratch); `decode` is one step of `tokens` new tokens
(default 1) after `context` cached ones (default: the last step of a full context window).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..checks import Checker
from .config import ModelShape

PHASES = ("prefill", "decode")
# New tokens of one step over the batch: far above any serving step, and it bounds the per-row
# arrays (masks, vector chunks) a simulation allocates to a few hundred MiB.
MAX_STEP_TOKENS = 2 ** 24


@dataclass(frozen=True)
class ModelRun:
    """A model config and the step it runs: what `attnsim run --model` and a workload's `model:` say."""
    shape: ModelShape
    phase: str
    context: int
    tokens: int
    batch: int

    @property
    def tokens_generated(self) -> int:
        """Tokens the step produces over the batch (decode) or sequences it fills (prefill: batch)."""
        return self.batch * self.tokens if self.phase == "decode" else self.batch


def model_run(chk: Checker, path: str, shape: ModelShape, phase, context=None, tokens=None, batch=None,
              keys=("phase", "context", "tokens", "batch")) -> ModelRun | None:
    """Check the step's settings against the model; problems go to chk under `path`.`keys`."""
    from ..checks import join

    start = len(chk.problems)
    phase = chk.choice(join(path, keys[0]), phase, PHASES)
    batch = 1 if batch is None else chk.integer(join(path, keys[3]), batch, minimum=1)
    if tokens is not None:
        tokens = chk.integer(join(path, keys[2]), tokens, minimum=1)
    if context is not None:
        context = chk.integer(join(path, keys[1]), context, minimum=0)
    if len(chk.problems) > start:
        return None
    limit = shape.max_positions
    if phase == "decode" and not shape.decoder:
        chk.add(join(path, keys[0]), f"{shape.name} is an encoder ({shape.model_type}: bidirectional attention keeps "
                                     f"no KV cache, so there is no decode step); use prefill")
        return None
    if tokens is None:
        tokens = 1 if phase == "decode" else limit
    if context is None:
        context = 0 if phase == "prefill" else (limit - tokens if limit else None)
    if tokens is None or context is None:
        chk.add(join(path, keys[2] if tokens is None else keys[1]),
                "missing: the config has no maximum position to default to; give it")
        return None
    if limit is not None and context + tokens > limit:
        chk.add(join(path, keys[1]), f"context + tokens = {context} + {tokens} = {context + tokens} exceeds the "
                                     f"model's {limit} positions")
        return None
    if batch * tokens > MAX_STEP_TOKENS:
        chk.add(join(path, keys[3]), f"batch x tokens = {batch} x {tokens} = {batch * tokens} new tokens in one "
                                     f"step; the simulator takes at most {MAX_STEP_TOKENS:,}")
        return None
    return ModelRun(shape, phase, context, tokens, batch)


def block_layers(run: ModelRun) -> list[dict]:
    """The block's layers (workload mappings) for this step, each repeated num_hidden_layers times."""
    s, t = run.shape, run.tokens
    common = {"batch": run.batch, "repeat": s.layers}
    norm = {"variant": "norm", "n": t, "d": s.d, "kind": s.norm, "eps": s.norm_eps}
    attention = {"name": "attention", "variant": "kv_cache_attention", "context": run.context, "new_tokens": t,
                 "d": s.d, "heads": s.heads, "kv_heads": s.kv_heads, "d_k": s.d_k, "causal": s.decoder,
                 "bias": s.attention_bias}
    if s.window is not None:
        attention["window"] = s.window
    ffn = {"name": "feed_forward", "variant": "feed_forward", "n": t, "d": s.d, "d_ff": s.d_ff, "gated": s.gated,
           "activation": s.activation, "bias": s.mlp_bias}

    def add(name):
        return {"name": name, "variant": "residual_add", "n": t, "d": s.d}

    if s.pre_norm:
        layers = [dict(norm, name="attention_norm"), attention, add("attention_residual"),
                  dict(norm, name="ffn_norm"), ffn, add("ffn_residual")]
    else:
        layers = [attention, add("attention_residual"), dict(norm, name="attention_norm"),
                  ffn, add("ffn_residual"), dict(norm, name="ffn_norm")]
    return [dict(layer, **common) for layer in layers]


def describe_run(run: ModelRun) -> str:
    s = run.shape
    what = (f"decode step: {run.tokens} new token{'s' if run.tokens > 1 else ''} after {run.context} cached"
            if run.phase == "decode" else f"prefill: {run.tokens} tokens after {run.context} cached")
    return f"{s.name} ({s.model_type}, {s.layers} blocks), {what}, batch {run.batch}"
