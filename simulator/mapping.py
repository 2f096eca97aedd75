"""Mappings: how a primitive op is tiled over the memory hierarchy, and the checks that it fits."""
from __future__ import annotations

from dataclasses import dataclass

from .enums import DATAFLOW_NAMES
from .errors import MappingError
from .kernels.params import LOOP_ORDERS

DIMS = "mkn"


@dataclass(frozen=True)
class GemmMapping:
    """Tile sizes (tm, tk, tn) and loop order per on-chip level, innermost level first.

    A loop order names the three tile loops of that level outermost first, e.g. "mnk" keeps the
    output tile resident while k advances.  An outer level's tile must be a multiple of the inner
    level's tile along each dimension, or span the whole dimension, so tiles nest exactly.
    """
    tiles: tuple[tuple[int, int, int], ...]
    orders: tuple[str, ...]
    dataflow: object = None      # a Dataflow for reconfigurable arrays; None: the hardware's default

    def describe(self) -> str:
        parts = [f"L{i} {tm}x{tk}x{tn} {order}" for i, ((tm, tk, tn), order) in enumerate(zip(self.tiles, self.orders))]
        if self.dataflow is not None:
            parts.append(DATAFLOW_NAMES[self.dataflow])
        return "; ".join(parts)


def footprint_bytes(tile: tuple[int, int, int], elem_bytes: int) -> int:
    """Bytes one working set of (A, B, C) tiles occupies."""
    tm, tk, tn = tile
    return (tm * tk + tk * tn + tm * tn) * elem_bytes


def check_gemm_mapping(mapping: GemmMapping, dims: tuple[int, int, int], hw) -> None:
    """Raise MappingError listing every reason `mapping` cannot run this (M, K, N) GEMM on `hw`."""
    problems = mapping_problems(mapping, dims, hw)
    if problems:
        raise MappingError("invalid GEMM mapping for (M, K, N) = %s: %s" % (dims, "; ".join(m for _, m in problems)))


def mapping_problems(mapping: GemmMapping, dims: tuple[int, int, int], hw) -> list[tuple[str, str]]:
    """Every reason `mapping` cannot run this GEMM on `hw`, as (key path inside the mapping, message):
    'dataflow', 'tiles', 'tiles[i]', 'loop_orders[i]' (level i, innermost first)."""
    problems = []
    levels = hw.on_chip
    if mapping.dataflow is not None and mapping.dataflow not in hw.mac_array.dataflows:
        supported = ", ".join(DATAFLOW_NAMES[f] for f in hw.mac_array.dataflows)
        problems.append(("dataflow", f"dataflow {DATAFLOW_NAMES[mapping.dataflow]} is not one the array supports "
                                     f"({supported})"))
    if len(mapping.tiles) != len(levels) or len(mapping.orders) != len(levels):
        names = ", ".join(level.name for level in levels)
        problems.append(("tiles", f"mapping has {len(mapping.tiles)} tile levels and {len(mapping.orders)} loop orders; "
                                  f"the hardware has {len(levels)} on-chip levels ({names}), innermost first"))
        return problems
    for i, (tile, order, level) in enumerate(zip(mapping.tiles, mapping.orders, levels)):
        if order not in LOOP_ORDERS:
            problems.append((f"loop_orders[{i}]", f"L{i}: loop order {order!r} is not one of {', '.join(LOOP_ORDERS)}"))
        for d, (t, full) in enumerate(zip(tile, dims)):
            if not 1 <= t <= full:
                problems.append((f"tiles[{i}]", f"L{i}: tile {DIMS[d]}={t} outside [1, {full}]"))
        need = footprint_bytes(tile, hw.bytes_per_element)
        if need > level.usable_bytes:
            problems.append((f"tiles[{i}]", f"L{i} ({level.name}): tile {tuple(tile)} needs {need} bytes, "
                                            f"{level.usable_bytes} usable"
                                            f"{' (half of a double-buffered level)' if level.double_buffered else ''}"))
        if i + 1 < len(mapping.tiles):
            outer = mapping.tiles[i + 1]
            for d in range(3):
                if outer[d] != dims[d] and outer[d] % tile[d] != 0:
                    problems.append((f"tiles[{i + 1}]", f"L{i + 1}: tile {DIMS[d]}={outer[d]} is neither the whole "
                                                        f"dimension ({dims[d]}) nor a multiple of L{i}'s {tile[d]}"))
                if outer[d] < tile[d]:
                    problems.append((f"tiles[{i + 1}]", f"L{i + 1}: tile {DIMS[d]}={outer[d]} smaller than L{i}'s "
                                                        f"{tile[d]}"))
    return problems
