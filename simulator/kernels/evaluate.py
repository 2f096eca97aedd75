"""The mappers' evaluation loop in one Numba call: walk candidate mappings of one GEMM in a given
order, skip those whose lower bound exceeds the best value walked so far, stop at a step budget.

Every walk is the engine's own count-only tile walk (gemm_walk from a fresh state, finished), so
a candidate's metrics are exactly what run_gemm would count for that mapping. Candidate rows are
(dataflow, then tm, tk, tn, loop order per level, innermost first), as in mapeval.py.
"""
import numpy as np
from numba import njit

from ..enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, BoundaryCounter, Counter
from .gemm import gemm_walk
from .params import LEVEL_FIELDS, GemmParam, LevelParam

OBJ_CYCLES, OBJ_ENERGY, OBJ_EDP = 0, 1, 2
# stats: candidates walked, innermost steps walked, skipped by bound, left out by the budget
ST_WALKED, ST_STEPS, ST_PRUNED, ST_DROPPED = 0, 1, 2, 3
# typed, not literal: one compiled signature of each callee
_NONE = np.int64(-1)
_BY_CYCLES = np.int64(OBJ_CYCLES)


def metrics_width(nmem: int) -> int:
    """cycles, slot MACs, bytes read per memory level, bytes written per memory level."""
    return 2 + 2 * nmem


@njit(cache=True)
def _boundary(out, b, which):
    return out[BOUNDARY_BASE + N_BOUNDARY_COUNTERS * b + which]


@njit(cache=True)
def _fills(out, b):
    return (_boundary(out, b, BoundaryCounter.FILL_A) + _boundary(out, b, BoundaryCounter.FILL_B)
            + _boundary(out, b, BoundaryCounter.FILL_C))


@njit(cache=True)
def counts_to_metrics(out, nmem, row):
    """The metrics row of one counts vector (level bytes as cost.level_bytes derives them)."""
    row[0] = out[Counter.CYCLES]
    row[1] = out[Counter.SLOT_MACS]
    nb = nmem - 1
    for lv in range(nmem):
        if lv == 0:
            r = out[Counter.UNIT_READ_A] + out[Counter.UNIT_READ_B] + out[Counter.UNIT_READ_C]
            w = out[Counter.UNIT_WRITE_C]
        else:
            r = _fills(out, lv - 1)
            w = _boundary(out, lv - 1, BoundaryCounter.DRAIN_C)
        if lv < nb:
            r += _boundary(out, lv, BoundaryCounter.DRAIN_C)
            w += _fills(out, lv)
        row[2 + lv] = r
        row[2 + nmem + lv] = w


@njit(cache=True)
def energy_of(row, nmem, mac_pj, rpj, wpj):
    """Energy (pJ) of a metrics row, summed in cost.energy_pj's order (MACs, vector (none), levels)."""
    e = 0.0
    e += row[1] * mac_pj
    e += 0.0
    for lv in range(nmem):
        e += row[2 + lv] * rpj[lv] + row[2 + nmem + lv] * wpj[lv]
    return e


@njit(cache=True)
def heads_of(row, nmem, objective, mac_pj, rpj, wpj, head):
    """The ranking keys of a metrics row before the candidate order (mapeval.py)."""
    cycles = float(row[0])
    dram = float(row[2 + nmem - 1] + row[2 + 2 * nmem - 1])
    if objective == OBJ_CYCLES:
        onchip = 0
        for lv in range(nmem - 1):
            onchip += row[2 + lv] + row[2 + nmem + lv]
        head[0], head[1], head[2], head[3] = cycles, dram, float(onchip), float(row[1])
        return
    energy = energy_of(row, nmem, mac_pj, rpj, wpj)
    head[0] = energy if objective == OBJ_ENERGY else energy * cycles
    head[1], head[2], head[3] = dram, cycles, 0.0


@njit(cache=True)
def evaluate_ordered(cands, lb, steps, order, n_seeds, flow_pos, order_rank, tolerance, budget, known, metrics,
                     ip_base, rates, lo, hi, state_size, objective, mac_pj, rpj, wpj, stats, best_counts):
    """Walk cands[order[j]] for j = 0, 1, ...: the first n_seeds always; a later one only when its
    bound lb, times 1 + tolerance, does not exceed the best objective value so far (tolerance 0: a
    skipped candidate can neither win nor tie; otherwise it could win by at most that fraction) and
    while the steps walked stay within `budget` (when no candidate fits it, the one with the fewest
    steps is walked). Rows with known[i] take metrics[i] as given; walked rows fill metrics[i] and
    set known[i] = 2. A known row is charged to the budget the steps its walk takes (steps[i], the
    innermost tile steps a walk visits), as if it were walked: what is remembered from earlier
    calls changes the work, never the choice. Returns the index of the best candidate (objective,
    then the heads, then the tie order of _tie_before) and whether `best_counts` holds its counts
    (walked in this call)."""
    nmem = rpj.shape[0]
    nlev = nmem - 1
    no_rows = np.zeros((0, 0), np.int64)         # no step log, no products: the mapper needs counts only
    count = np.zeros(1, np.int64)
    ip = ip_base.copy()
    state = np.zeros(state_size, np.int64)
    out = np.zeros(best_counts.shape[0], np.int64)
    head = np.zeros(4)
    best_head = np.full(4, np.inf)
    best = _NONE
    counted = False
    spent = 0                                    # steps charged to the budget, walked or known
    for jj in range(order.shape[0] + 1):
        if jj < order.shape[0]:
            i = order[jj]
            j = jj
        else:
            if best >= 0 or order.shape[0] == 0:
                break
            # nothing fitted the budget: walk the candidate with the fewest steps (then the tie order)
            i = order[0]
            for c in order:
                if steps[c] < steps[i] or (steps[c] == steps[i] and
                                           _tie_before(c, i, n_seeds, steps, cands, flow_pos, order_rank)):
                    i = c
            j = -1
            stats[ST_DROPPED] -= 1
        if j >= n_seeds and best >= 0 and lb[i] * (1.0 + tolerance) > best_head[0]:
            stats[ST_PRUNED] += 1
            continue
        if j >= n_seeds and spent + steps[i] > budget:
            stats[ST_DROPPED] += 1
            continue
        spent += steps[i]
        just_walked = False
        if known[i] == 0:
            _set_mapping(ip, cands, i, nlev)
            state[:] = 0
            out[:] = 0
            gemm_walk(ip, rates, lo, hi, out, state, np.int64(0), np.bool_(True), no_rows, count, no_rows, count)
            counts_to_metrics(out, nmem, metrics[i])
            known[i] = 2
            just_walked = True
            stats[ST_WALKED] += 1
            stats[ST_STEPS] += out[Counter.TILES] + out[Counter.SKIPPED_TILES]
        heads_of(metrics[i], nmem, objective, mac_pj, rpj, wpj, head)
        if best < 0 or _heads_before(head, best_head) or (
                _same(head, best_head) and _tie_before(i, best, n_seeds, steps, cands, flow_pos, order_rank)):
            best = i
            best_head[:] = head
            counted = just_walked
            if just_walked:
                best_counts[:] = out
    return best, counted


@njit(cache=True)
def _tie_before(i, j, n_seeds, steps, cands, flow_pos, order_rank):
    """Is candidate i before j in the tie-break order: seeds in their order, then the dataflow's
    position in the array's list, fewer steps, larger tiles (innermost level first, tm, tk, tn), loop
    orders by preference (mapeval.ORDER_PREFERENCE), then the row index."""
    ri = i if i < n_seeds else n_seeds
    rj = j if j < n_seeds else n_seeds
    if ri != rj:
        return ri < rj
    if flow_pos[cands[i, 0]] != flow_pos[cands[j, 0]]:
        return flow_pos[cands[i, 0]] < flow_pos[cands[j, 0]]
    if steps[i] != steps[j]:
        return steps[i] < steps[j]
    nlev = (cands.shape[1] - 1) // 4
    for lv in range(nlev):
        for d in range(1, 4):
            a, b = cands[i, 4 * lv + d], cands[j, 4 * lv + d]
            if a != b:
                return a > b
    for lv in range(nlev):
        a, b = order_rank[cands[i, 4 * lv + 4]], order_rank[cands[j, 4 * lv + 4]]
        if a != b:
            return a < b
    return i < j


@njit(cache=True)
def walk_best_first(cands, lb, key, steps, n_seeds, budget, tolerance, flow_pos, order_rank, ip_base, rates, lo, hi,
                    state_size, stats, best_counts, memo_slot, memo_counts, memo_used):
    """The best candidate by cycles (then off-chip, on-chip bytes, slot MACs, tie order): the seeds
    first, then repeatedly the candidate of smallest `key` (ties in _tie_before order) among those
    whose bound lb (times 1 + tolerance) does not exceed the best cycles walked and whose steps fit what is left of
    `budget`; when nothing fitted it, the one with the fewest steps. No sort: each pick is a scan,
    and the heuristic walks a handful. Returns (best index, whether best_counts holds its counts).
    A candidate with memo_slot[i] >= 0 takes memo_counts[that row] as its walk's counts (the caller
    keeps them for walks of the same op on the same ip_base and rates); a walked one is stored in
    the next free row (memo_used[0] rows are used) while there is one, and memo_slot[i] set."""
    n = cands.shape[0]
    nlev = (cands.shape[1] - 1) // 4
    nmem = nlev + 1
    none = np.zeros(nmem)
    no_rows = np.zeros((0, 0), np.int64)         # no step log, no products: the mapper needs counts only
    count = np.zeros(1, np.int64)
    ip = ip_base.copy()
    state = np.zeros(state_size, np.int64)
    out = np.zeros(best_counts.shape[0], np.int64)
    row = np.zeros(2 + 2 * nmem, np.int64)
    head = np.zeros(4)
    best_head = np.full(4, np.inf)
    alive = np.ones(n, np.bool_)
    best = _NONE
    counted = False
    j = 0
    while True:
        pick = _NONE
        if j < n_seeds:
            pick = j
            j += 1
        else:
            for i in range(n_seeds, n):
                if not alive[i]:
                    continue
                if best >= 0 and lb[i] * (1.0 + tolerance) > best_head[0]:
                    alive[i] = False
                    stats[ST_PRUNED] += 1
                elif stats[ST_STEPS] + steps[i] > budget:
                    alive[i] = False
                    stats[ST_DROPPED] += 1
                elif pick < 0 or key[i] < key[pick] or (key[i] == key[pick] and
                                                         _tie_before(i, pick, n_seeds, steps, cands, flow_pos, order_rank)):
                    pick = i
            if pick < 0 and best < 0 and n > n_seeds:
                pick = n_seeds            # nothing fitted the budget: the fewest steps
                for i in range(n_seeds + 1, n):
                    if steps[i] < steps[pick] or (steps[i] == steps[pick] and
                                                  _tie_before(i, pick, n_seeds, steps, cands, flow_pos, order_rank)):
                        pick = i
                stats[ST_DROPPED] -= 1
            if pick < 0:
                break
        alive[pick] = False
        if memo_slot[pick] >= 0:
            out[:] = memo_counts[memo_slot[pick]]
        else:
            _set_mapping(ip, cands, pick, nlev)
            state[:] = 0
            out[:] = 0
            gemm_walk(ip, rates, lo, hi, out, state, np.int64(0), np.bool_(True), no_rows, count, no_rows, count)
            if memo_used[0] < memo_counts.shape[0]:
                memo_counts[memo_used[0]] = out
                memo_slot[pick] = memo_used[0]
                memo_used[0] += 1
        stats[ST_WALKED] += 1
        stats[ST_STEPS] += out[Counter.TILES] + out[Counter.SKIPPED_TILES]
        counts_to_metrics(out, nmem, row)
        heads_of(row, nmem, _BY_CYCLES, 0.0, none, none, head)
        if best < 0 or _heads_before(head, best_head) or (_same(head, best_head) and
                                                          _tie_before(pick, best, n_seeds, steps, cands, flow_pos, order_rank)):
            best = pick
            best_head[:] = head
            best_counts[:] = out
            counted = True
    return best, counted


@njit(cache=True)
def _set_mapping(ip, cands, i, nlev):
    ip[GemmParam.DATAFLOW] = cands[i, 0]
    for lv in range(nlev):
        base = GemmParam.LEVEL_BASE + LEVEL_FIELDS * lv
        ip[base + LevelParam.TM] = cands[i, 1 + 4 * lv]
        ip[base + LevelParam.TK] = cands[i, 2 + 4 * lv]
        ip[base + LevelParam.TN] = cands[i, 3 + 4 * lv]
        ip[base + LevelParam.ORDER] = cands[i, 4 + 4 * lv]


@njit(cache=True)
def _heads_before(a, b):
    for j in range(a.shape[0]):
        if a[j] != b[j]:
            return a[j] < b[j]
    return False


@njit(cache=True)
def _same(a, b):
    for j in range(a.shape[0]):
        if a[j] != b[j]:
            return False
    return True
