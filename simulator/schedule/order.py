"""The order a task graph is scheduled in: successor lists, in-degrees and upward ranks, in one kernel."""
import numpy as np
from numba import njit

from .tasks import T, _counting_csr


@njit(cache=True)
def ordered(tab, edges):
    """(succ_ptr, succ, npred, rank) of the tasks of `tab` joined by `edges` (src, dst rows):
    successor lists in listed order, predecessor counts, upward ranks on the DUR column."""
    n = tab.shape[0]
    src = np.ascontiguousarray(edges[:, 0])
    dst = np.ascontiguousarray(edges[:, 1])
    succ_ptr, succ = _counting_csr(n, src, dst)
    npred = np.zeros(n, np.int64)
    for i in range(dst.shape[0]):
        npred[dst[i]] += 1
    dur = np.empty(n, np.int64)
    for t in range(n):
        dur[t] = tab[t, T.DUR]
    return succ_ptr, succ, npred, upward_rank(dur, succ_ptr, succ, npred)


@njit(cache=True)
def upward_rank(dur, succ_ptr, succ, npred):
    """Each task's upward rank: its duration plus the longest chain of durations after it (the list
    scheduler's priority: the task with more work behind it goes first). A task left unranked sits
    on a cycle; its rank stays -1."""
    n = dur.shape[0]
    pend = npred.copy()
    order = np.empty(n, np.int64)
    tail = 0
    for t in range(n):
        if pend[t] == 0:
            order[tail] = t
            tail += 1
    head = 0
    while head < tail:
        t = order[head]
        head += 1
        for i in range(succ_ptr[t], succ_ptr[t + 1]):
            s = succ[i]
            pend[s] -= 1
            if pend[s] == 0:
                order[tail] = s
                tail += 1
    rank = np.full(n, -1, np.int64)
    for i in range(tail - 1, -1, -1):
        t = order[i]
        best = 0
        for j in range(succ_ptr[t], succ_ptr[t + 1]):
            best = max(best, rank[succ[j]])
        rank[t] = dur[t] + best
    return rank
