"""Runs primitive ops on the kernels, count-only or functional, and schedules a layer's graph."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from numba import njit
from numba.typed import List

from . import numerics
from .errors import SizeError
from .enums import Counter, NumberFormat, n_counters
from .graph import FusedAttention, Gather, Gemm, Layout, OpGraph, Recurrence, RowRanges, VectorOp
from .bounds import gemm_bound
from .lowering import lower_gemm, lower_vector
from .lru import Lru
from .mapeval import op_key, walk_key
from .mapper import choose_gemm_plan
from .mapping import GemmMapping, check_gemm_mapping
from .results import OpResult

_EMPTY3 = np.zeros((0, 0, 0), np.float32)
NO_LOG = np.zeros((0, 0), np.int64)          # a step log with no rows: logging off (and no products)
_NO_COUNT = np.zeros(1, np.int64)             # the row counter of a log or product list that has no rows


def gemm_run_bound(op, mapping) -> int:
    """Rows a functional walk's product list can need: one per computed innermost step (and per
    step of a recurrence's walk, op.batch being the steps' batch)."""
    tm0, tk0, tn0 = mapping.tiles[0]
    return op.batch * -(-op.m // tm0) * -(-op.k // tk0) * -(-op.n // tn0) + 1


def _empty_slots() -> List:
    return _slots_of(_EMPTY3)


# typed.List's own methods called from Python are compiled anew in every process (Numba does not
# cache them: about a second per run); made and filled inside cached kernels, the list costs nothing.
@njit(cache=True)
def _slots_of(first):
    slots = List()
    slots.append(first)
    return slots


@njit(cache=True)
def _append_slot(slots, array):
    slots.append(array)


def resolve_ranges(mask, store: dict | None, op_name: str):
    """A mask given as a tensor name holds per-row [lo, hi) computed during the run (data-dependent)."""
    if not isinstance(mask, str):
        return mask
    if store is None or mask not in store:
        raise SizeError(f"op {op_name!r}: its mask {mask!r} is computed from the data; the layer must run "
                        f"functionally (simulate() does this for data-dependent variants)")
    ranges = np.asarray(store[mask], np.int64).reshape(-1, 2)
    return RowRanges.from_arrays(ranges[:, 0], ranges[:, 1])


def run_gemm(op: Gemm, hw, mapping: GemmMapping | None = None, store: dict | None = None,
             mapper: str = "heuristic", objective: str = "cycles", log=None) -> OpResult:
    """Walk a Gemm op.  With a `store` (functional mode) also compute C from A and B in it.
    `log` = (rows array, 1-element row counter) receives the walk's step log (kernels/steplog.py)."""
    from .kernels.gemm import gemm_walk

    if isinstance(op.mask, str):
        op = replace(op, mask=resolve_ranges(op.mask, store, op.name))
    counts = None
    if mapping is None:
        mapping, plan, counts = _planned_gemm(op, hw, mapper, objective)
    else:
        check_gemm_mapping(mapping, (op.m, op.k, op.n), hw)
        plan = lower_gemm(op, mapping, hw)
    if store is None and counts is not None and log is None:
        # the mapper walked this mapping count-only already: the same counts
        return _gemm_result(op, hw, counts, mapping)
    if plan is None:
        plan = lower_gemm(op, mapping, hw)
    out = np.zeros(n_counters(hw.n_boundaries), np.int64)
    state = new_gemm_state(hw)
    rows, nlog = log if log is not None else (NO_LOG, np.zeros(1, np.int64))
    if store is None:
        gemm_walk(plan.ip, plan.rates, plan.lo, plan.hi, out, state, 0, True, rows, nlog, NO_LOG, _NO_COUNT)
    else:
        a = _as3(store[op.a], (op.batch, op.m, op.k), op.a)
        b = _as3(store[op.b], (1 if op.shared_b else op.batch, op.k, op.n), op.b)
        runs = None
        if counts is not None and log is None and op.mask is None and hw.number_format == NumberFormat.INT8:
            out = counts        # exact integer sums: C needs no walk order, and the mapper counted this walk
        else:
            runs, nrun = np.zeros((gemm_run_bound(op, mapping), 7), np.int64), np.zeros(1, np.int64)
            gemm_walk(plan.ip, plan.rates, plan.lo, plan.hi, out, state, 0, True, rows, nlog, runs, nrun)
            runs = runs[:nrun[0]]
        c = numerics.gemm_output(a, b, runs, (op.batch, op.m, op.n), hw.number_format)
        store[op.c] = numerics.store(c, hw.number_format)
    return _gemm_result(op, hw, out, mapping)


def _gemm_result(op, hw, counts, mapping) -> OpResult:
    shape = f"{op.batch} x ({op.m}x{op.k}x{op.n})" if op.batch > 1 else f"{op.m}x{op.k}x{op.n}"
    return OpResult.make(op.name, "gemm", "array", op.phase, counts, mapping.describe(), shape, _bound(op, hw))


def run_vector(op: VectorOp, hw, store: dict | None = None, log=None) -> OpResult:
    """Walk a VectorOp.  With a `store` also compute its outputs; `log` as for run_gemm."""
    from .kernels.vector import vector_walk

    if isinstance(op.ranges, str):
        op = replace(op, ranges=resolve_ranges(op.ranges, store, op.name))
    plan = _memo(hw).get(("vector", op))
    if plan is None:
        plan = _memo(hw)[("vector", op)] = lower_vector(op, hw)
    out = np.zeros(n_counters(hw.n_boundaries), np.int64)
    if store is None:
        slots = _empty_slots()
        functional = False
    else:
        arrays = []
        for name, width, height in zip(plan.slots, plan.widths, plan.heights):
            shape = (op.batch, int(height), int(width))
            if name in op.inputs and name not in op.outputs:
                # read-only for the kernel: no copy needed
                arrays.append(np.ascontiguousarray(_as3(store[name], shape, name), dtype=np.float32))
            elif name in op.inputs:
                arrays.append(np.array(_as3(store[name], shape, name), dtype=np.float32, order="C", copy=True))
            elif name in op.outputs:
                arrays.append(np.zeros(shape, np.float32))      # zero outside each row's valid range
            else:
                arrays.append(np.empty(shape, np.float32))      # temporaries: read only where written
        slots = _slots_of(arrays[0])
        for array in arrays[1:]:
            _append_slot(slots, array)
        functional = True
    rows, nlog = log if log is not None else (NO_LOG, np.zeros(1, np.int64))
    vector_walk(plan.ip, plan.table, plan.consts, plan.widths, plan.heights, plan.roles, plan.cpo, plan.rates,
                plan.lo, plan.lens, slots, functional, out, rows, nlog)
    if functional:
        picked = index_outputs(op)
        for name, arr in zip(plan.slots, arrays):       # the kernel wrote into these arrays' memory
            if name in op.outputs:
                store[name] = arr if name in picked else numerics.store(arr, hw.number_format)
    shape = f"{op.batch} x {op.rows}x{op.cols}" if op.batch > 1 else f"{op.rows}x{op.cols}"
    return OpResult.make(op.name, "vector", "vector", op.phase, out, f"chunk {plan.ip[7]} rows", shape, _bound(op, hw))


def index_outputs(op: VectorOp) -> set[str]:
    """Tensors written by argmax or sample passes: positions (addresses), which memory holds exactly
    rather than rounded to the number format (an int8 or bf16 index would name the wrong row)."""
    from .graph import VOp

    return {p.dst for p in op.passes if p.opcode in (VOp.ARGMAX, VOp.SAMPLE)}


def run_layout(op: Layout, hw, store: dict | None = None) -> OpResult:
    """A free rearrangement: functional runs apply it; it counts nothing."""
    if store is not None:
        results = op.fn(*(store[name] for name in op.inputs))
        for name, arr in zip(op.outputs, results):
            arr = np.asarray(arr)
            # index tensors (ranges, positions) keep their integer type; values are fp32 like memory
            store[name] = np.ascontiguousarray(arr if arr.dtype.kind in "iu" else arr.astype(np.float32))
    zeros = _memo(hw).get("zeros")
    if zeros is None:
        zeros = _memo(hw)["zeros"] = OpResult.make("", "layout", "none", "", zero_counts(hw)).counts
    return OpResult(op.name, "layout", "none", op.phase, zeros, 0, "strided addressing (free)")


def run_gather(op: Gather, hw, store: dict | None = None, log=None) -> OpResult:
    from .kernels.gather import gather_walk
    from .lowering import boundary_rates

    rows_log = log[0] if log is not None else NO_LOG
    out = zero_counts(hw)
    rates = np.array([r for pair in boundary_rates(hw) for r in pair], np.float64)
    shape = (op.batch, op.rows, op.width)
    if store is None:
        gather_walk(op.batch, op.rows, op.width, hw.bytes_per_element, len(hw.on_chip), rates,
                    _EMPTY3, _EMPTY3, _EMPTY3, False, out, rows_log)
    else:
        table = np.ascontiguousarray(_as3(store[op.table], (op.batch, op.table_rows, op.width), op.table), np.float32)
        index = np.ascontiguousarray(_as3(store[op.index], (op.batch, op.rows, 1), op.index), np.float32)
        result = np.zeros(shape, np.float32)
        gather_walk(op.batch, op.rows, op.width, hw.bytes_per_element, len(hw.on_chip), rates,
                    table, index, result, True, out, rows_log)
        store[op.out] = result          # a copy of stored values: already in the number format
    if log is not None:
        log[1][0] = op.batch
    return OpResult.make(op.name, "gather", "dma", op.phase, out, "", f"{op.batch} x {op.rows}x{op.width}",
                         _bound(op, hw))


def run_fused(op: FusedAttention, hw, store: dict | None = None, log=None) -> OpResult:
    from .kernels.fused import FusedParam, fused_walk
    from .lowering import lower_fused

    if isinstance(op.mask, str):
        op = replace(op, mask=resolve_ranges(op.mask, store, op.name))
    ip, rates, cpo, lo, hi = lower_fused(op, hw)
    out = zero_counts(hw)
    rows, nlog = log if log is not None else (NO_LOG, np.zeros(1, np.int64))
    if store is None:
        fused_walk(ip, rates, cpo, lo, hi, op.scale, _EMPTY3, _EMPTY3, _EMPTY3, _EMPTY3, False, out, rows, nlog)
    else:
        q = np.ascontiguousarray(_as3(store[op.q], (op.batch, op.n_q, op.d), op.q), np.float32)
        k = np.ascontiguousarray(_as3(store[op.k], (op.batch, op.n_kv, op.d), op.k), np.float32)
        v = np.ascontiguousarray(_as3(store[op.v], (op.batch, op.n_kv, op.d), op.v), np.float32)
        o = np.zeros((op.batch, op.n_q, op.d), np.float32)
        fused_walk(ip, rates, cpo, lo, hi, op.scale, q, k, v, o, True, out, rows, nlog)
        store[op.o] = numerics.store(o, hw.number_format)
    mapping = f"flash B_r={ip[FusedParam.B_R]} B_c={ip[FusedParam.B_C]}"
    return OpResult.make(op.name, "fused", "array+vector", op.phase, out, mapping,
                         f"{op.batch} x ({op.n_q}x{op.n_kv}, d={op.d})", _bound(op, hw))


_RUNNERS = {Gemm: lambda op, hw, store, mapper, pins: run_gemm(op, hw, pins.get(op.name), store=store,
                                                               mapper=mapper[0], objective=mapper[1]),
            VectorOp: lambda op, hw, store, mapper, pins: run_vector(op, hw, store=store),
            Layout: lambda op, hw, store, mapper, pins: run_layout(op, hw, store),
            Gather: lambda op, hw, store, mapper, pins: run_gather(op, hw, store),
            FusedAttention: lambda op, hw, store, mapper, pins: run_fused(op, hw, store),
            Recurrence: lambda op, hw, store, mapper, pins: _run_recurrence(op, hw, store)}
_NO_PINS: dict = {}


def _run_recurrence(op, hw, store):
    from .recurrence import run_recurrence

    return run_recurrence(op, hw, store)


def run_op(op, hw, store=None, mapper: tuple[str, str] = ("heuristic", "cycles"),
           pins: dict | None = None) -> tuple[OpResult, ...]:
    """Results of one graph op (a recurrence gives one result per body op). `mapper` is
    (mapper name, objective) for GEMMs; `pins` maps GEMM op names to the mappings they must use."""
    runner = _RUNNERS.get(type(op))
    if runner is None:
        raise TypeError(f"no kernel for op type {type(op).__name__}")
    result = runner(op, hw, store, mapper, pins or _NO_PINS)
    return result if isinstance(result, tuple) else (result,)


def run_graph(graph: OpGraph, hw, store: dict | None = None,
              mapper: tuple[str, str] = ("heuristic", "cycles"),
              pins: dict | None = None) -> tuple[tuple[OpResult, ...], int]:
    """Run every op in topological order.  Returns the op results and the layer latency.

    Schedule: ops run one after another in graph order (no overlap between ops), so the layer's
    latency is the sum of op latencies; docs/architecture.md says why.
    """
    results = tuple(r for op in graph.ops for r in run_op(op, hw, store, mapper, pins))
    return results, sum(r.cycles for r in results)


def _bound(op, hw) -> int:
    """bound_cycles of one op (bounds.py), memoised per (op, hardware object) like its plan; an op
    whose mask is computed from the data is a new object every run."""
    from .bounds import op_bound

    key = ("bound", op)
    hit = _memo(hw).get(key)
    if hit is None:
        hit = _memo(hw)[key] = _gemm_bound(op, hw) if isinstance(op, Gemm) else op_bound(op, hw)
    return hit


_GEMM_BOUNDS = Lru(4096)


def _gemm_bound(op, hw) -> int:
    """bounds.gemm_bound, kept across hardware objects per (mapeval.op_key, mapeval.walk_key): it
    reads of the op its shape, batch, sharing, step barrier, dataflow and mask, and of the hardware
    the array (shape, dataflows, fold overlap), the element bytes and the off-chip bandwidths, all
    in those keys (a sweep over buffer sizes asks the same bound again)."""
    return _GEMM_BOUNDS.get((op_key(op), walk_key(hw)), lambda: gemm_bound(op, hw))


def _memo(hw) -> dict:
    """Per-hardware cache of mapped and lowered plans, keyed by op object (graphs are cached per
    layer, so the same ops come back on every evaluation of that layer on this hardware)."""
    memo = hw.__dict__.get("_plans")
    if memo is None:
        memo = {}
        object.__setattr__(hw, "_plans", memo)
    return memo


def _planned_gemm(op, hw, mapper, objective):
    """(mapping, plan, count-only counts or None) of a Gemm op, memoised per (op, hardware object).
    The plan is None when the mapper gave the counts (a count-only run needs no plan then; run_gemm
    lowers it when it walks)."""
    key = ("gemm", op, mapper, objective)
    hit = _memo(hw).get(key)
    if hit is None:
        mapping, counts = choose_gemm_plan(op, hw, mapper, objective)
        check_gemm_mapping(mapping, (op.m, op.k, op.n), hw)
        hit = _memo(hw)[key] = (mapping, lower_gemm(op, mapping, hw) if counts is None else None, counts)
    return hit


def new_gemm_state(hw) -> np.ndarray:
    from .kernels.gemm import gemm_state_size

    return np.zeros(gemm_state_size(len(hw.on_chip)), np.int64)


def _as3(arr: np.ndarray, shape: tuple[int, int, int], name: str) -> np.ndarray:
    if arr.shape != shape:
        if arr.size == int(np.prod(shape)):
            return arr.reshape(shape)
        raise ValueError(f"tensor {name!r} has shape {arr.shape}, the op expects {shape}")
    return arr


def zero_counts(hw) -> np.ndarray:
    return np.zeros(n_counters(hw.n_boundaries), np.int64)


__all__ = ["run_gemm", "run_vector", "run_graph", "run_op", "zero_counts", "Counter"]
