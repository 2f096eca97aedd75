"""From a point id to the values of every key the point sets, lazily (docs/sweeps.md).

The grid's axes are the `hw_grid` keys (file order), then the `zip` groups (one axis each, its
rows the levels); point ids number their product, the last axis varying fastest. A point's values
are, in order: each axis key's value, each `tied` key (its leader's value), each `derived` key
(its expression, in dependency order). `constraints` then decide whether the point is evaluated:
those over keys before the hardware is built, those over pre-simulation report columns (area_mm2)
after. Nothing is materialised: any id maps to its values on demand, in any process.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .calc import compile_expr, show_value
from .expr import ExprError, Node

# Per-point report columns known before simulation, usable in constraints: name -> Hardware -> value.
QUANTITIES = {"area_mm2": lambda hw: hw.area_mm2}


@dataclass(frozen=True)
class Axis:
    """One dimension of the grid: a hw_grid key (one value per level) or a zip group (a row per level)."""
    keys: tuple[str, ...]
    rows: tuple[tuple, ...]
    where: str                          # 'hw_grid.<key>' or 'zip[i]', for messages

    @property
    def is_zip(self) -> bool:
        return self.where.startswith("zip")


@dataclass(frozen=True)
class Formula:
    path: str                           # 'derived.vector_unit.lanes' or 'constraints[1]'
    text: str                           # as written in the sweep file
    node: Node
    slot: int | None = None             # derived: the value slot it sets
    late: bool = False                  # uses a QUANTITIES column: evaluated once the hardware is built


class PointError(Exception):
    """An expression failed at one design point."""

    def __init__(self, formula: Formula, error: ExprError, pid: int, shown: str):
        super().__init__(error.message)
        self.formula, self.error, self.pid, self.shown = formula, error, pid, shown

    def __reduce__(self):
        return type(self), (self.formula, self.error, self.pid, self.shown)

    def one_line(self) -> str:
        return f"{self.error.message} in '{self.formula.text}' at point {self.pid} ({self.shown})"


@dataclass
class Expansion:
    axes: tuple[Axis, ...]
    keys: tuple[str, ...]               # every key a point sets (report columns, in this order)
    parts: tuple[tuple, ...]            # the same, split for grid.apply_values
    tied: tuple[tuple[int, int], ...]   # (slot, leader slot)
    derived: tuple[Formula, ...]        # in evaluation order
    constraints: tuple[Formula, ...]    # in file order
    resolved: dict                      # name -> ('const', v) | ('slot', i, path) | ('quantity', name)
    combinations: int                   # every listed key's distinct values multiplied, as if independent
    _compiled: dict | None = field(default=None, repr=False, compare=False)

    def __getstate__(self):
        # closures do not pickle; each process compiles once, on first use
        return {**self.__dict__, "_compiled": None}

    @property
    def n_points(self) -> int:
        return math.prod(len(a.rows) for a in self.axes)

    @property
    def tied_away(self) -> int:
        return self.combinations - self.n_points

    @property
    def n_axis_keys(self) -> int:
        return sum(len(a.keys) for a in self.axes)

    @property
    def has_late(self) -> bool:
        return any(f.late for f in self.constraints)

    def env(self, pid: int) -> list:
        """The point's values (one per key, in `keys` order), then a slot per QUANTITIES column (None
        until the hardware is known). PointError when a derived key cannot be computed."""
        rows, rest = [], pid
        for axis in reversed(self.axes):          # mixed radix, the last axis fastest
            rest, digit = divmod(rest, len(axis.rows))
            rows.append(axis.rows[digit])
        env = [v for row in reversed(rows) for v in row]
        env.extend(env[leader] for _, leader in self.tied)
        env.extend([None] * (len(self.derived) + len(QUANTITIES)))
        if self.derived:
            run = self._compiled or self._run()
            for formula in self.derived:
                try:
                    env[formula.slot] = run[formula.path](env)
                except ExprError as exc:
                    raise PointError(formula, exc, pid, self.shown(env, formula)) from None
        return env

    def values(self, pid: int) -> tuple:
        return tuple(self.env(pid)[:len(self.keys)])

    def set_quantities(self, env: list, hw) -> None:
        for i, fn in enumerate(QUANTITIES.values()):
            env[len(self.keys) + i] = fn(hw)

    def failing(self, env: list, pid: int, late: bool) -> int | None:
        """Index of the first constraint (of the early or the late ones) the point fails, or None."""
        run = self._compiled or self._run()
        for i, formula in enumerate(self.constraints):
            if formula.late != late:
                continue
            try:
                if not run[formula.path](env):
                    return i
            except ExprError as exc:
                raise PointError(formula, exc, pid, self.shown(env, formula)) from None
        return None

    def shown(self, env: list, formula: Formula | None = None) -> str:
        """The point's values as 'key=value, ...': every key, or those known before `formula` runs."""
        slots = list(range(len(self.keys)))
        if formula is not None and formula.slot is not None:
            before = self.derived[:self.derived.index(formula)]
            slots = list(range(self.n_axis_keys + len(self.tied))) + sorted(f.slot for f in before)
        return ", ".join(f"{self.keys[i]}={_plain(env[i])}" for i in slots)

    def _run(self) -> dict:
        if self._compiled is None:
            self._compiled = {f.path: compile_expr(f.node, self._resolve) for f in self.derived + self.constraints}
        return self._compiled

    def _resolve(self, name):
        found = self.resolved[name.text]
        if found[0] == "quantity":
            return ("slot", len(self.keys) + list(QUANTITIES).index(found[1]), ())
        return found

    def fingerprint(self) -> dict:
        """What decides which points exist and their values, for the resumable store."""
        from .expr import unparse

        grid = [[list(a.keys), [list(r) for r in a.rows]] for a in self.axes if not a.is_zip]
        zips = [[list(a.keys), [list(r) for r in a.rows]] for a in self.axes if a.is_zip]
        return {"hw_grid": grid, "zip": zips, "tied": [[self.keys[s], self.keys[l]] for s, l in self.tied],
                "derived": [[f.path, unparse(f.node)] for f in self.derived],
                "constraints": [unparse(f.node) for f in self.constraints],
                "constants": sorted([k, repr(v[1])] for k, v in self.resolved.items() if v[0] == "const")}


@dataclass
class CheckResult:
    """What a pass over every point found: per-formula errors and the early-filtered count."""
    errors: dict = field(default_factory=dict)      # formula path -> [first PointError, count]
    filtered: dict = field(default_factory=dict)    # constraint path -> points it filters first


def _plain(value) -> str:
    """A value as the reports show it: lists as a|b, strings unquoted."""
    return value if isinstance(value, str) else show_value(value)


def check_every_point(expansion: Expansion) -> CheckResult:
    """Evaluate the derived keys and the early constraints at every point (late ones need each point's
    hardware and run in the workers): the per-point errors, reported before anything is simulated."""
    out = CheckResult()
    if not expansion.derived and not any(not f.late for f in expansion.constraints):
        return out
    for pid in range(expansion.n_points):
        try:
            env = expansion.env(pid)
            failed = expansion.failing(env, pid, late=False)
            if failed is not None:
                path = expansion.constraints[failed].path
                out.filtered[path] = out.filtered.get(path, 0) + 1
        except PointError as exc:
            entry = out.errors.setdefault(exc.formula.path, [exc, 0])
            entry[1] += 1
    return out


def error_message(entry, n_points: int) -> str:
    exc, n = entry
    where = (f"at point {exc.pid}" if n == 1 else
             f"at {n:,} of {n_points:,} design points, the first being point {exc.pid}")
    return f"{exc.error.message} {where} ({exc.shown})\n{exc.error.caret(exc.formula.text)}"
