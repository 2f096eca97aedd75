"""Candidate rows of one level's tiles, generated in Numba (the mappers' hot path).

A row is (dataflow, then tm, tk, tn, loop order index per level, innermost first); this fills
`copies` levels with the same tile (the levels below are completed by the caller when there are
several). Rows come out in the tie-break order: tm, tk, tn ascending, then the order table's order.
The heuristic's one-level search on these rows is kernels/gemmspace.py.
"""
import numpy as np
from numba import njit

ONE_COPY = np.int64(1)    # level_tiles' copies, typed (a literal 1 would compile it once more)
COARSE_WALKS = 4      # the heuristic's budget covers at least this many walks of its coarsest candidate


@njit(cache=True)
def level_tiles(flow, sm, sk, sn, cap_elems, bound, order_table, order_count, copies):
    """Every (tm, tk, tn) from the size lists whose working set (tm tk + tk tn + tm tn elements)
    fits `cap_elems`, once per loop order of its class: order_table[p, :order_count[p]] lists the
    orders kept for the multi-trip pattern p = (tm < M) + 2 (tk < K) + 4 (tn < N) of the bound."""
    width = 1 + 4 * copies
    out = np.empty((sm.shape[0] * sk.shape[0] * sn.shape[0] * 6, width), np.int64)
    count = 0
    for tm in sm:
        for tk in sk:
            if tm * tk + tk * sn[0] + tm * sn[0] > cap_elems:
                break
            for tn in sn:
                if tm * tk + tk * tn + tm * tn > cap_elems:
                    break
                p = int(tm < bound[0]) + 2 * int(tk < bound[1]) + 4 * int(tn < bound[2])
                for j in range(order_count[p]):
                    out[count, 0] = flow
                    for lv in range(copies):
                        out[count, 1 + 4 * lv] = tm
                        out[count, 2 + 4 * lv] = tk
                        out[count, 3 + 4 * lv] = tn
                        out[count, 4 + 4 * lv] = order_table[p, j]
                    count += 1
    return out[:count].copy()
