"""Closed forms of the reader family (docs/conventions/layers.md §6 and §8), as the variants execute
them.

Written from the math, not from the variants or the kernels, so tests can hold the two against
each other. Every count is per batch element and multiplied by `batch`.

hard_attention (Xu et al. 2015; L locations, width d = D_a = d_att = d_h, C = queries):

| part                   | MACs   | non-MAC                                                        |
|------------------------|--------|----------------------------------------------------------------|
| W_c2pc a_i (per image) | L d^2  |                                                                |
| W_d h (per query)      | C d^2  |                                                                |
| pair add + tanh        |        | add C L d, tanh C L d                                          |
| U_att contraction      | C L d  |                                                                |
| softmax over L         |        | C x SM(L): max C(L-1), add C L + C(L-1), exp C L, div C L      |
| soft: context alpha A  | C L d  |                                                                |
| sample                 | 0      | add C(L-1) (prefix sum), mul C (u x total),                    |
|                        |        | max C ceil(log2 L) (binary search)                             |
| argmax                 | 0      | max C(L-1) (first maximum)                                     |
| hard: gather           | 0      | C d gathered elements                                          |

So soft MACs - hard MACs = C L d (docs/conventions/layers.md §6.2). The sampling row follows that table
exactly, plus the one multiply u x total that scales the uniform to the unnormalised CDF (the kernel's
inverse CDF searches the prefix sums of alpha without dividing by their total). The comparisons are
counted at the bound ceil(log2 L) of a binary search (0 for L = 1), whatever the draw.

attention_over_attention (Cui et al. 2017; n_D documents, n_Q query words, width d):

| part                 | MACs         | non-MAC                                   |
|----------------------|--------------|-------------------------------------------|
| M = h_doc h_query^T  | n_D n_Q d    |                                           |
| alpha (column SM)    |              | n_Q x SM(n_D)                             |
| beta (row SM)        |              | n_D x SM(n_Q)                             |
| beta_avg             |              | add (n_D - 1) n_Q, mul n_Q (by 1/n_D)     |
| s = alpha beta_avg   | n_D n_Q      |                                           |

Exps 2 n_D n_Q (separate max shifts, docs/conventions/layers.md §8.2); the pointer sum is outside the
layer.
"""
from __future__ import annotations

KINDS = ("add", "mul", "max", "exp", "div", "tanh")


def ceil_log2(x: int) -> int:
    """Comparisons of a binary search over x sorted prefix sums: ceil(log2 x), 0 for x = 1."""
    return (x - 1).bit_length()


def softmax_counts(rows: int, m: int) -> dict[str, int]:
    """`rows` x SM(m) (docs/conventions/counting.md §1.4): m-1 max, m sub + m-1 add, m exp, m div per
    row."""
    return {"max": rows * (m - 1), "add": rows * m + rows * (m - 1), "exp": rows * m, "div": rows * m}


def _add(total: dict[str, int], part: dict[str, int], times: int = 1) -> dict[str, int]:
    for k, v in part.items():
        total[k] = total.get(k, 0) + v * times
    return total


def hard_attention_macs(n: int, d: int, queries: int, sampling: str, batch: int = 1) -> dict[str, int]:
    """Useful MACs per op of the hard_attention graph (soft mode adds the context GEMM)."""
    parts = {"project_annotations": n * d * d, "project_state": queries * d * d, "score": queries * n * d}
    if sampling == "soft":
        parts["context"] = queries * n * d
    return {k: v * batch for k, v in parts.items()}


def hard_attention_vector_ops(n: int, d: int, queries: int, sampling: str, batch: int = 1) -> dict[str, int]:
    """Vector-unit operations by kind (every kind of KINDS present, zeros included)."""
    total = dict.fromkeys(KINDS, 0)
    _add(total, {"add": queries * n * d, "tanh": queries * n * d})         # pair add + tanh
    _add(total, softmax_counts(queries, n))
    if sampling == "sample":
        _add(total, {"add": queries * (n - 1), "mul": queries, "max": queries * ceil_log2(n)})
    elif sampling == "argmax":
        _add(total, {"max": queries * (n - 1)})
    return {k: v * batch for k, v in total.items()}


def hard_attention_gather_elements(d: int, queries: int, sampling: str, batch: int = 1) -> int:
    """Annotation elements the hard modes gather (d per query); soft gathers none."""
    return 0 if sampling == "soft" else batch * queries * d


def aoa_macs(doc_len: int, query_len: int, d: int, batch: int = 1) -> dict[str, int]:
    """Useful MACs per op of the attention_over_attention graph."""
    return {"matching": batch * doc_len * query_len * d, "attended": batch * doc_len * query_len}


def aoa_vector_ops(doc_len: int, query_len: int, batch: int = 1) -> dict[str, int]:
    """Vector-unit operations by kind: two softmaxes and the column mean."""
    total = dict.fromkeys(KINDS, 0)
    _add(total, softmax_counts(query_len, doc_len))       # alpha: column softmax over documents
    _add(total, softmax_counts(doc_len, query_len))       # beta: row softmax over query words
    _add(total, {"add": (doc_len - 1) * query_len, "mul": query_len})
    return {k: v * batch for k, v in total.items()}
