"""GEMM task builds reused: within a layer and across the layers a process evaluates.

A GEMM result's tasks (optasks.op_tasks) are a function of its step log, its tile and operand
shapes, the on-chip levels' count and double buffering, and its tensor names (which only label
them). Results that walked alike share one build: attention's Q, K, V and output projections in
one layer, and the same GEMMs at the next design point of a sweep where only a buffer size or a
price changed. A build is kept under a key of those fields and a sample of the log's rows, and
reused only after the whole log compares equal. The kept builds are read-only, at most
`KEPT_TASKS` tasks in all (least recently used dropped first).
"""
from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np

from ..lru import Lru
from .optasks import OpTasks, op_tasks

KEPT_TASKS = 1 << 18               # about 40 MB of tables, edges, regions and blocks
_SAMPLED_ROWS = 64
# key -> (log rows, OpTasks), weighed by tasks; a build of more than a quarter of the bound is not kept
_KEPT = Lru(1 << 62, KEPT_TASKS, lambda entry: len(entry[1].tab))
_LOCK = threading.Lock()


def all_op_tasks(logs, hw, overlapped: bool) -> list[OpTasks]:
    """op_tasks of every log, GEMM builds reused where their logs are equal; each result keeps
    its own tensor names."""
    nlev = len(hw.on_chip)
    dbuf = tuple(bool(lv.double_buffered) for lv in hw.on_chip)
    out = []
    for log in logs:
        if log.kind != "gemm":
            out.append(op_tasks(log, hw, overlapped))
            continue
        tasks = _gemm_build(log, hw, overlapped, (nlev, dbuf))
        names = (log.op.a, log.op.b, log.op.c)
        out.append(tasks if tasks.names == names else replace(tasks, names=names))
    return out


def _gemm_build(log, hw, overlapped, levels) -> OpTasks:
    key = (overlapped, *_key(log, levels))
    with _LOCK:
        hit = _KEPT.table.get(key)
        if hit is not None and np.array_equal(hit[0], log.rows):
            _KEPT.find(key)
            return hit[1]
    tasks = _frozen(op_tasks(log, hw, overlapped))
    if len(tasks.tab) <= _KEPT.max_bytes // 4:
        with _LOCK:
            _KEPT.put(key, (_frozen_array(log.rows), tasks))
    return tasks


def _key(log, levels) -> tuple:
    """What a GEMM build depends on, with a fingerprint of the log (sampled rows) in place of all of it."""
    rows, info = log.rows, log.info
    step = max(1, len(rows) // _SAMPLED_ROWS)
    return (levels, log.steps, rows.shape, bool(info["shared_b"]), tuple(int(v) for v in info["tile_mn"]),
            tuple(int(v) for v in info["dims_mn"]), hash(np.ascontiguousarray(rows[::step]).tobytes()),
            hash(rows[-1].tobytes()) if len(rows) else 0)


def _frozen(tasks: OpTasks) -> OpTasks:
    """Compact read-only copies: a kept build is shared by every result that reuses it."""
    return replace(tasks, **{name: _frozen_array(getattr(tasks, name))
                             for name in ("tab", "edges", "heads", "tails", "regions", "blocks")})


def _frozen_array(array: np.ndarray) -> np.ndarray:
    out = np.array(array, copy=True)
    out.setflags(write=False)
    return out


def clear() -> None:
    """Forget every kept build (tests, memory)."""
    with _LOCK:
        _KEPT.clear()
