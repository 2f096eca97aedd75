"""Layer schedule plans reused across hardware objects, and their list schedules.

A count-only plan (layer.SchedulePlan: the task graph and the ops' reservations) is a function of
the layer graph, the schedule mode, the op results' step logs (kind, steps, op, rows, plan facts)
and a few hardware fields: the on-chip levels' count and double buffering, the element size, the
number of memory boundaries and, through forwarding's limit (half the staging level), the staging
size: a block read may stay on chip only if its span fits the limit, so a plan holds for every
limit from the largest span it let through to the smallest it refused (links.match_blocks' window).
Design points that differ elsewhere (the dataflow when it walks alike, a price, a clock, a staging
size in the window) give the same plan; it is kept under a key of those fields and a sample of
each log, and reused only after every log compares equal in full (rows, op object, plan facts).
The plan's list schedule further depends on the staging capacity and the off-chip fill rate only:
its numbers are kept with the plan per pair. Kept plans are never written to (the scheduler
reads its inputs only); at most `KEPT_TASKS` tasks are kept in all (least recently used dropped
first), a plan of more than that never. Plans extrapolated from a recurrence's first steps depend
on rates and are not kept.
"""
from __future__ import annotations

import dataclasses
import threading
import numpy as np

from ..lru import Lru

KEPT_TASKS = 1 << 17               # about 30 MB: task graphs (~160 bytes a task) and the logs they are checked against
_SAMPLED_ROWS = 16
_PER_KEY = 4
# key -> [(graph, logs, plan)], one per forwarding-limit window; weighed by tasks
_KEPT = Lru(1 << 62, KEPT_TASKS, lambda entries: sum(len(e[2].graph.tab) for e in entries))
_LOCK = threading.Lock()


def find(graph, logs, hw, mode: str, key: tuple | None = None):
    """The kept plan of this layer on hardware like `hw`, or None (`key`: plan_key's, if known)."""
    key = key or plan_key(graph, logs, hw, mode)
    limit = _forward_limit(hw)
    with _LOCK:
        for kept_graph, kept_logs, plan in _KEPT.table.get(key, ()):
            lo, hi = plan.graph.forward_window
            if kept_graph is graph and lo <= limit < hi and all(map(same_log, kept_logs, logs)):
                _KEPT.find(key)
                return plan
    return None


def keep(graph, logs, hw, mode: str, plan, key: tuple | None = None) -> None:
    n = len(plan.graph.tab) if plan.graph is not None else 0
    if plan.graph is None or plan.extrapolated is not None or n > _KEPT.max_bytes:
        return
    key = key or plan_key(graph, logs, hw, mode)
    with _LOCK:
        entries = _KEPT.table.get(key, [])[1 - _PER_KEY:]      # the oldest plan of this layer and logs goes
        _KEPT.put(key, entries + [(graph, tuple(logs), _slim(plan))])


def _slim(plan):
    """The plan as kept: what the list scheduler reads (the groups' own edges and the op builds,
    used for the reservations, stay out; so does the caller's copy)."""
    graph = dataclasses.replace(plan.graph, local_edges=_NO_EDGES)
    graph.forward_window = plan.graph.forward_window
    return dataclasses.replace(plan, graph=graph, runs=plan.runs)


_NO_EDGES = np.zeros((0, 2), np.int64)


def _forward_limit(hw) -> int:
    """Forwarding's limit (links.build_task_graph): half the staging level."""
    return int(hw.on_chip[-1].size_bytes) // 2


def plan_key(graph, logs, hw, mode: str) -> tuple:
    """What a plan depends on but the staging size (each plan says for which forwarding limits it holds)."""
    levels = tuple(bool(lv.double_buffered) for lv in hw.on_chip)
    return (id(graph), mode, levels, int(hw.bytes_per_element), int(hw.n_boundaries),
            tuple(_log_key(log) for log in logs))


def _log_key(log) -> tuple:
    rows = log.rows
    step = max(1, len(rows) // _SAMPLED_ROWS)
    return (log.kind, log.steps, id(log.op), rows.shape, hash(np.ascontiguousarray(rows[::step]).tobytes()),
            hash(rows[-1].tobytes()) if len(rows) else 0)


def same_log(a, b) -> bool:
    """Whether two step logs give the same tasks: same kind, steps, op object, rows and plan facts."""
    return (a.kind == b.kind and a.steps == b.steps and a.op is b.op and np.array_equal(a.rows, b.rows)
            and same_value(a.info, b.info))


def same_value(a, b) -> bool:
    """Deep equality over dicts, sequences, dataclasses (field by field) and arrays (shape, dtype, values)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same_value, a, b))
    if dataclasses.is_dataclass(a):
        return all(same_value(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return bool(a == b)


def clear() -> None:
    """Forget every kept plan (tests, memory)."""
    with _LOCK:
        _KEPT.clear()
