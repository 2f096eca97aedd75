"""Tasks of chunk chains (vector programs, fused attention) and of gathers, from their step logs.

A chunk chain (kernels/chain.py) is timed like one level of GEMM steps. Double-buffered: chunk c's
window holds its compute, the next chunk's fills and the previous chunk's drains, each boundary's
transfer on its own engine; the first fills (outermost first) and the last drains (innermost
first) are exposed. Single-buffered: fills, compute, drains, one after another. A chunk's compute
may be several stages on different units run one after another (fused attention: S on the array,
its softmax on the vector unit, P V on the array, the output update on the vector unit).

`build_fused_overlapped` drops the windows of fused attention: each stage waits only for its data
and for the same stage of the previous block, so the array computes block i+1's S while the vector
unit runs block i's softmax (FlashAttention-3's software pipeline); fills run one block ahead when
the level is double-buffered.
"""
import numpy as np
from numba import njit

from .tasks import FALSE, NONE, TRUE, ZERO, Kind, T, add_barrier, add_edge, add_task, add_transfer, drain_unit, fill_unit


def chain_task_bound(nrows: int, nlev: int, stages: int) -> tuple[int, int]:
    """(tasks, edges) a chain of nrows steps produces at most."""
    tasks = nrows * (stages + 2 * nlev + 1) + 4
    return tasks, 3 * tasks + nrows * 2 * nlev


@njit(cache=True)
def _transfers(tab, edges, cnt, after, w, cyc, nbytes, nlev, group, drain, chained, top_out):
    """Step w's fills (outermost first) or drains (innermost first) at every boundary, one after
    another (`chained`) or all after `after`. The off-chip one's index goes to top_out[w]; returns
    the last task (chained) or `after`."""
    last = after
    for i in range(nlev):
        lv = i if drain else nlev - 1 - i
        if cyc[w, lv] == 0 and not (lv == nlev - 1 and nbytes[w] > 0):
            continue
        unit = drain_unit(lv) if drain else fill_unit(lv)
        t = add_transfer(tab, edges, cnt, last if chained else after, unit, cyc[w, lv], nbytes[w],
                         Kind.DRAIN if drain else Kind.FILL, w, lv, group)
        if chained:
            last = t
        if lv == nlev - 1:
            top_out[w] = t
    return last


@njit(cache=True)
def _stages(tab, edges, cnt, after, w, stages, group, first_out, last_out):
    """Step w's compute stages, one after another after `after`; returns the last (or `after`)."""
    prev = after
    for s in range(stages.shape[1]):
        unit, occ, busy = stages[w, s, 0], stages[w, s, 1], stages[w, s, 2]
        if unit < 0 or occ <= 0:
            continue
        t = add_task(tab, cnt, unit, occ, busy, Kind.COMPUTE, w, s, group)
        add_edge(edges, cnt, prev, t)
        if first_out[w] < 0:
            first_out[w] = t
        last_out[w] = t
        prev = t
    return prev


@njit(cache=True)
def build_chain(nrows, nlev, dbuf, fill_cyc, drain_cyc, fill_bytes, drain_bytes, stages, group, after, tab, edges,
                cnt, fill_top, drain_top, comp_first, comp_last, relaxed):
    """Append one chain of nrows steps after task `after` (-1: none); returns (head, tail).
    fill_top/drain_top/comp_first/comp_last (length nrows, -1 filled) receive each step's off-chip
    fill, off-chip drain, first and last compute stage (`relaxed` is build_fused_overlapped's)."""
    head = add_barrier(tab, edges, cnt, (after, NONE, NONE), Kind.HEAD, group)
    if nrows == 0:
        return head, add_barrier(tab, edges, cnt, (head, NONE, NONE), Kind.TAIL, group)
    if not dbuf:
        prev = head
        for w in range(nrows):
            prev = _transfers(tab, edges, cnt, prev, w, fill_cyc, fill_bytes, nlev, group, FALSE, TRUE, fill_top)
            prev = _stages(tab, edges, cnt, prev, w, stages, group, comp_first, comp_last)
            prev = _transfers(tab, edges, cnt, prev, w, drain_cyc, drain_bytes, nlev, group, TRUE, TRUE, drain_top)
        return head, add_barrier(tab, edges, cnt, (prev, NONE, NONE), Kind.TAIL, group)
    prev = _transfers(tab, edges, cnt, head, ZERO, fill_cyc, fill_bytes, nlev, group, FALSE, TRUE, fill_top)
    start = add_barrier(tab, edges, cnt, (prev, NONE, NONE), Kind.BARRIER, group)
    for w in range(nrows):
        first = cnt[0]
        _stages(tab, edges, cnt, start, w, stages, group, comp_first, comp_last)
        if w + 1 < nrows:
            _transfers(tab, edges, cnt, start, w + 1, fill_cyc, fill_bytes, nlev, group, FALSE, FALSE, fill_top)
        if w > 0:
            _transfers(tab, edges, cnt, start, w - 1, drain_cyc, drain_bytes, nlev, group, TRUE, FALSE, drain_top)
        end = add_barrier(tab, edges, cnt, (start, NONE, NONE), Kind.BARRIER, group)
        for t in range(first, end):             # the window ends when every task in it has
            add_edge(edges, cnt, t, end)
        start = end
    prev = _transfers(tab, edges, cnt, start, nrows - 1, drain_cyc, drain_bytes, nlev, group, TRUE, TRUE, drain_top)
    return head, add_barrier(tab, edges, cnt, (prev, NONE, NONE), Kind.TAIL, group)


@njit(cache=True)
def build_chains(reps, nrows, nlev, dbuf, fill_cyc, drain_cyc, fill_bytes, drain_bytes, stages, tab, edges, cnt,
                 marks, heads, tails):
    """`reps` chains of the same steps, each after the previous one's tail (a recurrence's vector op:
    one chain per step); marks[:, rep * nrows + w] receive each step's off-chip fill, drain, first
    and last compute."""
    after = NONE
    for rep in range(reps):
        lo, hi = rep * nrows, (rep + 1) * nrows
        heads[rep], tails[rep] = build_chain(nrows, nlev, dbuf, fill_cyc, drain_cyc, fill_bytes, drain_bytes, stages,
                                             rep, after, tab, edges, cnt, marks[0, lo:hi], marks[1, lo:hi],
                                             marks[2, lo:hi], marks[3, lo:hi], FALSE)
        after = tails[rep]


@njit(cache=True)
def build_fused_overlapped(nrows, nlev, dbuf, fill_cyc, drain_cyc, fill_bytes, drain_bytes, stages, group, after,
                           tab, edges, cnt, fill_top, drain_top, comp_first, comp_last, relaxed):
    """Fused attention without windows (see the module docstring); returns (head, tail). Output
    buffers are double-buffered like the inputs: block w+2's first stage waits for block w's
    drain (single-buffered: block w+1's fill does)."""
    nstage = stages.shape[1]
    head = add_barrier(tab, edges, cnt, (after, NONE, NONE), Kind.HEAD, group)
    last_stage = np.full(nstage, -1, np.int64)     # the previous block's task of each stage
    last_fill = np.full(nlev, -1, np.int64)
    last_drain = np.full(nlev, -1, np.int64)
    ends = np.full(nrows, -1, np.int64)            # each block's last stage: frees its buffers
    drained = np.full(nrows, -1, np.int64)         # each block's off-chip drain: frees its output buffer
    for w in range(nrows):
        slot = w - 2 if dbuf else w - 1            # fills reuse the buffers of that block
        fills = np.full(nlev, -1, np.int64)
        for lv in range(nlev - 1, -1, -1):
            if fill_cyc[w, lv] == 0 and not (lv == nlev - 1 and fill_bytes[w] > 0):
                continue
            t = add_transfer(tab, edges, cnt, head, fill_unit(lv), fill_cyc[w, lv], fill_bytes[w], Kind.FILL, w, lv,
                             group)
            add_edge(edges, cnt, last_fill[lv], t)
            if slot >= 0:
                add_edge(edges, cnt, ends[slot], t)
                if not dbuf:
                    add_edge(edges, cnt, drained[slot], t)
            fills[lv] = last_fill[lv] = t
            if lv == nlev - 1:
                fill_top[w] = t
        prev = head
        for s in range(nstage):
            unit, occ, busy = stages[w, s, 0], stages[w, s, 1], stages[w, s, 2]
            if unit < 0 or occ <= 0:
                continue
            t = add_task(tab, cnt, unit, occ, busy, Kind.COMPUTE, w, s, group)
            add_edge(edges, cnt, prev, t)
            add_edge(edges, cnt, last_stage[s], t)
            if prev == head:
                for lv in range(nlev):
                    add_edge(edges, cnt, fills[lv], t)
                if dbuf and slot >= 0:
                    add_edge(edges, cnt, drained[slot], t)
                comp_first[w] = t
            comp_last[w] = last_stage[s] = prev = t
        ends[w] = prev if prev != head else (fills[nlev - 1] if fills[nlev - 1] >= 0 else head)
        for lv in range(nlev):
            if drain_cyc[w, lv] == 0 and not (lv == nlev - 1 and drain_bytes[w] > 0):
                continue
            t = add_transfer(tab, edges, cnt, prev, drain_unit(lv), drain_cyc[w, lv], drain_bytes[w], Kind.DRAIN, w,
                             lv, group)
            add_edge(edges, cnt, last_drain[lv], t)
            last_drain[lv] = t
            drained[w] = t
            if lv == nlev - 1:
                drain_top[w] = t
    tail = add_barrier(tab, edges, cnt, (head, NONE, NONE), Kind.TAIL, group)
    for s in range(nstage):
        add_edge(edges, cnt, last_stage[s], tail)
    for lv in range(nlev):
        add_edge(edges, cnt, last_drain[lv], tail)
        add_edge(edges, cnt, last_fill[lv], tail)
    return head, tail


@njit(cache=True)
def build_gather(nrows, nlev, index_cyc, fill_cyc, drain_cyc, fill_bytes, drain_bytes, index_bytes, group, after,
                 tab, edges, cnt, fill_top, drain_top):
    """Per batch element: the index fetch, then the picked rows filled and written out at every
    boundary at once (streamed); returns (head, tail)."""
    head = add_barrier(tab, edges, cnt, (after, NONE, NONE), Kind.HEAD, group)
    prev = head
    for w in range(nrows):
        first = cnt[0]
        idx = add_transfer(tab, edges, cnt, prev, fill_unit(nlev - 1), index_cyc[w], index_bytes, Kind.INDEX, w,
                           nlev - 1, group)
        _transfers(tab, edges, cnt, idx, w, fill_cyc, fill_bytes, nlev, group, FALSE, FALSE, fill_top)
        _transfers(tab, edges, cnt, idx, w, drain_cyc, drain_bytes, nlev, group, TRUE, FALSE, drain_top)
        end = add_barrier(tab, edges, cnt, (idx, NONE, NONE), Kind.BARRIER, group)
        for t in range(first + 1, end):
            add_edge(edges, cnt, t, end)
        prev = end
    return head, add_barrier(tab, edges, cnt, (prev, NONE, NONE), Kind.TAIL, group)
