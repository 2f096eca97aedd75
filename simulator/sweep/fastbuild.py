"""Design points' Hardware objects without validating again what a neighbouring point validated.

Hardware.from_dict checks every field of a point's dict, a quarter of a millisecond per point. Most
swept keys are *range-only* fields: numbers whose only check is their own range (limits.HW_FIELDS)
and that no check across fields reads (the tile fit reads rows, cols, sizes, buffering and the
number format; the level order and the area prices read sizes). Two points that agree on every
other key pass or fail those other checks alike. So the first point of each such group is built by
from_dict and kept as a template; every later point of the group is that template with its
range-only values checked one by one (Checker.field, the call from_dict makes: same conversion,
same message) and put in place. A value out of range sends the point through from_dict after
all, so an invalid point is reported exactly as before (every problem, in from_dict's order).
tests/test_sweep_fastpath.py holds the objects equal to from_dict's.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import fields

from ..checks import Checker
from ..enums import VEC_KIND_NAMES
from ..hardware import Hardware
from ..limits import HW_FIELDS

# Templates kept per worker (one per distinct combination of the other keys' values).
TEMPLATES = 1024

_ARRAY = ("mac_energy_pj",)
_VECTOR = ("op_energy_pj", "lanes")
_LEVEL = ("read_bw_bytes_per_cycle", "write_bw_bytes_per_cycle", "read_pj_per_byte", "write_pj_per_byte")
_AREA = ("mm2_per_mac", "mm2_per_vector_lane")


def limit_path(parts: tuple) -> str | None:
    """The HW_FIELDS entry of a range-only key split by grid.split_key, or None for any other key."""
    if parts == ("clock_hz",):
        return "clock_hz"
    head, rest = parts[0], parts[1:]
    if head == "mac_array" and len(rest) == 1 and rest[0] in _ARRAY:
        return f"mac_array.{rest[0]}"
    if head == "vector_unit" and len(rest) == 1 and rest[0] in _VECTOR:
        return f"vector_unit.{rest[0]}"
    if head == "vector_unit" and len(rest) == 2 and rest[0] == "cycles_per_op" and rest[1] in VEC_KIND_NAMES:
        return "vector_unit.cycles_per_op.*"
    if head == "memories" and len(rest) == 2 and isinstance(rest[0], int) and rest[1] in _LEVEL:
        return f"memories[].{rest[1]}"
    if head == "area" and len(rest) == 1 and rest[0] in _AREA:
        return f"area.{rest[0]}"
    if head == "area" and len(rest) == 2 and rest[0] == "mm2_per_mib" and isinstance(rest[1], int):
        return "area.mm2_per_mib[]"
    return None


def _with(obj, **changes):
    """dataclasses.replace without __init__ (a tenth of its time; the values were checked). Only
    the dataclass fields are copied: per-object caches (engine._memo's `_plans`, mapeval's
    `_map_arrays` and `_walk_key`, which hold bandwidths and prices) stay with the object they were
    computed for."""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in fields(obj))
    new = object.__new__(type(obj))
    state = obj.__dict__
    new.__dict__.update({name: state[name] for name in names})
    new.__dict__.update(changes)
    return new


_FIELD_NAMES: dict = {}


def with_value(hw: Hardware, parts: tuple, value) -> Hardware | None:
    """`hw` with the range-only field at `parts` set to `value`; None when `hw` has no such field
    (an index past the end, an absent area section: from_dict decides those)."""
    head, rest = parts[0], parts[1:]
    if head == "clock_hz":
        return _with(hw, clock_hz=value)
    if head == "mac_array":
        return _with(hw, mac_array=_with(hw.mac_array, **{rest[0]: value}))
    if head == "vector_unit" and rest[0] == "cycles_per_op":
        cycles = list(hw.vector_unit.cycles_per_op)
        cycles[VEC_KIND_NAMES.index(rest[1])] = value
        return _with(hw, vector_unit=_with(hw.vector_unit, cycles_per_op=tuple(cycles)))
    if head == "vector_unit":
        return _with(hw, vector_unit=_with(hw.vector_unit, **{rest[0]: value}))
    if head == "memories":
        if not 0 <= rest[0] < len(hw.memories):
            return None
        levels = list(hw.memories)
        levels[rest[0]] = _with(levels[rest[0]], **{rest[1]: value})
        return _with(hw, memories=tuple(levels))
    if hw.area is None:
        return None
    if rest[0] == "mm2_per_mib":
        if not 0 <= rest[1] < len(hw.area.mm2_per_mib):
            return None
        prices = list(hw.area.mm2_per_mib)
        prices[rest[1]] = value
        return _with(hw, area=_with(hw.area, mm2_per_mib=tuple(prices)))
    return _with(hw, area=_with(hw.area, **{rest[0]: value}))


class HardwareBuilder:
    """build(values, data) == Hardware.from_dict(data, source) for the points of one sweep, where
    `values` are the point's values of `parts` (the swept keys, split) and `data` its dict."""

    def __init__(self, parts: tuple[tuple, ...], source: str):
        self.source = source
        self.fast = [(i, p, limit_path(p)) for i, p in enumerate(parts) if limit_path(p) is not None]
        fast = {i for i, _, _ in self.fast}
        self.other = [i for i in range(len(parts)) if i not in fast]
        self.templates: OrderedDict = OrderedDict()

    def build(self, values, data: dict) -> Hardware:
        if not self.fast:
            return Hardware.from_dict(data, source=self.source)
        key = repr([values[i] for i in self.other])
        template = self.templates.get(key)
        if template is None:
            hw = Hardware.from_dict(data, source=self.source)      # raises for an invalid point
            self.templates[key] = hw
            if len(self.templates) > TEMPLATES:
                self.templates.popitem(last=False)
            return hw
        hw = self._from_template(template, values)
        return _with(hw, raw=data) if hw is not None else Hardware.from_dict(data, source=self.source)

    def _from_template(self, hw: Hardware, values) -> Hardware | None:
        chk = Checker(self.source)
        for i, parts, path in self.fast:
            value = chk.field(path, values[i], HW_FIELDS[path])
            if value is None:
                return None
            hw = with_value(hw, parts, value)
            if hw is None:
                return None
        return hw
