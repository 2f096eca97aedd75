"""Closed-form counts for the same plans the kernels walk: the independent oracle.

Nothing here iterates over tiles: every count is a product of per-axis sums over tile extents,
which have closed forms because tiles along an axis are all full except possibly the last.
Tests require these to equal the kernels' counts exactly.
"""
from __future__ import annotations

from ..enums import Dataflow, FoldOverlap


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def axis_sum(full: int, tile: int, f) -> int:
    """Sum of f(extent) over the tiles of size `tile` covering [0, full)."""
    whole, rem = divmod(full, tile)
    return whole * f(tile) + (f(rem) if rem else 0)


def gemm_array_counts(dims, batch, tile, dataflow, rows, cols, overlap, elem_bytes) -> dict[str, int]:
    """MACs, folds, array cycles and compute-unit traffic of an unmasked tiled GEMM.

    `tile` is the innermost (tm, tk, tn); docs/conventions/systolic.md §3 gives the per-fold formulas.
    """
    m, k, n = dims
    tm, tk, tn = tile
    mt, kt, nt = cdiv(m, tm), cdiv(k, tk), cdiv(n, tn)
    R, C = rows, cols

    def s_m(f):
        return axis_sum(m, tm, f)

    def s_k(f):
        return axis_sum(k, tk, f)

    def s_n(f):
        return axis_sum(n, tn, f)

    ident = lambda e: e        # noqa: E731
    if dataflow == Dataflow.OUTPUT_STATIONARY:
        fm, fn = (lambda e: cdiv(e, R)), (lambda e: cdiv(e, C))
        folds = s_m(fm) * kt * s_n(fn)
        slots = s_m(fm) * s_k(ident) * s_n(fn) * R * C
        if overlap == FoldOverlap.SERIAL:
            cycles = s_m(fm) * s_n(fn) * (s_k(ident) + kt * (R + C - 2))
        else:
            cycles = s_m(fm) * s_n(fn) * s_k(ident) + (R + C - 2)
        read_a = s_n(fn) * m * k
        read_b = s_m(fm) * k * n
        write_c = kt * m * n
    else:
        if dataflow == Dataflow.WEIGHT_STATIONARY:
            spatial = s_k(lambda e: cdiv(e, R)) * s_n(lambda e: cdiv(e, C))
            temporal_sum, temporal_tiles = s_m(ident), mt
            temporal_max = s_m(lambda e: max(e, R))
            read_a = s_n(lambda e: cdiv(e, C)) * m * k
            read_b = mt * k * n
        else:
            spatial = s_k(lambda e: cdiv(e, R)) * s_m(lambda e: cdiv(e, C))
            temporal_sum, temporal_tiles = s_n(ident), nt
            temporal_max = s_n(lambda e: max(e, R))
            read_a = nt * m * k
            read_b = s_m(lambda e: cdiv(e, C)) * k * n
        folds = spatial * temporal_tiles          # spatial already sums over the k and n (or m) tiles
        slots = spatial * temporal_sum * R * C
        if overlap == FoldOverlap.SERIAL:
            cycles = spatial * (temporal_sum + temporal_tiles * (2 * R + C - 2))
        else:
            cycles = spatial * temporal_max + (2 * R + C - 2)
        write_c = s_k(lambda e: cdiv(e, R)) * m * n
    read_c = write_c - m * n
    return {
        "macs": batch * m * k * n,
        "slot_macs": batch * slots,
        "folds": batch * folds,
        "tiles": batch * mt * kt * nt,
        "array_cycles": batch * cycles if overlap == FoldOverlap.SERIAL else
        batch * (cycles - _fill_drain(dataflow, R, C)) + _fill_drain(dataflow, R, C),
        "unit_read_a": batch * read_a * elem_bytes,
        "unit_read_b": batch * read_b * elem_bytes,
        "unit_read_c": batch * read_c * elem_bytes,
        "unit_write_c": batch * write_c * elem_bytes,
    }


def _fill_drain(dataflow, R, C) -> int:
    return R + C - 2 if dataflow == Dataflow.OUTPUT_STATIONARY else 2 * R + C - 2


def gemm_boundary_counts(dims, batch, tile, order: str, elem_bytes: int, shared_b: bool = False) -> dict[str, int]:
    """Fills and drains across the single on-chip level's boundary, for any loop order.

    An operand's tile is reloaded when its index changes between consecutive tile steps.  With
    loops listed outermost first, let j be the innermost loop over one of the operand's axes that
    has more than one trip: loops outside j that do not index the operand multiply its traffic;
    loops inside j do not (the tile stays).  If no axis of the operand has more than one trip it is
    loaded once per batch element (once in all when it is shared across the batch).
    The output drains once per residency, and each residency after the first brings its partial
    sums back in.
    """
    m, k, n = dims
    trips = {"m": cdiv(m, tile[0]), "k": cdiv(k, tile[1]), "n": cdiv(n, tile[2])}

    def residencies(axes: str) -> int:
        inner = [i for i, ax in enumerate(order) if ax in axes and trips[ax] > 1]
        if not inner:
            return 1
        factor = 1
        for ax in order[:inner[-1]]:
            if ax not in axes:
                factor *= trips[ax]
        return factor

    a = m * k * residencies("mk") * batch
    b_res = residencies("kn")
    # A shared B reloads per batch element only when its tile index ever changes.
    b = k * n * b_res * (1 if shared_b and b_res == 1 and trips["k"] * trips["n"] == 1 else batch)
    c_res = residencies("mn")
    return {
        "fill_a": a * elem_bytes,
        "fill_b": b * elem_bytes,
        "fill_c": batch * m * n * (c_res - 1) * elem_bytes,
        "drain_c": batch * m * n * c_res * elem_bytes,
    }


def softmax_ops(lengths) -> dict[str, int]:
    """Vector operations of a max-shifted softmax over rows of the given lengths (spec SM(m))."""
    total = sum(int(x) for x in lengths)
    nonempty = sum(1 for x in lengths if x > 0)
    return {"max": total - nonempty, "add": total + (total - nonempty), "exp": total, "div": total}
