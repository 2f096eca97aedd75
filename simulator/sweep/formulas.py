"""The sweep file's `zip`, `tied`, `derived` and `constraints` sections: parsed, every name resolved
and every expression type-checked once, into an Expansion (docs/sweeps.md). Problems go to the
sweep file's Checker with their key paths (`zip[0].mac_array.cols`, `tied.mac_array.cols`,
`derived.vector_unit.lanes`, `constraints[1]`), expression problems with a caret under the text.
"""
from __future__ import annotations

import difflib
import math
from typing import Any

from ..checks import Checker, describe, join
from .calc import describe_types, infer, type_of
from .expansion import QUANTITIES, Axis, Expansion, Formula
from .expr import ExprError, Name, names, parse
from .grid import KEY, check_overlaps, is_value, key_problem, split_key
from .zips import parse_zip

SECTIONS = ("zip", "tied", "derived", "constraints")


def build_expansion(chk: Checker, top: dict, hw_grid: dict | None, base) -> Expansion | None:
    """The Expansion of the sweep file's grid sections, or None when something is wrong (reported)."""
    before = len(chk.problems)
    zips = parse_zip(chk, top["zip"]) if top.get("zip") is not None else []
    tied = _key_map(chk, "tied", top.get("tied", {}), _leader)
    derived = _key_map(chk, "derived", top.get("derived", {}), _formula_text)
    constraints = _constraint_texts(chk, top.get("constraints", []))
    if hw_grid is None or base is None or zips is None:
        return None
    axes = _grid_axes(chk, hw_grid, tied) + [Axis(keys, rows, f"zip[{i}]") for i, (keys, rows) in enumerate(zips)]
    tied = {k: v for k, v in tied.items() if k not in hw_grid}
    builder = _Builder(chk, base[0], axes, tied, derived)
    formulas = builder.formulas(derived, constraints)       # reported even when a key has a problem
    if formulas is None or len(chk.problems) > before:
        return None
    return Expansion(tuple(axes), tuple(builder.keys), tuple(split_key(k) for k in builder.keys),
                     tuple(builder.tied), formulas[0], formulas[1], builder.resolved, builder.combinations())


def _grid_axes(chk: Checker, hw_grid: dict, tied: dict) -> list[Axis]:
    """One axis per hw_grid key; a tied key that hw_grid also lists joins its leader's axis, value by
    value (zipped, not multiplied)."""
    followers: dict = {}
    for key, leader in tied.items():
        if key not in hw_grid:
            continue
        if leader not in hw_grid or leader in tied:
            chk.add(f"tied.{key}", f"{key} is listed in hw_grid, so it is zipped with the key it follows, which "
                                   f"must be an hw_grid key that follows no other; {leader} is not")
        elif len(hw_grid[key]) != len(hw_grid[leader]):
            chk.add(f"tied.{key}", f"hw_grid lists {len(hw_grid[key])} values for {key} but {len(hw_grid[leader])} for "
                                   f"{leader}; a tied key listed in hw_grid is zipped with its leader, value by value")
        else:
            followers.setdefault(leader, []).append(key)
    return [Axis((k, *followers.get(k, ())), tuple(zip(vs, *(hw_grid[f] for f in followers.get(k, ())))),
                 f"hw_grid.{k}") for k, vs in hw_grid.items() if k not in tied]


def _key_map(chk: Checker, section: str, value: Any, check) -> dict:
    """A section mapping dotted keys to what `check(path, item)` accepts."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        what = "the hw_grid or zip key each follows" if section == "tied" else "expressions"
        chk.add(section, f"expected a mapping of dotted keys to {what}, got {describe(value)}")
        return {}
    out = {}
    for key, item in value.items():
        path = f"{section}.{key}"
        if not isinstance(key, str) or not KEY.match(key):
            chk.add(path, "expected a dotted key such as mac_array.rows or memories[0].size_bytes")
            continue
        checked = check(chk, path, item)
        if checked is not None:
            out[key] = checked
    return out


def _leader(chk: Checker, path: str, item: Any) -> str | None:
    if isinstance(item, str) and KEY.match(item.strip()):
        return item.strip()
    if isinstance(item, list):
        chk.add(path, "expected the key it follows (a tied key takes that key's value at every point); "
                      "for a list of values of its own, zipped with another key's, use zip:")
    else:
        chk.add(path, f"expected the hw_grid or zip key it follows, got {describe(item)}")
    return None


def _formula_text(chk: Checker, path: str, item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (int, float)) and math.isfinite(item):
        return repr(item)
    chk.add(path, f"expected an expression (text such as '2 * mac_array.cols'), got {describe(item)}")
    return None


def _constraint_texts(chk: Checker, value: Any) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else chk.sequence("constraints", value, what="conditions")
    texts = [_formula_text(chk, "constraints" if isinstance(value, str) else join("constraints", i), item)
             for i, item in enumerate(items)]
    return [t for t in texts if t is not None] if None not in texts else []


class _Builder:
    """Checks the keys of every section against the base hardware and each other, then resolves the
    names of the expressions and orders the derived keys."""

    def __init__(self, chk: Checker, base, axes, tied: dict, derived: dict):
        self.chk, self.base = chk, base
        self.keys = [k for a in axes for k in a.keys]
        self.types = [_column_types(a, j) for a in axes for j in range(len(a.keys))]
        self.values = [[row[j] for row in a.rows] for a in axes for j in range(len(a.keys))]
        self.axis_slots = len(self.keys)
        self.axes = axes
        grid = [(f"hw_grid.{k}", k) for a in axes if not a.is_zip for k in a.keys]
        zipped = [(f"{a.where}.{k}", k) for a in axes if a.is_zip for k in a.keys]
        self._check_keys(axes, tied, derived)
        # hw_grid keys among themselves were checked with hw_grid
        check_overlaps(chk, grid + zipped + [(f"tied.{k}", k) for k in tied] + [(f"derived.{k}", k) for k in derived],
                       first=len(grid))
        self.tied = self._tie(tied, derived)
        self.resolved: dict = {}

    def _check_keys(self, axes, tied, derived) -> None:
        probes = [(f"{a.where}.{k}", k, a.rows[0][j]) for a in axes if a.is_zip for j, k in enumerate(a.keys)]
        probes += [(f"tied.{k}", k, 1) for k in tied] + [(f"derived.{k}", k, 1) for k in derived]
        for path, key, probe in probes:
            problem = key_problem(self.base.raw, split_key(key), probe)
            if problem:
                self.chk.add(path, problem)

    def _tie(self, tied: dict, derived: dict) -> list[tuple[int, int]]:
        out = []
        for key, leader in tied.items():
            chain, at = [key], leader
            while at in tied and at not in chain:
                chain.append(at)
                at = tied[at]
            if at in chain:
                self.chk.add(f"tied.{key}", f"a cycle of tied keys: {' -> '.join(chain + [at])}; one of them must "
                                            f"be swept in hw_grid or zip")
            elif at not in self.keys[:self.axis_slots]:
                self.chk.add(f"tied.{key}", self._leader_problem(leader, derived))
            else:
                out.append((self.axis_slots + len(out), self.keys.index(at)))
                self.keys.append(key)
                self.types.append(self.types[out[-1][1]])
                self.values.append(self.values[out[-1][1]])
        return out

    def _leader_problem(self, leader: str, derived: dict) -> str:
        if leader in derived:
            return (f"follows derived.{leader}; a tied key follows a key of hw_grid or zip (for a value computed "
                    f"from other keys, put it under derived:)")
        if key_problem(self.base.raw, split_key(leader), 1) is None:
            return (f"follows {leader}, which is not swept (hw_grid or zip); to set it from the base value, use "
                    f"derived:")
        close = difflib.get_close_matches(leader, self.keys[:self.axis_slots], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"follows {leader!r}, which is not a key of hw_grid or zip{hint}"

    def combinations(self) -> int:
        """Every swept key's distinct values multiplied, as if each were swept on its own."""
        distinct = [len({repr(v) for v in self.values[i]}) for i in range(self.axis_slots + len(self.tied))]
        return math.prod(distinct)

    # --- expressions ------------------------------------------------------------------------
    def formulas(self, derived: dict, constraints: list[str]):
        """(derived formulas in evaluation order, constraints), or None after reporting every problem
        (a formula that uses a broken derived key is not reported again)."""
        before = len(self.chk.problems)
        texts = [(f"derived.{k}", t) for k, t in derived.items()] + \
            [(join("constraints", i), t) for i, t in enumerate(constraints)]
        parsed = {}
        for path, text in texts:
            try:
                parsed[path] = (text, parse(text))
            except ExprError as exc:
                self.chk.add(path, f"{exc.message}\n{exc.caret(text)}")
        slots = {f"derived.{k}": len(self.keys) + i for i, k in enumerate(derived)}
        self.keys.extend(derived)
        self.types.extend([None] * len(derived))
        deps = {}
        for path, (text, node) in parsed.items():
            used = self._resolve_all(path, text, node, path.startswith("constraints"))
            if used is not None:
                deps[path] = used
        out_derived = []
        for path in self._order([p for p in slots if p in deps], deps):
            text, node = parsed[path]
            self.types[slots[path]] = self._infer(path, text, node)
            out_derived.append(Formula(path, text, node, slots[path]))
        out_constraints = [self._constraint(path, *parsed[path]) for path, _ in texts
                           if path.startswith("constraints") and path in deps]
        if len(self.chk.problems) > before:
            return None
        return tuple(out_derived), tuple(out_constraints)

    def _constraint(self, path: str, text: str, node) -> Formula:
        types = self._infer(path, text, node)
        if types is not None and types != {"bool"}:
            self.chk.add(path, f"a constraint must be true or false (a comparison such as area_mm2 <= 40); this is "
                               f"{describe_types(types - {'bool'})}\n{ExprError('', 0, len(text)).caret(text)}")
        late = any(self.resolved[n.text][0] == "quantity" for n in names(node))
        return Formula(path, text, node, None, late)

    def _infer(self, path: str, text: str, node):
        """The expression's types, or None (reported, unless a derived key it uses is already broken)."""
        try:
            return infer(node, self._name_types)
        except _Untyped:
            return None
        except ExprError as exc:
            self.chk.add(path, f"{exc.message}\n{exc.caret(text)}")
            return None

    def _name_types(self, name: Name):
        found = self.resolved[name.text]
        if found[0] == "const":
            return {type_of(found[1])}
        if found[0] == "quantity":
            return {"float"}
        _, slot, path = found
        if self.types[slot] is None:        # a derived key whose own expression has a problem
            raise _Untyped()
        if not path:
            return self.types[slot]
        return {type_of(_index(v, path)) for v in self.values[slot]}

    def _resolve_all(self, path: str, text: str, node, quantities_allowed: bool) -> set | None:
        """Resolve every name of one expression: the derived keys it uses, or None (reported)."""
        used, ok = set(), True
        for name in names(node):
            try:
                found = self.resolved.get(name.text) or self._resolve(name)
                if found[0] == "quantity" and not quantities_allowed:
                    raise ExprError(f"{name.text} is known only once the point's hardware is built, after every "
                                    f"derived key is set; use it in constraints", name.start, name.end)
                self.resolved[name.text] = found
                if found[0] == "slot" and found[1] >= self._first_derived():
                    used.add(self.keys[found[1]])
            except ExprError as exc:
                self.chk.add(path, f"{exc.message}\n{exc.caret(text)}")
                ok = False
        return used if ok else None

    def _first_derived(self) -> int:
        return self.axis_slots + len(self.tied)

    def _resolve(self, name: Name):
        text, parts = name.text, split_key(name.text)
        if text in QUANTITIES:
            if self.base.area is None:
                raise ExprError(f"{text} needs an `area:` section in the base hardware file ({self.base.source})",
                                name.start, name.end)
            return ("quantity", text)
        for slot, key in enumerate(self.keys):
            kp = split_key(key)
            if parts[:len(kp)] == kp:
                return ("slot", slot, self._sub_path(name, slot, parts[len(kp):]))
            if kp[:len(parts)] == parts:
                raise ExprError(f"{text} is a whole mapping or list; use one of its values, such as {key}",
                                name.start, name.end)
        return ("const", self._base_value(name, parts))

    def _sub_path(self, name: Name, slot: int, rest: tuple) -> tuple:
        if not rest:
            return ()
        key = self.keys[slot]
        if slot >= self._first_derived() or not all(isinstance(p, int) for p in rest):
            raise ExprError(f"{name.text} addresses a part of {key}, which is set as a whole here; use {key}",
                            name.start, name.end)
        for v in self.values[slot]:
            if _index(v, rest) is _MISSING:
                raise ExprError(f"{name.text} addresses nothing when {key} is {describe(v)}", name.start, name.end)
        return rest

    def _base_value(self, name: Name, parts: tuple):
        cur: Any = self.base.raw
        for part in parts:
            ok = (isinstance(part, int) and isinstance(cur, list) and part < len(cur)) or \
                 (isinstance(part, str) and isinstance(cur, dict) and part in cur)
            if not ok:
                raise ExprError(self._unknown(name.text, parts), name.start, name.end)
            cur = cur[part]
        if not is_value(cur):
            raise ExprError(f"{name.text} is a whole {'mapping' if isinstance(cur, dict) else 'list'}; use one of its "
                            f"values (a key such as {name.text}{'.' if isinstance(cur, dict) else '[0].'}...)",
                            name.start, name.end)
        return cur

    def _unknown(self, text: str, parts: tuple) -> str:
        if key_problem(self.base.raw, parts, 1) is None:
            return (f"{text} is not in the base hardware file ({self.base.source}); add it there, or sweep it, to "
                    f"use it here")
        known = _leaf_paths(self.base.raw) + self.keys + list(QUANTITIES)
        close = difflib.get_close_matches(text, known, n=1, cutoff=0.6)
        if close:
            return f"unknown name {text!r} (did you mean '{close[0]}'?)"
        if "." not in text and "[" not in text:
            return (f"unknown name {text!r} (a name is a dotted hardware key such as mac_array.rows, or "
                    f"{', '.join(QUANTITIES)}; quote text: '{text}')")
        return f"unknown name {text!r}"

    def _order(self, paths: list[str], deps: dict) -> list[str]:
        """Derived formulas in an order where each comes after the derived keys it uses (file order
        otherwise). Those that use a broken derived key are left out; a cycle is reported."""
        order, done, pending = [], set(), list(paths)
        usable = {p[len("derived."):] for p in paths}
        while pending:
            ready = next((p for p in pending if deps[p] <= done), None)
            if ready is not None:
                order.append(ready)
                done.add(ready[len("derived."):])
                pending.remove(ready)
                continue
            blocked = [p for p in pending if not deps[p] <= usable]
            if not blocked:
                self.chk.add(*_cycle(pending[0], deps, {p[len("derived."):] for p in pending}))
                break
            for p in blocked:
                pending.remove(p)
                usable.discard(p[len("derived."):])
        return order


class _Untyped(Exception):
    """A name whose derived key has no type because its own expression has a problem."""


_MISSING = object()


def _index(value, path: tuple):
    for i in path:
        if not isinstance(value, list) or i >= len(value):
            return _MISSING
        value = value[i]
    return value


def _column_types(axis: Axis, j: int) -> frozenset:
    return frozenset(type_of(row[j]) for row in axis.rows)


def _cycle(start: str, deps: dict, pending: set) -> tuple[str, str]:
    """(path, message) of the cycle reached from derived formula `start`: every pending key uses
    another pending key, so following them must come back."""
    chain = [start[len("derived."):]]
    while True:
        nxt = sorted(deps[f"derived.{chain[-1]}"] & pending)[0]
        if nxt in chain:
            chain = chain[chain.index(nxt):] + [nxt]
            break
        chain.append(nxt)
    if len(chain) == 2:
        return (f"derived.{chain[0]}",
                f"uses itself ({chain[0]} -> {chain[0]}); a derived key is computed from other keys")
    return f"derived.{chain[0]}", f"a cycle between derived keys: {' -> '.join(chain)}"


def _leaf_paths(data, prefix: str = "") -> list[str]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _leaf_paths(v, join(prefix, str(k)))]
    if isinstance(data, list) and any(isinstance(x, (dict, list)) for x in data):
        return [p for i, v in enumerate(data) for p in _leaf_paths(v, join(prefix, i))]
    return [prefix]
