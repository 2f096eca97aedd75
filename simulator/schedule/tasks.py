"""The task table every builder writes and the scheduler reads: one int64 row per task.

Units: 0 the MAC array, 1 the vector unit, then for each memory boundary b (0 innermost, the last
one off-chip) its fill engine 2 + 2b (moves data inward) and its drain engine 3 + 2b (outward).
Structural tasks (barriers: the start and end of a window, of a chain, of an op) have unit -1 and
take no time.
"""
from enum import IntEnum

import numpy as np
from numba import njit

ARRAY_UNIT = 0
VECTOR_UNIT = 1
NO_UNIT = -1

# Typed constants for calls between kernels: a plain -1, 0 or True would be a literal type and
# compile the callee once more for it (one compiled signature per kernel: a shorter first run).
NONE = np.int64(-1)        # no task, no unit, no step
ZERO = np.int64(0)
TRUE, FALSE = np.bool_(True), np.bool_(False)


@njit(cache=True)
def fill_unit(boundary):
    return 2 + 2 * boundary


@njit(cache=True)
def drain_unit(boundary):
    return 3 + 2 * boundary


def n_units(n_boundaries: int) -> int:
    return 2 + 2 * n_boundaries


class Kind(IntEnum):
    COMPUTE = 0
    FILL = 1
    DRAIN = 2
    BARRIER = 3
    INDEX = 4       # a gather's index fetch
    HEAD = 5        # an op's (or a chain's) first task: whole-tensor dependencies arrive here
    TAIL = 6        # its last: whole-tensor dependents leave from here


class T(IntEnum):
    """Columns of the task table."""
    UNIT = 0
    DUR = 1          # cycles the unit is held (a fill that reads forwarded data may take less)
    BUSY = 2         # cycles counted as the unit's work (compute: array or vector cycles; transfers: DUR)
    KIND = 3
    STEP = 4         # row of the op's step log this task comes from (-1: none)
    SUB = 5          # which part of the step: the boundary of a transfer, the stage of a fused block
    ALLOC = 6        # bytes of the staging level reserved when the task starts
    RELEASE = 7      # bytes returned when it ends
    BYTES = 8        # bytes a transfer moves
    GROUP = 9        # timing chain (a recurrence step); orders tasks of interleaved ops
    OP = 10          # index of the op result the task belongs to
    RES = 11         # its reservation group: the op result's, or its recurrence's (-1: none)
    WIDTH = 12


# Builders append to a task table and an edge list through a counter array: cnt[0] tasks, cnt[1] edges.
@njit(cache=True)
def add_task(tab, cnt, unit, dur, busy, kind, step, sub, group):
    """Append a task; return its index."""
    n = cnt[0]
    if n >= tab.shape[0]:
        raise IndexError("task table full: the builder's size bound is wrong")
    row = tab[n]
    row[:] = 0
    row[T.UNIT] = unit
    row[T.DUR] = dur
    row[T.BUSY] = busy
    row[T.KIND] = kind
    row[T.STEP] = step
    row[T.SUB] = sub
    row[T.GROUP] = group
    cnt[0] = n + 1
    return n


@njit(cache=True)
def add_edge(edges, cnt, src, dst):
    """Append the dependency src -> dst (dst starts after src ends); a missing source (-1) is skipped."""
    if src < 0:
        return
    n = cnt[1]
    if n >= edges.shape[0]:
        raise IndexError("edge list full: the builder's size bound is wrong")
    edges[n, 0] = src
    edges[n, 1] = dst
    cnt[1] = n + 1


@njit(cache=True)
def add_barrier(tab, edges, cnt, srcs, kind, group):
    """A zero-time task after every task in `srcs` (-1 entries skipped)."""
    t = add_task(tab, cnt, NONE, ZERO, ZERO, kind, NONE, ZERO, group)
    for s in srcs:
        add_edge(edges, cnt, s, t)
    return t


@njit(cache=True)
def add_transfer(tab, edges, cnt, after, unit, cycles, nbytes, kind, step, sub, group):
    t = add_task(tab, cnt, unit, cycles, cycles, kind, step, sub, group)
    tab[t, T.BYTES] = nbytes
    add_edge(edges, cnt, after, t)
    return t


def new_table(rows: int) -> np.ndarray:
    return np.zeros((max(rows, 1), T.WIDTH), np.int64)


def new_edges(rows: int) -> np.ndarray:
    return np.zeros((max(rows, 1), 2), np.int64)


def csr(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Successor lists of n tasks in compressed form: succ[ptr[i]:ptr[i+1]] follow task i, in the
    order the pairs are listed (a stable counting sort on src)."""
    return _counting_csr(n, np.ascontiguousarray(src, np.int64), np.ascontiguousarray(dst, np.int64))


@njit(cache=True)
def _counting_csr(n, src, dst):
    ptr = np.zeros(n + 1, np.int64)
    for i in range(src.shape[0]):
        ptr[src[i] + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    fill = ptr[:n].copy()
    out = np.empty(src.shape[0], np.int64)
    for i in range(src.shape[0]):
        out[fill[src[i]]] = dst[i]
        fill[src[i]] += 1
    return ptr, out
