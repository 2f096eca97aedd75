"""Closed forms for self-attention, multi-head attention (docs/conventions/layers.md §1) and
FlashAttention (docs/conventions/counting.md §3)."""
from __future__ import annotations

import math


def valid_scores(n: int, causal: bool) -> int:
    """Entries of one n x n score matrix the mask keeps (the diagonal included when causal)."""
    return n * (n + 1) // 2 if causal else n * n


def multi_head_macs(n: int, d: int, heads: int, d_k: int, causal: bool = False, batch: int = 1) -> dict[str, int]:
    """MACs per docs/conventions/layers.md §1.2 (general h d_k != d form, d_v = d_k), causal per
    §1.6."""
    width = heads * d_k
    core = heads * valid_scores(n, causal) * d_k
    parts = {"q_projection": n * d * width, "k_projection": n * d * width, "v_projection": n * d * width,
             "scores": core, "context": core, "output_projection": n * width * d}
    return {k: v * batch for k, v in parts.items()}


def self_attention_macs(n: int, d: int, causal: bool = False, batch: int = 1) -> int:
    """QK^T and PV of one head of width d: 2 n^2 d (causal: d n (n+1))."""
    return 2 * valid_scores(n, causal) * d * batch


def attention_softmax_ops(n: int, heads: int, causal: bool = False, batch: int = 1) -> dict[str, int]:
    """Vector ops of the scaled softmax over every head's valid logits: a multiply by 1/sqrt(d_k)
    per logit, then SM(m) per row (docs/conventions/counting.md §1.4)."""
    v = valid_scores(n, causal) * heads * batch
    rows = n * heads * batch
    return {"mul": v, "max": v - rows, "add": v + (v - rows), "exp": v, "div": v}


def flash_blocks(n: int, d: int, m_elems: int) -> tuple[int, int, int, int]:
    """(B_r, B_c, T_r, T_c) of Algorithm 1 for sequence n, head width d, M on-chip elements."""
    bc = min(n, math.ceil(m_elems / (4 * d)))
    br = min(n, math.ceil(m_elems / (4 * d)), d)
    return br, bc, math.ceil(n / br), math.ceil(n / bc)


def flash_dram_elements(n: int, d: int, m_elems: int) -> dict[str, int]:
    """Algorithm 1's memory accesses for one head, unmasked (docs/conventions/counting.md §3.3):
    reads 2Nd (K, V once) + T_c (2Nd + 2N); writes Nd + 2N (init) + T_c (Nd + 2N)."""
    _, _, _, tc = flash_blocks(n, d, m_elems)
    return {"reads": 2 * n * d + tc * (2 * n * d + 2 * n), "writes": n * d + 2 * n + tc * (n * d + 2 * n)}


def standard_attention_dram_elements(n: int, d: int) -> int:
    """Algorithm 0 with each GEMM reading its operands once: 4Nd + 4N^2
    (docs/conventions/counting.md §3.3)."""
    return 4 * n * d + 4 * n * n


def flash_vector_ops(n: int, d: int, m_elems: int) -> dict[str, int]:
    """Vector ops of the fused kernel for one head, unmasked: the scaled block softmax (N^2 each of
    scale, shift, exp; N^2 - T_c N each of row max and row sum), per (row, K/V block) the new max,
    two rescale exponentials with their shifts and multiplies and the new sum, and the output
    rescale (per row one multiply, per element two multiplies, an add and a divide)."""
    _, _, _, tc = flash_blocks(n, d, m_elems)
    rows = tc * n
    return {"mul": n * n + 2 * rows + rows + 2 * rows * d,
            "max": (n * n - rows) + rows,
            "add": n * n + (n * n - rows) + 2 * rows + rows + rows * d,
            "exp": n * n + 2 * rows,
            "div": rows * d}
