"""float64 numpy references for self-attention and multi-head attention
(docs/conventions/layers.md §1.5).

Written apart from the package: numpy only.
"""
from __future__ import annotations

import numpy as np


def attention(q, k, v, causal=False):
    """softmax(q k^T / sqrt(d_k)) v over the last two axes, max-shifted, causal mask as -inf."""
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:
        n_q, n_k = s.shape[-2:]
        s = np.where(np.arange(n_k)[None, :] <= np.arange(n_q)[:, None], s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return (p / p.sum(axis=-1, keepdims=True)) @ v


def multi_head(x, w_q, w_k, w_v, w_o, heads, causal=False):
    """x (batch, n, d); weights (d, h d_k) and (h d_v, d); head i = columns [i d_k, (i+1) d_k)."""
    b, n, _ = x.shape

    def heads_of(w):
        y = x @ w
        return y.reshape(b, n, heads, -1).transpose(0, 2, 1, 3)

    o = attention(heads_of(w_q), heads_of(w_k), heads_of(w_v), causal)
    return o.transpose(0, 2, 1, 3).reshape(b, n, -1) @ w_o
