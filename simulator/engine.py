"""Runs primitive ops on the kernels, count-only or functional, and schedules a layer's graph."""
from __future__ import annotations

import numpy as np
from numba.typed import List

from . import numerics
from .enums import Counter, NumberFormat, n_counters
from .graph import Gemm, OpGraph, VectorOp
from .lowering import lower_gemm, lower_vector
from .mapper import default_gemm_mapping
from .mapping import GemmMapping, check_gemm_mapping
from .results import OpResult

_EMPTY3 = np.zeros((0, 0, 0), np.float32)


def _empty_slots() -> List:
    slots = List()
    slots.append(_EMPTY3)
    return slots


def run_gemm(op: Gemm, hw, mapping: GemmMapping | None = None, store: dict | None = None) -> OpResult:
    """Walk a Gemm op.  With a `store` (functional mode) also compute C from A and B in it."""
    from .kernels.gemm import gemm_walk

    dims = (op.m, op.k, op.n)
    mapping = mapping or default_gemm_mapping(dims, hw)
    check_gemm_mapping(mapping, dims, hw)
    plan = lower_gemm(op, mapping, hw)
    out = np.zeros(n_counters(hw.n_boundaries), np.int64)
    if store is None:
        gemm_walk(plan.ip, plan.rates, plan.lo, plan.hi, _EMPTY3, _EMPTY3, _EMPTY3, False, out)
    else:
        a = _as3(store[op.a], (op.batch, op.m, op.k), op.a)
        b = _as3(store[op.b], (1 if op.shared_b else op.batch, op.k, op.n), op.b)
        if hw.number_format == NumberFormat.INT8:
            # int8 x int8 products summed exactly (float64 holds int32-range sums exactly)
            qa, sa = numerics.quantize_int8(a)
            qb, sb = numerics.quantize_int8(b)
            c = np.zeros((op.batch, op.m, op.n), np.float64)
            gemm_walk(plan.ip, plan.rates, plan.lo, plan.hi, qa, qb, c, True, out)
            c *= sa * sb
        else:
            c = np.zeros((op.batch, op.m, op.n), np.float32)
            gemm_walk(plan.ip, plan.rates, plan.lo, plan.hi, np.ascontiguousarray(a, np.float32),
                      np.ascontiguousarray(b, np.float32), c, True, out)
        store[op.c] = numerics.store(c, hw.number_format)
    shape = f"{op.batch} x ({op.m}x{op.k}x{op.n})" if op.batch > 1 else f"{op.m}x{op.k}x{op.n}"
    return OpResult.make(op.name, "gemm", "array", op.phase, out, mapping.describe(), shape)


def run_vector(op: VectorOp, hw, store: dict | None = None) -> OpResult:
    """Walk a VectorOp.  With a `store` also compute its outputs."""
    from .kernels.vector import vector_walk

    plan = lower_vector(op, hw)
    out = np.zeros(n_counters(hw.n_boundaries), np.int64)
    if store is None:
        slots = _empty_slots()
        functional = False
    else:
        slots = List()
        for name, width in zip(plan.slots, plan.widths):
            if name in op.inputs:
                arr = _as3(store[name], (op.batch, op.rows, int(width)), name)
                slots.append(np.array(arr, dtype=np.float32, order="C", copy=True))
            else:
                slots.append(np.zeros((op.batch, op.rows, int(width)), np.float32))
        functional = True
    vector_walk(plan.ip, plan.table, plan.consts, plan.widths, plan.roles, plan.cpo, plan.rates,
                plan.lo, plan.lens, slots, functional, out)
    if functional:
        for name, arr in zip(plan.slots, slots):
            if name in op.outputs:
                store[name] = numerics.store(arr, hw.number_format)
    shape = f"{op.batch} x {op.rows}x{op.cols}" if op.batch > 1 else f"{op.rows}x{op.cols}"
    return OpResult.make(op.name, "vector", "vector", op.phase, out, f"chunk {plan.ip[7]} rows", shape)


def run_op(op, hw, store=None) -> OpResult:
    if isinstance(op, Gemm):
        return run_gemm(op, hw, store=store)
    if isinstance(op, VectorOp):
        return run_vector(op, hw, store=store)
    raise TypeError(f"no kernel for op type {type(op).__name__}")


def run_graph(graph: OpGraph, hw, store: dict | None = None) -> tuple[tuple[OpResult, ...], int]:
    """Run every op in topological order.  Returns the op results and the layer latency.

    Schedule: ops run one after another in graph order (no overlap between ops), so the layer's
    latency is the sum of op latencies; docs/architecture.md says why.
    """
    results = tuple(run_op(op, hw, store) for op in graph.ops)
    return results, sum(r.cycles for r in results)


def _as3(arr: np.ndarray, shape: tuple[int, int, int], name: str) -> np.ndarray:
    if arr.shape != shape:
        if arr.size == int(np.prod(shape)):
            return arr.reshape(shape)
        raise ValueError(f"tensor {name!r} has shape {arr.shape}, the op expects {shape}")
    return arr


def zero_counts(hw) -> np.ndarray:
    return np.zeros(n_counters(hw.n_boundaries), np.int64)


__all__ = ["run_gemm", "run_vector", "run_graph", "run_op", "zero_counts", "Counter"]
