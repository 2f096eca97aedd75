"""Evaluating candidate mappings of one GEMM, for both mappers (mapper.py, search.py).

A candidate is one int64 row: the dataflow, then (tm, tk, tn, loop order index) per on-chip level,
innermost first. `evaluate` bounds every candidate in closed form (kernels/bounds.py), then, in one
Numba call (kernels/evaluate.py), walks the seeds and then the others in the order of an estimate,
skipping each candidate whose lower bound exceeds the best value walked so far: it can neither win
nor tie, so this pruning never changes the result. A step budget
(innermost tile steps walked) may stop it earlier; the result is then the best of what was walked.

Walks are remembered across calls (`_MEMO`), keyed on the op and the hardware fields a walk reads
(array, dataflows, fold overlap, element bytes, bandwidths, double buffering): not level sizes, not
prices. Design points that differ only there reuse every walk; capacity only decides legality. A
remembered walk is charged to the step budget the steps walking it takes (the bounds' innermost
steps, equal to the walk's: tests/test_bounds.py), so what is remembered changes the work, never
the choice (tests/test_mapper.py).

Ranking, lowest first, then the tie order (kernels/evaluate._tie_before: seeds, dataflow position,
fewer innermost steps, larger tiles, ORDER_PREFERENCE), so ties are deterministic:
cycles: cycles, off-chip bytes, on-chip bytes, slot MACs (no prices); energy: energy, off-chip
bytes, cycles; edp: energy x cycles, off-chip bytes, cycles.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .bounds import gemm_compulsory_words, gemm_traffic_bound
from .enums import Dataflow, n_counters
from .kernels.bounds import EST_CYCLES, LB_CYCLES, LEVEL_BYTES, SLOT_MACS, STEPS, bounds_width
from .kernels.params import LOOP_ORDERS
from .lowering import boundary_rates, lower_gemm
from .mapping import GemmMapping

MEMO_OPS = 1024                    # ops whose walks are remembered (LRU)
_ORDER_INDEX = {o: i for i, o in enumerate(LOOP_ORDERS)}
# Tie-break rank of loop orders (and the representative kept of orders that walk alike): mnk first.
ORDER_PREFERENCE = ("mnk", "nmk", "mkn", "nkm", "kmn", "knm")
_ORDER_RANK = np.array([ORDER_PREFERENCE.index(o) for o in LOOP_ORDERS], np.int64)
ORDER_RANKS = _ORDER_RANK        # indexed by LOOP_ORDERS index
_OBJECTIVE_CODE = {"cycles": 0, "energy": 1, "edp": 2}
_MEMO: OrderedDict = OrderedDict()


def row_of(flow: int, tiles, orders) -> list[int]:
    out = [int(flow)]
    for (tm, tk, tn), order in zip(tiles, orders):
        out += [int(tm), int(tk), int(tn), _ORDER_INDEX[order]]
    return out


def mapping_of(row, nlev: int, record_flow: bool) -> GemmMapping:
    v = np.asarray(row).tolist()      # plain ints at once (the sweep makes one per new point)
    tiles = tuple((v[1 + 4 * lv], v[2 + 4 * lv], v[3 + 4 * lv]) for lv in range(nlev))
    orders = tuple(LOOP_ORDERS[v[4 + 4 * lv]] for lv in range(nlev))
    return GemmMapping(tiles, orders, Dataflow(v[0]) if record_flow else None)


def op_key(op) -> tuple:
    """What a GEMM's walks depend on: shape, batch, sharing, step barrier, dataflow and mask bytes."""
    mask = None if op.mask is None else _mask_digest(op.mask, op.mask_axis)
    flow = None if op.dataflow is None else int(op.dataflow)
    return (op.batch, op.m, op.k, op.n, bool(op.shared_b), bool(getattr(op, "step_barrier", False)), flow, mask)


def _mask_digest(mask, axis: str) -> tuple:
    digest = getattr(mask, "_digest", None)
    if digest is None:       # computed once per mask object (graphs are cached per layer)
        raw = np.ascontiguousarray(mask.lo, np.int64).tobytes() + b"|" + np.ascontiguousarray(mask.hi, np.int64).tobytes()
        digest = hashlib.blake2b(raw, digest_size=20).hexdigest()
        mask._digest = digest
    return (axis, len(mask.lo), digest)


def walk_key(hw) -> tuple:
    """The hardware fields a count-only walk reads (not level sizes, not prices); kept with the
    hardware object (frozen), which every GEMM of a layer asks again."""
    hit = hw.__dict__.get("_walk_key")
    if hit is None:
        arr = hw.mac_array
        hit = (arr.rows, arr.cols, tuple(int(f) for f in arr.dataflows), int(arr.fold_overlap), hw.bytes_per_element,
               tuple((m.read_bw_bytes_per_cycle, m.write_bw_bytes_per_cycle, m.double_buffered) for m in hw.memories))
        object.__setattr__(hw, "_walk_key", hit)
    return hit


def price_key(hw) -> tuple:
    return (hw.mac_array.mac_energy_pj, tuple((m.read_pj_per_byte, m.write_pj_per_byte) for m in hw.memories))


def order_table(allowed=ORDER_PREFERENCE) -> tuple[np.ndarray, np.ndarray]:
    """Loop orders to try per multi-trip pattern p = (m has several trips) + 2 (k) + 4 (n): one
    representative (the first in ORDER_PREFERENCE) of each class of orders that walk the same tile
    sequence (orders that differ only in where one-trip loops sit), kept when it is `allowed`."""
    table = np.zeros((8, 6), np.int64)
    counts = np.zeros(8, np.int64)
    for p in range(8):
        multi = "".join(c for bit, c in zip((1, 2, 4), "mkn") if p & bit)
        seen = set()
        for o in ORDER_PREFERENCE:
            key = tuple(c for c in o if c in multi)
            if key in seen:
                continue
            seen.add(key)
            if o in allowed:
                table[p, counts[p]] = _ORDER_INDEX[o]
                counts[p] += 1
    return table, counts


def clear_memo() -> None:
    _MEMO.clear()


@dataclass(frozen=True)
class _HwArrays:
    """The arrays bounds and walks of any op take from one hardware config (built once per config)."""
    unit_bw: np.ndarray
    fill_bw: np.ndarray
    drain_bw: np.ndarray
    dbuf: np.ndarray
    rpj: np.ndarray
    wpj: np.ndarray
    flow_pos: np.ndarray      # position of each Dataflow in the array's list (3 for absent ones)


def hw_arrays(hw) -> _HwArrays:
    hit = hw.__dict__.get("_map_arrays")
    if hit is None:
        rates = boundary_rates(hw)
        level0 = hw.on_chip[0]
        flow_pos = np.full(3, 3, np.int64)
        for i, f in enumerate(hw.mac_array.dataflows):
            flow_pos[int(f)] = i
        hit = _HwArrays(np.array([level0.read_bw_bytes_per_cycle, level0.write_bw_bytes_per_cycle]),
                        np.array([r[0] for r in rates]), np.array([r[1] for r in rates]),
                        np.array([int(m.double_buffered) for m in hw.on_chip], np.int64),
                        np.array([m.read_pj_per_byte for m in hw.memories]),
                        np.array([m.write_pj_per_byte for m in hw.memories]), flow_pos)
        object.__setattr__(hw, "_map_arrays", hit)
    return hit


@dataclass
class Outcome:
    """What one evaluation did: the best row and its metrics, and the work."""
    best: np.ndarray          # the winning candidate row
    cycles: int
    energy_pj: float
    score: float              # the objective value
    walked: int               # candidates walked now (not taken from the memo)
    steps: int                # innermost steps those walks visited
    pruned: int               # skipped because their bound exceeds the best value
    dropped: int              # left out by the step budget
    evaluated: int            # candidates whose metrics were looked at (walked or remembered)
    counts: np.ndarray | None  # the best's count-only counts when it was walked in this call
    seed_scores: tuple = ()   # the objective value of each seed


def row_hashes(rows: np.ndarray) -> np.ndarray:
    """FNV-1a over the int64 words of each row (vectorised; matches are confirmed on the rows)."""
    h = np.full(len(rows), 14695981039346656037, np.uint64)
    with np.errstate(over="ignore"):
        for j in range(rows.shape[1]):
            h = (h ^ rows[:, j].astype(np.uint64)) * np.uint64(1099511628211)
    return h


class _Walks:
    """The remembered walks of one (op, walk_key): rows sorted by hash, and their metrics."""

    def __init__(self, width: int, mwidth: int):
        self.hashes = np.zeros(0, np.uint64)
        self.rows = np.zeros((0, width), np.int64)
        self.metrics = np.zeros((0, mwidth), np.int64)

    def lookup(self, rows: np.ndarray, hashes: np.ndarray) -> np.ndarray:
        """Index into self.metrics of each row, or -1."""
        if not len(self.hashes):
            return np.full(len(rows), -1, np.int64)
        pos = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        hit = (self.hashes[pos] == hashes) & (self.rows[pos] == rows).all(axis=1)
        return np.where(hit, pos, -1)

    def add(self, rows, hashes, metrics) -> None:
        h = np.concatenate([self.hashes, hashes])
        order = np.argsort(h, kind="stable")
        self.hashes = h[order]
        self.rows = np.concatenate([self.rows, rows])[order]
        self.metrics = np.concatenate([self.metrics, metrics])[order]


def _walks_for(op, hw, width: int, mwidth: int) -> _Walks:
    key = (op_key(op), walk_key(hw))
    hit = _MEMO.get(key)
    if hit is None:
        hit = _MEMO[key] = _Walks(width, mwidth)
        if len(_MEMO) > MEMO_OPS:
            _MEMO.popitem(last=False)
    else:
        _MEMO.move_to_end(key)
    return hit


def _within_limits(op, hw, cands: np.ndarray, n_seeds: int, nlev: int) -> tuple[np.ndarray, int]:
    """The candidates whose every count stays below limits.COUNT_LIMIT (upper_bounds.py), so that no
    walk can wrap: all of them unless the op is big enough for some mapping to overflow (one coarse
    check per op). Raises SizeError when none is left."""
    from . import upper_bounds
    from .errors import SizeError
    from .limits import COUNT_LIMIT

    if sum(upper_bounds.op_bound(op, hw)) <= COUNT_LIMIT:
        return cands, n_seeds
    keep = np.array([sum(upper_bounds.gemm_bound(op, hw, mapping_of(row, nlev, True))) <= COUNT_LIMIT
                     for row in cands], bool)
    if not keep.any():
        raise SizeError(f"no mapping of the ({op.m}, {op.k}, {op.n}) GEMM keeps its counts within the 64-bit "
                        f"counters (2^62); use smaller sizes")
    return cands[keep], int(keep[:n_seeds].sum())


def evaluate(op, hw, cands: np.ndarray, objective: str = "cycles", n_seeds: int = 0,
             budget: int | None = None, tolerance: float = 0.0) -> Outcome:
    """The best of `cands` (its first n_seeds rows are seeds: walked first, never pruned, preferred
    in ties in their order) by `objective`; see the module docstring. With a `tolerance` t > 0 a
    candidate is also skipped when it could beat the best walked by at most the fraction t (its bound
    x (1 + t) exceeds it): the result is then within a factor 1 + t of the best candidate."""
    from .kernels.evaluate import evaluate_ordered, metrics_width
    from .kernels.gemm import gemm_state_size

    cands = np.ascontiguousarray(cands, np.int64)
    nlev, nmem = len(hw.on_chip), len(hw.memories)
    cands, n_seeds = _within_limits(op, hw, cands, n_seeds, nlev)
    ha = hw_arrays(hw)
    lb, est, steps = bounds(op, hw, cands, objective)
    # after the seeds, by estimate, equal estimates coarsest first (ties in the result are broken by
    # the tie order in the kernel: this order only decides what is walked first)
    order = np.lexsort((steps[n_seeds:], est[n_seeds:])) + n_seeds
    if n_seeds:
        order = np.concatenate([np.arange(n_seeds), order])
    walks = _walks_for(op, hw, cands.shape[1], metrics_width(nmem))
    metrics = np.zeros((len(cands), metrics_width(nmem)), np.int64)
    known = np.zeros(len(cands), np.int64)
    if len(walks.hashes):
        found = walks.lookup(cands, row_hashes(cands))
        known[found >= 0] = 1
        metrics[known == 1] = walks.metrics[found[known == 1]]
    plan = lower_gemm(op, mapping_of(cands[0], nlev, True), hw)
    limit = np.iinfo(np.int64).max if budget is None else budget + int(steps[:n_seeds].sum())
    stats = np.zeros(4, np.int64)
    counts = np.zeros(n_counters(hw.n_boundaries), np.int64)
    best, counted = evaluate_ordered(cands, lb, steps, order, n_seeds, ha.flow_pos, ORDER_RANKS, tolerance, limit,
                                     known, metrics, plan.ip, plan.rates, plan.lo, plan.hi, gemm_state_size(nlev),
                                     _OBJECTIVE_CODE[objective], hw.mac_array.mac_energy_pj, ha.rpj, ha.wpj, stats,
                                     counts)
    new = known == 2
    if new.any():
        walks.add(cands[new], row_hashes(cands[new]), metrics[new])
    m = metrics[best]
    return Outcome(cands[best], int(m[0]), energy_of(m, hw), score_of(m, hw, objective), int(stats[0]),
                   int(stats[1]), int(stats[2]), int(stats[3]), int((known > 0).sum()), counts if counted else None,
                   tuple(score_of(metrics[i], hw, objective) for i in range(n_seeds)))


def score_of(metrics: np.ndarray, hw, objective: str) -> float:
    if objective == "cycles":
        return float(metrics[0])
    energy = energy_of(metrics, hw)
    return energy if objective == "energy" else energy * float(metrics[0])


def energy_of(metrics: np.ndarray, hw) -> float:
    """Energy (pJ) of a metrics row, summed in cost.energy_pj's order."""
    nmem = len(hw.memories)
    terms = [metrics[1] * hw.mac_array.mac_energy_pj, 0.0]
    terms += [metrics[2 + lv] * m.read_pj_per_byte + metrics[2 + nmem + lv] * m.write_pj_per_byte
              for lv, m in enumerate(hw.memories)]
    return float(sum(terms))


def bounds(op, hw, cands: np.ndarray, objective: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower bound, ordering estimate, innermost steps) of the objective for every candidate row."""
    from .kernels.bounds import gemm_bounds

    arr = hw.mac_array
    ha = hw_arrays(hw)
    nlev = len(hw.on_chip)
    out = np.zeros((len(cands), bounds_width(nlev)), np.int64)
    frac_inner, frac_top = mask_fractions(op, cands, nlev)
    gemm_bounds(cands, np.array([op.m, op.k, op.n], np.int64), op.batch, bool(op.shared_b),
                bool(getattr(op, "step_barrier", False)), arr.rows, arr.cols, int(arr.fold_overlap) == 1,
                hw.bytes_per_element, ha.unit_bw, ha.fill_bw, ha.drain_bw, ha.dbuf, frac_inner, frac_top, out)
    steps = out[:, STEPS]
    lb_cyc = out[:, LB_CYCLES].astype(np.float64)
    est_cyc = out[:, EST_CYCLES].astype(np.float64)
    if op.mask is not None:             # exact array cycles of what the mask leaves, compulsory traffic
        lb_cyc = np.maximum(masked_array_bound(op, hw, cands), gemm_traffic_bound(op, hw)).astype(np.float64)
        est_cyc = np.maximum(est_cyc, lb_cyc)
    if objective == "cycles":
        return lb_cyc, est_cyc, steps
    energy = (out[:, SLOT_MACS] * arr.mac_energy_pj + out[:, LEVEL_BYTES:LEVEL_BYTES + nlev + 1] @ ha.rpj
              + out[:, LEVEL_BYTES + nlev + 1:] @ ha.wpj)
    est_energy = energy
    if op.mask is not None:
        est_energy = energy * frac_inner
        energy = np.full(len(cands), masked_energy_bound(op, hw))
    energy = energy * (1 - 1e-12)       # a hair below: float rounding never lifts a bound above a walk
    if objective == "energy":
        return energy, est_energy, steps
    return energy * lb_cyc, est_energy * est_cyc, steps


def mask_fractions(op, cands: np.ndarray, nlev: int) -> tuple[np.ndarray, np.ndarray]:
    """Estimated fraction of the innermost and outermost tiles a mask leaves (1 without a mask)."""
    from .kernels.bounds import hull_fractions

    if op.mask is None:
        ones = np.ones(len(cands))
        return ones, ones
    axis = 3 if op.mask_axis == "n" else 2              # column of the masked axis' tile size
    length = op.n if op.mask_axis == "n" else op.k
    out = []
    for lv in {0: 0, 1: nlev - 1}.values():
        fr = np.zeros(len(cands))
        hull_fractions(np.ascontiguousarray(cands[:, 1 + 4 * lv]), np.ascontiguousarray(cands[:, axis + 4 * lv]),
                       op.mask.lo, op.mask.hi, op.m, length, fr)
        out.append(fr)
    return out[0], out[1]


def masked_array_bound(op, hw, cands: np.ndarray) -> np.ndarray:
    """Exact array cycles of each candidate under the op's mask (kernels/bounds.masked_array_cycles)."""
    from .kernels.bounds import masked_array_cycles

    arr = hw.mac_array
    on_n = op.mask_axis == "n"
    out = np.zeros(len(cands), np.int64)
    masked_array_cycles(cands, op.mask.lo, op.mask.hi, op.m, op.n if on_n else op.k, op.k if on_n else op.n, on_n,
                        int(arr.fold_overlap) == 1, arr.rows, arr.cols, op.batch,
                        bool(getattr(op, "step_barrier", False)), out)
    return out


def masked_energy_bound(op, hw) -> float:
    """MAC energy of the useful products and the compulsory traffic across every boundary."""
    eb = hw.bytes_per_element
    reads, writes = gemm_compulsory_words(op)
    mems = hw.memories
    energy = op.useful_macs * hw.mac_array.mac_energy_pj
    for b in range(len(mems) - 1):
        energy += (reads * eb * (mems[b + 1].read_pj_per_byte + mems[b].write_pj_per_byte)
                   + writes * eb * (mems[b].read_pj_per_byte + mems[b + 1].write_pj_per_byte))
    return float(energy)


__all__ = ["evaluate", "Outcome", "ORDER_RANKS", "order_table", "hw_arrays", "row_of", "mapping_of", "op_key", "walk_key", "price_key", "clear_memo",
           "bounds", "ORDER_PREFERENCE"]
