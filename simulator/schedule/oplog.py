"""Step logs of a layer's ops: the count-only kernel walks, run with logging on.

`run_logged` runs a graph count-only and returns its op results with one OpLog per result (the
walk that counts also logs, so an overlapped count-only run walks each op once). `logs_for`
gives the logs of an already simulated graph (functional runs and data-dependent layers): it
re-walks every op count-only with its masks resolved from the run's values.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..graph import FusedAttention, Gather, Gemm, Layout, Recurrence, VectorOp
from ..kernels.steplog import fused_log_width, gather_log_width, gemm_log_width, vec_log_width
from ..lru import Lru


@dataclass(eq=False)
class OpLog:
    """What one op result did, step by step. kind: gemm | vector | fused | gather | none."""
    kind: str
    op: Any                        # the graph op (masks resolved)
    rows: np.ndarray               # its step log (kernels/steplog.py)
    info: dict = field(default_factory=dict)   # plan facts the task builders need
    steps: int = 1                 # recurrence body ops: the number of steps (a vector body logs one)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _new_log(rows: int, width: int):
    return np.zeros((max(rows, 0), width), np.int64), np.zeros(1, np.int64)


# Count-only logged GEMM walks kept across hardware objects: (counts, log rows), read-only, per
# (op_key, walk_key, default dataflow, mapping), what the walk reads (no level size, no price), so
# the same GEMM mapped alike at another buffer size (a sweep's next point) is not walked again.
_KEPT_WALKS = Lru(1024, 32 << 20, lambda kept: kept[0].nbytes + kept[1].nbytes)


def _gemm(op, hw, mapper, pins):
    from ..engine import _gemm_result, _planned_gemm, run_gemm
    from ..mapeval import op_key, walk_key

    pinned = pins.get(op.name)
    # cached: run_gemm finds the mapper's choice again
    mapping = pinned if pinned is not None else _planned_gemm(op, hw, mapper[0], mapper[1])[0]
    info = _gemm_info(op, mapping)
    key = None if pinned is not None else (op_key(op), walk_key(hw), int(hw.mac_array.dataflow), mapping)
    kept = _KEPT_WALKS.find(key) if key is not None else None
    if kept is not None:
        counts, rows = kept
        return _gemm_result(op, hw, counts, mapping), (rows, np.array([len(rows)], np.int64)), info
    log = _new_log(_gemm_bound(op, mapping, 1), gemm_log_width(len(hw.on_chip)))
    result = run_gemm(op, hw, pinned, mapper=mapper[0], objective=mapper[1], log=log)
    if key is not None:
        rows = log[0][:log[1][0]].copy()
        rows.setflags(write=False)
        _KEPT_WALKS.put(key, (result.counts, rows))
    return result, log, info


def _gemm_bound(op, mapping, steps: int) -> int:
    """Rows a GEMM's log can need: every innermost tile computed, and a chain close per step."""
    tm0, tk0, tn0 = mapping.tiles[0]
    batch = op.batch * steps
    return batch * _cdiv(op.m, tm0) * _cdiv(op.k, tk0) * _cdiv(op.n, tn0) + batch + 2


def _gemm_info(op, mapping) -> dict:
    return {"tile_mn": np.array(mapping.tiles[-1][::2], np.int64), "dims_mn": np.array([op.m, op.n], np.int64),
            "shared_b": bool(op.shared_b)}


def _vector_plan(op, hw):
    from ..engine import _memo
    from ..lowering import lower_vector

    plan = _memo(hw).get(("vector", op))
    if plan is None:
        plan = _memo(hw)[("vector", op)] = lower_vector(op, hw)
    return plan


def _vector(op, hw):
    from ..engine import run_vector

    plan = _vector_plan(op, hw)
    chunk = int(plan.ip[7])
    bound = op.batch * (op.rows * len(op.passes) if chunk == 0 else _cdiv(op.rows, chunk))
    log = _new_log(bound, vec_log_width(len(hw.on_chip)))
    return run_vector(op, hw, log=log), log, {"plan": plan, "chunk": chunk}


def _fused(op, hw):
    from ..engine import run_fused
    from ..lowering import flash_block_sizes

    _, br, bc = flash_block_sizes(hw, op.d)
    br, bc = min(br, op.n_q), min(bc, op.n_kv)
    bound = op.batch * (1 + _cdiv(op.n_kv, bc) * _cdiv(op.n_q, br))
    log = _new_log(bound, fused_log_width(len(hw.on_chip)))
    return run_fused(op, hw, log=log), log, {"b_r": br, "b_c": bc}


def _gather(op, hw):
    from ..engine import run_gather

    log = _new_log(op.batch, gather_log_width(len(hw.on_chip)))
    return run_gather(op, hw, log=log), log, {}


def _resolved(op, masks):
    """The op with a data-dependent mask replaced by the ranges the run computed."""
    from ..engine import resolve_ranges

    for attr in ("mask", "ranges"):
        value = getattr(op, attr, None)
        if isinstance(value, str):
            return replace(op, **{attr: resolve_ranges(value, masks, op.name)})
    return op


_WALKS = {Gemm: ("gemm", lambda op, hw, mapper, pins: _gemm(op, hw, mapper, pins)),
          VectorOp: ("vector", lambda op, hw, mapper, pins: _vector(op, hw)),
          FusedAttention: ("fused", lambda op, hw, mapper, pins: _fused(op, hw)),
          Gather: ("gather", lambda op, hw, mapper, pins: _gather(op, hw))}
_NO_PINS: dict = {}


def _logged_op(op, hw, mapper, masks=None, pins=None) -> list[tuple]:
    """[(OpResult, OpLog)] of one graph op, walked count-only (masks resolved from `masks`; GEMMs
    named in `pins` run with their pinned mappings)."""
    from ..engine import run_layout

    if isinstance(op, Recurrence):
        return _logged_recurrence(op, hw)
    if isinstance(op, Layout):
        return [(run_layout(op, hw), OpLog("none", op, np.zeros((0, 0), np.int64)))]
    kind, walk = _WALKS[type(op)]
    op = _resolved(op, masks)
    result, (rows, nlog), info = walk(op, hw, mapper, pins or _NO_PINS)
    return [(result, OpLog(kind, op, rows[:nlog[0]], info))]


def _logged_recurrence(op: Recurrence, hw) -> list[tuple]:
    """Body op results of a recurrence with their logs (every step of a GEMM, one of a vector op)."""
    from ..recurrence import resident_mappings, run_recurrence

    mappings, _ = resident_mappings(op.body, hw)
    logs = {}
    for body_op in op.body:
        if isinstance(body_op, Gemm):
            logs[body_op.name] = _new_log(_gemm_bound(body_op, mappings[body_op.name], op.steps),
                                          gemm_log_width(len(hw.on_chip)))
        elif isinstance(body_op, VectorOp):
            plan = _vector_plan(body_op, hw)
            chunk = int(plan.ip[7])
            bound = body_op.batch * (body_op.rows * len(body_op.passes) if chunk == 0 else _cdiv(body_op.rows, chunk))
            logs[body_op.name] = _new_log(bound, vec_log_width(len(hw.on_chip)))
    results = run_recurrence(op, hw, None, logs=logs)
    out = []
    for result, body_op in zip(results, [b for b in op.body if not isinstance(b, Layout)]):
        rows, nlog = logs[body_op.name]
        if isinstance(body_op, Gemm):
            info = dict(_gemm_info(body_op, mappings[body_op.name]), shared_b=True)
            out.append((result, OpLog("gemm", body_op, rows[:nlog[0]], info, steps=op.steps)))
        else:
            plan = _vector_plan(body_op, hw)
            out.append((result, OpLog("vector", body_op, rows[:nlog[0]], {"plan": plan, "chunk": int(plan.ip[7])},
                                      steps=op.steps)))
    return out


def step_rows(graph, hw, mapper=("heuristic", "cycles"), pins=None) -> int:
    """An upper bound on the step-log rows of a graph's ops: the steps an overlapped schedule makes
    tasks of (a GEMM under a mask computed from the data counted at the array's tile size)."""
    from ..engine import _planned_gemm
    from ..recurrence import resident_mappings

    pins = pins or _NO_PINS
    total = 0
    for op in graph.ops:
        if isinstance(op, Recurrence):
            mappings, _ = resident_mappings(op.body, hw)
            total += sum(_gemm_bound(b, mappings[b.name], op.steps) for b in op.body if isinstance(b, Gemm))
            total += sum(b.batch * b.rows * len(b.passes) for b in op.body if isinstance(b, VectorOp)) * op.steps
        elif isinstance(op, Gemm) and isinstance(op.mask, str):
            r, c = hw.mac_array.rows, hw.mac_array.cols
            total += op.batch * _cdiv(op.m, r) * _cdiv(op.k, r) * _cdiv(op.n, c)
        elif isinstance(op, Gemm):
            mapping = pins.get(op.name) or _planned_gemm(op, hw, mapper[0], mapper[1])[0]
            total += _gemm_bound(op, mapping, 1)
        elif isinstance(op, VectorOp):
            total += op.batch * op.rows * len(op.passes)
        elif isinstance(op, FusedAttention):
            from ..lowering import flash_block_sizes

            _, br, bc = flash_block_sizes(hw, op.d)
            total += op.batch * (1 + _cdiv(op.n_kv, bc) * _cdiv(op.n_q, br))
    return total


def run_logged(graph, hw, mapper=("heuristic", "cycles"), pins=None):
    """(op results, op logs) of a graph run count-only: one walk per op counts and logs."""
    pairs = [pair for op in graph.ops for pair in _logged_op(op, hw, mapper, pins=pins)]
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def logs_for(graph, hw, mapper, store, pins=None) -> tuple[OpLog, ...]:
    """The logs of every op result of a graph simulated with values (functional runs, data-dependent
    layers): each op walked again count-only, its data-dependent masks taken from `store`."""
    return tuple(log for op in graph.ops for _, log in _logged_op(op, hw, mapper, store, pins))
