"""Proposes mappings and picks one; the counts are always the tile walk's (mapeval.py walks them).

The default (heuristic) GEMM mapping is a small, bounded search (docs/mapper.md):
* dataflow: the op's, or the array's default;
* loop orders with k innermost at every level ("mnk" and "nmk"), so an output tile is complete
  before it leaves a level and no partial sum crosses a boundary;
* per level and axis, the tile sizes nest inside the enclosing tile (the whole axis at the
  outermost level): multiples unit x 2^j of the array dimension the axis is mapped to (the
  streamed axis gets max(rows, cols)), the enclosing extent split into 2, 4, 8, ... equal
  unit-aligned parts, and the enclosing extent itself; every tile must fit its level (half of it
  when double-buffered);
* the naive whole-extent mapping (every level holds the whole op), when it fits, is walked first,
  so the default is never slower than it; then the candidates in the order of a closed-form
  estimate (kernels/bounds.py), skipping any whose lower bound x (1 + PRUNE_TOLERANCE) exceeds the
  best cycles walked, within HEURISTIC_STEP_BUDGET innermost tile steps (at least four walks of
  the coarsest candidate);
* several on-chip levels: the candidates are the outermost level's tiles, each completed inwards
  with the inner tile of smallest bound.
The best by cycles wins (ties: fewer off-chip bytes, fewer on-chip bytes, fewer slot MACs, then the
whole-extent mapping, fewer tile steps, larger tiles, loop-order preference). Its counts come
with it (the engine does not walk it again). The result is cached on what it depends on: the op's
shape, batch, sharing, step barrier, dataflow, mask bytes, and the hardware's array, dataflows,
fold overlap, element bytes, level sizes, bandwidths and double buffering (not prices, clock or
vector unit); on one level, its size only as far as it decides which candidate tiles fit. The
one-level candidate space itself (rows and the bound terms no memory changes) is cached apart,
per op, array shape, dataflow, fold overlap and element bytes (_space, kernels/gemmspace.py).
"""
from __future__ import annotations

import bisect
import functools

import numpy as np

from .bounds import gemm_traffic_bound
from .enums import MAPPER_NAMES, OBJECTIVE_NAMES, Dataflow, n_counters
from .errors import MappingError
from .mapeval import ORDER_RANKS, bounds, evaluate, hw_arrays, mapping_of, op_key, order_table, walk_key
from .lru import Lru
from .mapping import GemmMapping

MAPPERS = MAPPER_NAMES
OBJECTIVES = OBJECTIVE_NAMES
HEURISTIC_STEP_BUDGET = 2048      # innermost tile steps the heuristic may walk beyond its seed
HEURISTIC_ORDERS = ("mnk", "nmk")
PRUNE_TOLERANCE = 0.01            # skip candidates that could beat the best walked by at most 1%
CACHE_SIZE = 65536
_ORDER_INDEX = {"mkn": 0, "mnk": 1, "kmn": 2, "knm": 3, "nmk": 4, "nkm": 5}
_CACHE = Lru(CACHE_SIZE)
_ORDERS = order_table(HEURISTIC_ORDERS)


def choose_gemm_mapping(op, hw, mapper: str = "heuristic", objective: str = "cycles") -> GemmMapping:
    """The mapping a Gemm op runs with: the heuristic's, or the best the search finds by `objective`."""
    return choose_gemm_plan(op, hw, mapper, objective)[0]


def choose_gemm_plan(op, hw, mapper: str = "heuristic", objective: str = "cycles"):
    """(mapping, its count-only counts when the mapper walked it, else None)."""
    if mapper == "search":
        from .search import search_gemm

        result = search_gemm(op, hw, objective)
        return result.mapping, result.counts
    return default_gemm_plan(op, hw)


def axis_units(dataflow: Dataflow, rows: int, cols: int) -> tuple[int, int, int]:
    """Tile granule along (m, k, n): the array dimension each axis is mapped to.

    The temporal axis (the one streamed through the array) gets max(rows, cols) so a stream is at
    least as long as the skew it pays for.
    """
    longest = max(rows, cols)
    if dataflow == Dataflow.OUTPUT_STATIONARY:
        return rows, longest, cols
    if dataflow == Dataflow.WEIGHT_STATIONARY:
        return longest, rows, cols
    return cols, rows, longest


@functools.lru_cache(maxsize=1 << 14)
def axis_sizes(unit: int, bound: int, full: int) -> tuple[int, ...]:
    """Heuristic tile sizes of one axis inside an enclosing extent `bound` of an axis of length `full`:
    unit x 2^j, `bound` split into 2^p equal unit-aligned parts, and `bound`; only sizes that nest
    (the enclosing extent is the whole axis or a multiple of the size)."""
    sizes = {bound}
    s = unit
    while s < bound:
        sizes.add(s)
        s *= 2
    parts = 2
    while parts <= bound:
        s = -(-(-(-bound // parts)) // unit) * unit
        if s < bound:
            sizes.add(s)
        if s <= unit:
            break
        parts *= 2
    return tuple(sorted(s for s in sizes if bound == full or bound % s == 0))


def default_gemm_mapping(op, hw) -> GemmMapping:
    """The heuristic mapping of Gemm `op` on `hw` (module docstring); MappingError when no tile fits."""
    return default_gemm_plan(op, hw)[0]


def default_gemm_plan(op, hw) -> tuple[GemmMapping, np.ndarray | None]:
    """The heuristic mapping and, when the heuristic walked it, its count-only counts (exactly what
    engine.run_gemm counts for it), read-only; cached."""
    space = _space(op, hw, _flow(op, hw)) if len(hw.on_chip) == 1 else None
    return space_plan(op, hw, space, capacity_key(hw, space))


def space_plan(op, hw, space, capacity: tuple, opk: tuple | None = None, walker=None, cache: bool = True):
    """default_gemm_plan given what it computes first: the op's one-level candidate space (None on
    several levels), capacity_key(hw, space) and op_key(op) (sweep/gemmrows.py keys on them too).
    `walker`: None, or a callable giving walk_context(op, hw, space, opk) (which the caller keeps).
    `cache`: False leaves the plan cache out (for a caller that keeps what it makes of the plan on
    a finer key; the counts are then left writable)."""
    opk = op_key(op) if opk is None else opk
    if cache:
        hit = _CACHE.get((opk, walk_key(hw), capacity), lambda: _read_only(_heuristic(op, hw, space, opk, walker)))
    else:
        hit = _heuristic(op, hw, space, opk, walker)
    if isinstance(hit, _NoFit):
        raise hit.error(op, hw)
    return hit


class _NoFit:
    """The heuristic's outcome when no tile fits: kept in the plan cache without its message, which
    names the hardware and its level, fields the cache key leaves out (two points that differ only
    in names share the outcome, each gets its own names)."""
    __slots__ = ("nested",)

    def __init__(self, nested: bool):
        self.nested = nested            # several on-chip levels: no nest of tiles fits them

    def error(self, op, hw) -> MappingError:
        if self.nested:
            return MappingError(f"no nest of tiles of the ({op.m}, {op.k}, {op.n}) GEMM fits the on-chip levels "
                                f"of {hw.name!r}")
        level = hw.on_chip[0]
        return MappingError(f"no tile of the ({op.m}, {op.k}, {op.n}) GEMM fits level {level.name!r} "
                            f"({level.usable_bytes} usable bytes)")


def _read_only(outcome):
    if not isinstance(outcome, _NoFit) and outcome[1] is not None:
        outcome[1].setflags(write=False)
    return outcome


def _flow(op, hw) -> Dataflow:
    return Dataflow(op.dataflow if op.dataflow is not None else hw.mac_array.dataflow)


def capacity_key(hw, space) -> tuple:
    """What the level sizes decide. On one level (`space`: the op's candidate space there) that is
    only which candidates fit, a prefix of the space's distinct footprints: two sizes that admit the
    same ones give the same plan (a size that admits none gives an error quoting it, so it keys on
    the bytes)."""
    sizes = tuple(level.usable_bytes for level in hw.on_chip)
    if space is None:
        return sizes
    fitting = bisect.bisect_right(space.footprints, sizes[0] // hw.bytes_per_element)
    return ("fitting", fitting) if fitting else sizes


def clear_cache() -> None:
    _CACHE.clear()
    _SPACES.clear()
    _WALKS.clear()
    _SEED_PLANS.clear()


def _heuristic(op, hw, space=None, opk: tuple | None = None, walker=None):
    """(mapping, counts of its count-only walk or None), or _NoFit (the MappingError to raise). `space`: the
    op's one-level candidate space on hw (_space), `opk` its op_key and `walker` (space_plan) when
    the caller has them."""
    dims = (op.m, op.k, op.n)
    nlev = len(hw.on_chip)
    fits = all(_footprint(dims) * hw.bytes_per_element <= level.usable_bytes for level in hw.on_chip)
    if nlev == 1:
        return _single_level(op, hw, fits, space if space is not None else _space(op, hw, _flow(op, hw), opk),
                             op_key(op) if opk is None else opk, walker)
    flow = _flow(op, hw)
    whole = np.array([int(flow)] + [x for _ in range(nlev) for x in (*dims, _ORDER_INDEX["mnk"])], np.int64)
    seeds = whole[None, :] if fits else np.zeros((0, whole.size), np.int64)
    cands = nested_candidates(op, hw, flow)
    if not len(cands) and not fits:
        return _NoFit(nested=True)
    outcome = evaluate(op, hw, np.concatenate([seeds, cands]), "cycles", n_seeds=len(seeds),
                       budget=HEURISTIC_STEP_BUDGET, tolerance=PRUNE_TOLERANCE)
    return mapping_of(outcome.best, nlev, False), outcome.counts


def nested_candidates(op, hw, flow) -> np.ndarray:
    """The rows the heuristic ranks after its seed on several on-chip levels: the outermost
    level's candidates, each completed inwards."""
    cands = level_candidates(op, hw, flow, len(hw.on_chip) - 1, (op.m, op.k, op.n))
    return complete_inwards(op, hw, flow, cands) if len(cands) else cands


def _single_level(op, hw, fits: bool, space, opk: tuple, walker=None):
    """The heuristic on one on-chip level, from the op's candidate space (`fits`: the whole-extent
    seed fits the level; `opk`: op_key(op); `walker`: space_plan's)."""
    from .kernels.gemmspace import best_of_space

    cap = hw.on_chip[0].usable_bytes // hw.bytes_per_element
    if not fits and space.smallest > cap:
        return _NoFit(nested=False)
    bounds_args, walk_args, memo, n_counts = walker() if walker is not None else walk_context(op, hw, space, opk)
    stats = np.zeros(4, np.int64)
    counts = np.zeros(n_counts, np.int64)
    best, counted = best_of_space(space.cands, space.terms, space.frac, space.steps, fits, cap, *bounds_args,
                                  HEURISTIC_STEP_BUDGET + (int(op.batch) if fits else 0), *walk_args, stats, counts,
                                  *memo)
    return mapping_of(best, 1, False), (counts if counted else None)


def walk_context(op, hw, space: _Space, opk: tuple) -> tuple:
    """What _single_level passes best_of_space besides the space and the capacity: (the bounds'
    arguments, the walks' arguments, the memo of walks and bounds, counts length). It reads of the
    hardware what walk_key holds and the array's default dataflow (the seed plan's key), so a
    caller may keep it per (op, those fields) and space."""
    from .kernels.gemm import gemm_state_size

    ha = hw_arrays(hw)
    plan = _seed_plan(op, hw, opk)
    masked = op.mask is not None
    lo, hi = (op.mask.lo, op.mask.hi) if masked else (plan.lo, plan.hi)
    n_counts = n_counters(hw.n_boundaries)
    return ((masked, float(gemm_traffic_bound(op, hw)) if masked else 0.0, ha.unit_bw, ha.fill_bw, ha.drain_bw,
             ha.dbuf), (PRUNE_TOLERANCE, ha.flow_pos, ORDER_RANKS, plan.ip, plan.rates, lo, hi, gemm_state_size(1)),
            _walks(space, plan, n_counts), n_counts)


_SEED_PLANS = Lru(256)


def _seed_plan(op, hw, opk: tuple):
    """lower_gemm of the whole-extent mapping (the walks' ip and rates), kept per (op_key, the
    array's default dataflow, walk_key): lower_gemm reads of the op what op_key holds and of the
    hardware the array, the fold overlap, the element bytes, the bandwidths and double buffering.
    Left writable (the kernels copy ip; a read-only array would compile them once more)."""
    from .lowering import lower_gemm

    return _SEED_PLANS.get((opk, int(hw.mac_array.dataflow), walk_key(hw)),
                           lambda: lower_gemm(op, GemmMapping(((op.m, op.k, op.n),), ("mnk",)), hw))


WALK_SLOTS = 64               # walks kept per entry (the heuristic walks a handful per call)
MEMO_BYTES = 48 << 20         # per cache below: a space of a big GEMM on a small array has ~20,000 rows


def _nbytes(entry) -> int:
    return sum(a.nbytes for a in (entry if isinstance(entry, tuple) else
                                  (entry.cands, entry.terms, entry.frac, entry.steps)))


# (op, array, bandwidths) whose walks are kept; a grid over buffer sizes reuses them
_WALKS = Lru(256, MEMO_BYTES, _nbytes)


def _walks(space: _Space, plan, n_counts: int) -> tuple:
    """(slot per candidate row, counts per slot, slots used) of the walks already made of `space`'s
    op under plan.ip and plan.rates, which hold everything a walk reads besides the candidate's
    tiles and order and the op's mask (in the space's key); level sizes are not among them. Then
    (bounded per row, lower bound per row, estimate per row): the bounds finished so far, which
    read the same bandwidths and double buffering (kernels/gemmspace.best_of_space)."""
    n = len(space.cands)
    return _WALKS.get((space.key, plan.ip.tobytes(), plan.rates.tobytes()),
                      lambda: (np.full(n, -1, np.int64), np.zeros((WALK_SLOTS, n_counts), np.int64),
                               np.zeros(1, np.int64), np.zeros(n, np.int64), np.zeros(n), np.zeros(n)))


class _Space:
    """One op's one-level candidate rows (the whole-extent seed first, then by footprint) and their
    point-independent bound terms (kernels/gemmspace.py), their innermost steps (a column of the
    terms, contiguous), the smallest tile's footprint and every distinct footprint (elements)."""
    __slots__ = ("key", "cands", "terms", "frac", "steps", "smallest", "footprints")

    def __init__(self, key, cands, terms, frac, steps, smallest):
        self.key, self.cands, self.terms, self.frac, self.steps = key, cands, terms, frac, steps
        self.smallest = smallest
        self.footprints = np.unique(terms[:, 0]).tolist()      # sorted; the seed's (row 0) included


# a grid over array shapes revisits each (op, array) for every buffer and bandwidth
_SPACES = Lru(256, MEMO_BYTES, _nbytes)
_NO_CAP = 1 << 62


def _space(op, hw, flow: Dataflow, opk: tuple | None = None) -> _Space:
    """The candidate space of `op` (whose op_key is `opk`, when the caller has it) on hw's array under
    `flow`: it depends on the op, the array shape, the dataflow, the fold overlap and the element
    size, not on the memories."""
    arr = hw.mac_array
    key = (op_key(op) if opk is None else opk, int(flow), arr.rows, arr.cols, int(arr.fold_overlap),
           hw.bytes_per_element)
    return _SPACES.get(key, lambda: _new_space(key, op, hw, flow))


def _new_space(key, op, hw, flow: Dataflow) -> _Space:
    from .kernels.gemmspace import N_TERMS, T_FOOT, T_STEPS, space_terms
    from .kernels.mapspace import ONE_COPY, level_tiles

    arr = hw.mac_array
    dims = np.array((op.m, op.k, op.n), np.int64)
    units = axis_units(flow, arr.rows, arr.cols)
    sizes = [np.array(axis_sizes(u, int(d), int(d)), np.int64) for u, d in zip(units, dims)]
    whole = np.array([[int(flow), op.m, op.k, op.n, _ORDER_INDEX["mnk"]]], np.int64)
    cands = np.concatenate([whole, level_tiles(int(flow), *sizes, _NO_CAP, dims, *_ORDERS, ONE_COPY)])
    terms = np.zeros((len(cands), N_TERMS), np.int64)
    frac = np.ones(len(cands))
    masked = op.mask is not None
    lo, hi = (op.mask.lo, op.mask.hi) if masked else (_NO_ROWS, _NO_ROWS)
    space_terms(cands, dims, op.batch, bool(op.shared_b), bool(getattr(op, "step_barrier", False)), arr.rows,
                arr.cols, int(arr.fold_overlap) == 1, hw.bytes_per_element, masked, lo, hi, op.mask_axis == "n",
                frac, terms)
    # the rows after the seed by footprint (stably): those a level holds are then a prefix, which
    # best_of_space takes as views (the walk's choice does not depend on the rows' order)
    order = np.concatenate([np.zeros(1, np.int64), 1 + np.argsort(terms[1:, T_FOOT], kind="stable")])
    cands, terms, frac = cands[order], terms[order], frac[order]
    steps = np.ascontiguousarray(terms[:, T_STEPS])
    for a in (cands, terms, frac, steps):
        a.setflags(write=False)
    smallest = int(sizes[0][0] * sizes[1][0] + sizes[1][0] * sizes[2][0] + sizes[0][0] * sizes[2][0])
    return _Space(key, cands, terms, frac, steps, smallest)


_NO_ROWS = np.zeros(0, np.int64)


def _footprint(tile) -> int:
    tm, tk, tn = tile
    return tm * tk + tk * tn + tm * tn


def level_candidates(op, hw, flow: Dataflow, lv: int, bound) -> np.ndarray:
    """Candidate rows with level `lv`'s tile inside `bound`: every fitting combination of
    axis_sizes, with the k-innermost loop orders that walk differently (one when m or n has one
    trip). For lv > 0 the levels inside repeat this tile until complete_inwards fills them."""
    from .kernels.mapspace import level_tiles

    arr = hw.mac_array
    units = axis_units(flow, arr.rows, arr.cols)
    sizes = [np.array(axis_sizes(u, b, d), np.int64) for u, b, d in zip(units, bound, (op.m, op.k, op.n))]
    return level_tiles(int(flow), *sizes, hw.on_chip[lv].usable_bytes // hw.bytes_per_element,
                       np.array(bound, np.int64), *_ORDERS, lv + 1)


def complete_inwards(op, hw, flow: Dataflow, cands: np.ndarray) -> np.ndarray:
    """Fill the levels inside the outermost one, innermost last: each gets, inside the tile of the
    level around it, the candidate tile with the smallest closed-form bound of the whole row."""
    nlev = len(hw.on_chip)
    out = []
    for row in cands:
        row = row.copy()
        ok = True
        for lv in range(nlev - 2, -1, -1):
            outer = tuple(int(x) for x in row[1 + 4 * (lv + 1):4 + 4 * (lv + 1)])
            inner = level_candidates(op, hw, flow, lv, outer)
            if not len(inner):
                ok = False
                break
            trial = np.repeat(row[None, :], len(inner), axis=0)
            trial[:, 1 + 4 * lv:1 + 4 * (lv + 1)] = inner[:, 1 + 4 * lv:1 + 4 * (lv + 1)]
            for below in range(lv):       # levels not chosen yet hold the same tile for now
                trial[:, 1 + 4 * below:1 + 4 * (below + 1)] = inner[:, 1 + 4 * lv:1 + 4 * (lv + 1)]
            lb = bounds(op, hw, trial, "cycles")[0]
            volume = trial[:, 1 + 4 * lv] * trial[:, 2 + 4 * lv] * trial[:, 3 + 4 * lv]
            row = trial[np.lexsort((-volume, lb))[0]]
        if ok:
            out.append(row)
    return np.array(out, np.int64).reshape(len(out), cands.shape[1])
