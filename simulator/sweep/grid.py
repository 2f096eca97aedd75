"""Design-point grids: dotted hardware keys, their validation against the base hardware and the
schema, and the canonical numbering of the cartesian product (docs/sweeps.md)."""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from ..checks import Checker, describe, join
from ..errors import ConfigError
from ..hardware import Hardware

KEY = re.compile(r"^[A-Za-z_]\w*(\[\d+\])*(\.[A-Za-z_]\w*(\[\d+\])*)*$")


def point_hash(data: dict) -> str:
    """Short, stable hash of a design point's whole hardware dict (independent of comments)."""
    return digest(data)[:12]


def digest(obj) -> str:
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()


_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


class PointHasher:
    """hasher(values, data) == point_hash(data) for data = apply_values(base, parts_list, values),
    without encoding the whole dict per point: the base's canonical JSON is encoded once with a
    marker in each swept key's place, and a point's is that text with each value's own JSON in its
    marker's place (the keys' order does not depend on the values). When the markers cannot be
    placed exactly once each (a swept key inside another's value, a key swept twice), every point
    is hashed whole."""

    def __init__(self, base: dict, parts_list):
        self.pieces = self.order = None
        self.texts: dict = {}
        parts_list = [tuple(p) for p in parts_list]
        if any(i != j and a[:len(b)] == b for i, a in enumerate(parts_list) for j, b in enumerate(parts_list)):
            return                  # a key inside (or equal to) another swept key
        marks = [f"\0attnsim-slot-{i}\0" for i in range(len(parts_list))]
        try:
            text = _canonical(apply_values(base, parts_list, marks))
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            return                  # the base has no such container: each point says so itself
        found = [(text.find(_canonical(m)), i) for i, m in enumerate(marks)]
        if all(text.count(_canonical(m)) == 1 for m in marks):
            pieces, at = [], 0
            for pos, i in sorted(found):
                pieces.append(text[at:pos])
                at = pos + len(_canonical(marks[i]))
            self.pieces, self.order = pieces + [text[at:]], [i for _, i in sorted(found)]

    def __call__(self, values, data: dict) -> str:
        if self.pieces is None:
            return point_hash(data)
        out = [self.pieces[0]]
        for i, piece in zip(self.order, self.pieces[1:]):
            out.append(self._text(values[i]))
            out.append(piece)
        return hashlib.sha256("".join(out).encode()).hexdigest()[:12]

    def _text(self, value) -> str:
        """_canonical(value), kept per scalar value object: a point's values are the grid's own
        objects, which come back at every point that shares them (an entry holds its object, so an
        id is never another object's while it is kept; lists and mappings, which could change, are
        encoded each time)."""
        if type(value) not in _SCALARS:
            return _canonical(value)
        hit = self.texts.get(id(value))
        if hit is None or hit[0] is not value:
            if len(self.texts) >= _TEXTS:
                self.texts.clear()
            hit = self.texts[id(value)] = (value, _canonical(value))
        return hit[1]


_TEXTS = 4096       # value texts a hasher keeps (a grid has a few values per key)
_SCALARS = (int, float, str, bool, type(None))


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 over the simulator package's Python sources. Partial sweep results are keyed on it
    as well as on the version, so that results of edited code (no version bump) are never resumed."""
    package = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def apply_values(base: dict, parts_list, values) -> dict:
    """A copy of `base` with each dotted key set; only the containers on the paths are copied."""
    out = dict(base)
    for parts, value in zip(parts_list, values):
        target = out
        for i, part in enumerate(parts[:-1]):
            child = target[part] if isinstance(part, int) or part in target else {}
            child = list(child) if isinstance(child, list) else dict(child)
            target[part] = child
            target = child
        target[parts[-1]] = copy.deepcopy(value) if isinstance(value, list) else value
    return out


def split_key(key: str) -> tuple:
    """'memories[0].size_bytes' -> ('memories', 0, 'size_bytes')."""
    parts: list = []
    for chunk in key.split("."):
        name, *indices = chunk.split("[")
        parts.append(name)
        parts.extend(int(i.rstrip("]")) for i in indices)
    return tuple(parts)


def key_text(parts) -> str:
    text = ""
    for p in parts:
        text = join(text, p)
    return text


def parse_grid(chk: Checker, path: str, value: Any, allow_empty: bool,
               repeats: frozenset = frozenset()) -> dict | None:
    """A grid mapping (dotted key -> non-empty list of distinct scalar values; the keys in `repeats`,
    zipped with another key, may repeat a value), or None when broken."""
    if value is None and allow_empty:
        return {}
    if not isinstance(value, dict):
        chk.add(path, f"expected a mapping of keys to lists of values, got {describe(value)}")
        return None
    out = {}
    for key, values in value.items():
        p = f"{path}.{key}"
        if not isinstance(key, str) or not KEY.match(key):
            chk.add(p, "expected a dotted key such as mac_array.rows or memories[0].size_bytes")
            continue
        problem = value_list_problem(values, repeats_ok=key in repeats)
        if problem:
            chk.add(p, problem)
            continue
        out[key] = values
    return out


def value_list_problem(values, repeats_ok: bool = False) -> str | None:
    """Why `values` cannot be one key's list of swept values (non-empty, scalars or lists of them,
    each once unless `repeats_ok`), or None."""
    if not isinstance(values, list) or not values:
        return f"expected a non-empty list of values, got {describe(values)}"
    bad = [v for v in values if not is_value(v)]
    if bad:
        return f"expected numbers, strings or booleans (or lists of them), got {describe(bad[0])}"
    texts = [json.dumps(v, sort_keys=True) for v in values]
    dupes = sorted({t for t in texts if texts.count(t) > 1})
    if dupes and not repeats_ok:
        return f"lists {', '.join(dupes)} more than once (each value makes its own points)"
    return None


def is_value(v) -> bool:
    """A value a key can be swept over: a scalar or a list of scalars."""
    scalar = (int, float, str, bool, type(None))
    return isinstance(v, scalar) or (isinstance(v, list) and all(isinstance(x, scalar) for x in v))


def check_hw_keys(chk: Checker, grid: dict, base) -> list:
    """The parsed dotted keys of `grid`; a problem for each key that cannot be swept on the base."""
    hw, _ = base
    parts_list = []
    for key, values in grid.items():
        parts = split_key(key)
        problem = key_problem(hw.raw, parts, values[0])
        if problem:
            chk.add(f"hw_grid.{key}", problem)
        parts_list.append(parts)
    check_overlaps(chk, [(f"hw_grid.{k}", k) for k in grid])
    return parts_list


def check_overlaps(chk: Checker, keyed, first: int = 0) -> None:
    """A problem for each (path, key) from index `first` on whose key also sets, or sets part of, an
    earlier one's."""
    for i, (path_b, b) in enumerate(keyed):
        for path_a, a in keyed[:i] if i >= first else ():
            pa, pb = split_key(a), split_key(b)
            if pa == pb:
                chk.add(path_b, f"{b} is also set by {path_a}; a key takes its values from one place")
            elif pa[:len(pb)] == pb or pb[:len(pa)] == pa:
                chk.add(path_b, f"overlaps {path_a} (one sets part of the other)")


def key_problem(base: dict, parts: tuple, probe_value) -> str | None:
    """Why `parts` cannot be swept on `base`, or None. Keys the base omits are accepted when the
    hardware schema allows them (found by validating a probe dict with the key set)."""
    cur: Any = base
    for i, part in enumerate(parts):
        where = key_text(parts[:i]) or "the top level"
        if isinstance(part, int):
            if not isinstance(cur, list):
                return f"{where} is not a list in the base hardware, so [{part}] addresses nothing"
            if part >= len(cur):
                return f"index {part} is out of range: {where} has {len(cur)} entries in the base hardware"
            cur = cur[part]
        elif not isinstance(cur, dict):
            return f"{where} is not a mapping in the base hardware, so .{part} addresses nothing"
        elif part in cur:
            cur = cur[part]
        elif any(isinstance(p, int) for p in parts[i:]):
            return (f"{key_text(parts[:i + 1])} is not in the base hardware, so an index into it addresses "
                    f"nothing; add it to the base hardware file")
        else:
            return _schema_problem(base, parts, probe_value)
    if isinstance(cur, dict) or (isinstance(cur, list) and any(isinstance(x, (dict, list)) for x in cur)):
        inner = ", ".join(f"{key_text(parts)}.{k}" for k in cur) if isinstance(cur, dict) else \
            f"{key_text(parts)}[0]..."
        return f"addresses a whole {'mapping' if isinstance(cur, dict) else 'list'}; sweep its keys instead ({inner})"
    return None


def _schema_problem(base: dict, parts: tuple, probe_value) -> str | None:
    probe = apply_values(base, [parts], [probe_value])
    try:
        Hardware.from_dict(probe)
    except ConfigError as exc:
        for path, msg in exc.problems:
            depth = len(split_key(path))
            if msg.startswith("unknown key") and split_key(path) == parts[:depth]:
                hint = re.search(r"did you mean '([^']+)'", msg)
                if hint:
                    fixed = key_text(parts[:depth - 1] + (hint.group(1),) + parts[depth:])
                    return f"not a hardware key: {path} is unknown (did you mean '{fixed}'?)"
                return f"not a hardware key: {path} is unknown {msg[len('unknown key '):]}"
    return None
