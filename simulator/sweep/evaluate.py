"""Worker side of a sweep: evaluate a range of design points, count-only, into plain rows.

A worker receives one EvalContext (parsed workloads, the base hardware dict, the grid) once, then
chunks of point ids. Rows are lists of plain values (no DataFrame per point: that costs
milliseconds); sweep.py assembles them. Nothing here writes files.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..checks import short
from ..errors import ConfigError, MappingError, SizeError
from ..report import BOUND_COLUMNS, GENERATION_COLUMNS, LAYER_COLUMNS, SCHEDULE_COLUMNS, bound_columns, schedule_record
from ..results import price_with_breakdown
from .expansion import Expansion, PointError
from .grid import apply_values, point_hash
from .fastbuild import HardwareBuilder
from .memo import LayerMemo
from .spec import SweepSpec

# Per-row columns a worker fills: the layer-level contract (less `workload`, which the case gives)
# and the energy breakdown; sweep.py adds the point and case columns and provenance.
ROW_COLUMNS = tuple(c for c in LAYER_COLUMNS if c != "workload") + SCHEDULE_COLUMNS
_FIELD_COLUMNS = ("n", "d", "heads", "kernel", "window", "batch")
_PRICED_COLUMNS = ROW_COLUMNS[ROW_COLUMNS.index("macs"):ROW_COLUMNS.index("sequential_steps")]
_ROW_ORDER = ("layer", "variant", "hw", "dataflow", *_FIELD_COLUMNS, "dtype", *_PRICED_COLUMNS,
              "sequential_steps", "max_path_length", *GENERATION_COLUMNS, *BOUND_COLUMNS, *SCHEDULE_COLUMNS)


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
            memo = LayerMemo(self.mapper, self.mapper_objective)
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

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_memo", None)
        state.pop("_builder", None)
        return state


@dataclass
class ChunkResult:
    """What one chunk of points [start, stop) produced.

    points:   [point_id, point_hash, area_mm2 or None] per point whose hardware is valid
    rows:     [point_id, case index, *ROW_COLUMNS, *energy breakdown] per (point, case, layer)
    invalid:  [point_id, point_hash, case index or None, [[key path, message], ...]] per failure
    filtered: [point_id, constraint index] per point a constraint leaves out
    """
    start: int
    stop: int
    points: list
    rows: list
    invalid: list
    filtered: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"start": self.start, "stop": self.stop, "points": self.points, "rows": self.rows,
                "invalid": self.invalid, "filtered": self.filtered}

    @classmethod
    def from_json(cls, data: dict) -> "ChunkResult":
        return cls(int(data["start"]), int(data["stop"]), data["points"], data["rows"], data["invalid"],
                   data["filtered"])


def evaluate_chunk(ctx: EvalContext, start: int, stop: int) -> ChunkResult:
    """Evaluate design points start..stop-1 on every valid case."""
    out = ChunkResult(start, stop, [], [], [])
    memo = ctx.memo
    for pid in range(start, stop):
        hw = _point_hardware(ctx, pid, out)
        if hw is None:
            continue
        digest = out.points[-1][1]
        for case_index, workload in ctx.cases:
            try:
                results = memo.layers(case_index, workload, hw)
                rows = [layer_row(pid, case_index, r, hw) for r in results]
            except Exception as exc:        # noqa: BLE001 - recorded as an invalid point, see _problems
                out.invalid.append([pid, digest, case_index, _problems(exc)])
                continue
            out.rows.extend(rows)
    return out


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
            digest = point_hash(data)
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


def layer_row(pid: int, case_index: int, r, hw) -> list:
    """[pid, case, *ROW_COLUMNS, *energy breakdown] of one LayerResult: the values of
    report.layer_record (a test holds them equal), with the layer's ops summed once instead of three
    times (a fifth of the time of a sweep row for a 12-op attention layer)."""
    rec, breakdown = price_with_breakdown(r.counts, r.cycles, r.compute_cycles, hw)
    row = [pid, case_index, r.layer, r.variant, hw.name, hw.dataflow_name]
    row.extend(r.fields.get(c) for c in _FIELD_COLUMNS)
    row.append(hw.format_name)
    row.extend(rec[c] for c in _PRICED_COLUMNS)
    row.extend((r.sequential_steps, r.max_path_length))
    row.extend(r.fields.get(c) for c in GENERATION_COLUMNS)
    row.extend(bound_columns(r.total).values())
    row.extend(schedule_record(r).values())
    row.extend(float(v) for v in breakdown.values())
    return row
