"""The search's candidate spaces (docs/search_mapper.md): tile sizes, loop-order classes, nests.

A candidate here is a tuple (dataflow int, tiles innermost first, orders innermost first); mapeval
turns it into a row. The single-level principled space is generated in Numba instead
(kernels/mapspace.py); this module covers the exhaustive space of tiny problems and the spaces
of several on-chip levels (joint and coordinate descent).
"""
from __future__ import annotations

import functools

from .mapeval import ORDER_PREFERENCE
from .mapping import DIMS, footprint_bytes

MAX_SPLITS = 16                    # principled tiles split no axis into more than this many parts
EXHAUSTIVE_MAX_CANDIDATES = 12_000  # search every legal mapping when there are at most this many
EXHAUSTIVE_MAX_STEPS = 400_000      # ... and their walks visit at most this many innermost steps


def order_options(tile, enclosing) -> tuple[str, ...]:
    """One loop order per class of orders that walk the same tile sequence at this level."""
    multi = tuple(t < e for t, e in zip(tile, enclosing))
    return _ORDER_TABLE[multi]


def canonical_order(order: str, tile, enclosing) -> str:
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


def nests(t: int, bound: int, full: int) -> bool:
    """May a tile of `t` sit inside an enclosing extent `bound` of an axis of length `full`?"""
    return t <= bound and (bound == full or bound % t == 0)


class SizeSets:
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
            hit = self.memo[key] = principled_sizes(self.units[flow][d], bound, self.dims[d], self.extra[d])
        return hit


@functools.lru_cache(maxsize=1 << 14)
def principled_sizes(unit: int, bound: int, full: int, extra=frozenset()) -> tuple[int, ...]:
    """unit x 2^j, `bound` split into 2, 4, 8, ... equal unit-aligned parts, `bound`, and `extra`;
    none below ceil(full / MAX_SPLITS) except `extra`; only sizes that nest."""
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
    return tuple(sorted(s for s in sizes if nests(s, bound, full)))


def all_sizes(bound: int, full: int) -> tuple[int, ...]:
    return tuple(t for t in range(1, bound + 1) if nests(t, bound, full))


def level_tiles(bound, cap: int, eb: int, size_fn) -> list[tuple[int, int, int]]:
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


def chains(dims, usable, eb, size_fn) -> list[tuple]:
    """Every nest of fitting tiles, innermost first; size_fn(level, axis, extent) gives the sizes."""
    out = []

    def rec(level, bound, acc):
        if level < 0:
            out.append(tuple(reversed(acc)))
            return
        for tile in level_tiles(bound, usable[level], eb, lambda d, b: size_fn(level, d, b)):
            rec(level - 1, tile, acc + [tile])

    rec(len(usable) - 1, tuple(dims), [])
    return out


def order_choices(tiles, dims) -> list[tuple[str, ...]]:
    """Every combination of per-level order representatives for a nest of tiles."""
    combos = [()]
    for lv, tile in enumerate(tiles):
        enclosing = tiles[lv + 1] if lv + 1 < len(tiles) else dims
        combos = [c + (o,) for c in combos for o in order_options(tile, enclosing)]
    return combos


@functools.lru_cache(maxsize=1 << 16)
def steps(dims, tiles) -> int:
    """Innermost tile steps of one batch element (skipped ones included): the innermost tiles lie
    on a uniform grid (outer tiles are multiples of inner ones or the whole axis)."""
    out = 1
    for d in range(3):
        out *= -(-dims[d] // tiles[0][d])
    return out


def exhaustive_space(dims, flows, usable, eb, batch) -> list | None:
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
    nests_ = chains(dims, usable, eb, lambda lv, d, b: all_sizes(b, dims[d]))
    total = work = 0
    for tiles in nests_:
        n = 1
        for lv, tile in enumerate(tiles):
            n *= len(order_options(tile, tiles[lv + 1] if lv + 1 < levels else dims))
        total += n
        work += n * steps(dims, tiles)
    if total * len(flows) > EXHAUSTIVE_MAX_CANDIDATES or work * len(flows) * batch > EXHAUSTIVE_MAX_STEPS:
        return None
    return [(f, tiles, orders) for f in flows for tiles in nests_ for orders in order_choices(tiles, dims)]


def _chain_count(full: int, levels: int) -> int:
    """Legal nests of `levels` sizes along an axis of length `full` (capacity ignored)."""
    memo: dict[tuple[int, int], int] = {}

    def count(level, bound):
        if level == 0:
            return 1
        key = (level, bound)
        if key not in memo:
            memo[key] = sum(count(level - 1, t) for t in all_sizes(bound, full))
        return memo[key]

    return count(levels, full)


def joint_space(dims, flows, usable, eb, sizes: SizeSets, limit: int | None) -> list | None:
    """The whole principled space of several levels, or None when it holds more than `limit`."""
    out = []
    for f in flows:
        for tiles in chains(dims, usable, eb, lambda lv, d, b, f=f: sizes(f, d, b)):
            out.extend((f, tiles, orders) for orders in order_choices(tiles, dims))
            if limit is not None and len(out) > limit:
                return None
    return out


def neighbours(cand, lv: int, dims, usable, eb, sizes: SizeSets) -> list:
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
    for tile in level_tiles(enclosing, usable[lv], eb, size_fn):
        new_tiles = tiles[:lv] + (tile,) + tiles[lv + 1:]
        new_orders = list(orders)
        if lv > 0:       # the inner level's order, as the representative of its class inside the new tile
            new_orders[lv - 1] = canonical_order(orders[lv - 1], inner, tile)
        for order in order_options(tile, enclosing):
            new_orders[lv] = order
            out.append((flow, new_tiles, tuple(new_orders)))
    return out
