"""The GEMM mapping search (`mapper: search`): the best candidate by cycles, energy or edp.

For one Gemm op on one hardware config the search proposes candidates (docs/search_mapper.md) and
evaluates them with mapeval.evaluate: closed-form lower bounds first, then the engine's own
count-only tile walk, in one Numba call, skipping every candidate whose bound exceeds the best
value walked so far (exact: it could neither win nor tie).

Candidates (dataflow, one tile and one loop order per on-chip level):
* dataflows: every one the array supports (`mac_array.dataflows`), or the op's own when it names one;
* seeds, walked first: the heuristic mapping (mapper.py), each other dataflow's heuristic mapping,
  and the whole-extent mapping when it fits; so the search is never worse than the heuristic;
* tiles per level, nested in the enclosing tile and fitting the level (mapspace.py): every size
  (tiny problems: exhaustive, exact), else the principled sizes (powers of two times the array
  dimension, equal splits, the seeds' sizes; no finer than 1/MAX_SPLITS of the axis);
* loop orders: all six per level, one per class of orders that walk the same tile sequence.
One on-chip level: the whole principled space, generated in Numba. Several: the joint space when
it holds at most JOINT_MAX_CANDIDATES, else coordinate descent over levels from every seed.
A step budget (innermost tile steps walked, max(STEP_BUDGET, SEED_MULTIPLE x the seeds' steps))
bounds the work; it only binds when pruning leaves many candidates (SearchResult.dropped).

Results are cached on what they depend on: the op (shape, batch, sharing, step barrier, mask
bytes), the hardware fields the walks read plus the level sizes, and for energy and edp the
prices; walks themselves are remembered across design points (mapeval._MEMO).
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np

from . import mapeval
from .enums import Dataflow
from .errors import MappingError
from .mapeval import ORDER_PREFERENCE, evaluate, mapping_of, op_key, order_table, price_key, row_of, walk_key
from .mapper import OBJECTIVES, PRUNE_TOLERANCE, axis_units, default_gemm_mapping
from .mapping import GemmMapping, footprint_bytes
from .mapspace import (MAX_SPLITS, SizeSets, canonical_order, exhaustive_space, joint_space, neighbours,
                       order_options, principled_sizes, steps)

STEP_BUDGET = 200_000              # innermost tile steps the walks of one search may visit ...
SEED_MULTIPLE = 16                 # ... or this many times the seeds' own steps
JOINT_MAX_CANDIDATES = 6_000       # multi-level principled spaces above this are searched by descent
MAX_SWEEPS = 3                     # coordinate-descent sweeps over the levels
CACHE_SIZE = 8192
_ALL_ORDERS = order_table(ORDER_PREFERENCE)


@dataclass(frozen=True)
class SearchResult:
    """What one search found (cached; `seconds` is the time of the search that filled the cache)."""
    mapping: GemmMapping
    objective: str
    mode: str                      # "exhaustive" | "joint" | "descent"
    dropped: int                   # candidates left out to keep within the work budget
    candidates: int                # candidates evaluated (walked now or remembered from earlier walks)
    score: float                   # the chosen mapping's objective value
    heuristic_score: float | None  # the heuristic mapping's (None: the heuristic found no tile)
    cycles: int
    energy_pj: float
    steps: int                     # innermost tile steps the walks of this search visited (work)
    seconds: float
    pruned: int = 0                # candidates skipped because their lower bound exceeds the best value
    walked: int = 0                # candidates walked by this search (the others came from the memo)
    counts: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def improvement(self) -> float:
        """Fraction of the heuristic's objective value the search saves (0 when it keeps it)."""
        if not self.heuristic_score:
            return 0.0
        return 1.0 - self.score / self.heuristic_score


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
    key = (op_key(op), walk_key(hw), tuple(m.size_bytes for m in hw.on_chip),
           price_key(hw) if objective != "cycles" else None, objective)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        _STATS["hits"] += 1
        return hit
    _STATS["misses"] += 1
    result = _search(op, hw, objective)
    if result.counts is not None:
        result.counts.setflags(write=False)
    _CACHE[key] = result
    if len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def clear_cache() -> None:
    """Forget search results and remembered walks."""
    _CACHE.clear()
    mapeval.clear_memo()
    _STATS["hits"] = _STATS["misses"] = 0


def cache_info() -> dict:
    return {"hits": _STATS["hits"], "misses": _STATS["misses"], "size": len(_CACHE), "maxsize": CACHE_SIZE}


# --- the search ----------------------------------------------------------------------------------

def _search(op, hw, objective: str) -> SearchResult:
    start = time.perf_counter()
    dims = (op.m, op.k, op.n)
    nlev = len(hw.on_chip)
    default_flow = int(op.dataflow if op.dataflow is not None else hw.mac_array.dataflow)
    flows = (default_flow,) if op.dataflow is not None else tuple(int(f) for f in hw.mac_array.dataflows)
    seeds, heuristic = _seeds(op, hw, flows, default_flow)
    if not seeds:
        raise MappingError(f"no tile of the ({op.m}, {op.k}, {op.n}) GEMM fits the on-chip levels of {hw.name!r}")
    usable = tuple(level.usable_bytes for level in hw.on_chip)
    eb = hw.bytes_per_element
    budget = max(STEP_BUDGET, SEED_MULTIPLE * op.batch * max(steps(dims, c[1]) for c in seeds))
    space = exhaustive_space(dims, flows, usable, eb, op.batch)
    sizes = SizeSets(dims, {f: axis_units(Dataflow(f), hw.mac_array.rows, hw.mac_array.cols) for f in flows},
                     tuple(frozenset(t[d] for _, tiles, _ in seeds for t in tiles) for d in range(3)))
    if space is not None:
        mode, runs = "exhaustive", [_run(op, hw, objective, seeds, _rows(space), None, 0.0)]
    elif nlev == 1:
        mode, runs = "joint", [_run(op, hw, objective, seeds, _single_level_space(op, hw, flows, sizes), budget)]
    else:
        space = joint_space(dims, flows, usable, eb, sizes, JOINT_MAX_CANDIDATES)
        if space is not None:
            mode, runs = "joint", [_run(op, hw, objective, seeds, _rows(space), budget)]
        else:
            mode, runs = "descent", _descend(op, hw, objective, seeds, sizes, budget)
    final = runs[-1]
    recorded = op.dataflow is None and len(hw.mac_array.dataflows) > 1
    h_score = final.seed_scores[0] if heuristic else None
    return SearchResult(mapping_of(final.best, nlev, recorded), objective, mode, sum(r.dropped for r in runs),
                        sum(r.evaluated for r in runs), final.score, h_score, final.cycles, final.energy_pj,
                        sum(r.steps for r in runs), time.perf_counter() - start, sum(r.pruned for r in runs),
                        sum(r.walked for r in runs), final.counts)


def _run(op, hw, objective, seeds, rows: np.ndarray, budget, tolerance: float = PRUNE_TOLERANCE):
    """evaluate() over the seeds (first, in their order) and `rows` (duplicates of seeds dropped)."""
    seed_rows = np.array([row_of(*s) for s in seeds], np.int64)
    if len(rows):
        rows = rows[~(rows[:, None, :] == seed_rows[None, :, :]).all(axis=2).any(axis=1)]
    cands = np.concatenate([seed_rows, rows]) if len(rows) else seed_rows
    return evaluate(op, hw, cands, objective, n_seeds=len(seed_rows), budget=budget, tolerance=tolerance)


def _rows(space) -> np.ndarray:
    if not space:
        return np.zeros((0, 1), np.int64)
    return np.array([row_of(*c) for c in space], np.int64)


def _single_level_space(op, hw, flows, sizes: SizeSets) -> np.ndarray:
    """The principled space of one level for every dataflow, in tie-break order (Numba)."""
    from .kernels.mapspace import level_tiles

    dims = np.array([op.m, op.k, op.n], np.int64)
    cap = hw.on_chip[0].usable_bytes // hw.bytes_per_element
    parts = [level_tiles(f, *(np.array(sizes(f, d, int(dims[d])), np.int64) for d in range(3)), cap, dims,
                         *_ALL_ORDERS, 1) for f in sorted(flows, key=list(flows).index)]
    return np.concatenate(parts) if parts else np.zeros((0, 5), np.int64)


def _seeds(op, hw, flows, default_flow) -> tuple[list, bool]:
    """Seed candidates, the heuristic's first: each dataflow's heuristic mapping (or, when it finds
    no tile, an array-sized tile halved until it fits), and the whole-extent mapping when it fits."""
    seeds = []
    heuristic = False
    dims = (op.m, op.k, op.n)
    nlev = len(hw.on_chip)
    for f in sorted(flows, key=lambda f: f != default_flow):
        try:
            h = default_gemm_mapping(replace(op, dataflow=Dataflow(f)) if f != default_flow else op, hw)
            seeds.append((f, tuple(h.tiles), tuple(h.orders)))
            heuristic = heuristic or f == default_flow
        except MappingError:
            seed = _array_sized(hw, f, dims)
            if seed is not None:
                seeds.append(seed)
    if all(footprint_bytes(dims, hw.bytes_per_element) <= lv.usable_bytes for lv in hw.on_chip):
        seeds += [(f, tuple(dims for _ in range(nlev)), tuple("mnk" for _ in range(nlev))) for f in flows]
    unique = list(dict.fromkeys(seeds))
    return unique, heuristic


def _array_sized(hw, flow: int, dims):
    """The array-sized tile, clipped to the problem, its longest side halved until it fits every level."""
    arr = hw.mac_array
    tile = [min(u, d) for u, d in zip(axis_units(Dataflow(flow), arr.rows, arr.cols), dims)]
    while footprint_bytes(tile, hw.bytes_per_element) > min(lv.usable_bytes for lv in hw.on_chip):
        axis = tile.index(max(tile))
        if tile[axis] == 1:
            return None
        tile[axis] = -(-tile[axis] // 2)
    return (flow, tuple(tuple(tile) for _ in hw.on_chip), tuple("mnk" for _ in hw.on_chip))


def _descend(op, hw, objective, seeds, sizes: SizeSets, budget: int) -> list:
    """Coordinate descent from every seed: each level's (tile, order), outermost first, is replaced by
    its best principled alternative with the other levels fixed, for at most MAX_SWEEPS sweeps or
    until a sweep changes nothing; each step may walk half of the budget left. The last run ranks
    the final points of every seed (all remembered: no walks)."""
    dims = (op.m, op.k, op.n)
    usable = tuple(level.usable_bytes for level in hw.on_chip)
    current = list(seeds)
    runs = []
    left = budget
    for _ in range(MAX_SWEEPS):
        changed = False
        for lv in reversed(range(len(usable))):
            for i, cand in enumerate(current):
                rows = _rows(neighbours(cand, lv, dims, usable, hw.bytes_per_element, sizes))
                out = _run(op, hw, objective, [cand], rows, max(0, left // 2))
                left -= out.steps
                runs.append(out)
                best = _as_cand(out.best, len(usable))
                if best != cand:
                    current[i] = best
                    changed = True
        if not changed:
            break
    heuristic = _run(op, hw, objective, [seeds[0]], _rows([]), None)      # remembered: no walk
    runs.append(_run(op, hw, objective, list(dict.fromkeys(current)), _rows([]), None))
    runs[-1] = replace(runs[-1], seed_scores=(heuristic.score,))
    return runs


def _as_cand(row, nlev: int):
    m = mapping_of(row, nlev, True)
    return (int(m.dataflow), m.tiles, m.orders)


# Kept for the tests and docs: the loop-order classes and the size rules live in mapspace.py.
_order_options = order_options
_canonical_order = canonical_order
__all__ = ["search_gemm_mapping", "search_gemm", "SearchResult", "clear_cache", "cache_info", "MAX_SPLITS",
           "principled_sizes"]
