"""Float64 reference for Luong global and local attention (docs/conventions/layers.md §7.7),
independent of the package.

Fixed decoder states Ht (batch, T, d) and encoder states Hs (batch, S, d); for each sequence and
each target step t (1-based): window -> scores -> softmax over the window -> (local-p) times the
Gaussian -> c_t -> h~_t = tanh([c_t; h_t] W_c). Weights are the arrays the simulator drew (its
`inputs`), in its row-vector convention: W_a (d, d) with score h_t^T W_a h_s; W_1, W_2 (d, d_a)
the transposed halves of Luong's W_a (d_a x 2d) acting on h_t and h_s; v_a (d_a, 1); W_c (2d, d)
whose first d rows multiply c_t; W_p (d, d_p), v_p (d_p, 1).

The concat score is computed in the paper's naive form v_a^T tanh(W_a [h_t; h_s]) with the
(d_a x 2d) matrix rebuilt, not in the simulator's factored form. Imports numpy only.
"""
from __future__ import annotations

import math

import numpy as np


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _score(score: str, inputs, h_t: np.ndarray, h_s: np.ndarray) -> float:
    if score == "dot":
        return float(h_t @ h_s)
    if score == "general":
        return float(h_t @ _f64(inputs["W_a"])[0] @ h_s)
    if score == "concat":
        w1 = _f64(inputs["W_1"])[0]
        w2 = _f64(inputs["W_2"])[0]
        w_a = np.concatenate([w1.T, w2.T], axis=1)              # Luong's W_a: (d_a, 2d)
        v_a = _f64(inputs["v_a"])[0, :, 0]
        return float(v_a @ np.tanh(w_a @ np.concatenate([h_t, h_s])))
    raise ValueError(score)


def predicted_position(inputs, h_t: np.ndarray, source_len: int) -> float:
    """p_t = S sigmoid(v_p^T tanh(W_p^T h_t)), in [0, S] (paper's 1-based positions)."""
    hidden = np.tanh(h_t @ _f64(inputs["W_p"])[0])
    z = float(hidden @ _f64(inputs["v_p"])[0, :, 0])
    return source_len / (1.0 + math.exp(-z))


def window(centre: int, radius: int, source_len: int) -> list[int]:
    """1-based positions {c-D .. c+D} that lie in [1, S] (clipped,
    docs/conventions/layers.md §7.5)."""
    return [s for s in range(centre - radius, centre + radius + 1) if 1 <= s <= source_len]


def luong_attention(inputs, score: str = "dot", mode: str = "global", radius: int | None = None,
                    positions=None) -> dict[str, np.ndarray]:
    """Outputs "Y" (batch, T, d), "alignment" (batch, T, S) (zeros outside the window), and for
    local-p "positions" (batch, T, 1). mode: global | local_m | local_p. `positions` overrides the
    local-p p_t (to check the rest against the simulator's own p_t)."""
    ht, hs = _f64(inputs["Ht"]), _f64(inputs["Hs"])
    w_c = _f64(inputs["W_c"])[0]
    batch, target_len, d = ht.shape
    source_len = hs.shape[1]
    align = np.zeros((batch, target_len, source_len))
    y = np.zeros((batch, target_len, d))
    pos = np.zeros((batch, target_len, 1))
    for b in range(batch):
        for t in range(1, target_len + 1):
            h_t = ht[b, t - 1]
            if mode == "global":
                win = list(range(1, source_len + 1))
            elif mode == "local_m":
                win = window(min(t, source_len), radius, source_len)
            else:
                p = predicted_position(inputs, h_t, source_len) if positions is None else \
                    float(np.asarray(positions)[b, t - 1].reshape(()))
                pos[b, t - 1, 0] = p
                win = window(int(math.floor(p)), radius, source_len)
            raw = np.array([_score(score, inputs, h_t, hs[b, s - 1]) for s in win])
            e = np.exp(raw - raw.max()) if len(win) else raw
            a = e / e.sum() if len(win) else e
            if mode == "local_p":
                sigma = radius / 2.0
                a = a * np.exp(-((np.array(win, dtype=np.float64) - p) ** 2) / (2.0 * sigma ** 2))
            for s, w in zip(win, a):
                align[b, t - 1, s - 1] = w
            c_t = sum((w * hs[b, s - 1] for s, w in zip(win, a)), np.zeros(d))
            y[b, t - 1] = np.tanh(np.concatenate([c_t, h_t]) @ w_c)
    out = {"Y": y, "alignment": align}
    if mode == "local_p":
        out["positions"] = pos
    return out
