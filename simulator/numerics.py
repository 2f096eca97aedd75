"""Number-format emulation for functional runs.

Rule: every tensor stored in memory is rounded to the hardware's number format; GEMMs accumulate
in fp32 (int32 for int8, emulated exactly in float64); the vector unit computes in fp32.
* fp16, bf16: round to nearest even (fp16 through numpy's float16, bf16 by bit arithmetic).
* int8: symmetric per-tensor quantisation, scale = max|x| / 127, values clipped to [-127, 127].

GEMM products are made here, from the tile products the functional walk records
(kernels/gemm.py, `runs`), with numpy's BLAS.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .enums import NumberFormat

UNIT_ROUNDOFF = {NumberFormat.FP32: 2.0 ** -24, NumberFormat.FP16: 2.0 ** -11,
                 NumberFormat.BF16: 2.0 ** -8, NumberFormat.INT8: None}
INT8_MAX = 127


def round_bf16(x: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (ties to even), returned as float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(x)
    _round_bf16(x.reshape(-1).view(np.uint32), out.reshape(-1).view(np.uint32))
    return out


@njit(cache=True)
def _round_bf16(bits, out):
    # Adding 0x7FFF plus the lowest kept bit rounds to nearest, ties to even; it cannot overflow
    # for finite values (the largest finite pattern rounds to infinity, as it should).
    for i in range(bits.shape[0]):
        b = bits[i]
        if (b & np.uint32(0x7F800000)) == np.uint32(0x7F800000) and (b & np.uint32(0x007FFFFF)) != 0:
            out[i] = b | np.uint32(0x00400000)          # NaN stays a (quiet) NaN
        else:
            out[i] = (b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)


def int8_scale(x: np.ndarray) -> float:
    peak = max(float(x.max()), -float(x.min())) if x.size else 0.0      # max |x| without a temporary
    return peak / INT8_MAX if peak > 0 else 1.0


def quantize_int8(x: np.ndarray) -> tuple[np.ndarray, float]:
    """(integer values as float64, scale) with x ~= q * scale."""
    scale = int8_scale(x)
    q = np.asarray(x, dtype=np.float64) / scale          # a new array: rounded and clipped in place
    np.rint(q, out=q)
    np.clip(q, -INT8_MAX, INT8_MAX, out=q)
    return q, scale


def store(x: np.ndarray, fmt: NumberFormat) -> np.ndarray:
    """The float32 array that memory holds after writing `x` in format `fmt`."""
    x32 = np.asarray(x, dtype=np.float32)
    if fmt == NumberFormat.FP32:
        return np.ascontiguousarray(x32)
    if fmt == NumberFormat.FP16:
        return x32.astype(np.float16).astype(np.float32)
    if fmt == NumberFormat.BF16:
        return round_bf16(x32)
    q, scale = quantize_int8(x)
    q *= scale
    return q.astype(np.float32)


# int8 x int8 products summed in float32 are exact while every partial sum stays below 2**24 in
# magnitude: at most this many products of |q| <= 127 per sum.
EXACT_INT8_TERMS = (1 << 24) // (INT8_MAX * INT8_MAX)


def gemm_output(a: np.ndarray, b: np.ndarray, runs: np.ndarray | None, shape: tuple, fmt: NumberFormat) -> np.ndarray:
    """C (batch, m, n) of a functional GEMM from its stored operands a (batch, m, k) and b (1 or
    batch, k, n): the sum of the walk's tile products `runs` (rows: batch element, m0, m1, n0, n1,
    k0, k1), accumulated in fp32; for int8, exact integer sums of the quantised values, scaled back.
    `runs` None: every product of the whole GEMM (an unmasked walk makes each exactly once), which
    int8 makes as one product (exact sums do not depend on how the walk grouped them)."""
    if fmt == NumberFormat.INT8:
        qa, sa = quantize_int8(a)
        qb, sb = quantize_int8(b)
        qa, qb = qa.astype(np.float32), qb.astype(np.float32)       # small integers: exact
        product = _exact_int_product
    else:
        qa, qb = np.asarray(a, np.float32), np.asarray(b, np.float32)
        product = np.matmul
    if runs is None:
        c = product(qa, qb)                   # (batch, m, n): b broadcasts when shared
    else:
        c = np.zeros(shape, np.float64 if fmt == NumberFormat.INT8 else np.float32)
        shared = qb.shape[0] == 1
        for bl, m0, m1, n0, n1, k0, k1 in runs.tolist():
            c[bl, m0:m1, n0:n1] += product(qa[bl, m0:m1, k0:k1], qb[0 if shared else bl, k0:k1, n0:n1])
    if fmt == NumberFormat.INT8:
        c *= sa * sb
    return c


def _exact_int_product(qa: np.ndarray, qb: np.ndarray) -> np.ndarray:
    """qa @ qb (float32 arrays of integers in [-127, 127]) as exact float64 sums: float32 products
    over chunks of at most EXACT_INT8_TERMS terms, added in float64."""
    k = qa.shape[-1]
    if k <= EXACT_INT8_TERMS:
        return np.matmul(qa, qb).astype(np.float64)
    out = None
    for k0 in range(0, k, EXACT_INT8_TERMS):
        part = np.matmul(qa[..., k0:k0 + EXACT_INT8_TERMS], qb[..., k0:k0 + EXACT_INT8_TERMS, :]).astype(np.float64)
        out = part if out is None else out + part
    return out
