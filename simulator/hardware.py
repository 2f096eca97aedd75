"""The modeled accelerator: frozen dataclasses built from a validated YAML dict."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import yaml_io
from .checks import Checker, describe, join
from .limits import HW_FIELDS, MAX_MEMORY_LEVELS
from .enums import (DATAFLOW_NAMES, FOLD_OVERLAP_NAMES, FORMAT_BYTES, FORMAT_NAMES, SCHEDULE_NAMES,
                    VEC_KIND_NAMES, Dataflow, FoldOverlap, NumberFormat)


@dataclass(frozen=True)
class MacArray:
    rows: int
    cols: int
    dataflow: Dataflow                 # the default (first listed) dataflow
    fold_overlap: FoldOverlap
    mac_energy_pj: float
    dataflows: tuple[Dataflow, ...] = ()   # every dataflow a reconfigurable array supports

    def __post_init__(self):
        if not self.dataflows:
            object.__setattr__(self, "dataflows", (self.dataflow,))


@dataclass(frozen=True)
class Area:
    """Area prices (mm^2) of the components; area_mm2 = MACs + vector lanes + on-chip MiB."""
    mm2_per_mac: float
    mm2_per_vector_lane: float
    mm2_per_mib: tuple[float, ...]     # one per on-chip level, innermost first


@dataclass(frozen=True)
class VectorUnit:
    lanes: int
    cycles_per_op: tuple[int, ...]   # indexed by VecKind
    op_energy_pj: float


@dataclass(frozen=True)
class MemoryLevel:
    name: str
    size_bytes: int | None           # None: off-chip, unbounded
    read_bw_bytes_per_cycle: float
    write_bw_bytes_per_cycle: float
    read_pj_per_byte: float
    write_pj_per_byte: float
    double_buffered: bool

    @property
    def usable_bytes(self) -> int | None:
        """Capacity one working set may use: half the level when it is double-buffered."""
        if self.size_bytes is None:
            return None
        return self.size_bytes // 2 if self.double_buffered else self.size_bytes


@dataclass(frozen=True)
class Hardware:
    name: str
    clock_hz: float
    number_format: NumberFormat
    mac_array: MacArray
    vector_unit: VectorUnit
    memories: tuple[MemoryLevel, ...]
    description: str = ""
    area: Area | None = None
    schedule: str = "overlapped"     # how a layer's ops share the units (simulator/schedule)
    source: str = "<dict>"
    sha256: str = ""
    raw: Any = field(default=None, repr=False, compare=False)   # the validated dict, for sweeps

    @property
    def bytes_per_element(self) -> int:
        return FORMAT_BYTES[self.number_format]

    @property
    def format_name(self) -> str:
        return FORMAT_NAMES[self.number_format]

    @property
    def dataflow_name(self) -> str:
        return "|".join(DATAFLOW_NAMES[f] for f in self.mac_array.dataflows)

    @property
    def area_mm2(self) -> float | None:
        """Silicon area of the MAC array, the vector unit and the on-chip memories (None without an
        `area:` section)."""
        if self.area is None:
            return None
        a = self.area
        return (self.mac_array.rows * self.mac_array.cols * a.mm2_per_mac
                + self.vector_unit.lanes * a.mm2_per_vector_lane
                + sum(level.size_bytes / 2 ** 20 * price for level, price in zip(self.on_chip, a.mm2_per_mib)))

    @property
    def on_chip(self) -> tuple[MemoryLevel, ...]:
        return self.memories[:-1]

    @property
    def n_boundaries(self) -> int:
        """Transfer boundaries: one between each adjacent pair of memory levels."""
        return len(self.memories) - 1

    def __getstate__(self):
        # the engine's per-hardware plan cache (engine._memo) stays in this process, and so does a
        # sweep's point id (sweep/gemmrows.py): a number only this process's caches know
        state = dict(self.__dict__)
        state.pop("_plans", None)
        state.pop("_gemm_point", None)
        return state

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>", text: str | None = None) -> "Hardware":
        chk = Checker(source)
        hw = _parse_hardware(chk, data)
        chk.raise_if_any()
        digest = hashlib.sha256(text.encode()).hexdigest() if text is not None else ""
        return cls(**hw, source=source, sha256=digest, raw=data)


def load_hardware(path: str | Path) -> Hardware:
    """Load and validate a hardware YAML file; raise ConfigError listing every problem."""
    data, text = yaml_io.load_file(path)
    return Hardware.from_dict(data, source=str(path), text=text)


# --- parsing ---------------------------------------------------------------------------------
_TOP_REQUIRED = ("name", "clock_hz", "number_format", "mac_array", "vector_unit", "memories")
_MEM_REQUIRED = ("name", "size_bytes", "read_bw_bytes_per_cycle", "write_bw_bytes_per_cycle",
                 "read_pj_per_byte", "write_pj_per_byte")


def _parse_hardware(chk: Checker, data: Any) -> dict:
    top = chk.mapping("", data, _TOP_REQUIRED, optional=("description", "area", "schedule"))
    fmt = chk.choice("number_format", top.get("number_format"), FORMAT_NAMES) if "number_format" in top else None
    array = _parse_array(chk, top["mac_array"]) if "mac_array" in top else None
    vector = _parse_vector(chk, top["vector_unit"]) if "vector_unit" in top else None
    memories = _parse_memories(chk, top["memories"]) if "memories" in top else None
    out = {
        "name": chk.string("name", top.get("name")) if "name" in top else None,
        "clock_hz": _field(chk, "clock_hz", top) if "clock_hz" in top else None,
        "number_format": NumberFormat(FORMAT_NAMES.index(fmt)) if fmt else None,
        "mac_array": array,
        "vector_unit": vector,
        "memories": memories,
        "description": top.get("description", "") if isinstance(top.get("description", ""), str) else "",
        "area": _parse_area(chk, top["area"], memories) if "area" in top else None,
        "schedule": chk.choice("schedule", top.get("schedule", SCHEDULE_NAMES[0]), SCHEDULE_NAMES),
    }
    if "description" in top and not isinstance(top["description"], str):
        chk.add("description", f"expected a string, got {describe(top['description'])}")
    if array and memories and fmt:
        _check_array_fits(chk, array, memories, fmt)
    return out


def _field(chk: Checker, path: str, d: dict):
    """The value of the last key of `path` in mapping `d`, checked against its documented range;
    None when absent (the mapping check reports a missing key) or wrong."""
    key = path.rpartition(".")[2]
    return chk.field(path, d[key], HW_FIELDS[path]) if key in d else None


def _parse_array(chk: Checker, data: Any) -> MacArray | None:
    p = "mac_array"
    d = chk.mapping(p, data, ("rows", "cols", "dataflow", "mac_energy_pj"), optional=("fold_overlap",))
    rows = _field(chk, f"{p}.rows", d)
    cols = _field(chk, f"{p}.cols", d)
    flows = _parse_dataflows(chk, f"{p}.dataflow", d["dataflow"]) if "dataflow" in d else None
    flow = flows[0] if flows else None
    overlap = chk.choice(f"{p}.fold_overlap", d.get("fold_overlap", "serial"), FOLD_OVERLAP_NAMES)
    energy = _field(chk, f"{p}.mac_energy_pj", d)
    if None in (rows, cols, flow, overlap, energy):
        return None
    return MacArray(rows, cols, flow, FoldOverlap(FOLD_OVERLAP_NAMES.index(overlap)), energy, tuple(flows))


def _parse_dataflows(chk: Checker, path: str, value: Any) -> list[Dataflow] | None:
    """One dataflow, or a list of them for an array that can be reconfigured per op."""
    values = value if isinstance(value, list) else [value]
    if not values:
        chk.add(path, f"expected one of {', '.join(DATAFLOW_NAMES)}, or a non-empty list of them; got []")
        return None
    names = [chk.choice(path if not isinstance(value, list) else join(path, i), v, DATAFLOW_NAMES)
             for i, v in enumerate(values)]
    if None in names:
        return None
    if len(set(names)) != len(names):
        chk.add(path, f"lists a dataflow twice: {', '.join(names)}")
        return None
    return [Dataflow(DATAFLOW_NAMES.index(n)) for n in names]


def _parse_area(chk: Checker, data: Any, memories) -> Area | None:
    p = "area"
    d = chk.mapping(p, data, ("mm2_per_mac", "mm2_per_vector_lane", "mm2_per_mib"))
    mac = _field(chk, f"{p}.mm2_per_mac", d)
    lane = _field(chk, f"{p}.mm2_per_vector_lane", d)
    per_mib = None
    if "mm2_per_mib" in d:
        items = chk.sequence(f"{p}.mm2_per_mib", d["mm2_per_mib"], min_len=1)
        values = [chk.field(join(f"{p}.mm2_per_mib", i), v, HW_FIELDS["area.mm2_per_mib[]"])
                  for i, v in enumerate(items)]
        if memories is not None and len(items) != len(memories) - 1:
            chk.add(f"{p}.mm2_per_mib", f"expected one price per on-chip level ({len(memories) - 1}), "
                                        f"innermost first; got {len(items)}")
        elif None not in values and values:
            per_mib = tuple(values)
    if None in (mac, lane, per_mib):
        return None
    return Area(mac, lane, per_mib)


def _parse_vector(chk: Checker, data: Any) -> VectorUnit | None:
    p = "vector_unit"
    d = chk.mapping(p, data, ("lanes", "cycles_per_op", "op_energy_pj"))
    lanes = _field(chk, f"{p}.lanes", d)
    energy = _field(chk, f"{p}.op_energy_pj", d)
    cycles = None
    if "cycles_per_op" in d:
        cp = chk.mapping(f"{p}.cycles_per_op", d["cycles_per_op"], VEC_KIND_NAMES)
        values = [chk.field(f"{p}.cycles_per_op.{k}", cp[k], HW_FIELDS["vector_unit.cycles_per_op.*"])
                  if k in cp else None for k in VEC_KIND_NAMES]
        cycles = tuple(values) if None not in values else None
    if None in (lanes, energy, cycles):
        return None
    return VectorUnit(lanes, cycles, energy)


def _parse_memories(chk: Checker, data: Any) -> tuple[MemoryLevel, ...] | None:
    items = chk.sequence("memories", data, min_len=2,
                         what="memory levels (on-chip levels innermost first, the off-chip level last)")
    if len(items) > MAX_MEMORY_LEVELS:
        chk.add("memories", f"expected at most {MAX_MEMORY_LEVELS} memory levels, got {len(items):,}")
        return None
    levels: list[MemoryLevel | None] = []
    for i, item in enumerate(items):
        levels.append(_parse_level(chk, join("memories", i), item, off_chip=(i == len(items) - 1)))
    seen: dict[str, int] = {}
    for i, lv in enumerate(levels):
        if lv is not None and lv.name in seen:
            chk.add(f"memories[{i}].name", f"duplicate level name {describe(lv.name)} (also memories[{seen[lv.name]}])")
        elif lv is not None:
            seen[lv.name] = i
    if len(items) < 2 or None in levels:
        return None
    on_chip = levels[:-1]
    for i in range(1, len(on_chip)):
        if on_chip[i].size_bytes < on_chip[i - 1].size_bytes:
            chk.add(f"memories[{i}].size_bytes",
                    f"expected at least {on_chip[i - 1].size_bytes}, the size of memories[{i - 1}] "
                    f"({describe(on_chip[i - 1].name)}): levels go innermost first, so an outer level cannot be smaller "
                    f"than the one inside it; got {on_chip[i].size_bytes}")
    return tuple(levels)


def _parse_level(chk: Checker, p: str, data: Any, off_chip: bool) -> MemoryLevel | None:
    required = tuple(k for k in _MEM_REQUIRED if k != "size_bytes")
    d = chk.mapping(p, data, required, optional=("size_bytes", "double_buffered"))
    name = chk.string(f"{p}.name", d["name"]) if "name" in d else None
    size = None
    size_ok = "size_bytes" in d
    if isinstance(data, dict) and not size_ok:
        chk.add(f"{p}.size_bytes", "missing key (write size_bytes: null: the last level is off-chip and unbounded)"
                if off_chip else "missing key (the capacity of this on-chip level in bytes)")
    if size_ok and off_chip:
        if d["size_bytes"] is not None:
            chk.add(f"{p}.size_bytes", f"expected null (the last level is off-chip and unbounded), got {describe(d['size_bytes'])}")
            size_ok = False
    elif size_ok:
        if d["size_bytes"] is None:
            chk.add(f"{p}.size_bytes", "expected an integer >= 1 (only the last, off-chip level may be null), got null")
            size_ok = False
        else:
            size = chk.field(f"{p}.size_bytes", d["size_bytes"], HW_FIELDS["memories[].size_bytes"])
            size_ok = size is not None
    vals = {k: chk.field(f"{p}.{k}", d[k], HW_FIELDS[f"memories[].{k}"]) if k in d else None
            for k in ("read_bw_bytes_per_cycle", "write_bw_bytes_per_cycle", "read_pj_per_byte",
                      "write_pj_per_byte")}
    dbuf = False
    if off_chip:
        if d.get("double_buffered", False) is not False:
            chk.add(f"{p}.double_buffered", "applies to on-chip levels only; remove it from the off-chip level")
    else:
        dbuf = chk.boolean(f"{p}.double_buffered", d.get("double_buffered", True))
    if name is None or not size_ok or None in vals.values() or dbuf is None:
        return None
    return MemoryLevel(name, size, vals["read_bw_bytes_per_cycle"], vals["write_bw_bytes_per_cycle"],
                       vals["read_pj_per_byte"], vals["write_pj_per_byte"], dbuf)


def _check_array_fits(chk: Checker, array: MacArray, memories: tuple[MemoryLevel, ...], fmt: str) -> None:
    """Each on-chip level must hold one array-sized tile of A, B and C (twice when double-buffered)."""
    elem_bytes = FORMAT_BYTES[FORMAT_NAMES.index(fmt)]
    need = 3 * array.rows * array.cols * elem_bytes
    for i, level in enumerate(memories[:-1]):
        if level.usable_bytes < need:
            factor = 2 if level.double_buffered else 1
            chk.add(f"memories[{i}].size_bytes",
                    f"too small for one {array.rows}x{array.cols} array tile of each operand (A, B and C): "
                    f"needs at least {need * factor} bytes = 3 operands x {array.rows} x {array.cols} elements "
                    f"x {elem_bytes} B ({fmt}){' x 2 for double buffering' if factor == 2 else ''}; "
                    f"got {level.size_bytes}")
