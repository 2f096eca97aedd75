"""A long recurrence scheduled from a few of its steps, exactly.

A recurrence's steps are separated by barriers: step t+1 of any body op begins after every body op
has ended step t (links.py). When every other op of the layer is an ancestor or a descendant of the
recurrence, and the ancestors have ended when it begins, each step has the machine to itself: its
schedule depends on its own tasks only (list scheduling is invariant under a shift in time, and the
tasks of a step keep their relative priorities and indices). Once the body ops' step logs repeat
(from step p: the walks reach a steady state, e.g. weights re-read every step), every step schedules
the same, so every additive number of the layer's schedule (makespan, busy cycles, forwarded and
spilled bytes, op spans) grows by the same amount per step.

The layer is then scheduled with k, k+1 and k+2 steps (k = p + 3) instead of its S, with the
priorities of the S-step graph (`full_ranks`), and those numbers are extrapolated to S steps after
checking that both increments are equal and that nothing else ran during the recurrence. When any
condition fails, the caller schedules the whole graph. tests/test_schedule_periodic.py compares
both on random recurrent layers.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..graph import OpGraph, Recurrence
from ..kernels.steplog import GemmLog
from .scheduler import N_STATS, S_ERROR, S_FORCED, S_SPILLS
from .tasks import Kind, T

MIN_STEPS = 32          # shorter recurrences are scheduled step by step (cheap, nothing to gain)
STEADY_PROBE = 4        # the steady state is looked for from steps 0 .. STEADY_PROBE - 1
TRANSIENT_MARGIN = 3    # compressed graphs keep at least this many steady steps before the last


@dataclass(frozen=True)
class Periodic:
    g: int                 # the recurrence's index in the graph
    steps: int             # its S
    ks: tuple              # the step counts scheduled (three consecutive)
    body: frozenset        # indices of the op results (logs) of its body ops


def find(graph: OpGraph, logs, owners) -> Periodic | None:
    """The layer's recurrence when its schedule may be extrapolated (module docstring), else None.
    `owners`: (graph op index, body index) of each op result (links._owners)."""
    recs = [g for g, op in enumerate(graph.ops) if isinstance(op, Recurrence)]
    if len(recs) != 1 or graph.ops[recs[0]].steps < MIN_STEPS or not _ancestor_or_descendant(graph, recs[0]):
        return None
    g, steps = recs[0], graph.ops[recs[0]].steps
    body = frozenset(i for i, (owner, _) in enumerate(owners) if owner == g)
    steady = 0
    for i in body:
        log = logs[i]
        if log.kind == "gemm":
            p = steady_from(log.rows, steps) if log.op.batch == 1 else None
            if p is None:
                return None
            steady = max(steady, p)
        elif log.kind != "vector":
            return None
    k = steady + TRANSIENT_MARGIN
    if k + 2 >= steps:
        return None
    return Periodic(g, steps, (k, k + 1, k + 2), body)


def _ancestor_or_descendant(graph: OpGraph, g: int) -> bool:
    """Every op of the graph other than op g feeds it or is fed by it (through its deps)."""
    index = {op.name: i for i, op in enumerate(graph.ops)}
    deps = [{index[d] for d in op.deps} for op in graph.ops]
    above = set()
    stack = [g]
    while stack:
        for d in deps[stack.pop()]:
            if d not in above:
                above.add(d)
                stack.append(d)
    below = {g}
    for i in range(g + 1, len(graph.ops)):           # ops are in topological order
        if deps[i] & below:
            below.add(i)
    return len(above) + len(below) == len(graph.ops)


def steady_from(rows: np.ndarray, steps: int) -> int | None:
    """The first step p < STEADY_PROBE from which a recurrence GEMM's log repeats: every later step
    logs the same rows as step p, with its own step number (None: no such p)."""
    b = rows[:, GemmLog.B]
    if len(b) == 0 or b.min() < 0 or b.max() >= steps or (np.diff(b) < 0).any():
        return None
    counts = np.bincount(b, minlength=steps)
    starts = np.concatenate(([0], np.cumsum(counts)))
    for p in range(min(STEADY_PROBE, steps)):
        c = int(counts[p])
        if c == 0 or (counts[p:] != c).any():
            continue
        block = rows[starts[p]:].reshape(steps - p, c, rows.shape[1])
        if _repeats(block):
            return p
    return None


def _repeats(block: np.ndarray) -> bool:
    """block[t] equals block[0] in every column, step numbers (B, and OLD_C_B when set) shifted by t:
    each step equals the one before it (one pass over the log; the two step columns apart)."""
    later, earlier = block[1:], block[:-1]
    same = later == earlier
    same[:, :, [GemmLog.B, GemmLog.OLD_C_B]] = True
    if not same.all():
        return False
    a, b = later[:, :, GemmLog.OLD_C_B], earlier[:, :, GemmLog.OLD_C_B]
    steps_on = (later[:, :, GemmLog.B] == earlier[:, :, GemmLog.B] + 1).all()
    return bool(steps_on and (((a == b + 1) & (b >= 0)) | ((a == -1) & (b == -1))).all())


def compressed(graph: OpGraph, logs, per: Periodic, k: int):
    """The graph and logs of the same layer with its recurrence cut to its first k steps."""
    ops = list(graph.ops)
    ops[per.g] = replace(ops[per.g], steps=k)
    out = list(logs)
    for i in per.body:
        log = logs[i]
        rows = log.rows
        if log.kind == "gemm":
            rows = rows[:np.searchsorted(rows[:, GemmLog.B], k)]
        out[i] = replace(log, rows=rows, steps=k)
    return OpGraph(tuple(ops), graph.tensors), tuple(out)


def full_ranks(per: Periodic, k: int):
    """Rank adjustment for build_task_graph: upward ranks of the k-step graph become those of the
    S-step one when the last step barrier counts for the S - k steps left out (each as long as the
    longest chain through one steady step, the rank difference of two step barriers)."""
    from .links import upward_rank

    def adjust(tab, rank, succ_ptr, succ, npred):
        bars = _step_barriers(tab, per.g)
        if len(bars) != k - 1:
            raise ValueError(f"expected {k - 1} step barriers, found {len(bars)}")
        per_step = rank[bars[-2]] - rank[bars[-1]]
        dur = tab[:, T.DUR].copy()
        dur[bars[-1]] += (per.steps - k) * per_step
        return upward_rank(dur, succ_ptr, succ, npred)

    return adjust


def _step_barriers(tab: np.ndarray, g: int) -> np.ndarray:
    """The barriers between a recurrence's steps (links._recurrence_steps), in step order."""
    return np.flatnonzero((tab[:, T.KIND] == Kind.BARRIER) & (tab[:, T.OP] == -1) & (tab[:, T.RES] == g))


def ran_alone(tab: np.ndarray, start: np.ndarray, end: np.ndarray, stats: np.ndarray, g: int) -> bool:
    """Whether, in a schedule, every task outside recurrence g ended before the recurrence began or
    began after it ended, with no spill and no forced start (nothing else shared its steps)."""
    if stats[S_ERROR] or stats[S_SPILLS] or stats[S_FORCED]:
        return False
    n = len(tab)
    mine = tab[:, T.RES] == g
    head = np.flatnonzero(mine & (tab[:, T.KIND] == Kind.HEAD) & (tab[:, T.OP] == -1))
    tail = np.flatnonzero(mine & (tab[:, T.KIND] == Kind.TAIL) & (tab[:, T.OP] == -1))
    if len(head) != 1 or len(tail) != 1:
        return False
    t0, t1 = end[head[0]], end[tail[0]]
    other = ~mine
    return bool(((end[:n][other] <= t0) | (start[:n][other] >= t1)).all())


def extrapolate(outs: list, ks: tuple, steps: int):
    """(stats, sums, spans) for `steps` steps from those of ks (three consecutive step counts), or
    None when the two increments differ."""
    vecs = [np.concatenate([s, u, p.ravel()]).astype(object) for s, u, p in outs]     # Python ints
    d1, d2 = vecs[1] - vecs[0], vecs[2] - vecs[1]
    if ks[1] - ks[0] != 1 or ks[2] - ks[1] != 1 or any(a != b for a, b in zip(d1, d2)):
        return None
    full = vecs[0] + (steps - ks[0]) * d1
    if any(not -(1 << 63) <= int(v) < (1 << 63) for v in full):
        return None
    full = np.array([int(v) for v in full], np.int64)
    n_sums = len(outs[0][1])
    return (full[:N_STATS], full[N_STATS:N_STATS + n_sums], full[N_STATS + n_sums:].reshape(outs[0][2].shape))
