"""Numba searches behind connectivity.max_path_length: reach sets propagated layer by layer.

Kept apart from connectivity.py so that describing a layer's connectivity (every variant does, and
`attnsim validate` loads them all) never imports Numba.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def chain_search(n):
    """x_j -> h_j is one hop and each h_{t-1} -> h_t one more; stacking only adds hops. Walking the
    chain from source j, position i > j is first reached at hop i - j + 1, so each source's
    farthest output is the last one: one step per source (the walk of every (j, i) pair took
    O(n^2) time, an hour at n = 10^6)."""
    best = 0
    for j in range(n - 1):
        best = max(best, (n - 1) - j + 1)
    return best


@njit(cache=True)
def interval_search(lo, hi):
    """Monotone, self-including ranges: the reach set of any source is an interval that grows."""
    n = lo.shape[0]
    # first output whose range ends after position a; last output whose range starts at or before b
    first_after = np.searchsorted(hi, np.arange(n), side="right")
    last_upto = np.searchsorted(lo, np.arange(n), side="right") - 1
    best = 0
    for j in range(n):
        a = j
        b = j
        hops = 0
        while True:
            na = first_after[a]
            nb = last_upto[b]
            hops += 1
            if na >= a and nb <= b:
                break
            best = max(best, hops)
            a = na
            b = nb
    return best


@njit(cache=True)
def edge_search(n, dst, src):
    best = 0
    seen = np.zeros(n, np.uint8)
    frontier = np.zeros(n, np.uint8)
    nxt = np.zeros(n, np.uint8)
    for j in range(n):
        seen[:] = 0
        frontier[:] = 0
        frontier[j] = 1
        hops = 0
        while True:
            hops += 1
            nxt[:] = 0
            for e in range(dst.shape[0]):
                if frontier[src[e]]:
                    nxt[dst[e]] = 1
            fixpoint = True
            for i in range(n):
                if nxt[i] and not seen[i]:
                    seen[i] = 1
                    if i != j:
                        best = max(best, hops)
                if nxt[i] != frontier[i]:
                    fixpoint = False
            if fixpoint or hops > 2 * n:
                break
            frontier[:] = nxt
    return best


@njit(cache=True)
def shift_or(dst, src, shift, n):
    """dst |= positions of src moved by -shift (output i reads input i + shift), within [0, n)."""
    words = src.shape[0]
    s = -shift
    if s >= 0:
        wq, rb = s // 64, s % 64
        for w in range(words - 1, -1, -1):
            hi_w = w - wq
            if hi_w < 0:
                break
            v = src[hi_w] << np.uint64(rb)
            if rb and hi_w - 1 >= 0:
                v |= src[hi_w - 1] >> np.uint64(64 - rb)
            dst[w] |= v
    else:
        s = -s
        wq, rb = s // 64, s % 64
        for w in range(words):
            lo_w = w + wq
            if lo_w >= words:
                break
            v = src[lo_w] >> np.uint64(rb)
            if rb and lo_w + 1 < words:
                v |= src[lo_w + 1] << np.uint64(64 - rb)
            dst[w] |= v
    tail = n % 64
    if tail:
        dst[words - 1] &= (np.uint64(1) << np.uint64(tail)) - np.uint64(1)


@njit(cache=True)
def taps_search(n, words, table, constant):
    sentinel = np.iinfo(np.int64).min
    best = 0
    seen = np.zeros(words, np.uint64)
    frontier = np.zeros(words, np.uint64)
    nxt = np.zeros(words, np.uint64)
    for j in range(n):
        seen[:] = 0
        frontier[:] = 0
        frontier[j // 64] = np.uint64(1) << np.uint64(j % 64)
        seen[:] = frontier
        for layer in range(table.shape[0]):
            nxt[:] = 0
            for t in range(table.shape[1]):
                o = table[layer, t]
                if o == sentinel:
                    break
                shift_or(nxt, frontier, o, n)
            fixpoint = True
            for w in range(words):
                if nxt[w] & ~seen[w]:
                    best = max(best, layer + 1)
                seen[w] |= nxt[w]
                if nxt[w] != frontier[w]:
                    fixpoint = False
            if fixpoint and constant:
                break       # the same layer again maps this set to itself: nothing more is reachable
            frontier[:] = nxt
    return best
