"""Each reservation group's staging reservation: the most bytes it holds when it runs alone.

"Alone" means the group's tasks on units of their own (no other group competes for them), with only
the dependencies inside the group, under the list scheduler's rules. `listed_reservations` runs
the list scheduler on exactly that graph. `op_reservations` gets the same numbers without it where
that is provably the same schedule: when, in the as-soon-as-possible schedule (every task starts
when its last predecessor ends), no two tasks of a group ever want the same unit at once, the list
scheduler has nothing to decide and starts every task at that time too (by induction over start
times: a task's predecessors end when they do in the ASAP schedule, and its unit is free then).
Where the proof's conditions are not met (a fused attention block's stages competing for the
array, a recurrence's body ops sharing it), it falls back to the list schedule.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from numba import njit

from .scheduler import NO_CAPACITY_LIMIT, list_schedule_ranged, new_outputs
from .tasks import T, csr


def op_reservations(tg) -> np.ndarray:
    """Per reservation group, the most staging bytes it holds when it runs alone. Where every group
    is one op result, each is computed from the result's own build (its tasks and edges, the
    group's rows and edges of the layer graph less an index shift) and kept with it: results that
    share a build (reuse.py) share the number."""
    if tg.results is not None:
        return np.array([build_reservation(tasks, tg.n_units) for tasks in tg.results], np.int64)
    return _layer_reservations(tg)


def build_reservation(tasks, n_units: int) -> int:
    """The reservation of one op result run alone, from its OpTasks (op-local rows, all in group 0)."""
    key = ("reservation", n_units)
    need = tasks.memo.get(key)
    if need is None and len(tasks.tab) <= 2 and all(row[T.ALLOC] <= 0 <= row[T.RELEASE] for row in tasks.tab.tolist()):
        need = 0                          # a layout's head and tail: nothing is ever held
    if need is None:
        alone = SimpleNamespace(tab=tasks.tab, local_edges=tasks.edges, n_units=n_units, n_groups=1, results=None)
        need = tasks.memo[key] = int(_layer_reservations(alone)[0])
    return need


def _layer_reservations(tg) -> np.ndarray:
    tab = tg.tab
    start, end, proven = alone_asap(tab, tg.local_edges, tg.n_units, tg.n_groups)
    if not proven:
        return listed_reservations(tg)
    return peak_holdings(tab[:, T.RES], start, end, tab[:, T.ALLOC], tab[:, T.RELEASE], tg.n_groups)


def listed_reservations(tg) -> np.ndarray:
    """op_reservations by list-scheduling every group alone (the definition, at a list schedule's cost)."""
    tab = tg.tab
    n_ops = tg.n_groups
    unit = np.where((tab[:, T.UNIT] >= 0) & (tab[:, T.RES] >= 0), tab[:, T.RES] * tg.n_units + tab[:, T.UNIT], -1)
    alone = tab.copy()
    alone[:, T.UNIT] = unit
    src, dst = tg.local_edges[:, 0], tg.local_edges[:, 1]
    succ_ptr, succ = csr(len(tab), src, dst)
    npred = np.bincount(dst, minlength=len(tab)).astype(np.int64)
    start, end, dur, flags, stats = new_outputs(len(tab), 0)
    empty = np.zeros(0, np.int64)
    # (the ranged scheduler, which the layer schedule compiles anyway; capacity 0 reads no range)
    list_schedule_ranged(alone, succ_ptr, succ, npred, np.arange(len(tab), dtype=np.int64), max(1, n_ops * tg.n_units),
                         0, np.zeros(n_ops, np.int64), np.zeros(n_ops + 1, np.int64), empty, np.zeros((0, 5), np.int64),
                         np.zeros(len(tab) + 1, np.int64), np.zeros(len(tab) + 1, np.int64), empty, empty,
                         np.full(len(tab), -1, np.int64), np.zeros(1, np.int64), empty, 1.0, 0, start, end, dur, flags,
                         stats, np.array([0, NO_CAPACITY_LIMIT], np.int64))
    return peak_holdings(tab[:, T.RES], start[:len(tab)], end[:len(tab)], tab[:, T.ALLOC], tab[:, T.RELEASE], n_ops)


@njit(cache=True)
def alone_asap(tab, edges, n_units, n_groups):
    """(start, end, proven): the ASAP times of the groups run alone, and whether they are provably
    the list schedule's. Edges are relaxed in their listed order, which must give every edge into
    a task before every edge out of it (the builders list them so; recurrence barriers do not, and
    are refused). Proven when, on each (group, unit) in task order, every task starts after the
    one before it started and no earlier than it ended (tasks of one unit in time order, none
    overlapping, none two at one cycle: the list scheduler never has two ready at once)."""
    n = tab.shape[0]
    m = edges.shape[0]
    start = np.zeros(n, np.int64)
    end = np.zeros(n, np.int64)
    last_in = np.full(n, -1, np.int64)
    for p in range(m):
        last_in[edges[p, 1]] = p
    for t in range(n):
        end[t] = _dur(tab, t)
    for p in range(m):
        s, d = edges[p, 0], edges[p, 1]
        if last_in[s] > p:                     # s may still start later: the order is not usable
            return start, end, False
        if end[s] > start[d]:
            start[d] = end[s]
            end[d] = start[d] + _dur(tab, d)
    last_start = np.full(max(1, n_groups * n_units), -1, np.int64)
    last_end = np.zeros(max(1, n_groups * n_units), np.int64)
    for t in range(n):
        u, g = tab[t, T.UNIT], tab[t, T.RES]
        if u < 0 or g < 0:
            continue
        key = g * n_units + u
        if start[t] <= last_start[key] or start[t] < last_end[key]:
            return start, end, False
        last_start[key] = start[t]
        last_end[key] = end[t]
    return start, end, True


@njit(cache=True)
def _dur(tab, t):
    """Time a task takes when its group runs alone: none without a unit (or a group)."""
    if tab[t, T.UNIT] < 0 or tab[t, T.RES] < 0:
        return 0
    return tab[t, T.DUR]


def peak_holdings(op, start, end, alloc, release, n_ops) -> np.ndarray:
    """Per op, the most bytes held at once: allocations at task starts, returns at task ends
    (returns first when both happen at the same cycle). Events are sorted by numpy's stable sort
    (they come nearly in order, which it exploits); the order of equal events changes no peak."""
    times, ops, delta = _events(op, start, end, alloc, release)
    if not len(times):
        return np.zeros(n_ops, np.int64)
    span = 2 * (int(times.max()) + 1)
    if n_ops * span < (1 << 62):            # one sort on (op, time, returns before reservations)
        order = np.argsort(ops * span + times * 2 + (delta > 0), kind="stable")
    else:
        by_time = np.argsort(times * 2 + (delta > 0), kind="stable")
        order = by_time[np.argsort(ops[by_time], kind="stable")]
    return _peaks(ops, delta, order, n_ops)


@njit(cache=True)
def _events(op, start, end, alloc, release):
    """(time, op, bytes) of every reservation (+) and return (-) of the tasks that hold bytes."""
    n = op.shape[0]
    times = np.empty(2 * n, np.int64)
    ops = np.empty(2 * n, np.int64)
    delta = np.empty(2 * n, np.int64)
    m = 0
    for t in range(n):
        if op[t] < 0 or (alloc[t] == 0 and release[t] == 0):
            continue
        times[m], ops[m], delta[m] = start[t], op[t], alloc[t]
        times[m + 1], ops[m + 1], delta[m + 1] = end[t], op[t], -release[t]
        m += 2
    return times[:m], ops[:m], delta[:m]


@njit(cache=True)
def _peaks(ops, delta, order, n_ops):
    peak = np.zeros(n_ops, np.int64)
    held = np.zeros(n_ops, np.int64)
    for i in range(order.shape[0]):
        e = order[i]
        held[ops[e]] += delta[e]
        peak[ops[e]] = max(peak[ops[e]], held[ops[e]])
    return peak
