"""float64 numpy references for hard attention (docs/conventions/layers.md §6) and
attention-over-attention (§8).

Written apart from the package: numpy only. Inputs are a functional result's `inputs` (already
rounded to the number format); weights are passed without their leading batch axis of 1.
"""
from __future__ import annotations

import numpy as np


def softmax(x, axis=-1):
    """Max-shifted softmax along `axis`."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def inverse_cdf(p, u):
    """docs/conventions/layers.md §6.4: idx = searchsorted(cumsum(p), u * sum(p), side='right'), clipped
    to L - 1.

    p (..., L) probabilities (any non-negative weights), u (...) uniforms; float64 throughout.
    The total is the last prefix sum (sequential), not a pairwise np.sum.
    """
    p = np.asarray(p, np.float64)
    u = np.asarray(u, np.float64)
    flat_p = p.reshape(-1, p.shape[-1])
    flat_u = u.reshape(-1)
    out = np.empty(flat_u.shape, np.int64)
    for r, (row, x) in enumerate(zip(flat_p, flat_u)):
        c = np.cumsum(row)
        out[r] = min(int(np.searchsorted(c, x * c[-1], side="right")), row.shape[0] - 1)
    return out.reshape(u.shape)


def first_argmax(p):
    """Index of the first maximum along the last axis (numpy's tie rule: lowest index)."""
    return np.argmax(p, axis=-1)


def show_attend_tell(a, h, w_c2pc, w_d, u_att, sampling, u=None):
    """Attention step of Xu et al. for annotations a (b, L, d) and states h (b, C, d).

    e = U_att . tanh(W_c2pc a_i + W_d h); alpha = softmax over L; context = alpha a (soft) or
    the annotation picked by the inverse CDF with uniforms u (b, C) (sample) or the first argmax.
    Returns dict(alpha (b, C, L), index (b, C) or None, context (b, C, d)).
    """
    a = np.asarray(a, np.float64)
    pa = a @ w_c2pc                                   # (b, L, d)
    ph = np.asarray(h, np.float64) @ w_d              # (b, C, d)
    t = np.tanh(pa[:, None, :, :] + ph[:, :, None, :])
    e = (t @ u_att)[..., 0]                           # (b, C, L)
    alpha = softmax(e)
    if sampling == "soft":
        return {"alpha": alpha, "index": None, "context": alpha @ a}
    index = inverse_cdf(alpha, u) if sampling == "sample" else first_argmax(alpha)
    return {"alpha": alpha, "index": index, "context": gather_rows(a, index)}


def gather_rows(a, index):
    """context[b, t] = a[b, index[b, t]]."""
    return np.take_along_axis(np.asarray(a), np.asarray(index)[..., None], axis=1)


def attention_over_attention(h_doc, h_query):
    """Cui et al. 2017 for h_doc (b, n_D, d), h_query (b, n_Q, d), no padding.

    Returns dict(M, alpha (column softmax over documents), beta (row softmax over query words),
    beta_avg (b, n_Q), s (b, n_D)).
    """
    m = np.asarray(h_doc, np.float64) @ np.swapaxes(np.asarray(h_query, np.float64), -1, -2)
    alpha = softmax(m, axis=1)
    beta = softmax(m, axis=2)
    beta_avg = beta.mean(axis=1)
    s = (alpha @ beta_avg[..., None])[..., 0]
    return {"M": m, "alpha": alpha, "beta": beta, "beta_avg": beta_avg, "s": s}
