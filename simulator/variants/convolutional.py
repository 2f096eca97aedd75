"""`convolutional`: a 1-D convolution with d input and d output channels (Table 1's conv row).

Math (docs/conventions/layers.md §3.1, cross-correlation as frameworks define it, no kernel flip):
    Y[t, o] = sum_{j<k} sum_{c<d} W[j, c, o] X[t + j*dilation - pad, c],   X = 0 outside [0, n).
Padding: `same` pad = floor(dilation (k-1) / 2) on the left (centred for odd k; for even k the
extra tap lands on the right, §3.4), n outputs; `causal` pad = dilation (k-1), n outputs;
`valid` pad = 0, n - dilation (k-1) outputs.

Lowering: ONE im2col GEMM over the outputs of every sequence (batch x n_out rows). A holds,
tap-major, column j d + c = X[t + j dilation - pad, c] (zero off the sequence); it is a free Layout because the DMA engine gathers im2col tiles
straight from X, and the GEMM counts A's traffic as the full tiles it fills, so DRAM reads of X
are up to k times the input (the price of im2col). B is W as a (k d) x d weight shared by the
batch. A mask on the k axis gives output row t its valid taps [j_lo d, j_hi d) (valid taps are
contiguous in j for any dilation), so `macs` counts only products with real inputs (§3.2
"useful") while `slot_macs` include the padded products of the tiles the array issues.

`stack_dilation` only changes `max_path_length`: `exponential` means a stack of such layers whose
layer l uses dilation * k**l (ByteNet/WaveNet, the paper's O(log_k n)).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..connectivity import Taps
from ..graph import Gemm, Layout, OpGraph, RowRanges, TensorSpec
from .base import LayerSpec, Variant, param
from .common import weight_init

PADDINGS = ("same", "causal", "valid")


@dataclass(frozen=True)
class ConvParams:
    n: int = param("int", minimum=1, doc="sequence length")
    d: int = param("int", minimum=1, doc="channels in and out")
    kernel: int = param("int", minimum=1, doc="kernel width k (taps)")
    dilation: int = param("int", default=1, minimum=1, doc="spacing between taps (1 = contiguous)")
    padding: str = param("choice", default="same", choices=PADDINGS,
                         doc="same: n outputs, left pad floor(dilation (k-1)/2); causal: n outputs, left pad "
                             "dilation (k-1); valid: n - dilation (k-1) outputs, no padding")
    stack_dilation: str = param("choice", default="constant", choices=("constant", "exponential"),
                                doc="for max_path_length only: a stack of these layers keeps the dilation "
                                    "(constant) or uses dilation * k**l in layer l (exponential)")


def left_pad(kernel: int, dilation: int, padding: str) -> int:
    if padding == "same":
        return dilation * (kernel - 1) // 2
    if padding == "causal":
        return dilation * (kernel - 1)
    return 0


def output_length(n: int, kernel: int, dilation: int, padding: str) -> int:
    return n - dilation * (kernel - 1) if padding == "valid" else n


def tap_ranges(n: int, kernel: int, dilation: int, padding: str) -> tuple[np.ndarray, np.ndarray]:
    """Per output t, the taps [j_lo, j_hi) whose input t + j dilation - pad lies in [0, n)."""
    pad = left_pad(kernel, dilation, padding)
    t = np.arange(output_length(n, kernel, dilation, padding), dtype=np.int64)
    j_lo = np.maximum(0, -((t - pad) // dilation))                  # ceil((pad - t) / dilation)
    j_hi = np.minimum(kernel, (n - 1 + pad - t) // dilation + 1)
    return j_lo, np.maximum(j_hi, j_lo)


def im2col(batch: int, n: int, d: int, kernel: int, dilation: int, padding: str):
    """X (batch, n, d) -> A (batch, n_out, kernel d), column j d + c = X[t + j dilation - pad, c] or 0."""
    pad = left_pad(kernel, dilation, padding)
    n_out = output_length(n, kernel, dilation, padding)

    def fn(x):
        x = np.asarray(x).reshape(batch, n, d)
        a = np.zeros((batch, n_out, kernel, d), x.dtype)
        t = np.arange(n_out)
        for j in range(kernel):
            src = t + j * dilation - pad
            ok = (src >= 0) & (src < n)
            a[:, t[ok], j, :] = x[:, src[ok], :]
        return (a.reshape(batch, n_out, kernel * d),)
    return fn


def layer_offsets(kernel: int, dilation: int, padding: str, stack_dilation: str, n: int | None = None):
    """Tap offsets (input position - output position) of layer l of a stack of these layers.

    With `n`, the taps farther than the sequence (|offset| >= n: they always read padding and
    connect nothing) are not enumerated, so a kernel of a billion taps or a deep exponential stack
    allocates at most 2n offsets; in an exponential stack the outermost offset on each side is kept,
    clipped to 4n, so the stack's extent (connectivity._schedule stops at 4n) stays as it was.

    valid: output t is placed at position t (its window starts there), so a stack keeps n positions.
    """
    def offsets(layer: int) -> np.ndarray:
        dil = dilation * kernel ** layer if stack_dilation == "exponential" else dilation
        pad = left_pad(kernel, dil, padding)
        if n is None:
            return np.arange(kernel, dtype=np.int64) * dil - pad
        first = max(0, -(-(pad - n + 1) // dil))         # taps j with |j dil - pad| < n
        last = min(kernel - 1, (pad + n - 1) // dil)
        count = max(0, last - first + 1)                  # several taps inside: dil < 2n fits int64
        inner = np.arange(count, dtype=np.int64) * (dil if count > 1 else 0) + (first * dil - pad)
        lowest, highest = -pad, (kernel - 1) * dil - pad   # Python ints: dil grows as k**l
        outer = [] if stack_dilation != "exponential" else \
            ([max(lowest, -4 * n)] if lowest <= -n else []) + ([min(highest, 4 * n)] if highest >= n else [])
        return np.sort(np.concatenate([inner, np.array(outer, np.int64)]))
    return offsets


class Convolutional(Variant):
    name = "convolutional"
    params_cls = ConvParams

    def check(self, chk, path, params) -> None:
        if params.padding == "valid":
            n_out = output_length(params.n, params.kernel, params.dilation, params.padding)
            if n_out < 1:
                chk.add(f"{path}.kernel",
                        f"valid padding leaves n - dilation*(kernel-1) = {params.n} - {params.dilation}*"
                        f"({params.kernel}-1) = {n_out} output positions; need at least 1 (use a smaller "
                        f"kernel or dilation, or padding: same or causal)")

    def build(self, spec: LayerSpec) -> OpGraph:
        p, b = spec.params, spec.batch
        k, d = p.kernel, p.d
        n_out = output_length(p.n, k, p.dilation, p.padding)
        # every sequence's outputs are rows of one GEMM: the weight is shared, so its tiles serve the
        # whole batch (a batch of separate GEMMs would re-read W per sequence when it does not fit);
        # the ranges are built on first use, so building the graph allocates nothing
        def taps():
            j_lo, j_hi = tap_ranges(p.n, k, p.dilation, p.padding)
            return np.tile(j_lo * d, b), np.tile(j_hi * d, b)
        mask = RowRanges.deferred(b * n_out, taps)
        ops = (Layout("im2col", ("X",), ("A",), im2col(b, p.n, d, k, p.dilation, p.padding), phase="conv"),
               Gemm("conv", "A", "W", "Y", b * n_out, k * d, d, shared_b=True, mask=mask, mask_axis="k",
                    phase="conv", deps=("im2col",)))
        tensors = (TensorSpec("X", (b, p.n, d), "input"),
                   TensorSpec("W", (1, k * d, d), "weight", weight_init(k * d)),
                   TensorSpec("A", (b, n_out, k * d), "intermediate"),
                   TensorSpec("Y", (b, n_out, d), "output"))
        return OpGraph(ops, tensors)

    def report_fields(self, spec: LayerSpec) -> dict:
        """`state_elements`: the inputs a streaming (token by token) run keeps for the next output,
        dilation (k - 1) d per sequence; `same` padding reads future inputs, so it cannot stream."""
        p = spec.params
        fields = {"n": p.n, "d": p.d, "kernel": p.kernel}
        if p.padding != "same":
            fields["state_elements"] = spec.batch * p.dilation * (p.kernel - 1) * p.d
        return fields

    def connectivity(self, spec: LayerSpec):
        p = spec.params
        return Taps(p.n, layer_offsets(p.kernel, p.dilation, p.padding, p.stack_dilation, p.n),
                    constant=p.stack_dilation == "constant" or p.kernel == 1)


VARIANT = Convolutional()
