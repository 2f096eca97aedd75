"""Worker side of a sweep: evaluate a range of design points, count-only, into plain rows.

A worker receives one EvalContext (parsed workloads, the base hardware dict, the grid) once, then
chunks of point ids. Each point's hardware comes from a validated template where it can
(fastbuild.py), its layers from the worker's memo where only prices differ (memo.py), computed
without simulate()'s general machinery when every layer is one GEMM (gemmrows.py), its rows
priced from the memoised parts (rows.py). A chunk's rows are kept factored: each row's priced cells
(lists of plain values; no DataFrame per point: that costs milliseconds) and an index into the
chunk's table of distinct row parts, the values no price enters, which most points share; the
report (sweep/report.py, tables.py) builds its columns from the table and the cells without
building each row. Nothing here writes files.
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field

from ..checks import short
from ..errors import ConfigError, MappingError, SizeError
from .expansion import Expansion, PointError
from .grid import PointHasher, apply_values
from .fastbuild import HardwareBuilder
from .gemmrows import fast_path, staged_path
from .memo import LayerMemo
from .rows import _ROW_ORDER, ROW_COLUMNS, layer_row  # noqa: F401 - re-exported
from .rows import full_row, priced_cells, row_parts
from .spec import SweepSpec


@dataclass(frozen=True)
class EvalContext:
    base_data: dict
    base_source: str
    expansion: Expansion    # point id -> the values of every key it sets, and the constraints
    cases: tuple            # ((case index, Workload), ...) of the valid cases
    mapper: str
    mapper_objective: str

    @classmethod
    def from_spec(cls, spec: SweepSpec) -> "EvalContext":
        return cls(spec.base_data, spec.base_hw_path, spec.expansion,
                   tuple((c.index, c.workload) for c in spec.valid_cases), spec.mapper, spec.mapper_objective)

    @property
    def memo(self) -> LayerMemo:
        """This process's memo of layer evaluations (sweep/memo.py); never pickled to workers."""
        memo = self.__dict__.get("_memo")
        if memo is None:
            memo = LayerMemo(self.mapper, self.mapper_objective, row_parts, fast=fast_path,
                              staged=staged_path)
            object.__setattr__(self, "_memo", memo)
        return memo

    @property
    def builder(self) -> HardwareBuilder:
        """This process's builder of design points' hardware (sweep/fastbuild.py); never pickled."""
        builder = self.__dict__.get("_builder")
        if builder is None:
            builder = HardwareBuilder(self.expansion.parts, self.base_source)
            object.__setattr__(self, "_builder", builder)
        return builder

    @property
    def hasher(self) -> PointHasher:
        """This process's point hasher (grid.PointHasher); never pickled."""
        hasher = self.__dict__.get("_hasher")
        if hasher is None:
            hasher = PointHasher(self.base_data, self.expansion.parts)
            object.__setattr__(self, "_hasher", hasher)
        return hasher

    def __getstate__(self):
        state = dict(self.__dict__)
        for name in ("_memo", "_builder", "_hasher"):
            state.pop(name, None)
        return state


@dataclass
class ChunkResult:
    """What one chunk of points [start, stop) produced.

    points:   [point_id, point_hash, area_mm2 or None] per point whose hardware is valid
    cells:    [point_id, case index, part index, seconds, energy_pj, *energy breakdown] per (point, case,
              layer): a row's priced values (rows.priced_cells)
    parts:    [head, middle, tail] per distinct part of the rows (rows.RowParts less what pricing
              reads): the row of a cell is [point_id, case, *head, seconds, *middle, energy_pj, *tail,
              *breakdown], that is [point_id, case, *ROW_COLUMNS, *energy breakdown] (`rows`)
    invalid:  [point_id, point_hash, case index or None, [[key path, message], ...]] per failure
    filtered: [point_id, constraint index] per point a constraint leaves out
    """
    start: int
    stop: int
    points: list
    cells: list
    invalid: list
    filtered: list = field(default_factory=list)
    parts: list = field(default_factory=list)

    @property
    def rows(self) -> list:
        """[point_id, case index, *ROW_COLUMNS, *energy breakdown] per (point, case, layer)."""
        parts = self.parts
        return [full_row(cell, parts[cell[2]]) for cell in self.cells]

    def to_dict(self) -> dict:
        return {"start": self.start, "stop": self.stop, "points": self.points, "cells": self.cells,
                "parts": self.parts, "invalid": self.invalid, "filtered": self.filtered}

    @classmethod
    def from_dict(cls, data: dict) -> "ChunkResult":
        return cls(int(data["start"]), int(data["stop"]), data["points"], data["cells"], data["invalid"],
                   data["filtered"], data["parts"])


def evaluate_chunk(ctx: EvalContext, start: int, stop: int) -> ChunkResult:
    """Evaluate design points start..stop-1 on every valid case."""
    out = ChunkResult(start, stop, [], [], [])
    table = _PartsTable(out.parts)
    _freeze_once()
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], YOUNG_OBJECTS), *threshold[1:])
    try:
        for pid in range(start, stop):
            _evaluate_point(ctx, pid, out, table)
    finally:
        gc.set_threshold(*threshold)
    return out


class _PartsTable:
    """A chunk's row parts, each once: keyed on the RowParts object itself (a memoised layer gives the
    same one at every point it serves), which is held here while the chunk is made, so no other
    object can take its id meanwhile. Equal parts from distinct objects get two entries: the table
    only shares, it never merges values (1 and 1.0, 0.0 and -0.0 stay apart)."""

    def __init__(self, parts: list):
        self.parts, self.index, self.held = parts, {}, []

    def __call__(self, parts) -> int:
        i = self.index.get(id(parts))
        if i is None:
            i = self.index[id(parts)] = len(self.parts)
            self.parts.append((parts.head, parts.middle, parts.tail))
            self.held.append(parts)
        return i


# The cyclic collector's first threshold while a chunk is evaluated (Python's default is 700):
# a point leaves a few hundred objects in caches, and collecting the young ones every 700
# allocations, and the older generations every 10 and 100 of those, cost about 8% of a
# single-GEMM sweep's evaluation; a point makes little cyclic garbage to wait for.
YOUNG_OBJECTS = 50_000


def _evaluate_point(ctx: EvalContext, pid: int, out: ChunkResult, table: _PartsTable) -> None:
    hw = _point_hardware(ctx, pid, out)
    if hw is None:
        return
    digest = out.points[-1][1]
    for case_index, workload in ctx.cases:
        try:
            layers = ctx.memo.layers(case_index, workload, hw)
            cells = [priced_cells(pid, case_index, table(parts), parts, hw) for parts in layers]
        except Exception as exc:        # noqa: BLE001 - recorded as an invalid point, see _problems
            out.invalid.append([pid, digest, case_index, _problems(exc)])
            continue
        out.cells.extend(cells)


_FROZEN: set = set()         # ids of the processes that froze


def _freeze_once() -> None:
    """Leave what this process holds before its first chunk (modules, the parsed sweep, and in a
    worker forked after the warm-up point the compiled kernels) out of the cyclic garbage
    collector's full collections: each point adds long-lived cache entries, which keep triggering
    full collections, and walking the ~200,000 start-up objects each time cost about 13% of a
    single-GEMM sweep's evaluation. Objects frozen are never collected as cycles; nothing of a
    point is among them (they are made later). Once per process: a forked worker freezes what it
    inherited."""
    if os.getpid() not in _FROZEN:
        gc.freeze()
        _FROZEN.add(os.getpid())


def _point_hardware(ctx: EvalContext, pid: int, out: ChunkResult):
    """The validated hardware of point `pid`, or None when a constraint filters it (recorded in
    out.filtered) or it is invalid (out.invalid); constraints on keys run before validation, those on
    pre-simulation columns (area_mm2) after. An expression error (possible only in the latter: the
    rest were checked at every point when the file was loaded) makes the point invalid."""
    exp = ctx.expansion
    digest = None
    try:
        env = exp.env(pid)
        failed = exp.failing(env, pid, late=False)
        if failed is None:
            values = env[:len(exp.keys)]
            data = apply_values(ctx.base_data, exp.parts, values)
            digest = ctx.hasher(values, data)
            hw = ctx.builder.build(values, data)
            if exp.has_late:
                exp.set_quantities(env, hw)
                failed = exp.failing(env, pid, late=True)
    except PointError as exc:
        out.invalid.append([pid, digest, None, [[exc.formula.path, short(exc.one_line(), 300)]]])
        return None
    except Exception as exc:            # noqa: BLE001 - one bad point never stops a sweep
        out.invalid.append([pid, digest, None, _problems(exc)])
        return None
    if failed is not None:
        out.filtered.append([pid, failed])
        return None
    out.points.append([pid, digest, hw.area_mm2])
    return hw


def _problems(exc: Exception) -> list[list[str]]:
    """[[key path, reason], ...] of a point that cannot be evaluated. Anything but a configuration,
    mapping or size problem is a bug; it is recorded (and reported) rather than raised, so that a
    resumed sweep cannot fail on the same point again and again."""
    if isinstance(exc, ConfigError):
        return [[path, short(msg, 300)] for path, msg in exc.problems]
    if isinstance(exc, (MappingError, SizeError)):
        return [["", short(f"simulation failed: {exc}", 300)]]
    return [["", short(f"internal error (a bug in attnsim, please report it): {type(exc).__name__}: {exc}", 300)]]
