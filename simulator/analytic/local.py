"""Closed forms for the local layers (docs/conventions/layers.md): restricted self-attention (§4),
convolution (§3) and the sinusoidal position embedding (§5).

Independent of the variants and kernels: nothing here builds a graph or walks tiles.
"""
from __future__ import annotations

# --- restricted self-attention (docs/conventions/layers.md §4.2) ----------------------------------


def restricted_band(n: int, window: int, causal: bool = False) -> int:
    """B = sum_i |N(i)|: keys the band gives all queries together.

    Centred, r = 2w+1: n(2w+1) - w(w+1) for w <= n-1, n^2 for w >= n-1.
    Causal, size r: n r - r(r-1)/2 for r <= n, n(n+1)/2 for r >= n.
    """
    if causal:
        r = window
        return n * r - r * (r - 1) // 2 if r <= n else n * (n + 1) // 2
    w = (window - 1) // 2
    return n * (2 * w + 1) - w * (w + 1) if w <= n - 1 else n * n


def restricted_macs(n: int, d: int, window: int, causal: bool = False, batch: int = 1) -> int:
    """QK^T and PV over the band, one head of width d: 2 B d (docs/conventions/layers.md §4.2)."""
    return 2 * restricted_band(n, window, causal) * d * batch


def restricted_softmax_ops(n: int, window: int, causal: bool = False, batch: int = 1) -> dict[str, int]:
    """The scaled softmax over each query's clipped window: a multiply by 1/sqrt(d) per logit, then
    SM(|N(i)|) per row: B exps, B divides, B - n comparisons, B subtractions + (B - n) adds
    (docs/conventions/layers.md §4.2; every row holds at least its own position)."""
    b = restricted_band(n, window, causal) * batch
    rows = n * batch
    return {"mul": b, "max": b - rows, "add": b + (b - rows), "exp": b, "div": b}


# --- convolution (docs/conventions/layers.md §3) --------------------------------------------------


def conv_pad(kernel: int, dilation: int, padding: str) -> int:
    """Left padding: same floor(dilation (k-1)/2) (docs/conventions/layers.md §3.4 for even k), causal
    dilation (k-1), valid 0."""
    return {"same": dilation * (kernel - 1) // 2, "causal": dilation * (kernel - 1), "valid": 0}[padding]


def conv_outputs(n: int, kernel: int, dilation: int, padding: str) -> int:
    return n - dilation * (kernel - 1) if padding == "valid" else n


def conv_valid_taps(n: int, kernel: int, dilation: int = 1, padding: str = "same") -> int:
    """sum over outputs t of the taps j whose input t + j dilation - pad lies in [0, n).

    Summed per tap: tap j (offset o = j dilation - pad) is valid for the outputs t in
    [max(0, -o), min(n_out, n - o)).
    """
    pad = conv_pad(kernel, dilation, padding)
    n_out = conv_outputs(n, kernel, dilation, padding)
    total = 0
    for j in range(kernel):
        o = j * dilation - pad
        total += max(0, min(n_out, n - o) - max(0, -o))
    return total


def conv_macs(n: int, d: int, kernel: int, dilation: int = 1, padding: str = "same", batch: int = 1) -> int:
    """Useful MACs (products with padded zeros excluded, docs/conventions/layers.md §3.2): d^2 x valid
    taps."""
    return d * d * conv_valid_taps(n, kernel, dilation, padding) * batch


def conv_slot_taps_dense(n: int, kernel: int, dilation: int = 1, padding: str = "same") -> int:
    """k n_out: every tap of every output, padded zeros included (the k n d^2 row of
    docs/conventions/layers.md §3.2, over d^2)."""
    return kernel * conv_outputs(n, kernel, dilation, padding)


def conv_macs_causal_contiguous(n: int, d: int, kernel: int) -> int:
    """docs/conventions/layers.md §3.2: causal, dilation 1, n >= k: d^2 (k n - k(k-1)/2)."""
    assert n >= kernel
    return d * d * (kernel * n - kernel * (kernel - 1) // 2)


def conv_macs_causal(n: int, d: int, kernel: int, dilation: int) -> int:
    """Causal with every tap reaching the sequence, dilation (k-1) <= n: k n d^2 minus the boundary
    taps dilation k(k-1)/2 (tap k-1-m looks m dilation back and misses the first m dilation outputs)."""
    assert dilation * (kernel - 1) <= n
    return d * d * (kernel * n - dilation * kernel * (kernel - 1) // 2)


def conv_macs_same_odd(n: int, d: int, kernel: int, dilation: int) -> int:
    """Same, odd k = 2w+1, w dilation <= n: k n d^2 minus the boundary taps dilation w(w+1)
    (the taps m dilation away miss m dilation outputs at one end, m = 1..w, both sides)."""
    assert kernel % 2 == 1 and dilation * (kernel - 1) // 2 <= n
    w = (kernel - 1) // 2
    return d * d * (kernel * n - dilation * w * (w + 1))


def conv_macs_valid_contiguous(n: int, d: int, kernel: int) -> int:
    """docs/conventions/layers.md §3.2: valid padding, dilation 1: (n - k + 1) k d^2."""
    return (n - kernel + 1) * kernel * d * d


# --- position embedding (docs/conventions/layers.md §5.2) -----------------------------------------


def position_embedding_ops(n: int, d: int, mode: str = "computed", batch: int = 1) -> dict[str, int]:
    """Vector ops by kind. computed: d/2 multiplies + d/2 exps (frequencies), n d/2 multiplies
    (angles), n d/2 sin + n d/2 cos, then n d adds per batch element; table: the adds only.
    The PE is computed once per layer (not per batch element); 0 MACs in both modes."""
    adds = {"add": batch * n * d}
    if mode == "table":
        return adds
    half = d // 2
    return {"mul": half + n * half, "exp": half, "sin": n * half, "cos": n * half, **adds}
