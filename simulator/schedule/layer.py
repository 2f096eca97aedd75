"""A layer's schedule: its makespan, per-unit busy cycles, op spans and the counts it moves.

`serial`: ops one after another, each taking its kernel's cycles; the layer's counts are the sum of
its ops'. Computed from the counters alone unless the task-level schedule is asked for (a trace).
`overlapped`: the op results' tasks on the list scheduler (scheduler.py) with staging capacity and
forwarding. If that schedule ends later than the serial one (a list-scheduling anomaly), the serial
schedule is kept, as a compiler would, and `fell_back` says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, BoundaryCounter, Counter
from ..lowering import boundary_rates
from . import periodic, plans
from .links import TaskGraph, _owners, build_task_graph
from .reserve import op_reservations
from .scheduler import (F_FORWARDED, NO_CAPACITY_LIMIT, S_ERROR, S_FORWARDED, S_MAKESPAN, S_SKIPPED_A,
                        S_SKIPPED_B, list_schedule_ranged, new_outputs)
from .tasks import ARRAY_UNIT, VECTOR_UNIT, Kind, T, drain_unit, fill_unit

OVERLAPPED, SERIAL = "overlapped", "serial"
ANY_STAGING = (0, NO_CAPACITY_LIMIT)     # staging sizes a schedule holds for when it does not read them


@dataclass(frozen=True, eq=False)
class LayerSchedule:
    mode: str                     # the schedule used: overlapped or serial
    cycles: int                   # makespan
    serial_cycles: int            # the ops' cycles, one after another
    compute_cycles: int           # cycles in which the array or the vector unit is busy
    busy: dict                    # array, vector, dram_read, dram_write -> busy cycles
    counts: np.ndarray            # the layer's counts as scheduled (forwarded bytes removed)
    spans: tuple                  # per op result: (start_cycle, end_cycle)
    fell_back: bool = False       # overlapped was asked for, serial is what this is
    note: str = ""                # why it fell back
    graph: TaskGraph | None = None
    times: tuple | None = None    # (start, end, dur, flags) per task, when the tasks were scheduled
    stats: np.ndarray | None = None
    logs: tuple | None = None     # the op results' step logs (task names in traces)
    # staging-level sizes [lo, hi) in bytes over which this schedule comes out the same, every
    # other input equal (sweep/capmemo.py); None: not known
    staging_window: tuple | None = None

    def repeated(self, times: int) -> "LayerSchedule":
        """The schedule of `times` identical layers run one after another (a `repeat` stack): every
        total multiplied. Op spans and the task-level data (for traces) stay those of the first
        copy. Overflow is refused by the caller's OpResult.repeated on the same counts."""
        if times == 1:
            return self
        return LayerSchedule(**{**self.__dict__, "cycles": self.cycles * times,
                                "serial_cycles": self.serial_cycles * times,
                                "compute_cycles": self.compute_cycles * times,
                                "busy": {k: v * times for k, v in self.busy.items()},
                                "counts": self.counts * times})


@dataclass(frozen=True, eq=False)
class SchedulePlan:
    """What scheduling a layer needs besides the op results: its task graph and the ops'
    reservations (None when the layer has nothing to overlap). Built from the step logs; reusable
    for every evaluation of the same layer on the same hardware object (like mapped GEMM plans).
    A long recurrence's schedule is extrapolated from a few steps when that is exact (periodic.py):
    `extrapolated` then holds its (stats, sums, spans) and there is no graph."""
    graph: TaskGraph | None
    need: np.ndarray | None
    serial: bool
    extrapolated: tuple | None = None
    runs: dict = field(default_factory=dict, repr=False)   # (fill rate, capacity) -> its list schedule's numbers


def plan_layer(graph, logs, hw, mode: str, tasks: bool = False) -> SchedulePlan:
    serial = mode == SERIAL
    if not tasks and (serial or _alone(logs)):
        return SchedulePlan(None, None, serial)
    key = None
    if not tasks:
        key = plans.plan_key(graph, logs, hw, mode)
        kept = plans.find(graph, logs, hw, mode, key)
        if kept is not None:
            return kept
        per = periodic.find(graph, logs, _owners(graph))
        extrapolated = _extrapolated(graph, logs, hw, per) if per is not None else None
        if extrapolated is not None:
            return SchedulePlan(None, None, False, extrapolated)
    tg = build_task_graph(graph, logs, hw, serial)
    plan = SchedulePlan(tg, None if serial else op_reservations(tg), serial)
    if not tasks:
        plans.keep(graph, logs, hw, mode, plan, key)
    return plan


def _extrapolated(graph, logs, hw, per):
    """The (stats, sums, spans) of a long recurrence's layer from its k, k+1 and k+2-step versions,
    or None when one of them does not let the recurrence run alone or the increments differ."""
    outs = []
    for k in per.ks:
        small_graph, small_logs = periodic.compressed(graph, logs, per, k)
        tg = build_task_graph(small_graph, small_logs, hw, False, ranks=periodic.full_ranks(per, k))
        start, end, _, _, stats, sums, spans, _ = _run_tasks(SchedulePlan(tg, op_reservations(tg), False), hw)
        if not periodic.ran_alone(tg.tab, start, end, stats, per.g):
            return None
        outs.append((stats, sums, spans))
    return periodic.extrapolate(outs, per.ks, per.steps)


def schedule_layer(graph, results, logs, hw, mode: str, tasks: bool = False) -> LayerSchedule:
    """Schedule one layer (op results `results` with step logs `logs`). `tasks` keeps the
    task-level schedule (for traces)."""
    return run_plan(plan_layer(graph, logs, hw, mode, tasks), results, hw, mode, tasks, graph, logs)


def run_plan(plan: SchedulePlan, results, hw, mode: str, tasks: bool = False, graph=None, logs=None) -> LayerSchedule:
    """The layer's schedule under `plan`. An overlapped schedule that ends later than the serial
    one gives way to it (the serial task graph is built for a trace)."""
    serial = serial_schedule(results, hw)
    if plan.extrapolated is not None:
        out = _layer_schedule(plan.serial, hw, serial, *plan.extrapolated)
    elif plan.graph is None:
        return LayerSchedule(**{**serial.__dict__, "mode": mode})
    else:
        out = _scheduled(plan, hw, serial, tasks, logs)
    if plan.serial or out.cycles <= serial.cycles:
        return out
    fallback = _scheduled(plan_layer(graph, logs, hw, SERIAL, True), hw, serial, True, logs) if tasks else serial
    return LayerSchedule(**{**fallback.__dict__, "fell_back": True, "staging_window": out.staging_window,
                            "note": "the overlapped schedule ended later than the serial one"})


def _alone(logs) -> bool:
    """A layer whose only work is one GEMM or vector program has nothing to overlap: its schedule
    is its kernel's own double-buffered pipeline, which the serial numbers already are (fused
    attention overlaps its own stages, so it is always scheduled)."""
    working = [log for log in logs if log.kind != "none"]
    return len(working) == 1 and working[0].kind in ("gemm", "vector") and working[0].steps == 1


def serial_schedule(results, hw) -> LayerSchedule:
    """Ops one after another: everything from the counters."""
    counts = np.sum([r.counts for r in results], axis=0) if results else np.zeros(0, np.int64)
    cycles = [r.cycles for r in results]
    ends = np.cumsum(cycles) if cycles else np.zeros(0, np.int64)
    spans = tuple((int(e - c), int(e)) for e, c in zip(ends, cycles))
    total = int(ends[-1]) if len(ends) else 0
    compute = int(counts[Counter.ARRAY_CYCLES] + counts[Counter.VECTOR_CYCLES]) if len(counts) else 0
    return LayerSchedule(SERIAL, total, total, compute, _counter_busy(counts), counts, spans,
                         staging_window=ANY_STAGING)


def _counter_busy(counts) -> dict:
    if not len(counts):
        return {"array": 0, "vector": 0, "dram_read": 0, "dram_write": 0}
    return {"array": int(counts[Counter.ARRAY_CYCLES]), "vector": int(counts[Counter.VECTOR_CYCLES]),
            "dram_read": int(counts[Counter.OFFCHIP_FILL_CYCLES]),
            "dram_write": int(counts[Counter.OFFCHIP_DRAIN_CYCLES])}


def _scheduled(plan: SchedulePlan, hw, ref: LayerSchedule, tasks: bool, logs) -> LayerSchedule:
    """Run the list scheduler on the plan's task graph."""
    if tasks:
        start, end, dur, flags, stats, sums, spans, cap_range = _run_tasks(plan, hw)
    else:                                 # the numbers only: kept with the plan per (fill rate, capacity)
        key = _run_key(plan, hw)
        if key not in plan.runs:
            plan.runs[key] = _run_tasks(plan, hw)[4:]
        stats, sums, spans, cap_range = (a.copy() for a in plan.runs[key])
    if stats[S_ERROR]:
        raise RuntimeError("schedule: some tasks never became ready (a cycle in the task graph)")
    kept = {"graph": plan.graph, "times": (start, end, dur, flags), "logs": tuple(logs)} if tasks else {}
    # forwarding reads half the staging size (links.py), the list schedule all of it
    f_lo, f_hi = plan.graph.forward_window
    window = (max(2 * f_lo, int(cap_range[0])), min(2 * f_hi, int(cap_range[1])))
    return _layer_schedule(plan.serial, hw, ref, stats, sums, spans, staging_window=window, **kept)


def _run_key(plan: SchedulePlan, hw) -> tuple:
    """What the plan's list schedule depends on besides the plan: the top boundary's fill rate
    and the staging capacity (_run_tasks)."""
    return (boundary_rates(hw)[hw.n_boundaries - 1][0], 0 if plan.serial else int(hw.on_chip[-1].size_bytes))


def _run_tasks(plan: SchedulePlan, hw):
    """The list schedule of the plan's task graph: per task start, end, dur, flags; stats; the
    busy sums and op spans of summarize(); and the capacities [lo, hi) it holds for."""
    tg = plan.graph
    tab = tg.tab
    start, end, dur, flags, stats = new_outputs(len(tab), len(tg.blocks))
    top = hw.n_boundaries - 1
    fill_rate = boundary_rates(hw)[top][0]
    capacity = 0 if plan.serial else int(hw.on_chip[-1].size_bytes)
    need = plan.need if capacity else np.zeros(tg.n_groups, np.int64)
    cap_range = np.array(ANY_STAGING, np.int64)
    list_schedule_ranged(tab, tg.succ_ptr, tg.succ, tg.npred, tg.prio, tg.n_units, capacity, need, tg.op_prod_ptr,
                         tg.op_prod, tg.parts, tg.part_ptr, tg.unpin_ptr, tg.unpin, tg.blocks, tg.block_of,
                         tg.cons_ptr, tg.cons, fill_rate, drain_unit(top), start, end, dur, flags, stats, cap_range)
    sums, spans = summarize(tab, start, end, dur, len(tg.spans), fill_unit(top), drain_unit(top))
    return start, end, dur, flags, stats, sums, spans, cap_range


def _layer_schedule(serial: bool, hw, ref: LayerSchedule, stats, sums, spans, **kept) -> LayerSchedule:
    """The report numbers of a list schedule (its stats, busy sums and op spans)."""
    counts = _scheduled_counts(ref.counts, sums, stats, hw.n_boundaries - 1)
    busy = {"array": int(sums[0]), "vector": int(sums[1]), "dram_read": int(counts[Counter.OFFCHIP_FILL_CYCLES]),
            "dram_write": int(counts[Counter.OFFCHIP_DRAIN_CYCLES])}
    spans = tuple((int(a), int(b)) for a, b in spans)
    return LayerSchedule(SERIAL if serial else OVERLAPPED, int(stats[S_MAKESPAN]), ref.serial_cycles,
                         int(sums[4]), busy, counts, spans, stats=stats, **kept)


def _scheduled_counts(counts, sums, stats, top: int) -> np.ndarray:
    """The ops' summed counts less what forwarding kept on chip, with the off-chip engines' busy
    cycles as scheduled."""
    out = counts.copy()
    base = BOUNDARY_BASE + N_BOUNDARY_COUNTERS * top
    out[base + BoundaryCounter.FILL_A] -= stats[S_SKIPPED_A]
    out[base + BoundaryCounter.FILL_B] -= stats[S_SKIPPED_B]
    out[base + BoundaryCounter.DRAIN_C] -= stats[S_FORWARDED]
    out[Counter.OFFCHIP_FILL_CYCLES] = sums[2]
    out[Counter.OFFCHIP_DRAIN_CYCLES] = sums[3]
    return out


@njit(cache=True)
def summarize(tab, start, end, dur, n_ops, top_fill, top_drain):
    """From a schedule: busy cycles of the array, the vector unit, the off-chip fill and drain
    engines (spills included), the union of the compute units' busy intervals, and each op's span
    (its first task start and last task end on a unit; an op without one: its tail's end)."""
    n = tab.shape[0]
    sums = np.zeros(5, np.int64)
    spans = np.full((n_ops, 2), -1, np.int64)
    tail_end = np.zeros(n_ops, np.int64)
    cs = np.empty(n, np.int64)
    ce = np.empty(n, np.int64)
    m = 0
    for t in range(n):
        u, op = tab[t, T.UNIT], tab[t, T.OP]
        if u < 0:
            if op >= 0 and tab[t, T.KIND] == Kind.TAIL:
                tail_end[op] = max(tail_end[op], end[t])
            continue
        if u == ARRAY_UNIT or u == VECTOR_UNIT:
            sums[u] += tab[t, T.BUSY]
            cs[m] = start[t]
            ce[m] = start[t] + tab[t, T.BUSY]
            m += 1
        elif u == top_fill:
            sums[2] += dur[t]
        elif u == top_drain:
            sums[3] += dur[t]
        if spans[op, 0] < 0:
            spans[op, 0] = start[t]
            spans[op, 1] = end[t]
        else:
            spans[op, 0] = min(spans[op, 0], start[t])
            spans[op, 1] = max(spans[op, 1], end[t])
    for k in range(n, dur.shape[0]):
        sums[3] += dur[k]
    for op in range(n_ops):
        if spans[op, 0] < 0:
            spans[op, 0] = tail_end[op]
            spans[op, 1] = tail_end[op]
    sums[4] = _union(cs[:m], ce[:m])
    return sums, spans


@njit(cache=True)
def _union(starts, ends):
    """Length of the union of the intervals [starts[i], ends[i])."""
    order = np.argsort(starts)
    total = 0
    cur_s, cur_e = 0, 0
    for i in range(starts.shape[0]):
        s, e = starts[order[i]], ends[order[i]]
        if e <= s:
            continue
        if s > cur_e:
            total += cur_e - cur_s
            cur_s, cur_e = s, e
        elif e > cur_e:
            cur_e = e
    return total + cur_e - cur_s


__all__ = ["LayerSchedule", "schedule_layer", "serial_schedule", "F_FORWARDED", "OVERLAPPED",
           "SERIAL"]
