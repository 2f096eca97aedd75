"""float64 numpy references for the local layers (docs/conventions/layers.md §3.4, §4.4, §5.1).

Written apart from the package: numpy only. Each takes the inputs of a functional run (already
rounded to the number format) and recomputes the outputs.
"""
from __future__ import annotations

import math

import numpy as np


# --- restricted self-attention (docs/conventions/layers.md §4.4: dense masked reference) ----------
def band_mask(n: int, window: int, causal: bool) -> np.ndarray:
    """allowed[i, j]: centred |i - j| <= (r-1)/2; causal i - r < j <= i."""
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    if causal:
        return (j <= i) & (j > i - window)
    return np.abs(i - j) <= (window - 1) // 2


def restricted_attention(x: np.ndarray, window: int, causal: bool = False) -> np.ndarray:
    """softmax(x x^T / sqrt(d), -inf outside the band) x for x (batch, n, d)."""
    x = np.asarray(x, np.float64)
    s = x @ np.swapaxes(x, -1, -2) / math.sqrt(x.shape[-1])
    s = np.where(band_mask(x.shape[-2], window, causal), s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return (p / p.sum(axis=-1, keepdims=True)) @ x


def full_attention(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    s = x @ np.swapaxes(x, -1, -2) / math.sqrt(x.shape[-1])
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return (p / p.sum(axis=-1, keepdims=True)) @ x


def band_size_by_enumeration(n: int, window: int, causal: bool) -> int:
    return int(band_mask(n, window, causal).sum())


def hops_by_bfs(allowed: np.ndarray) -> int | None:
    """Largest first-reach depth over pairs j != i when output i reads input j per `allowed`."""
    n = allowed.shape[0]
    best = 0
    for j in range(n):
        reach = np.zeros(n, bool)
        reach[j] = True
        seen = reach.copy()
        for hops in range(1, 2 * n + 2):
            reach = allowed[:, reach].any(axis=1)
            new = reach & ~seen
            new[j] = False
            if new.any():
                best = max(best, hops)
            if not (reach & ~seen).any():
                break
            seen |= reach
    return best or None


def hops_by_layered_bfs(n: int, offsets_of_layer, layers: int) -> int | None:
    """As hops_by_bfs for a stack whose layer l lets output i read inputs i + o, o in offsets_of_layer(l),
    clipped to [0, n); `layers` bounds the stack."""
    best = 0
    for j in range(n):
        reach = {j}
        seen = {j}
        for hop in range(1, layers + 1):
            offsets = offsets_of_layer(hop - 1)
            reach = {p - o for p in reach for o in offsets if 0 <= p - o < n}
            if reach - seen:
                best = max(best, hop)
            seen |= reach
            if len(seen) == n or not reach:
                break
    return best or None


# --- convolution (docs/conventions/layers.md §3.1, §3.4) ------------------------------------------
def _pad(kernel: int, dilation: int, padding: str) -> int:
    if padding == "same":
        return (dilation * (kernel - 1)) // 2
    if padding == "causal":
        return dilation * (kernel - 1)
    return 0


def conv1d(x: np.ndarray, w: np.ndarray, kernel: int, dilation: int, padding: str) -> np.ndarray:
    """y[t, o] = sum_j sum_c W[j, c, o] x[t + j dilation - pad, c], x zero outside [0, n).

    x (batch, n, d); w (kernel d, d) with row j d + c = W[j, c, :]. np.pad, then a sum over taps.
    """
    x = np.asarray(x, np.float64)
    batch, n, d = x.shape
    wk = np.asarray(w, np.float64).reshape(kernel, d, -1)
    pad = _pad(kernel, dilation, padding)
    n_out = n - dilation * (kernel - 1) if padding == "valid" else n
    right = max(0, n_out - 1 + dilation * (kernel - 1) - pad - (n - 1))
    xp = np.pad(x, ((0, 0), (pad, right), (0, 0)))
    y = np.zeros((batch, n_out, wk.shape[2]))
    for j in range(kernel):
        y += xp[:, j * dilation: j * dilation + n_out, :] @ wk[j]
    return y


def conv1d_direct(x, w, kernel, dilation, padding):
    """The same sum written as explicit loops (a second, slower reference for small sizes)."""
    x = np.asarray(x, np.float64)
    batch, n, d = x.shape
    wk = np.asarray(w, np.float64).reshape(kernel, d, -1)
    pad = _pad(kernel, dilation, padding)
    n_out = n - dilation * (kernel - 1) if padding == "valid" else n
    y = np.zeros((batch, n_out, wk.shape[2]))
    for b in range(batch):
        for t in range(n_out):
            for j in range(kernel):
                src = t + j * dilation - pad
                if 0 <= src < n:
                    for c in range(d):
                        y[b, t] += wk[j, c] * x[b, src, c]
    return y


def conv_valid_taps_by_enumeration(n, kernel, dilation, padding) -> int:
    pad = _pad(kernel, dilation, padding)
    n_out = n - dilation * (kernel - 1) if padding == "valid" else n
    return sum(1 for t in range(n_out) for j in range(kernel) if 0 <= t + j * dilation - pad < n)


# --- sinusoidal position embedding (docs/conventions/layers.md §5.1) ------------------------------
def sinusoidal_pe(n: int, d: int) -> np.ndarray:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)), in float64
    (the pow form: independent of the exp/log form the simulator computes)."""
    pos = np.arange(n, dtype=np.float64)[:, None]
    i = np.arange(d // 2, dtype=np.float64)[None, :]
    angle = pos / np.power(10000.0, 2 * i / d)
    pe = np.zeros((n, d))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return pe


def position_embedding(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x + sinusoidal_pe(x.shape[-2], x.shape[-1])[None]
