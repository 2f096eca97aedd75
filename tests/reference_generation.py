"""float64 numpy references for the generation-time layers: KV-cache attention with grouped query
heads, feed-forward (plain and gated), LayerNorm / RMSNorm, residual add, and the recurrent step
from a given state.

Written apart from the package (numpy only), straight from the definitions: per-head loops, masks
built position by position, nothing shared with simulator/.
"""
from __future__ import annotations

import math

import numpy as np


def _softmax(s):
    e = np.exp(s - s.max())
    return e / e.sum()


def kv_attention(q, k_cache, v_cache, k_new, v_new, heads, kv_heads, causal=True, window=None):
    """q (b, t, heads d_k); caches (b, kv, L, d_k) or None; new K, V (b, t, kv d_k).

    Query head j uses KV head j // (heads / kv_heads). New token i (absolute position L + i) sees
    positions p <= L + i (causal), within the last `window` (L + i - p < window), or all L + t.
    Returns O (b, t, heads d_k), heads concatenated column-wise."""
    b, t, hd = q.shape
    dk = hd // heads
    group = heads // kv_heads
    out = np.zeros((b, t, hd))
    for s in range(b):
        for kvh in range(kv_heads):
            k_rows = k_new[s].reshape(t, kv_heads, dk)[:, kvh, :]
            v_rows = v_new[s].reshape(t, kv_heads, dk)[:, kvh, :]
            if k_cache is not None:
                k_rows = np.concatenate([k_cache[s, kvh], k_rows])
                v_rows = np.concatenate([v_cache[s, kvh], v_rows])
            total = k_rows.shape[0]
            context = total - t
            for head in range(kvh * group, (kvh + 1) * group):
                for i in range(t):
                    me = context + i
                    seen = [p for p in range(total)
                            if not causal or (p <= me and (window is None or me - p < window))]
                    qi = q[s, i, head * dk:(head + 1) * dk]
                    scores = np.array([qi @ k_rows[p] for p in seen]) / math.sqrt(dk)
                    out[s, i, head * dk:(head + 1) * dk] = _softmax(scores) @ v_rows[seen]
    return out


def kv_attention_layer(inputs, heads, kv_heads, causal=True, window=None, bias=False):
    """The whole layer with projections: X (b, t, d), W_Q, W_K, W_V (1, d, width), W_O (1, h d_k, d)."""
    f = {k: np.asarray(v, np.float64) for k, v in inputs.items()}
    x = f["X"]

    def project(name):
        y = x @ f[f"W_{name}"][0]
        return y + f[f"b_{name}"].reshape(-1) if bias else y

    o = kv_attention(project("Q"), f.get("K_cache"), f.get("V_cache"), project("K"), project("V"), heads,
                     kv_heads, causal, window)
    y = o @ f["W_O"][0]
    return y + f["b_O"].reshape(-1) if bias else y


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


ACTIVATIONS = {"relu": lambda x: np.maximum(x, 0.0), "silu": lambda x: x / (1.0 + np.exp(-x)), "gelu": gelu_tanh}


def feed_forward(inputs, gated, activation, bias=False):
    """act(x W_up + b_up) W_down + b_down, or (act(x W_gate) * (x W_up)) W_down (gated)."""
    f = {k: np.asarray(v, np.float64) for k, v in inputs.items()}
    act = ACTIVATIONS[activation]
    x = f["X"]
    up = x @ f["W_up"][0] + (f["b_up"].reshape(-1) if bias else 0.0)
    if gated:
        gate = x @ f["W_gate"][0] + (f["b_gate"].reshape(-1) if bias else 0.0)
        hidden = act(gate) * up
    else:
        hidden = act(up)
    return hidden @ f["W_down"][0] + (f["b_down"].reshape(-1) if bias else 0.0)


def norm(inputs, kind, eps):
    """LayerNorm (biased variance, eps inside the square root, gamma and beta) or RMSNorm (gamma)."""
    x = np.asarray(inputs["X"], np.float64)
    gamma = np.asarray(inputs["gamma"], np.float64).reshape(-1)
    if kind == "layernorm":
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * gamma + np.asarray(inputs["beta"], np.float64).reshape(-1)
    rms = np.sqrt((x ** 2).mean(axis=-1, keepdims=True) + eps)
    return x / rms * gamma
