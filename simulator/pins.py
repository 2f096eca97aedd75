"""Pinned mappings: a workload layer's `mapping` key fixes the tiling of its GEMM ops.

    mapping: {tiles: [[tm, tk, tn], ...], loop_orders: [mnk, ...], dataflow: ...}   # a layer with one GEMM
    mapping: {<op name>: {tiles: [...], loop_orders: [...]}, ...}                     # keyed by op name

`tiles` and `loop_orders` give one entry per on-chip level, innermost first; `dataflow` is
optional (an array that lists several). What the workload alone decides is checked when it is
loaded (shape, op names, tiles within the op, nesting, as many orders as tiles); what the hardware
decides (level count, fit, dataflow) is checked on every config before anything runs. Either way
one ConfigError names the workload file and the key path (and the hardware file).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from .checks import Checker, join
from .enums import DATAFLOW_NAMES, Dataflow
from .errors import ConfigError, MappingError
from .kernels.params import LOOP_ORDERS
from .mapping import DIMS, GemmMapping, mapping_problems

_ENTRY_KEYS = ("tiles", "loop_orders", "dataflow")


class PinnedMappingError(ConfigError, MappingError):
    """A pinned mapping that cannot run on a hardware config (a ConfigError of the workload file;
    a MappingError too, so a sweep reports the design point as invalid and goes on)."""


@dataclass(frozen=True)
class Pin:
    op: str                       # the GEMM op's name in the layer graph (the `op` report column)
    path: str                     # key path below the layer: "mapping" or "mapping.<op>"
    dims: tuple[int, int, int]    # the op's (M, K, N)
    mapping: GemmMapping


def parse_pins(chk: Checker, path: str, raw, spec) -> tuple[Pin, ...]:
    """The pins of layer `spec` from its `mapping` value; problems go to `chk` (key paths from `path`)."""
    from .graph import Gemm, Recurrence
    from .variants import REGISTRY

    graph = REGISTRY[spec.variant].build(spec)
    gemms = {op.name: op for op in graph.ops if isinstance(op, Gemm)}
    if not isinstance(raw, dict):
        chk.add(path, "expected a mapping: {tiles: [[tm, tk, tn], ...], loop_orders: [...]} for a layer with one "
                      f"GEMM op, or such mappings keyed by op name; GEMM ops of this layer: {_names(gemms)}")
        return ()
    if raw and set(raw) <= set(_ENTRY_KEYS) and ("tiles" in raw or "loop_orders" in raw):
        if len(gemms) != 1:
            first = next(iter(gemms), "op")
            chk.add(path, f"this {spec.variant} layer has {len(gemms)} GEMM ops ({_names(gemms)}): key the mapping "
                          f"by op name, e.g. mapping: {{{first}: {{tiles: ..., loop_orders: ...}}}}")
            return ()
        (name, op), = gemms.items()
        pin = _parse_entry(chk, path, raw, name, op)
        return (pin,) if pin else ()
    others = {op.name: op for op in graph.ops if not isinstance(op, Gemm)}
    inner = {f"{op.name}.{b.name}" for op in graph.ops if isinstance(op, Recurrence) for b in op.body}
    pins = []
    for key, entry in raw.items():
        p = join(path, str(key))
        if key in gemms:
            pin = _parse_entry(chk, p, entry, key, gemms[key])
            if pin:
                pins.append(pin)
        elif key in inner:
            chk.add(p, f"op {key!r} runs inside a recurrence, whose mapper keeps the weights resident across steps; "
                       f"it cannot be pinned (GEMM ops of this layer: {_names(gemms)})")
        elif key in others:
            chk.add(p, f"op {key!r} is not a GEMM ({type(others[key]).__name__}); only GEMM ops take a mapping "
                       f"(GEMM ops of this layer: {_names(gemms)})")
        else:
            close = difflib.get_close_matches(str(key), list(gemms) + list(others), n=1)
            hint = ""
            if close:
                hint = f" (did you mean {close[0]!r}?" + (")" if close[0] in gemms else ", not a GEMM)")
            chk.add(p, f"unknown op{hint}; GEMM ops of this layer: {_names(gemms)}")
    return tuple(pins)


def _names(ops) -> str:
    return ", ".join(ops) if ops else "none"


def _parse_entry(chk: Checker, path: str, entry, name: str, op) -> Pin | None:
    start = len(chk.problems)
    d = chk.mapping(path, entry, ("tiles", "loop_orders"), optional=("dataflow",))
    dims = (op.m, op.k, op.n)
    tiles = _parse_tiles(chk, join(path, "tiles"), d["tiles"], dims) if "tiles" in d else None
    orders = None
    if "loop_orders" in d:
        items = chk.sequence(join(path, "loop_orders"), d["loop_orders"], min_len=1,
                             what="loop orders (one per on-chip level, innermost first)")
        orders = [chk.choice(join(join(path, "loop_orders"), i), o, LOOP_ORDERS) for i, o in enumerate(items)]
        if tiles is not None and len(items) != len(tiles):
            chk.add(join(path, "loop_orders"), f"expected one loop order per tile level ({len(tiles)}, innermost "
                                               f"first), got {len(items)}")
    flow = chk.choice(join(path, "dataflow"), d["dataflow"], DATAFLOW_NAMES) if "dataflow" in d else None
    if len(chk.problems) > start or tiles is None or orders is None:
        return None
    dataflow = Dataflow(DATAFLOW_NAMES.index(flow)) if flow else None
    return Pin(name, path.split(".", 1)[1] if "." in path else path, dims,
               GemmMapping(tuple(tiles), tuple(orders), dataflow))


def _parse_tiles(chk: Checker, path: str, value, dims) -> list | None:
    items = chk.sequence(path, value, min_len=1, what="tiles ([tm, tk, tn] per on-chip level, innermost first)")
    tiles = []
    for j, item in enumerate(items):
        p = join(path, j)
        if not isinstance(item, list) or len(item) != 3:
            chk.add(p, f"expected [tm, tk, tn] (three integers), got {item!r}")
            tiles.append(None)
            continue
        tile = [chk.integer(join(p, d), t, minimum=1) for d, t in enumerate(item)]
        if None in tile:
            tiles.append(None)
            continue
        for d, (t, full) in enumerate(zip(tile, dims)):
            if t > full:
                chk.add(p, f"tile {DIMS[d]}={t} exceeds the op's {DIMS[d].upper()}={full}")
        tiles.append(tuple(tile))
    for j in range(1, len(tiles)):
        inner, outer = tiles[j - 1], tiles[j]
        if inner is None or outer is None:
            continue
        for d in range(3):
            if outer[d] < inner[d] or (outer[d] != dims[d] and outer[d] % inner[d]):
                chk.add(join(path, j), f"tile {DIMS[d]}={outer[d]} must be a multiple of the inner level's "
                                       f"{inner[d]} or the whole {DIMS[d].upper()}={dims[d]} (tiles nest)")
    return None if None in tiles else tiles


def check_pins(workload, configs) -> None:
    """Raise PinnedMappingError (every problem, each with its key path) when a pinned mapping cannot
    run on one of the hardware configs."""
    problems = []
    for hw in configs:
        for i, spec in enumerate(workload.layers):
            for pin in spec.pins:
                for sub, message in mapping_problems(pin.mapping, pin.dims, hw):
                    where = f"layers[{i}].{pin.path}.{sub}"
                    problems.append((where, f"{message} on hardware {hw.source} (layer {spec.name!r}, op {pin.op!r})"))
    if problems:
        raise PinnedMappingError(workload.source, problems)
