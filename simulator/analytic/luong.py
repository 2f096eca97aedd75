"""Closed forms for Luong, Pham, Manning 2015 global and local attention
(docs/conventions/layers.md §7.4).

Counts for a whole layer: `batch` sequences, T target steps, S source positions, hidden size d.
Per target step, with m_t the number of source positions scored at step t (S for
global, the clipped window size for local):

* score, dot:      m_t d MACs
* score, general:  d^2 (h_t^T W_a, per step) + m_t d MACs
* score, concat:   d d_a (W_1 h_t, per step) + m_t d_a MACs (v_a), m_t d_a adds, m_t d_a tanh;
                   plus S d d_a MACs once per sequence (W_2 h_s precomputed)
* softmax SM(m_t): m_t - 1 max, m_t sub + (m_t - 1) add, m_t exp, m_t div  (empty rows: nothing)
* local-p p_t:     d d_p + d_p MACs, d_p tanh, 1 sigmoid, 1 multiply (by S)
* local-p Gaussian: m_t x (sub, square, scale, exp, multiply): m_t adds, 3 m_t multiplies, m_t exps
* context c_t:     m_t d MACs
* h~_t:            2 d^2 MACs, d tanh

Vector operations are keyed by the kind the hardware prices them as (subtraction counts as add,
square and scale as mul, a comparison as max). Biases: none (the paper's equations have none).
The naive concat form (W_a applied to [h_t; h_s] for every pair: T S 2d d_a MACs) is not what
the simulator lowers (docs/variants/luong.md flags it).

Nothing here calls the variants or the kernels.
"""
from __future__ import annotations

from typing import Iterable, Sequence

KINDS = ("add", "mul", "max", "exp", "div", "tanh", "sigmoid")


def softmax_counts(lengths: Iterable[int]) -> dict[str, int]:
    """SM(m) summed over rows of the given lengths (docs/conventions/counting.md §1.4); an empty
    row costs nothing."""
    total = nonempty = 0
    for m in lengths:
        m = int(m)
        total += m
        nonempty += m > 0
    return {"max": total - nonempty, "add": 2 * total - nonempty, "exp": total, "div": total}


def window_size(centre: int, radius: int, source_len: int) -> int:
    """|{c-D .. c+D} intersected with [1, S]| for a 1-based centre c
    (docs/conventions/layers.md §7.5)."""
    return max(0, min(source_len, centre + radius) - max(1, centre - radius) + 1)


def local_m_window_sizes(target_len: int, source_len: int, radius: int) -> list[int]:
    """local-m: p_t = min(t, S) for t = 1..T (the clamp of docs/conventions/layers.md §7.8)."""
    return [window_size(min(t, source_len), radius, source_len) for t in range(1, target_len + 1)]


def local_p_window_sizes(positions: Iterable[float], radius: int, source_len: int) -> list[int]:
    """local-p: centre floor(p_t), p_t in [0, S]."""
    import math

    return [window_size(int(math.floor(float(p))), radius, source_len) for p in positions]


def luong_counts(batch: int, target_len: int, source_len: int, d: int, score: str = "dot",
                 d_a: int | None = None, window_sizes: Sequence[int] | None = None,
                 d_p: int | None = None) -> dict[str, int]:
    """Useful MACs and vector operations by kind of one Luong attention layer.

    window_sizes: None for global attention (every step scores all S positions), otherwise the
    batch x T per-step window sizes m_t (local-m: the same T sizes for every sequence, repeat
    them). d_p: the predictor width for local-p (adds p_t and the Gaussian), None otherwise.
    """
    d_a = d if d_a is None else d_a
    steps = batch * target_len
    sizes = [source_len] * steps if window_sizes is None else [int(m) for m in window_sizes]
    if len(sizes) != steps:
        raise ValueError(f"expected {steps} window sizes (batch x T), got {len(sizes)}")
    scored = sum(sizes)                         # sum over steps of m_t
    c = {k: 0 for k in KINDS}
    macs = 0
    # scores
    if score == "dot":
        macs += scored * d
    elif score == "general":
        macs += steps * d * d + scored * d
    elif score == "concat":
        macs += batch * source_len * d * d_a + steps * d * d_a + scored * d_a
        c["add"] += scored * d_a
        c["tanh"] += scored * d_a
    else:
        raise ValueError(f"unknown score {score!r}")
    # softmax over the scored positions
    for kind, n in softmax_counts(sizes).items():
        c[kind] += n
    if d_p is not None:
        macs += steps * (d * d_p + d_p)
        c["tanh"] += steps * d_p
        c["sigmoid"] += steps
        c["mul"] += steps
        # Gaussian: sub, square, scale, exp, multiply per window position
        c["add"] += scored
        c["mul"] += 3 * scored
        c["exp"] += scored
    # context and attentional state
    macs += scored * d
    macs += steps * 2 * d * d
    c["tanh"] += steps * d
    return {"macs": macs, **c}


def global_dot_attention_macs(target_len: int, source_len: int, d: int) -> int:
    """Global attention with dot scoring, 2 T S d MACs (scores and context), excluding h~: the
    summary of docs/conventions/layers.md §7.4."""
    return 2 * target_len * source_len * d

