"""A schedule as a Chrome / Perfetto trace (Trace Event Format JSON).

One process per (layer, hardware config), one thread ("track") per unit: the MAC array, the vector
unit, and each memory boundary's fill and drain engines. Every task that ran on a unit is one
complete event ("ph": "X") named after its op and block; a drain whose block stayed on chip is an
instant event ("ph": "i") on the drain engine's track. Time stamps are clock cycles: the viewers
show them as microseconds, and the file's otherData says so.
"""
from __future__ import annotations

import json

import numpy as np

from .. import __version__
from ..kernels.steplog import FusedLog, GatherLog, GemmLog, VecLog
from .scheduler import F_FORWARDED, F_READ_ON_CHIP
from .tasks import Kind, T

_FUSED_STAGES = ("S = Q K^T", "softmax", "P V", "update")
_KIND_CAT = {Kind.COMPUTE: "compute", Kind.FILL: "fill", Kind.DRAIN: "drain", Kind.INDEX: "index"}


def unit_names(hw) -> list[str]:
    """Track names: the two compute units, then per boundary its fill and drain engine."""
    names = ["MAC array", "vector unit"]
    for b in range(hw.n_boundaries):
        outer, inner = hw.memories[b + 1].name, hw.memories[b].name
        names += [f"fill {outer} -> {inner}", f"drain {inner} -> {outer}"]
    return names


def step_label(log, step: int) -> str:
    """What one step of an op's log works on: its tile, rows or blocks."""
    if step < 0 or log is None or not len(log.rows):
        return ""
    r = log.rows[step]
    if log.kind == "gemm":
        if r[GemmLog.KIND] == 1:
            return f"b{r[GemmLog.B]} final write-back"
        return (f"b{r[GemmLog.B]} m{r[GemmLog.TM0]}:{r[GemmLog.TM1]} n{r[GemmLog.TN0]}:{r[GemmLog.TN1]} "
                f"k{r[GemmLog.TK0]}:{r[GemmLog.TK1]}")
    if log.kind == "vector":
        label = f"b{r[VecLog.B]} rows {r[VecLog.R0]}:{r[VecLog.R1]}"
        return label + (f" pass {r[VecLog.PASS]}" if r[VecLog.PASS] >= 0 else "")
    if log.kind == "fused":
        if r[FusedLog.KIND] == 0:
            return f"b{r[FusedLog.B]} init O, l, m"
        return f"b{r[FusedLog.B]} q{r[FusedLog.I0]}:{r[FusedLog.I1]} kv{r[FusedLog.J0]}:{r[FusedLog.J1]}"
    if log.kind == "gather":
        return f"b{r[GatherLog.B]}"
    return ""


def trace_events(result, pid: int) -> list[dict]:
    """The events of one layer result simulated with tasks kept (simulate(..., tasks=True))."""
    sched = result.schedule
    if sched is None or sched.graph is None:
        raise ValueError("the result has no task-level schedule: simulate with tasks=True")
    tab, logs = sched.graph.tab, sched.logs
    start, end, dur, flags = sched.times
    names = unit_names(result.hw)
    title = f"{result.workload} / {result.layer} on {result.hw.name} ({sched.mode}, {sched.cycles:,} cycles)"
    repeat = result.fields.get("repeat") or 1
    if repeat > 1:            # a `repeat` stack: its copies run one after another; the trace shows one
        title = (f"{result.workload} / {result.layer} on {result.hw.name} ({sched.mode}): one of {repeat} "
                 f"identical layers, {sched.cycles // repeat:,} of {sched.cycles:,} cycles")
    events = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": title}},
              {"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": pid}}]
    for u, name in enumerate(names):
        events += [{"ph": "M", "name": "thread_name", "pid": pid, "tid": u, "args": {"name": name}},
                   {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": u, "args": {"sort_index": u}}]
    ops = result.ops
    for t in np.flatnonzero(tab[:, T.UNIT] >= 0):
        op = int(tab[t, T.OP])
        events.append(_task_event(t, tab, ops[op].op, logs[op], start, dur, flags, pid))
    top_drain = 3 + 2 * (result.hw.n_boundaries - 1)
    for k, drain in enumerate(sched.graph.blocks):           # spills: blocks written back to make room
        s = len(tab) + k
        if dur[s] > 0 or end[s] > 0:
            op = int(tab[drain, T.OP])
            events.append({"ph": "X", "name": f"spill {ops[op].op} {step_label(logs[op], int(tab[drain, T.STEP]))}",
                           "cat": "spill", "pid": pid, "tid": top_drain, "ts": int(start[s]), "dur": int(dur[s]),
                           "args": {"op": ops[op].op, "bytes": int(tab[drain, T.BYTES])}})
    return events


def _task_event(t, tab, op_name, log, start, dur, flags, pid) -> dict:
    kind = int(tab[t, T.KIND])
    label = step_label(log, int(tab[t, T.STEP]))
    if kind == Kind.COMPUTE and log is not None and log.kind == "fused":
        label += f" {_FUSED_STAGES[int(tab[t, T.SUB])]}"
    args = {"op": op_name, "step": int(tab[t, T.STEP])}
    if kind == Kind.COMPUTE:
        args["busy_cycles"] = int(tab[t, T.BUSY])
    else:
        args["bytes"] = int(tab[t, T.BYTES])
    if flags[t] == F_FORWARDED:
        return {"ph": "i", "s": "t", "name": f"kept on chip: {op_name} {label}", "cat": "forwarded", "pid": pid,
                "tid": int(tab[t, T.UNIT]), "ts": int(start[t]), "args": args}
    if flags[t] == F_READ_ON_CHIP:
        args["read_on_chip"] = True
    prefix = "" if kind == Kind.COMPUTE else _KIND_CAT[Kind(kind)] + " "
    return {"ph": "X", "name": f"{prefix}{op_name} {label}".strip(), "cat": _KIND_CAT[Kind(kind)], "pid": pid,
            "tid": int(tab[t, T.UNIT]), "ts": int(start[t]), "dur": int(dur[t]), "args": args}


def trace_json(results) -> str:
    """The whole trace of several layer results (one process each)."""
    events = [e for pid, r in enumerate(results) for e in trace_events(r, pid)]
    meta = {"generator": f"attnsim {__version__}", "time_unit": "cycles",
            "note": "ts and dur are clock cycles (the viewer labels them microseconds)",
            "layers": [{"pid": pid, "workload": r.workload, "layer": r.layer, "hw": r.hw.name,
                        "schedule": r.schedule.mode, "cycles": int(r.cycles), "serial_cycles": int(r.serial_cycles),
                        "clock_hz": r.hw.clock_hz} for pid, r in enumerate(results)]}
    return json.dumps({"traceEvents": events, "displayTimeUnit": "ns", "otherData": meta}, separators=(",", ":"))
