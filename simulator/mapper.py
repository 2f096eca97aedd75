"""Proposes mappings.  It never prices anything itself; the engine evaluates what it proposes.

The default (heuristic) GEMM mapping, per on-chip level from the outermost inwards:
* loop order "mnk": k innermost, so an output tile stays resident until it is complete and no
  partial sum crosses the level's boundary;
* tile sizes are power-of-two multiples of the array dimension each GEMM axis is mapped to (so
  inner tiles divide outer ones and spatial folds are full), clamped to the problem (or to the
  enclosing level's tile);
* two kinds of tile are proposed and the one that re-reads fewer words of A and B from the
  enclosing level wins (ties: the larger tile):
  - whole reduction (tk = K) when it fits: an A panel is then read once per m-tile; tm is grown
    first (or tn first) as far as it fits, then the other axis;
  - output-stationary: the smallest tk, tm and tn grown alternately, then tk grown into what is
    left (k is innermost, so tk does not change how often A and B are re-read).
* finally tm is halved while the output has fewer than MIN_OUTPUT_TILES tiles and re-reads do
  not grow, so that loads and write-backs can overlap compute (double buffering needs more than
  one tile to overlap anything);
* a masked GEMM (causal, banded, windowed) caps the innermost tile's m extent and masked-axis
  extent at half the mean valid row length, so tiles outside the mask are skipped.
"""
from __future__ import annotations

import functools

from .enums import Dataflow
from .errors import MappingError
from .mapping import GemmMapping, footprint_bytes

MIN_OUTPUT_TILES = 4
MAPPERS = ("heuristic", "search")
OBJECTIVES = ("cycles", "energy", "edp")


def choose_gemm_mapping(op, hw, mapper: str = "heuristic", objective: str = "cycles") -> GemmMapping:
    """The mapping a Gemm op runs with: the heuristic's, or the best the search finds by `objective`."""
    if mapper == "search":
        from .search import search_gemm_mapping

        return search_gemm_mapping(op, hw, objective)
    return default_gemm_mapping((op.m, op.k, op.n), hw, op.mask, op.mask_axis)


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


def _candidates(unit: int, bound: int) -> list[int]:
    """Sizes an axis may take inside `bound`: unit * 2**j below it, then the bound itself."""
    sizes = []
    size = unit
    while size < bound:
        sizes.append(size)
        size *= 2
    sizes.append(bound)
    return sizes


def default_gemm_mapping(dims: tuple[int, int, int], hw, mask=None, mask_axis: str = "n") -> GemmMapping:
    """The heuristic mapping of an (M, K, N) GEMM on `hw` (see the module docstring).

    With a mask (per-row ranges on the n or k axis), the innermost tile's m extent and masked-axis
    extent are capped at half the mean valid row length (never below the array granule), so that
    tiles outside a band or a triangle can be skipped.
    """
    units = axis_units(hw.mac_array.dataflow, hw.mac_array.rows, hw.mac_array.cols)
    usable = tuple((level.name, level.usable_bytes) for level in hw.on_chip)
    stats = None if mask is None else (mask.valid(), max(1, len(mask.lo)))
    return _heuristic(tuple(dims), units, hw.bytes_per_element, usable, stats, mask_axis)


@functools.lru_cache(maxsize=65536)
def _heuristic(dims, units, eb, usable, mask_stats, mask_axis) -> GemmMapping:
    """The heuristic mapping from only the fields it depends on (cached: sweeps repeat them)."""
    tiles: list[tuple[int, int, int]] = []
    bound = tuple(dims)
    for name, capacity in reversed(usable):
        tile = _fit_tile(bound, dims, units, capacity, eb)
        if tile is None:
            raise MappingError(f"no tile of the ({dims[0]}, {dims[1]}, {dims[2]}) GEMM fits level {name!r} "
                               f"({capacity} usable bytes)")
        tiles.append(tile)
        bound = tile
    tiles.reverse()
    if mask_stats is not None:
        tiles[0] = _cap_for_mask(tiles[0], units, mask_stats, mask_axis)
    return GemmMapping(tuple(tiles), tuple("mnk" for _ in tiles))


def _cap_for_mask(tile, units, mask_stats, mask_axis):
    """Shrink the innermost tile along m and the masked axis to about half the mean valid length."""
    valid, rows = mask_stats
    cap = max(1, valid // (2 * rows))
    out = list(tile)
    for axis in (0, 1 if mask_axis == "k" else 2):
        unit = units[axis]
        size = unit
        while size * 2 <= cap:
            size *= 2
        # sizes stay unit * 2**j (or the whole axis), so they still divide any enclosing tile
        if size < out[axis]:
            out[axis] = size
    return tuple(out)


def _fit_tile(bound, dims, units, capacity, eb):
    """The heuristic's tile for one level, or None when not even the smallest one fits."""
    sm, sk, sn = (_nested_candidates(u, b, full) for u, b, full in zip(units, bound, dims))

    def fits(i, tk, j):
        return footprint_bytes((sm[i], tk, sn[j]), eb) <= capacity

    fitting_k = [tk for tk in sk if fits(0, tk, 0)]
    if not fitting_k:
        return None
    tk = fitting_k[-1]      # used by can() while growing the whole-reduction options
    step = {0: lambda i, j: (i + 1, j), 1: lambda i, j: (i, j + 1)}

    def can(ij):
        return ij[0] < len(sm) and ij[1] < len(sn) and fits(ij[0], tk, ij[1])

    def grow(axes):
        """Apply growth steps along `axes` in turn, skipping an axis that no longer fits."""
        ij = (0, 0)
        stuck = set()
        for axis in axes:
            if axis in stuck:
                continue
            nxt = step[axis](*ij)
            if can(nxt):
                ij = nxt
            else:
                stuck.add(axis)
        return ij

    longest = len(sm) + len(sn) + len(sk)
    options = []
    if fitting_k[-1] == bound[1]:
        # The whole reduction fits: grow one output axis as far as it goes, then the other.
        options += [grow([0] * longest + [1] * longest), grow([1] * longest + [0] * longest)]
    # Output-stationary at this level: a short reduction tile, the output tile grown balanced,
    # then the reduction tile grown into what is left.
    tk = fitting_k[0]
    i, j = grow([0, 1] * longest)
    while fitting_k.index(tk) + 1 < len(fitting_k) and fits(i, fitting_k[fitting_k.index(tk) + 1], j):
        tk = fitting_k[fitting_k.index(tk) + 1]
    whole_k = fitting_k[-1]
    tiles = [(sm[i], whole_k, sn[j]) for i, j in options] + [(sm[i], tk, sn[j])]
    best = min(tiles, key=lambda t: (_mnk_rereads(dims, t), -(t[0] * t[1] * t[2])))
    return _split_for_overlap(best, dims, sm)


def _split_for_overlap(tile, dims, sm):
    """Halve tm while the output has fewer than MIN_OUTPUT_TILES tiles and re-reads do not grow.

    One tile cannot overlap its loads and write-back with compute; a few can, at no extra traffic.
    """
    tm, tk, tn = tile
    base = _mnk_rereads(dims, tile)
    while -(-dims[0] // tm) * -(-dims[2] // tn) < MIN_OUTPUT_TILES:
        smaller = [s for s in sm if s < tm]
        if not smaller or _mnk_rereads(dims, (smaller[-1], tk, tn)) > base:
            break
        tm = smaller[-1]
    return tm, tk, tn


def _mnk_rereads(dims, tile):
    """Words of A and B read beyond the compulsory footprint under loop order mnk."""
    (m, k, n), (tm, tk, tn) = dims, tile
    mt, kt, nt = -(-m // tm), -(-k // tk), -(-n // tn)
    a = m * k * (nt if kt > 1 else 1)
    b = k * n * (mt if (kt > 1 or nt > 1) else 1)
    return a + b - m * k - k * n


def _nested_candidates(unit: int, bound: int, full: int) -> list[int]:
    """Candidate sizes inside an enclosing tile of `bound` (which is the whole axis or a unit multiple)."""
    if bound == full:
        return _candidates(unit, full)
    sizes = [s for s in _candidates(unit, bound) if bound % s == 0]
    return sizes or [bound]
