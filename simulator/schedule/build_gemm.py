"""Tasks of a GEMM from its step log: the kernel's double-buffered windows, replayed as a task graph.

For each level l the kernel times a sequence of level-l steps (docs/architecture.md, the GEMM
tile walk). Double-buffered: step k's window holds its inner work (the level-(l-1) windows inside
it, or the array step for l = 0), the fill of step k+1 and the drain made when step k began; the
window ends when all of them have, and the next begins. A chain's very first fills are exposed
before its first window (outermost first), and the outputs still on chip are drained after its last
(innermost first). Single-buffered: drain, fill, then the inner work. Window boundaries are
zero-time barrier tasks, so the graph scheduled alone takes exactly the kernel's cycles; other
ops' tasks still run on the units a window leaves idle.

Staging-level capacity (the outermost on-chip level): a step's off-chip fill reserves the A, B
and partial-sum tiles it loads, its first compute a new C tile; a replaced A or B tile is returned
when the compute before its replacement ends, a C tile when its drain ends.
"""
import numpy as np
from numba import njit

from ..kernels.steplog import GEMM_LEVEL_FIELDS, GemmLog
from .tasks import FALSE, NONE, TRUE, ZERO, Kind, T, add_barrier, add_edge, add_task, add_transfer, drain_unit, fill_unit

# fill regions: task, operand (0 A, 1 B), batch, rows [r0, r1), cols [c0, c1), bytes
REGION_WIDTH = 8
# blocks (C tiles drained across the off-chip boundary): task, operand (2), batch, rows, cols
BLOCK_WIDTH = 7
# _lv fields, typed (not literal: one compiled _lv)
_FILL_CYC, _DRAIN_CYC, _FILL_BYTES, _DRAIN_BYTES = (np.int64(f) for f in range(4))
ARRAY = np.int64(0)      # tasks.ARRAY_UNIT, typed


@njit(cache=True)
def _lv(row, lv, field):
    """Level lv's fill cycles (0), drain cycles (1), fill bytes (2) or drain bytes (3) of a log row."""
    return row[GemmLog.LEVEL_BASE + GEMM_LEVEL_FIELDS * lv + field]


def gemm_task_bound(nrows: int, nlev: int) -> tuple[int, int, int, int]:
    """(tasks, edges, regions, blocks) a log of nrows rows produces at most."""
    tasks = nrows * (4 + 5 * nlev) + 4
    return tasks, 3 * tasks, 2 * nrows + 1, nrows + 1


@njit(cache=True)
def build_gemm(log, nrows, nlev, dbuf, tile_mn, dims_mn, shared_b, tab, edges, cnt, regions, blocks, rb_cnt, heads,
               tails, tile_end):
    """Append the tasks of one GEMM walk; heads[c] and tails[c] receive each timing chain's first
    and last task (a recurrence has one chain per step), tile_end[f, k] the compute after which
    the A (k = 0) or B (k = 1) tile loaded by off-chip fill f is no longer used. Returns the number
    of chains."""
    top = nlev - 1
    # per level: the barrier its window began at, the last task of its inner work, its drain
    win = np.full((nlev, 3), -1, np.int64)
    chain = ZERO                         # typed starting values: the helpers see no literals
    started = FALSE
    head = NONE
    tail = NONE
    # staging bytes of the resident A and B tiles, the last compute, the fills that loaded A and B
    res = np.full(5, -1, np.int64)
    res[:2] = 0
    for j in range(nrows):
        row = log[j]
        if head < 0:                     # a chain begins after the previous one's tail
            head = add_barrier(tab, edges, cnt, (tail, NONE, NONE), Kind.HEAD, chain)
            heads[chain] = head
        if row[GemmLog.KIND] == 1:
            tail = _close_chain(row, j, nlev, started, win, head, tile_mn, dims_mn, tab, edges, cnt, blocks,
                                rb_cnt, chain)
            tails[chain] = tail
            chain += 1
            started = FALSE
            head = NONE
            continue
        if not started:
            start = _first_fills(row, j, nlev, dbuf, head, shared_b, tab, edges, cnt, regions, rb_cnt, res, chain, tile_end)
            started = TRUE
        else:
            start = _close_windows(row, j, nlev, dbuf, win, shared_b, tab, edges, cnt, regions, rb_cnt, res, chain,
                                   tile_end)
        start = _open_windows(row, j, nlev, dbuf, win, start, tile_mn, dims_mn, shared_b, tab, edges, cnt, regions,
                              blocks, rb_cnt, res, chain, tile_end)
        comp = add_task(tab, cnt, ARRAY, row[GemmLog.OCC], row[GemmLog.BUSY], Kind.COMPUTE, j, ZERO, chain)
        add_edge(edges, cnt, start, comp)
        if row[GemmLog.FILL_C] == 0:
            tab[comp, T.ALLOC] = row[GemmLog.C_NEW]      # a new output tile is placed when it is first written
        win[0, 1] = comp
        res[2] = comp
    if res[2] >= 0:
        tab[res[2], T.RELEASE] += res[0] + res[1]
        for k in range(2):
            if res[3 + k] >= 0:
                tile_end[res[3 + k], k] = res[2]
    if chain == 0:                       # nothing computed (a fully masked GEMM): an empty chain
        head = add_barrier(tab, edges, cnt, (NONE, NONE, NONE), Kind.HEAD, ZERO)
        heads[0] = head
        tails[0] = add_barrier(tab, edges, cnt, (head, NONE, NONE), Kind.TAIL, ZERO)
        chain = 1
    return chain


@njit(cache=True)
def _top_fill(row, j, lv, after, nlev, shared_b, tab, edges, cnt, regions, rb_cnt, res, chain, tile_end):
    """A fill of level lv's new step; the off-chip one records its regions and staging bytes."""
    t = add_transfer(tab, edges, cnt, after, fill_unit(lv), _lv(row, lv, _FILL_CYC), _lv(row, lv, _FILL_BYTES), Kind.FILL, j, lv,
                     chain)
    if lv == nlev - 1:
        _fill_regions(row, t, shared_b, regions, rb_cnt)
        _account_fill(tab, row, t, res, tile_end)
    return t


@njit(cache=True)
def _first_fills(row, j, nlev, dbuf, head, shared_b, tab, edges, cnt, regions, rb_cnt, res, chain, tile_end):
    """The exposed first fills of a chain, outermost first; returns the first window's start."""
    prev = head
    for lv in range(nlev - 1, -1, -1):
        if dbuf[lv] and _lv(row, lv, _FILL_BYTES) > 0:
            prev = _top_fill(row, j, lv, prev, nlev, shared_b, tab, edges, cnt, regions, rb_cnt, res, chain, tile_end)
    return add_barrier(tab, edges, cnt, (prev, NONE, NONE), Kind.BARRIER, chain)


@njit(cache=True)
def _close_windows(row, j, nlev, dbuf, win, shared_b, tab, edges, cnt, regions, rb_cnt, res, chain, tile_end):
    """Levels 0..TOP end their windows (a double-buffered one after prefetching this step's tiles);
    returns the barrier the new windows start at."""
    start = -1
    for lv in range(row[GemmLog.TOP] + 1):
        fill = -1
        if dbuf[lv] and _lv(row, lv, _FILL_BYTES) > 0:
            fill = _top_fill(row, j, lv, win[lv, 0], nlev, shared_b, tab, edges, cnt, regions, rb_cnt, res, chain, tile_end)
        start = add_barrier(tab, edges, cnt, (win[lv, 1], win[lv, 2], fill), Kind.BARRIER, chain)
        if lv + 1 < nlev:
            win[lv + 1, 1] = start
    return start


@njit(cache=True)
def _open_windows(row, j, nlev, dbuf, win, start, tile_mn, dims_mn, shared_b, tab, edges, cnt, regions, blocks,
                  rb_cnt, res, chain, tile_end):
    """Levels TOP..0 begin new steps at `start`: drain the replaced C (single-buffered: then fill);
    returns where the array step starts."""
    for lv in range(row[GemmLog.TOP], -1, -1):
        win[lv, 0] = start
        win[lv, 2] = -1
        drain = -1
        if _lv(row, lv, _DRAIN_BYTES) > 0:
            drain = add_transfer(tab, edges, cnt, start, drain_unit(lv), _lv(row, lv, _DRAIN_CYC), _lv(row, lv, _DRAIN_BYTES),
                                 Kind.DRAIN, j, lv, chain)
            if lv == nlev - 1:
                _block(row, drain, tile_mn, dims_mn, blocks, rb_cnt)
                tab[drain, T.RELEASE] = _lv(row, lv, _DRAIN_BYTES)
        if dbuf[lv]:
            win[lv, 2] = drain
        else:
            inner = drain if drain >= 0 else start
            if _lv(row, lv, _FILL_BYTES) > 0:
                inner = _top_fill(row, j, lv, inner, nlev, shared_b, tab, edges, cnt, regions, rb_cnt, res, chain, tile_end)
            start = inner
    return start


@njit(cache=True)
def _account_fill(tab, row, fill, res, tile_end):
    """The fill reserves what it loads; a replaced A or B tile goes back when the compute before
    this step ends."""
    tab[fill, T.ALLOC] = row[GemmLog.FILL_A] + row[GemmLog.FILL_B] + row[GemmLog.FILL_C]
    last = res[2]
    for k in range(2):
        loaded = row[GemmLog.FILL_A + k]
        if loaded > 0:
            if last >= 0:
                tab[last, T.RELEASE] += res[k]
            if res[3 + k] >= 0:
                tile_end[res[3 + k], k] = last
            res[k] = loaded
            res[3 + k] = fill


@njit(cache=True)
def _fill_regions(row, task, shared_b, regions, rb_cnt):
    """The A and B tiles an off-chip fill loads (partial sums are the op's own)."""
    b = row[GemmLog.B]
    for k in range(2):
        if row[GemmLog.FILL_A + k] > 0:
            r = regions[rb_cnt[0]]
            r[0], r[1], r[2] = task, k, b if k == 0 or not shared_b else 0
            if k == 0:
                r[3], r[4], r[5], r[6] = row[GemmLog.TM0], row[GemmLog.TM1], row[GemmLog.TK0], row[GemmLog.TK1]
            else:
                r[3], r[4], r[5], r[6] = row[GemmLog.TK0], row[GemmLog.TK1], row[GemmLog.TN0], row[GemmLog.TN1]
            r[7] = row[GemmLog.FILL_A + k]
            rb_cnt[0] += 1


@njit(cache=True)
def _block(row, task, tile_mn, dims_mn, blocks, rb_cnt):
    """The outermost C tile this drain writes back."""
    r = blocks[rb_cnt[1]]
    m0, n0 = row[GemmLog.OLD_C_M0], row[GemmLog.OLD_C_N0]
    r[0], r[1], r[2] = task, 2, row[GemmLog.OLD_C_B]
    r[3], r[4], r[5], r[6] = m0, min(m0 + tile_mn[0], dims_mn[0]), n0, min(n0 + tile_mn[1], dims_mn[1])
    rb_cnt[1] += 1


@njit(cache=True)
def _close_chain(row, j, nlev, started, win, head, tile_mn, dims_mn, tab, edges, cnt, blocks, rb_cnt, chain):
    """The chain's last windows close (nothing left to prefetch), then every level's resident output
    is drained, innermost first; returns the chain's tail."""
    prev = head
    if started:
        for lv in range(nlev):
            prev = add_barrier(tab, edges, cnt, (win[lv, 1], win[lv, 2], NONE), Kind.BARRIER, chain)
            if lv + 1 < nlev:
                win[lv + 1, 1] = prev
    for lv in range(nlev):
        if _lv(row, lv, _DRAIN_BYTES) > 0:
            prev = add_transfer(tab, edges, cnt, prev, drain_unit(lv), _lv(row, lv, _DRAIN_CYC), _lv(row, lv, _DRAIN_BYTES), Kind.DRAIN,
                                j, lv, chain)
            if lv == nlev - 1:
                _block(row, prev, tile_mn, dims_mn, blocks, rb_cnt)
                tab[prev, T.RELEASE] = _lv(row, lv, _DRAIN_BYTES)
    return add_barrier(tab, edges, cnt, (prev, NONE, NONE), Kind.TAIL, chain)
