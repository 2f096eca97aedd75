"""The GEMM mapping search (`mapper: search`): candidates in Python, evaluated in one Numba call.

For one Gemm op on one hardware config the search proposes candidate mappings, evaluates every
one of them with the count-only tile walk (kernels/gemm.py, `gemm_walk_many`: one Numba call per
batch of candidates) and returns the best by the objective: cycles, energy (pJ, cost.energy_pj)
or edp (energy x cycles).  docs/search_mapper.md records the design and its measurements.

Candidates (a candidate is a dataflow, one tile per on-chip level and one loop order per level):

* dataflows: every one the array supports (`mac_array.dataflows`), or the op's own when it names
  one;
* tile sizes per level and axis, nested legally inside the enclosing level's tile:
  - exhaustive space: every size 1..bound that nests (used when the whole space is small, see
    EXHAUSTIVE_MAX_*): the search is then exact;
  - principled space otherwise: power-of-two multiples of the array dimension the axis maps to
    under that dataflow (mapper.axis_units), the enclosing extent split into 2, 4, 8, ... equal
    unit-aligned parts, the enclosing extent itself (the whole axis at the outermost level) and
    every size the heuristic uses (for any dataflow); never smaller than 1/MAX_SPLITS of the axis
    (the heuristic's own sizes excepted);
  - each level's tile must fit its usable capacity (half the level when double-buffered);
* loop orders: all six per level, less the exact duplicates: an axis whose level tile spans the
  enclosing tile has one trip, so orders that differ only in where that loop sits walk the same
  sequence of tiles; one representative per class is kept (ORDER_PREFERENCE, mnk first);
* the heuristic mapping (mapper.default_gemm_mapping) always, and each other dataflow's heuristic
  mapping, so the search is never worse than the heuristic.

Work budget: a walk costs about one unit per innermost tile step it visits (skipped ones
included), so a search may visit at most max(STEP_BUDGET, SEED_MULTIPLE x the heuristic mappings'
own steps) of them.  One on-chip level, or a multi-level principled space of at most
JOINT_MAX_CANDIDATES: the heuristic mappings plus the principled candidates, coarsest tiling
first (fewest steps), as far as the budget reaches, all in one Numba call ("joint"; a cut drops
the finest tilings).  Larger multi-level spaces: coordinate descent over levels ("descent"):
from every dataflow's heuristic mapping, each level's (tile, order) is replaced by its best
alternative with the other levels fixed, outermost level first, for at most MAX_SWEEPS sweeps or
until a sweep improves nothing; each (sweep, level) is one Numba call using at most half of the
budget left.

Ties: the objective, then fewer off-chip bytes, then the other of cycles/energy, then the
heuristic mapping, then the canonical candidate order (dataflow position in the hardware's list,
tiles innermost first, orders by ORDER_PREFERENCE) - never set or dict iteration order.

Results are cached on what they depend on (op shape, batch, shared_b, step barrier, the mask's
bytes; the hardware's array, dataflows, fold overlap, element bytes, level sizes, bandwidths and
double buffering, plus the prices when the objective is energy or edp; the objective).
"""
from __future__ import annotations

import functools
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from . import cost
from .enums import Counter, Dataflow, n_counters
from .errors import MappingError, SizeError
from .kernels.params import LEVEL_FIELDS, LOOP_ORDERS, GemmParam, LevelParam
from .lowering import lower_gemm
from .mapper import OBJECTIVES, axis_units, default_gemm_mapping
from .mapping import DIMS, GemmMapping, footprint_bytes

MAX_SPLITS = 16                    # principled tiles split no axis into more than this many parts
STEP_BUDGET = 200_000              # innermost tile steps the walks of one search may visit ...
SEED_MULTIPLE = 16                 # ... or this many times the heuristic mappings' own steps
EXHAUSTIVE_MAX_CANDIDATES = 12_000  # search every legal mapping when there are at most this many
EXHAUSTIVE_MAX_STEPS = 400_000      # ... and their walks visit at most this many innermost steps
JOINT_MAX_CANDIDATES = 6_000       # multi-level principled spaces above this are searched by descent
MAX_SWEEPS = 3                     # coordinate-descent sweeps over the levels
CACHE_SIZE = 8192

# One representative of each class of equivalent loop orders: the first of its class here.
ORDER_PREFERENCE = ("mnk", "nmk", "mkn", "nkm", "kmn", "knm")
_ORDER_RANK = {o: i for i, o in enumerate(ORDER_PREFERENCE)}
_ORDER_INDEX = {o: i for i, o in enumerate(LOOP_ORDERS)}


@dataclass(frozen=True)
class SearchResult:
    """What one search found (cached; `seconds` is the time of the search that filled the cache)."""
    mapping: GemmMapping
    objective: str
    mode: str                      # "exhaustive" | "joint" | "descent"
    dropped: int                   # principled candidates left out to keep within the work budget
    candidates: int                # candidates evaluated
    score: float                   # the chosen mapping's objective value
    heuristic_score: float | None  # the heuristic mapping's (None: the heuristic found no tile)
    cycles: int
    energy_pj: float
    steps: int                     # innermost tile steps the evaluated walks visited (work)
    seconds: float

    @property
    def improvement(self) -> float:
        """Fraction of the heuristic's objective value the search saves (0 when it keeps it)."""
        if not self.heuristic_score:
            return 0.0
        return 1.0 - self.score / self.heuristic_score


# A candidate inside this module: (dataflow int, tiles innermost first, orders innermost first).
Cand = tuple


def search_gemm_mapping(op, hw, objective: str = "cycles") -> GemmMapping:
    """The best mapping of Gemm `op` on `hw` by `objective` among the candidates (module docstring)."""
    return search_gemm(op, hw, objective).mapping


_CACHE: OrderedDict = OrderedDict()
_STATS = {"hits": 0, "misses": 0}


def search_gemm(op, hw, objective: str = "cycles") -> SearchResult:
    """search_gemm_mapping with what the search saw (mode, candidates, scores, time); cached."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if isinstance(op.mask, str):
        raise MappingError(f"op {op.name!r}: its mask {op.mask!r} is computed from the data; resolve it "
                           f"(engine.resolve_ranges) before searching a mapping")
    key = (_op_key(op), _hw_key(hw, objective), objective)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        _STATS["hits"] += 1
        return hit
    _STATS["misses"] += 1
    result = _search(op, hw, objective)
    _CACHE[key] = result
    if len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def clear_cache() -> None:
    _CACHE.clear()
    _STATS["hits"] = _STATS["misses"] = 0


def cache_info() -> dict:
    return {"hits": _STATS["hits"], "misses": _STATS["misses"], "size": len(_CACHE), "maxsize": CACHE_SIZE}


def _op_key(op) -> tuple:
    mask = None
    if op.mask is not None:
        lo = np.ascontiguousarray(op.mask.lo, np.int64)
        hi = np.ascontiguousarray(op.mask.hi, np.int64)
        digest = hashlib.blake2b(lo.tobytes() + b"|" + hi.tobytes(), digest_size=20).hexdigest()
        mask = (op.mask_axis, len(lo), digest)
    flow = None if op.dataflow is None else int(op.dataflow)
    return (op.batch, op.m, op.k, op.n, bool(op.shared_b), bool(getattr(op, "step_barrier", False)), flow, mask)


def _hw_key(hw, objective: str) -> tuple:
    arr = hw.mac_array
    key = (arr.rows, arr.cols, tuple(int(f) for f in arr.dataflows), int(arr.fold_overlap), hw.bytes_per_element,
           tuple((m.size_bytes, m.read_bw_bytes_per_cycle, m.write_bw_bytes_per_cycle, m.double_buffered)
                 for m in hw.memories))
    if objective != "cycles":
        key += (arr.mac_energy_pj, tuple((m.read_pj_per_byte, m.write_pj_per_byte) for m in hw.memories))
    return key


# --- the search ----------------------------------------------------------------------------------

def _search(op, hw, objective: str) -> SearchResult:
    start = time.perf_counter()
    dims = (op.m, op.k, op.n)
    levels = hw.on_chip
    eb = hw.bytes_per_element
    usable = tuple(level.usable_bytes for level in levels)
    default_flow = int(op.dataflow if op.dataflow is not None else hw.mac_array.dataflow)
    flows = (default_flow,) if op.dataflow is not None else tuple(int(f) for f in hw.mac_array.dataflows)

    heuristic = _heuristic_cand(op, hw, default_flow)
    seeds = {}
    for f in flows:
        seed = heuristic if f == default_flow and heuristic is not None else _flow_seed(op, hw, f, dims, usable, eb)
        if seed is not None:
            seeds[f] = seed
    if not seeds:
        raise MappingError(f"no tile of the ({op.m}, {op.k}, {op.n}) GEMM fits the on-chip levels of {hw.name!r}")

    ev = _Evaluator(op, hw, objective, heuristic)
    space = _exhaustive_space(dims, flows, usable, eb, op.batch)
    dropped = 0
    if space is not None:
        mode = "exhaustive"
        ev.evaluate(sorted(set(space) | set(seeds.values()), key=ev.canon))
    else:
        extra = _heuristic_sizes(seeds.values())
        units = {f: axis_units(Dataflow(f), hw.mac_array.rows, hw.mac_array.cols) for f in flows}
        budget = max(STEP_BUDGET, SEED_MULTIPLE * op.batch * max(_steps(dims, c[1]) for c in seeds.values()))
        sizes = _SizeSets(dims, units, extra)
        space = _joint_space(dims, flows, usable, eb, sizes, JOINT_MAX_CANDIDATES if len(levels) > 1 else None)
        if space is not None:
            mode = "joint"
            # the coarsest tilings first: a budget cut drops the finest ones
            pool = sorted(set(space) - set(seeds.values()), key=lambda c: (_steps(dims, c[1]), ev.canon(c)))
            kept = _within_budget(pool, dims, op.batch, budget - _work(seeds.values(), dims, op.batch))
            dropped = len(pool) - len(kept)
            ev.evaluate(sorted(set(kept) | set(seeds.values()), key=ev.canon))
        else:
            mode = "descent"
            dropped = _descend(ev, seeds, dims, usable, eb, sizes, op.batch, budget)
    best = ev.best()
    flow, tiles, orders = best
    recorded = Dataflow(flow) if op.dataflow is None and len(hw.mac_array.dataflows) > 1 else None
    mapping = GemmMapping(tiles, orders, recorded)
    score, _, _ = ev.ranks[best]
    h_score = ev.ranks[heuristic][0] if heuristic in ev.ranks else None
    cyc, energy = ev.metrics[best]
    return SearchResult(mapping, objective, mode, dropped, len(ev.ranks), score, h_score, cyc, energy, ev.steps,
                        time.perf_counter() - start)


def _heuristic_cand(op, hw, flow: int) -> Cand | None:
    try:
        h = default_gemm_mapping((op.m, op.k, op.n), hw, op.mask, op.mask_axis)
    except MappingError:
        return None
    return (flow, tuple(tuple(t) for t in h.tiles), tuple(h.orders))


def _flow_seed(op, hw, flow: int, dims, usable, eb) -> Cand | None:
    """The heuristic mapping the array would get were `flow` its default; failing that (the
    heuristic's smallest tile does not fit), the array-sized tile, clipped to the problem and its
    longest side halved until it fits every level, at every level."""
    arr = hw.mac_array
    try:
        alt = replace(hw, mac_array=replace(arr, dataflow=Dataflow(flow)))
        h = default_gemm_mapping(dims, alt, op.mask, op.mask_axis)
        return (flow, tuple(tuple(t) for t in h.tiles), tuple(h.orders))
    except MappingError:
        pass
    units = axis_units(Dataflow(flow), arr.rows, arr.cols)
    tile = [min(u, d) for u, d in zip(units, dims)]
    while footprint_bytes(tile, eb) > min(usable):
        axis = tile.index(max(tile))
        if tile[axis] == 1:
            return None
        tile[axis] = -(-tile[axis] // 2)
    tile = tuple(tile)
    return (flow, tuple(tile for _ in usable), tuple("mnk" for _ in usable))


def _heuristic_sizes(seeds) -> tuple[frozenset, frozenset, frozenset]:
    """Every size the seeds (heuristic mappings) use along m, k and n, at any level."""
    return tuple(frozenset(t[d] for _, tiles, _ in seeds for t in tiles) for d in range(3))


# --- loop orders ---------------------------------------------------------------------------------

def _order_options(tile, enclosing) -> tuple[str, ...]:
    """One loop order per class of orders that walk the same tile sequence at this level."""
    multi = tuple(t < e for t, e in zip(tile, enclosing))
    return _ORDER_TABLE[multi]


def _canonical_order(order: str, tile, enclosing) -> str:
    multi = "".join(c for c, t, e in zip(DIMS, tile, enclosing) if t < e)
    key = tuple(c for c in order if c in multi)
    for o in ORDER_PREFERENCE:
        if tuple(c for c in o if c in multi) == key:
            return o
    raise AssertionError(order)


def _build_order_table():
    table = {}
    for bits in range(8):
        multi = tuple(bool(bits >> d & 1) for d in range(3))
        names = "".join(c for c, on in zip(DIMS, multi) if on)
        seen, out = set(), []
        for o in ORDER_PREFERENCE:
            key = tuple(c for c in o if c in names)
            if key not in seen:
                seen.add(key)
                out.append(o)
        table[multi] = tuple(out)
    return table


_ORDER_TABLE = _build_order_table()


# --- tile sizes ----------------------------------------------------------------------------------

def _nests(t: int, bound: int, full: int) -> bool:
    """May a tile of `t` sit inside an enclosing extent `bound` of an axis of length `full`?"""
    return t <= bound and (bound == full or bound % t == 0)


class _SizeSets:
    """Principled sizes per (dataflow, axis, enclosing extent), memoised."""

    def __init__(self, dims, units, extra):
        self.dims = dims
        self.units = units
        self.extra = extra
        self.memo = {}

    def __call__(self, flow: int, d: int, bound: int) -> tuple[int, ...]:
        key = (flow, d, bound)
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = _principled_sizes(self.units[flow][d], bound, self.dims[d], self.extra[d])
        return hit


def _principled_sizes(unit: int, bound: int, full: int, extra) -> tuple[int, ...]:
    floor = -(-full // MAX_SPLITS)
    sizes = {bound}
    s = unit
    while s < bound:
        if s >= floor:
            sizes.add(s)
        s *= 2
    parts = 2
    while -(-bound // parts) >= floor and parts <= bound:
        s = -(-(-(-bound // parts)) // unit) * unit      # bound / parts, rounded up to a unit multiple
        if s < bound:
            sizes.add(s)
        parts *= 2
    sizes.update(e for e in extra if e < bound)
    return tuple(sorted(s for s in sizes if _nests(s, bound, full)))


def _all_sizes(bound: int, full: int) -> tuple[int, ...]:
    return tuple(t for t in range(1, bound + 1) if _nests(t, bound, full))


def _level_tiles(bound, cap: int, eb: int, size_fn) -> list[tuple[int, int, int]]:
    """Tiles inside `bound` (one size list per axis from size_fn(axis, extent)) that fit `cap` bytes."""
    sm, sk, sn = (size_fn(d, bound[d]) for d in range(3))
    out = []
    for tm in sm:
        if footprint_bytes((tm, sk[0], sn[0]), eb) > cap:
            break
        for tk in sk:
            if footprint_bytes((tm, tk, sn[0]), eb) > cap:
                break
            for tn in sn:
                if footprint_bytes((tm, tk, tn), eb) > cap:
                    break
                out.append((tm, tk, tn))
    return out


def _chains(dims, usable, eb, size_fn) -> list[tuple]:
    """Every nest of fitting tiles, innermost first; size_fn(level, axis, extent) gives the sizes."""
    out = []

    def rec(level, bound, acc):
        if level < 0:
            out.append(tuple(reversed(acc)))
            return
        for tile in _level_tiles(bound, usable[level], eb, lambda d, b: size_fn(level, d, b)):
            rec(level - 1, tile, acc + [tile])

    rec(len(usable) - 1, tuple(dims), [])
    return out


def _order_choices(tiles, dims) -> list[tuple[str, ...]]:
    """Every combination of per-level order representatives for a nest of tiles."""
    combos = [()]
    for lv, tile in enumerate(tiles):
        enclosing = tiles[lv + 1] if lv + 1 < len(tiles) else dims
        combos = [c + (o,) for c in combos for o in _order_options(tile, enclosing)]
    return combos


def _axis_steps(full: int, sizes_outer_first) -> int:
    """Innermost ranges along one axis when it is split by nested tile sizes, outermost first."""
    groups = {full: 1}
    for t in sizes_outer_first:
        nxt: dict[int, int] = {}
        for extent, mult in groups.items():
            q, r = divmod(extent, t)
            if q:
                nxt[t] = nxt.get(t, 0) + mult * q
            if r:
                nxt[r] = nxt.get(r, 0) + mult
        groups = nxt
    return sum(groups.values())


@functools.lru_cache(maxsize=1 << 16)
def _steps(dims, tiles) -> int:
    """Innermost tile steps of one batch element (skipped ones included)."""
    out = 1
    for d in range(3):
        out *= _axis_steps(dims[d], [t[d] for t in reversed(tiles)])
    return out


def _work(space, dims, batch) -> int:
    """Innermost steps the walks of `space` visit (the evaluation's cost)."""
    return sum(_steps(dims, tiles) for _, tiles, _ in space) * batch


def _within_budget(cands, dims, batch, budget) -> list[Cand]:
    """The longest prefix of `cands` whose walks visit at most `budget` innermost steps."""
    kept, work = [], 0
    for c in cands:
        work += _steps(dims, c[1]) * batch
        if work > budget:
            break
        kept.append(c)
    return kept


def _exhaustive_space(dims, flows, usable, eb, batch) -> list[Cand] | None:
    """Every legal candidate, or None when there are too many or their walks are too long."""
    levels = len(usable)
    # Cheap upper bounds first: every axis has at least `full` legal nests of sizes, and at most the
    # legal size chains per axis (capacity ignored) x orders x dataflows candidates exist.
    if len(flows) * dims[0] * dims[1] * dims[2] > 8 * EXHAUSTIVE_MAX_CANDIDATES:
        return None
    bound = len(flows) * 6 ** levels
    for full in dims:
        bound *= _chain_count(full, levels)
        if bound > 8 * EXHAUSTIVE_MAX_CANDIDATES:
            return None
    chains = _chains(dims, usable, eb, lambda lv, d, b: _all_sizes(b, dims[d]))
    total = 0
    work = 0
    for tiles in chains:
        n = 1
        for lv, tile in enumerate(tiles):
            n *= len(_order_options(tile, tiles[lv + 1] if lv + 1 < levels else dims))
        total += n
        work += n * _steps(dims, tiles)
    total *= len(flows)
    work *= len(flows) * batch
    if total > EXHAUSTIVE_MAX_CANDIDATES or work > EXHAUSTIVE_MAX_STEPS:
        return None
    return [(f, tiles, orders) for f in flows for tiles in chains for orders in _order_choices(tiles, dims)]


def _chain_count(full: int, levels: int) -> int:
    """Legal nests of `levels` sizes along an axis of length `full` (capacity ignored)."""
    memo: dict[tuple[int, int], int] = {}

    def count(level, bound):
        if level == 0:
            return 1
        key = (level, bound)
        if key not in memo:
            memo[key] = sum(count(level - 1, t) for t in _all_sizes(bound, full))
        return memo[key]

    return count(levels, full)


def _joint_space(dims, flows, usable, eb, sizes: _SizeSets, limit: int | None) -> list[Cand] | None:
    """The whole principled space, or None when it holds more than `limit` candidates."""
    out = []
    for f in flows:
        for tiles in _chains(dims, usable, eb, lambda lv, d, b, f=f: sizes(f, d, b)):
            out.extend((f, tiles, orders) for orders in _order_choices(tiles, dims))
            if limit is not None and len(out) > limit:
                return None
    return out


# --- coordinate descent over levels (large multi-level spaces) -------------------------------------

def _neighbours(cand: Cand, lv: int, dims, usable, eb, sizes: _SizeSets) -> list[Cand]:
    """`cand` with level lv's tile and order replaced by every principled alternative that nests."""
    flow, tiles, orders = cand
    inner = tiles[lv - 1] if lv > 0 else None
    enclosing = tiles[lv + 1] if lv + 1 < len(tiles) else dims

    def size_fn(d, bound):
        opts = sizes(flow, d, bound)
        if inner is None:
            return opts
        # the inner tile must still nest: tile a multiple of it or the whole axis
        merged = set(s for s in opts if s >= inner[d] and (s == dims[d] or s % inner[d] == 0))
        merged.add(tiles[lv][d])
        return tuple(sorted(merged))

    out = []
    for tile in _level_tiles(enclosing, usable[lv], eb, size_fn):
        new_tiles = tiles[:lv] + (tile,) + tiles[lv + 1:]
        new_orders = list(orders)
        if lv > 0:       # the inner level's order, as the representative of its class inside the new tile
            new_orders[lv - 1] = _canonical_order(orders[lv - 1], inner, tile)
        for order in _order_options(tile, enclosing):
            new_orders[lv] = order
            out.append((flow, new_tiles, tuple(new_orders)))
    return out


def _volume(tile) -> int:
    return tile[0] * tile[1] * tile[2]


def _descend(ev, seeds: dict, dims, usable, eb, sizes: _SizeSets, batch: int, budget: int) -> None:
    """Coordinate descent from every dataflow's seed.  Each (sweep, level) is one batch whose walks
    visit at most half the budget left (the finest tilings, then the smallest level tiles, are
    dropped first), so all the batches together stay within the budget.  Returns how many
    neighbours the budget left out."""
    current = dict(seeds)
    ev.evaluate(sorted(set(current.values()), key=ev.canon))
    left = budget
    dropped = 0
    for _ in range(MAX_SWEEPS):
        changed = False
        for lv in reversed(range(len(usable))):
            moves = {f: _neighbours(c, lv, dims, usable, eb, sizes) for f, c in current.items()}
            fresh = sorted(set(c for cands in moves.values() for c in cands if c not in ev.ranks),
                           key=lambda c: (_steps(dims, c[1]), -_volume(c[1][lv]), ev.canon(c)))
            kept = _within_budget(fresh, dims, batch, left // 2)
            dropped += len(fresh) - len(kept)
            left -= _work(kept, dims, batch)
            ev.evaluate(sorted(kept, key=ev.canon))
            for f, cands in moves.items():
                best = min([current[f]] + [c for c in cands if c in ev.ranks], key=ev.rank_key)
                if best != current[f]:
                    current[f] = best
                    changed = True
        if not changed:
            break
    return dropped


# --- evaluation ----------------------------------------------------------------------------------

class _Evaluator:
    """Evaluates candidates of one op in batches; remembers every candidate's rank."""

    def __init__(self, op, hw, objective, heuristic):
        self.op = op
        self.hw = hw
        self.objective = objective
        self.heuristic = heuristic
        self.flow_pos = {int(f): i for i, f in enumerate(hw.mac_array.dataflows)}
        self.ranks: dict = {}       # cand -> (score, dram bytes, secondary)
        self.metrics: dict = {}     # cand -> (cycles, energy)
        self.steps = 0
        self.base = None
        self._canon: dict = {}
        self.any_mapping_fits: bool | None = None

    def canon(self, cand: Cand) -> tuple:
        """The candidate's place in the canonical order: the heuristic first, then by dataflow
        position in the hardware's list, tiles (innermost level first) and ORDER_PREFERENCE."""
        key = self._canon.get(cand)
        if key is None:
            if cand == self.heuristic:
                key = (0,)
            else:
                flow, tiles, orders = cand
                key = (1, self.flow_pos.get(flow, len(self.flow_pos)), tiles, tuple(_ORDER_RANK[o] for o in orders))
            self._canon[cand] = key
        return key

    def rank_key(self, cand: Cand) -> tuple:
        return self.ranks[cand] + (self.canon(cand),)

    def best(self) -> Cand:
        if not self.ranks:
            raise SizeError(f"no mapping of the ({self.op.m}, {self.op.k}, {self.op.n}) GEMM keeps its counts within "
                            f"the 64-bit counters (2^62); use smaller sizes")
        return min(self.ranks, key=self.rank_key)

    def _within_limits(self, cands: list[Cand]) -> list[Cand]:
        """The candidates whose every count is bounded below limits.COUNT_LIMIT (upper_bounds.py): all of
        them unless the op is big enough for some mapping to overflow (checked once per op)."""
        from . import upper_bounds as bounds
        from .limits import COUNT_LIMIT

        if self.any_mapping_fits is None:
            self.any_mapping_fits = sum(bounds.op_bound(self.op, self.hw)) <= COUNT_LIMIT
        if self.any_mapping_fits:
            return cands
        return [c for c in cands if sum(bounds.gemm_bound(self.op, self.hw, GemmMapping(c[1], c[2], Dataflow(c[0]))))
                <= COUNT_LIMIT]

    def evaluate(self, cands: list[Cand]) -> None:
        """Walk every candidate not seen yet (in the given, canonical order) in one Numba call."""
        from .kernels.gemm import gemm_state_size, gemm_walk_many

        cands = self._within_limits([c for c in cands if c not in self.ranks])
        if not cands:
            return
        hw = self.hw
        nlev = len(hw.on_chip)
        if self.base is None:
            flow, tiles, orders = cands[0]
            self.base = lower_gemm(self.op, GemmMapping(tiles, orders, Dataflow(flow)), hw)
        ips = stack_plans(self.base.ip, cands, nlev)
        rates = np.repeat(self.base.rates[None, :], len(cands), axis=0)
        states = np.zeros((len(cands), gemm_state_size(nlev)), np.int64)
        outs = np.zeros((len(cands), n_counters(hw.n_boundaries)), np.int64)
        gemm_walk_many(ips, rates, self.base.lo, self.base.hi, states, outs)
        self.steps += int(outs[:, Counter.TILES].sum() + outs[:, Counter.SKIPPED_TILES].sum())
        cycles = outs[:, Counter.CYCLES]
        energy = np.asarray(cost.energy_pj(outs, hw), np.float64)
        reads, writes = cost.level_bytes(outs, len(hw.memories))
        dram = reads[-1] + writes[-1]
        if self.objective == "cycles":
            score, second = cycles, energy
        elif self.objective == "energy":
            score, second = energy, cycles
        else:
            score, second = energy * cycles, cycles
        for i, c in enumerate(cands):
            self.ranks[c] = (score[i].item(), int(dram[i]), second[i].item())
            self.metrics[c] = (int(cycles[i]), float(energy[i]))


def stack_plans(base_ip: np.ndarray, cands: list[Cand], nlev: int) -> np.ndarray:
    """GemmParam rows of `cands`: the op's plan (lowering.lower_gemm) with each candidate's dataflow,
    tiles and loop orders written into the fields a mapping sets."""
    fields = np.array([[flow] + [x for t in tiles for x in t] + [_ORDER_INDEX[o] for o in orders]
                       for flow, tiles, orders in cands], np.int64).reshape(len(cands), 1 + 4 * nlev)
    ips = np.repeat(base_ip[None, :], len(cands), axis=0)
    ips[:, GemmParam.DATAFLOW] = fields[:, 0]
    for lv in range(nlev):
        base = GemmParam.LEVEL_BASE + LEVEL_FIELDS * lv
        ips[:, base + LevelParam.TM] = fields[:, 1 + 3 * lv]
        ips[:, base + LevelParam.TK] = fields[:, 2 + 3 * lv]
        ips[:, base + LevelParam.TN] = fields[:, 3 + 3 * lv]
        ips[:, base + LevelParam.ORDER] = fields[:, 1 + 3 * nlev + lv]
    return ips


__all__ = ["search_gemm_mapping", "search_gemm", "SearchResult", "clear_cache", "cache_info", "stack_plans"]
