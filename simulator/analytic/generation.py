"""Closed forms of the generation-time layers: KV-cache attention, feed-forward, norms, residual adds,
and the DRAM traffic of a recurrent decode step.

Written from the math (docs/variants/generation.md), not from the variants or the kernels, so
tests can hold the two against each other. Every count is for the whole batch.

KV-cache attention, per sequence: t new tokens after L cached ones; new token i (0-based) sees
keys(i) = L + i + 1 positions (causal), the last `window` of them with a sliding window, or all
L + t (not causal). With K = sum_i keys(i):
    scores = context = heads d_k K MACs  (causal, no window: K = t L + t (t+1) / 2)
    projections: t d heads d_k (Q) + 2 t d kv_heads d_k (K, V) + t heads d_k d (output).
"""
from __future__ import annotations


def keys_seen(context: int, new_tokens: int, causal: bool = True, window: int | None = None) -> int:
    """K: the sum over the new tokens of the keys each one attends to."""
    t, first = new_tokens, context + 1
    if not causal:
        return t * (context + t)
    if window is None:
        return t * context + t * (t + 1) // 2
    # token i sees min(L + 1 + i, w): the first u tokens are below the window, the rest see w
    u = min(max(window - first, 0), t)
    return u * first + u * (u - 1) // 2 + (t - u) * window


def kv_cache_attention_macs(context: int, new_tokens: int, d: int, heads: int, kv_heads: int, d_k: int,
                            projections: bool = True, causal: bool = True, window: int | None = None,
                            batch: int = 1) -> dict[str, int]:
    """Useful MACs by op."""
    t = new_tokens
    core = heads * d_k * keys_seen(context, t, causal, window)
    parts = {"scores": core, "context": core}
    if projections:
        parts.update({"q_projection": t * d * heads * d_k, "k_projection": t * d * kv_heads * d_k,
                      "v_projection": t * d * kv_heads * d_k, "output_projection": t * heads * d_k * d})
    return {k: v * batch for k, v in parts.items()}


def kv_cache_attention_vector_ops(context: int, new_tokens: int, d: int, heads: int, kv_heads: int, d_k: int,
                                  projections: bool = True, causal: bool = True, window: int | None = None,
                                  bias: bool = False, batch: int = 1) -> dict[str, int]:
    """The scaled softmax over every query row (one multiply per logit, then SM(keys) per row),
    plus one add per projected element when the projections have biases."""
    logits = heads * keys_seen(context, new_tokens, causal, window)
    rows = heads * new_tokens
    ops = {"mul": logits, "max": logits - rows, "add": 2 * logits - rows, "exp": logits, "div": logits}
    if bias and projections:
        ops["add"] += new_tokens * (heads * d_k + 2 * kv_heads * d_k + d)
    return {k: v * batch for k, v in ops.items()}


def kv_rows_read(context: int, new_tokens: int, window: int | None = None) -> int:
    """Rows of K (and of V) the step reads per KV head: every cached row a new token can see plus
    the new rows (with a window, rows older than the first new token's window are not read)."""
    oldest = 0 if window is None else max(0, context + 1 - window)
    return context + new_tokens - oldest


def kv_cache_rows(context: int, new_tokens: int, window: int | None = None) -> int:
    """Rows kept after the step for the next token: all of them, or the window - 1 most recent."""
    rows = context + new_tokens
    return rows if window is None else min(rows, window - 1)


def kv_cache_elements(context: int, new_tokens: int, kv_heads: int, d_k: int, window: int | None = None,
                      batch: int = 1) -> int:
    """K and V of every KV head over the kept rows."""
    return batch * 2 * kv_heads * d_k * kv_cache_rows(context, new_tokens, window)


def kv_cache_read_elements(context: int, new_tokens: int, kv_heads: int, d_k: int, window: int | None = None,
                           batch: int = 1) -> int:
    """Elements of K (or of V) read from memory when each row is read once per group of query heads
    sharing a KV head (not once per query head)."""
    return batch * kv_heads * d_k * kv_rows_read(context, new_tokens, window)


# --- feed-forward, norms, residual --------------------------------------------------------------
ACTIVATION_OPS = {
    "relu": {"max": 1},
    "silu": {"sigmoid": 1, "mul": 1},                 # x sigmoid(x)
    # tanh form: x (0.5 + 0.5 tanh(c (x + a x^3))) as square, scale, add_const, mul, tanh, scale,
    # add_const, mul
    "gelu": {"mul": 5, "add": 2, "tanh": 1},
}


def feed_forward_macs(n: int, d: int, d_ff: int, gated: bool = False, batch: int = 1) -> dict[str, int]:
    parts = {"up_projection": n * d * d_ff, "down_projection": n * d_ff * d}
    if gated:
        parts["gate_projection"] = n * d * d_ff
    return {k: v * batch for k, v in parts.items()}


def feed_forward_vector_ops(n: int, d: int, d_ff: int, gated: bool, activation: str, bias: bool = False,
                            batch: int = 1) -> dict[str, int]:
    """The activation on every hidden element, the gate product (gated), the biases (bias)."""
    hidden = n * d_ff
    ops = {kind: per * hidden for kind, per in ACTIVATION_OPS[activation].items()}
    if gated:
        ops["mul"] = ops.get("mul", 0) + hidden
    if bias:
        ops["add"] = ops.get("add", 0) + hidden * (2 if gated else 1) + n * d
    return {k: v * batch for k, v in ops.items() if v}


def norm_vector_ops(n: int, d: int, kind: str, batch: int = 1) -> dict[str, int]:
    """Per row of d: layernorm = mean (d-1 adds, 1 multiply by 1/d), centre (d subs), variance
    (d squares, d-1 adds, 1 multiply), + eps (1 add), rsqrt (1), normalise (d multiplies), gamma (d
    multiplies), beta (d adds); rmsnorm = mean square (d squares, d-1 adds, 1 multiply), + eps,
    rsqrt, normalise, gamma."""
    if kind == "layernorm":
        per_row = {"add": 4 * d - 1, "mul": 3 * d + 2, "rsqrt": 1}
    elif kind == "rmsnorm":
        per_row = {"add": d, "mul": 3 * d + 1, "rsqrt": 1}
    else:
        raise ValueError(f"unknown norm {kind!r}")
    return {k: v * n * batch for k, v in per_row.items()}


def residual_vector_ops(n: int, d: int, batch: int = 1) -> dict[str, int]:
    return {"add": n * d * batch}


# --- recurrent decode ----------------------------------------------------------------------------
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def recurrent_decode_dram_elements(d: int, cell: str, batch: int = 1) -> dict[str, tuple[int, int]]:
    """(read, written) elements per op of ONE recurrent step (n = 1) whose state is given, when every
    operand is read once (weights and activations fit on chip). `state` names the carried state:
    h_0 (and c_0) read, h_1 (and c_1) written."""
    b, g = batch, _GATES[cell]
    parts = {"input_transform": (b * d + d * g * d, b * g * d),          # x, U -> U x
             "input_bias": (b * g * d + g * d, b * g * d)}               # U x, bias -> U x + b
    if cell == "rnn":
        parts.update({"recurrence.wh": (b * d + d * d, b * d),           # h_0, W -> W h_0
                      "recurrence.cell": (2 * b * d, b * d)})            # W h_0, (U x + b) -> h_1
        state = (b * d, b * d)
    elif cell == "lstm":
        parts.update({"recurrence.wh": (b * d + 4 * d * d, 4 * b * d),
                      "recurrence.cell": (4 * b * d + 4 * b * d + b * d, 2 * b * d)})   # + c_0 -> h_1, c_1
        state = (2 * b * d, 2 * b * d)
    elif cell == "gru":
        parts.update({"recurrence.wh_zr": (b * d + 2 * d * d, 2 * b * d),
                      "recurrence.gates": (5 * b * d, 2 * b * d),                # W_z h, W_r h, U_z x, U_r x, h_0
                      "recurrence.wh_n": (b * d + d * d, b * d),                 # r h_0, W_n
                      "recurrence.candidate": (4 * b * d, b * d)})               # W_n r h, U_n x, h_0, z -> h_1
        state = (3 * b * d, b * d)           # h_0 is read by three ops of the step
    else:
        raise ValueError(f"unknown cell {cell!r}")
    parts["state"] = state
    return parts


def recurrent_state_elements(d: int, cell: str, batch: int = 1) -> int:
    """The state carried from step to step: h (and c for the LSTM)."""
    return batch * d * (2 if cell == "lstm" else 1)
