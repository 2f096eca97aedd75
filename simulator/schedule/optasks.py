"""The tasks of one op result, from its step log: builder dispatch and staging-level bytes.

An OpTasks holds an op's tasks (op-local indices), its internal dependencies, the off-chip fill
regions it reads (for links to its producers) and the output blocks it drains (for its consumers).
Staging bytes (the outermost on-chip level) are what each task reserves when it starts (ALLOC) and
returns when it ends (RELEASE), as the op would run alone: the op's reservation in an overlapped
schedule is the most it ever holds (layer.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from ..kernels.steplog import FusedLog, GatherLog, GemmLog, VecLog
from .build_chain import build_chains, build_fused_overlapped, build_gather, chain_task_bound
from .build_gemm import BLOCK_WIDTH, REGION_WIDTH, build_gemm, gemm_task_bound
from .tasks import ARRAY_UNIT, VECTOR_UNIT, Kind, T, new_edges, new_table
from .vector_bytes import vector_bytes


class R(IntEnum):
    """Columns of a region table: what one off-chip fill reads of one tensor."""
    TASK = 0
    TENSOR = 1       # index into OpTasks.names
    B = 2
    R0 = 3
    R1 = 4
    C0 = 5
    C1 = 6
    BYTES = 7        # -1: the valid elements of rows read with row ranges (OpTasks.ranges)
    COUNTER = 8      # 0: counted as FILL_A, 1: FILL_B
    LAST = 9         # the task after which the data read is no longer used
    WIDTH = 10


class K(IntEnum):
    """Columns of a block table: a region of a tensor a drain writes back (final values)."""
    TASK = 0
    TENSOR = 1
    B = 2
    R0 = 3
    R1 = 4
    C0 = 5
    C1 = 6
    WIDTH = 7


_NO_REGIONS = np.zeros((0, R.WIDTH), np.int64)
_NO_BLOCKS = np.zeros((0, K.WIDTH), np.int64)


@dataclass(eq=False)
class OpTasks:
    tab: np.ndarray                 # T-layout rows (op-local indices)
    edges: np.ndarray               # (src, dst) pairs, op-local
    heads: np.ndarray               # first task of each chain (a recurrence: of each step)
    tails: np.ndarray
    names: tuple = ()               # the tensors regions and blocks refer to
    regions: np.ndarray = field(default_factory=lambda: _NO_REGIONS)
    blocks: np.ndarray = field(default_factory=lambda: _NO_BLOCKS)
    ranges: tuple | None = None     # (lo, lens) of the rows a vector program reads (regions with BYTES -1)
    memo: dict = field(default_factory=dict, repr=False)    # facts derived from the build, shared by its copies


def tensor_rows(tasks: OpTasks, table: str, k: int) -> np.ndarray:
    """The rows of the build's `table` ("regions" or "blocks") that name tensor index k (kept:
    a build's tables do not change once it is made)."""
    rows = tasks.memo.get((table, k))
    if rows is None:
        rows = getattr(tasks, table)
        col = R.TENSOR if table == "regions" else K.TENSOR
        rows = tasks.memo[(table, k)] = rows[rows[:, col] == k]
    return rows


def op_tasks(log, hw, overlapped: bool) -> OpTasks:
    """The tasks of one op result (OpLog `log`) on hardware `hw`."""
    builders = {"gemm": _gemm_tasks, "vector": _vector_tasks, "fused": _fused_tasks, "gather": _gather_tasks,
                "none": _no_tasks}
    return builders[log.kind](log, hw, overlapped)


def _no_tasks(log, hw, overlapped) -> OpTasks:
    """A layout: a head and a tail only (dependencies pass through it)."""
    return OpTasks(_HEAD_TAIL.copy(), np.array([[0, 1]], np.int64), np.array([0]), np.array([1]))


_HEAD_TAIL = np.zeros((2, T.WIDTH), np.int64)
_HEAD_TAIL[:, T.UNIT] = -1
_HEAD_TAIL[:, T.STEP] = -1
_HEAD_TAIL[:, T.KIND] = (Kind.HEAD, Kind.TAIL)


def _gemm_tasks(log, hw, overlapped) -> OpTasks:
    nlev = len(hw.on_chip)
    rows = log.rows
    n_tasks, n_edges, n_regions, n_blocks = gemm_task_bound(len(rows), nlev)
    tab, edges, cnt = new_table(n_tasks), new_edges(n_edges), np.zeros(2, np.int64)
    regions = np.zeros((n_regions, REGION_WIDTH), np.int64)
    blocks = np.zeros((n_blocks, BLOCK_WIDTH), np.int64)
    rb_cnt = np.zeros(2, np.int64)
    chains = int((rows[:, GemmLog.KIND] == 1).sum()) + 1
    heads, tails = np.full(chains, -1, np.int64), np.full(chains, -1, np.int64)
    dbuf = np.array([lv.double_buffered for lv in hw.on_chip], np.int64)
    info = log.info
    tile_end = np.full((n_tasks, 2), -1, np.int64)
    n_chains = build_gemm(rows, len(rows), nlev, dbuf, info["tile_mn"], info["dims_mn"], info["shared_b"], tab, edges,
                          cnt, regions, blocks, rb_cnt, heads, tails, tile_end)
    reg = regions[:rb_cnt[0]]
    out = np.empty((len(reg), R.WIDTH), np.int64)
    out[:, R.TASK] = reg[:, 0]
    out[:, R.TENSOR] = reg[:, 1]
    out[:, R.B:R.C1 + 1] = reg[:, 2:7]
    out[:, R.BYTES] = reg[:, 7]
    out[:, R.COUNTER] = reg[:, 1]
    out[:, R.LAST] = tile_end[reg[:, 0], reg[:, 1]]
    op = log.op
    blocks = blocks[:rb_cnt[1]]
    if (rows[:, GemmLog.FILL_C] > 0).any():           # partial sums go out and come back: keep the last
        blocks = _final_blocks(blocks)
    return OpTasks(tab[:cnt[0]], edges[:cnt[1]], heads[:n_chains], tails[:n_chains], (op.a, op.b, op.c), out, blocks)


def _final_blocks(blocks: np.ndarray) -> np.ndarray:
    """Drained C tiles that hold final values: the last drain of each tile (earlier ones are the
    op's own partial sums, which it fills back)."""
    if len(blocks) < 2:
        return blocks
    rev = blocks[::-1]
    keys = (rev[:, 2] * (int(rev[:, 3].max()) + 1) + rev[:, 3]) * (int(rev[:, 5].max()) + 1) + rev[:, 5]
    _, first = np.unique(keys, return_index=True)
    if len(first) == len(blocks):
        return blocks
    return np.ascontiguousarray(rev[np.sort(first)][::-1])


def _chain_arrays(rows, base: int, nlev: int):
    fill_cyc = np.ascontiguousarray(rows[:, base:base + 2 * nlev:2])
    drain_cyc = np.ascontiguousarray(rows[:, base + 1:base + 2 * nlev:2])
    return fill_cyc, drain_cyc


def _build(rows_n, nlev, dbuf, fill_cyc, drain_cyc, fill_bytes, drain_bytes, stages, reps, fused_overlapped=False):
    """Run a chain builder `reps` times in a row (a recurrence's vector op: one chain per step)."""
    n_tasks, n_edges = chain_task_bound(rows_n, nlev, stages.shape[1])
    tab, edges, cnt = new_table(n_tasks * reps), new_edges(n_edges * reps), np.zeros(2, np.int64)
    marks = np.full((4, rows_n * reps), -1, np.int64)       # per step: off-chip fill, drain, first, last compute
    heads, tails = np.zeros(reps, np.int64), np.zeros(reps, np.int64)
    if fused_overlapped:
        heads[0], tails[0] = build_fused_overlapped(rows_n, nlev, dbuf, fill_cyc, drain_cyc, fill_bytes, drain_bytes,
                                                    stages, 0, -1, tab, edges, cnt, marks[0], marks[1], marks[2],
                                                    marks[3], True)
    else:
        build_chains(reps, rows_n, nlev, dbuf, fill_cyc, drain_cyc, fill_bytes, drain_bytes, stages, tab, edges, cnt,
                     marks, heads, tails)
    return tab[:cnt[0]], edges[:cnt[1]], heads, tails, marks


def _vector_tasks(log, hw, overlapped) -> OpTasks:
    nlev = len(hw.on_chip)
    rows, op, plan = log.rows, log.op, log.info["plan"]
    fill_cyc, drain_cyc = _chain_arrays(rows, VecLog.LEVEL_BASE, nlev)
    stages = np.full((len(rows), 1, 3), -1, np.int64)
    stages[:, 0, 0] = VECTOR_UNIT
    stages[:, 0, 1] = rows[:, VecLog.OCC]
    stages[:, 0, 2] = rows[:, VecLog.BUSY]
    reps = log.steps
    streamed = log.info["chunk"] == 0           # passes round-trip temporaries: no links, no bytes
    tab, edges, heads, tails, marks = _build(len(rows), nlev, int(hw.on_chip[0].double_buffered), fill_cyc, drain_cyc,
                                             np.ascontiguousarray(rows[:, VecLog.FILL]),
                                             np.ascontiguousarray(rows[:, VecLog.DRAIN]), stages, reps)
    out = OpTasks(tab, edges, heads, tails, tuple(plan.slots))
    if not streamed:
        regions, blocks, linked = vector_bytes(np.tile(rows, (reps, 1)), op.rows, marks, plan.roles, plan.widths,
                                               plan.heights, hw.bytes_per_element, out.tab, reps == 1)
        if linked:
            out.ranges, out.regions, out.blocks = (plan.lo, plan.lens), regions, blocks
    return out


def _fused_tasks(log, hw, overlapped) -> OpTasks:
    nlev = len(hw.on_chip)
    rows, op = log.rows, log.op
    fill_cyc, drain_cyc = _chain_arrays(rows, FusedLog.LEVEL_BASE, nlev)
    stages = np.full((len(rows), 4, 3), -1, np.int64)
    block = rows[:, FusedLog.KIND] == 1
    for s, unit in enumerate((ARRAY_UNIT, VECTOR_UNIT, ARRAY_UNIT, VECTOR_UNIT)):
        stages[block, s, 0] = unit
        stages[block, s, 1] = rows[block, FusedLog.OCC_S + s]
        stages[block, s, 2] = rows[block, FusedLog.BUSY_S + s]
    tab, edges, heads, tails, marks = _build(len(rows), nlev, int(hw.on_chip[0].double_buffered), fill_cyc, drain_cyc,
                                             np.ascontiguousarray(rows[:, FusedLog.FILL]),
                                             np.ascontiguousarray(rows[:, FusedLog.DRAIN]), stages, 1,
                                             fused_overlapped=overlapped)
    out = OpTasks(tab, edges, heads, tails, (op.q, op.k, op.v))
    _fused_bytes(out, rows, marks, op, hw.bytes_per_element)
    return out


def _fused_bytes(out: OpTasks, rows, marks, op, eb: int) -> None:
    """Staging bytes per block (Q_i, O_i, l_i, m_i loaded; the S and P scratch placed by the first
    stage; K_j and V_j from the block that loads them until the last block of j) and the Q, K, V
    rows each block loads."""
    fill, drain, comp_first, comp_last = marks
    tab = out.tab
    block = (rows[:, FusedLog.KIND] == 1) & ((fill >= 0) | (comp_first >= 0))
    w = np.flatnonzero(block)
    if not len(w):
        return
    r = rows[w]
    holder = np.where(fill[w] >= 0, fill[w], comp_first[w])
    first = np.where(comp_first[w] >= 0, comp_first[w], holder)
    end = np.where(comp_last[w] >= 0, comp_last[w], holder)
    b, i0, i1, j0, j1 = (r[:, c] for c in (FusedLog.B, FusedLog.I0, FusedLog.I1, FusedLog.J0, FusedLog.J1))
    kv = np.where(r[:, FusedLog.KV] == 1, 2 * (j1 - j0) * op.d * eb, 0)
    scratch = 2 * (i1 - i0) * (j1 - j0) * eb
    # the last block of each K/V block j: the next block loads new K, V (or there is none)
    nxt = np.append(r[1:, FusedLog.KV], 1)
    last_of_j = nxt == 1
    group = np.cumsum(r[:, FusedLog.KV] == 1) - 1          # which K/V load each block belongs to
    loads = np.flatnonzero(r[:, FusedLog.KV] == 1)
    kv_held = kv[loads][np.maximum(group, 0)]
    np.add.at(tab[:, T.ALLOC], holder, r[:, FusedLog.FILL])
    np.add.at(tab[:, T.ALLOC], first, scratch)
    np.add.at(tab[:, T.RELEASE], end, r[:, FusedLog.FILL] - kv - r[:, FusedLog.DRAIN] + scratch
              + np.where(last_of_j, kv_held, 0))
    np.add.at(tab[:, T.RELEASE], np.where(drain[w] >= 0, drain[w], end), r[:, FusedLog.DRAIN])
    has_fill = fill[w] >= 0
    q = np.stack([fill[w], np.zeros_like(b), b, i0, i1, np.zeros_like(b), np.full_like(b, op.d),
                  (i1 - i0) * op.d * eb, np.zeros_like(b), end], axis=1)[has_fill]
    kv_fill = fill[w][loads][np.maximum(group, 0)]
    kv_rows = (j0[loads][np.maximum(group, 0)], j1[loads][np.maximum(group, 0)])
    sel = last_of_j & (group >= 0) & (kv_fill >= 0)        # K_j and V_j are in use until the last block of j
    parts = [q]
    for slot in (1, 2):
        parts.append(np.stack([kv_fill, np.full_like(b, slot), b, kv_rows[0], kv_rows[1], np.zeros_like(b),
                               np.full_like(b, op.d), (kv_rows[1] - kv_rows[0]) * op.d * eb, np.zeros_like(b), end],
                              axis=1)[sel])
    out.regions = np.concatenate(parts)


def _gather_tasks(log, hw, overlapped) -> OpTasks:
    nlev = len(hw.on_chip)
    rows, op = log.rows, log.op
    eb = hw.bytes_per_element
    fill_cyc, drain_cyc = _chain_arrays(rows, GatherLog.LEVEL_BASE, nlev)
    n = len(rows)
    tab, edges, cnt = new_table(n * (2 + 2 * nlev) + 4), new_edges(n * (4 + 4 * nlev) + 4), np.zeros(2, np.int64)
    fill_top, drain_top = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    head, tail = build_gather(n, nlev, np.ascontiguousarray(rows[:, GatherLog.INDEX]), fill_cyc, drain_cyc,
                              np.ascontiguousarray(rows[:, GatherLog.FILL]), np.ascontiguousarray(rows[:, GatherLog.DRAIN]),
                              op.rows * eb, 0, -1, tab, edges, cnt, fill_top, drain_top)
    tab = tab[:cnt[0]]
    held = (op.rows * (1 + op.width)) * eb          # the indices and the rows picked, per batch element
    tab[tab[:, T.KIND] == Kind.INDEX, T.ALLOC] = held
    tab[tab[:, T.KIND] == Kind.BARRIER, T.RELEASE] = held
    return OpTasks(tab, edges[:cnt[1]], np.array([head]), np.array([tail]))
