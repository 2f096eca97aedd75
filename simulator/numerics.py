"""Number-format emulation for functional runs.

Rule: every tensor stored in memory is rounded to the hardware's number format; GEMMs accumulate
in fp32 (int32 for int8, emulated exactly in float64); the vector unit computes in fp32.
* fp16, bf16: round to nearest even (fp16 through numpy's float16, bf16 by bit arithmetic).
* int8: symmetric per-tensor quantisation, scale = max|x| / 127, values clipped to [-127, 127].
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
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return peak / INT8_MAX if peak > 0 else 1.0


def quantize_int8(x: np.ndarray) -> tuple[np.ndarray, float]:
    """(integer values as float64, scale) with x ~= q * scale."""
    scale = int8_scale(x)
    q = np.clip(np.rint(np.asarray(x, dtype=np.float64) / scale), -INT8_MAX, INT8_MAX)
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
    return (q * scale).astype(np.float32)
