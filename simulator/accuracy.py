"""How far a functional run's numbers are from exact arithmetic: each layer's outputs, and each op's,
against the float64 reference of the same graph on the same inputs (exact.py).

Three numbers per comparison, over the elements that exist (a masked score matrix's valid entries;
positions written by argmax or sampling are addresses, not values, and are left out):
* max_abs_error = max |y - y_ref|
* rel_rms_error = sqrt(sum (y - y_ref)^2 / sum y_ref^2)   (empty when the reference is all zero)
* sqnr_db = 10 log10(sum y_ref^2 / sum (y - y_ref)^2)     (empty when the two are equal)
An output that overflowed the format (inf or NaN where the reference is finite) has infinite error.
"""
from __future__ import annotations

import math

import numpy as np

from .graph import Gather, Gemm, Layout, OpGraph, Recurrence, VectorOp

ERROR_COLUMNS = ("max_abs_error", "rel_rms_error", "sqnr_db")
EMPTY = dict.fromkeys(ERROR_COLUMNS)


def error_metrics(pairs) -> dict:
    """The three error columns over (emulated, reference) array pairs taken together."""
    worst, err_sq, ref_sq, finite = 0.0, 0.0, 0.0, True
    for got, ref in pairs:
        got = np.asarray(got, np.float64).ravel()
        ref = np.asarray(ref, np.float64).ravel()
        if not got.size:
            continue
        diff = got - ref
        if not np.isfinite(diff).all():
            finite = False
            continue
        worst = max(worst, float(np.abs(diff).max()))
        err_sq += float(np.dot(diff, diff))
        ref_sq += float(np.dot(ref, ref))
    if not finite:
        return {"max_abs_error": math.inf, "rel_rms_error": math.inf, "sqnr_db": -math.inf}
    return {"max_abs_error": worst,
            "rel_rms_error": math.sqrt(err_sq / ref_sq) if ref_sq > 0 else None,
            "sqnr_db": 10 * math.log10(ref_sq / err_sq) if err_sq > 0 and ref_sq > 0 else None}


def op_outputs(graph: OpGraph) -> dict[str, tuple]:
    """Op result name -> (graph op, the tensors it writes); a recurrence's body ops as 'rec.op'."""
    out = {}
    for op in graph.ops:
        if isinstance(op, Recurrence):
            out.update({f"{op.name}.{body.name}": (body, _writes(body)) for body in op.body})
        else:
            out[op.name] = (op, _writes(op))
    return out


def _writes(op) -> tuple[str, ...]:
    if isinstance(op, Gemm):
        return (op.c,)
    if isinstance(op, VectorOp):
        from .engine import index_outputs

        return tuple(name for name in op.outputs if name not in index_outputs(op))
    if isinstance(op, Layout):
        return op.outputs
    if isinstance(op, Gather):
        return (op.out,)
    return (op.o,)        # FusedAttention


def _pair(op, name: str, got: np.ndarray, ref: np.ndarray, reference: dict):
    """The elements of tensor `name` that exist: a score GEMM's valid entries under its mask."""
    got = np.asarray(got).reshape(ref.shape)
    if isinstance(op, Gemm) and op.mask is not None and op.mask_axis == "n":
        from .exact import ranges_of, valid_mask

        lo, hi = ranges_of(op.mask, reference, op.m, op.n)
        keep = np.broadcast_to(valid_mask(lo, hi, op.n)[None], (op.batch, op.m, op.n))
        return got.reshape(keep.shape)[keep], ref.reshape(keep.shape)[keep]
    return got, ref


def layer_errors(result) -> tuple[dict, dict[str, dict]]:
    """(the layer's errors over its output tensors, op result name -> that op's errors) of a
    functional LayerResult; both empty for a count-only one."""
    if result.tensors is None or result.graph is None:
        return dict(EMPTY), {}
    from .exact import run_exact

    graph = result.graph
    with np.errstate(all="ignore"):               # masked-out lanes may overflow; they are discarded
        reference = run_exact(graph, result.inputs)
    emulated = result.tensors
    outputs = [t.name for t in graph.tensors if t.role == "output"]
    layer = error_metrics((emulated[name], reference[name].reshape(np.shape(emulated[name]))) for name in outputs)
    ops = {}
    for name, (op, writes) in op_outputs(graph).items():
        pairs = [_pair(op, w, emulated[w], reference[w], reference) for w in writes if w in emulated and w in reference]
        ops[name] = error_metrics(pairs) if pairs else dict(EMPTY)
    return layer, ops
