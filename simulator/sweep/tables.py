"""The sweep's tables, built once from the saved chunks: results, invalid points, per-point
objectives, Pareto fronts and knob influence."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..report import LAYER_COLUMNS, SCHEDULE_COLUMNS
from .pareto import non_dominated
from .rows import PART_COLUMNS, PRICED_COLUMNS, ROW_COLUMNS
from .expansion import PointError
from .spec import SweepSpec

_OPTIONAL_INT = ("n", "d", "heads", "kernel", "window", "batch", "sequential_steps", "max_path_length",
                 "repeat", "context", "new_tokens", "kv_heads", "kv_cache_bytes", "state_bytes")


def show(value):
    """A swept value as a report cell: lists (dataflow lists) as 'a|b'."""
    return "|".join(map(str, value)) if isinstance(value, list) else value


def layer_grid_columns(spec: SweepSpec) -> list[str]:
    return [f"layer_grid.{k}" for k in spec.layer_keys]


def point_columns(spec: SweepSpec, point_ids: np.ndarray) -> dict[str, pd.Series]:
    """The values of every key the points set (spec.hw_keys): axis values from the ids' mixed-radix
    digits (last axis fastest), tied keys their leader's, derived keys computed per distinct point."""
    exp = spec.expansion
    out: dict = {}
    stride = 1
    dtypes: dict = {}      # one dtype per key from all the values it can take: every piece prints alike
    for axis in reversed(exp.axes):
        digits = (point_ids // stride) % len(axis.rows)
        for j, key in enumerate(axis.keys):
            table = [show(row[j]) for row in axis.rows]
            out[key] = _lookup(table, digits)
            dtypes[key] = _column_dtype(table)
        stride *= len(axis.rows)
    for slot, leader in exp.tied:
        out[exp.keys[slot]] = out[exp.keys[leader]]
        dtypes[exp.keys[slot]] = dtypes[exp.keys[leader]]
    if exp.derived:
        unique, inverse = np.unique(point_ids, return_inverse=True)
        values = [_derived_values(exp, int(p)) for p in unique]
        for i, formula in enumerate(exp.derived):
            table = [show(v[i]) for v in values]
            out[exp.keys[formula.slot]] = _lookup(table, inverse.reshape(-1))
            dtypes[exp.keys[formula.slot]] = _column_dtype(table)      # derived types are static (calc.py)
    return {k: pd.Series(out[k]).astype(dtypes[k]) for k in exp.keys}


def _lookup(table: list, index: np.ndarray) -> np.ndarray:
    out = np.empty(len(table), dtype=object)
    out[:] = table
    return out[index]


def _derived_values(exp, pid: int) -> list:
    """The derived keys' values at a point (None where one cannot be computed; such points are
    reported in invalid.csv, never evaluated)."""
    try:
        env = exp.env(pid)
    except PointError:
        return [None] * len(exp.derived)
    return [env[f.slot] for f in exp.derived]


def knobs(spec: SweepSpec) -> dict[str, object]:
    """The grid's axes as knobs, by name: a hw_grid key is its own knob; a zip group is one knob named
    '(key, key, ...)' (its keys move together)."""
    return {(a.keys[0] if not a.is_zip else _label(a.keys, True)): a for a in spec.expansion.axes}


def knob_levels(spec: SweepSpec) -> dict[str, list[str]]:
    """Each knob's levels as labels, in grid order."""
    return {name: [_label([show(v) for v in row], axis.is_zip) for row in axis.rows]
            for name, axis in knobs(spec).items()}


def _label(parts, is_zip: bool) -> str:
    return f"({', '.join(map(str, parts))})" if is_zip else str(parts[0])


def _column_dtype(values: np.ndarray):
    """One dtype for every value of a swept key, so that any subset of points (a piece of a
    streamed report) prints like the whole: int64, float64 or bool when every value is of that
    type (int64 only within its range), else object, which prints each value as written (16 and
    0.5, never 16.0)."""
    kinds = {type(v) for v in values}
    if kinds == {int} and all(-2 ** 63 <= v < 2 ** 63 for v in values):
        return np.int64
    if kinds == {float}:
        return np.float64
    if kinds == {bool}:
        return bool
    return object


def case_columns(spec: SweepSpec, cases: np.ndarray) -> dict[str, pd.Series]:
    names = {c.index: spec.workloads[c.workload_index].name for c in spec.cases}
    out = {"workload": pd.Series(cases).map(names), "layer_grid_id": pd.Series(cases).map(
        {c.index: c.grid_id for c in spec.cases})}
    for key, col in zip(spec.layer_keys, layer_grid_columns(spec)):
        lookup = {c.index: show(dict(c.values).get(key)) for c in spec.cases}
        series = pd.Series(cases).map(lookup)
        # typed from every variant's value, so that any subset prints (and converts) like the whole
        out[col] = series.astype("Int64") if _all_int(pd.Series(list(lookup.values()))) else series
    return out


def _all_int(series: pd.Series) -> bool:
    """Every present value an integer that int64 holds (2^70 stays an object cell)."""
    present = series.dropna()
    return len(present) > 0 and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                    and -2 ** 63 <= v < 2 ** 63 for v in present)


def _unique_chunks(chunks):
    """Chunks in start order, skipping any point a previous chunk already covers."""
    covered = 0
    for c in sorted(chunks, key=lambda c: c.start):
        yield c, covered
        covered = max(covered, c.stop)


def results_frame(spec: SweepSpec, chunks) -> pd.DataFrame:
    """One row per (point, workload variant, layer), ordered by point id, case, layer."""
    raw = _raw_rows(spec, chunks, nullable=_OPTIONAL_INT)
    points = {p[0]: p for c, covered in _unique_chunks(chunks) for p in c.points if p[0] >= covered}
    pid = raw["point_id"].to_numpy(dtype=np.int64)
    cases = raw["_case"].to_numpy(dtype=np.int64)
    cols: dict = {"point_id": raw["point_id"].astype(np.int64),
                  "point_hash": pd.Series([points[p][1] for p in pid], dtype=object)}
    cols.update(point_columns(spec, pid))
    cols["area_mm2"] = pd.Series([points[p][2] for p in pid], dtype="float64")
    by_case = case_columns(spec, cases)
    cols["layer_grid_id"] = by_case.pop("layer_grid_id")
    cols.update({k: v for k, v in by_case.items() if k != "workload"})
    cols["workload"] = by_case["workload"]
    for c in ROW_COLUMNS:
        cols[c] = raw[c]
    for c in spec.energy_columns:
        cols[c] = raw[c]
    cols["_case"] = raw["_case"]
    frame = pd.DataFrame({k: (v.to_numpy() if isinstance(v, pd.Series) and v.dtype == object else v)
                          for k, v in cols.items()})
    front = ["point_id", "point_hash", *spec.hw_keys, "area_mm2", "layer_grid_id", *layer_grid_columns(spec)]
    return frame[front + list(LAYER_COLUMNS) + list(SCHEDULE_COLUMNS) + list(spec.energy_columns) + ["_case"]]


def _raw_rows(spec: SweepSpec, chunks, nullable=()) -> dict[str, pd.Series]:
    """The chunks' rows as columns, named [point_id, _case, *ROW_COLUMNS, *energy columns], each
    typed as pandas types it from the rows (DataFrame(rows)): the priced cells are typed as they
    come, the row parts' columns on the table of the distinct parts some row has, then taken per
    row; a column's type depends only on which values (and types) it holds, the same set either way.
    Typing the parts once per distinct part, not per row, is most of a big sweep's report time saved.
    The `nullable` columns are then made nullable integers (Int64), the parts' on their table."""
    cells, parts, offsets, counts = [], [], [], []
    for c, covered in _unique_chunks(chunks):
        kept = c.cells if covered <= c.start else [r for r in c.cells if r[0] >= covered]
        offsets.append(len(parts))
        counts.append(len(kept))
        cells.extend(kept)
        parts.extend((*head, *middle, *tail) for head, middle, tail in c.parts)
    priced = pd.DataFrame(cells, columns=["point_id", "_case", "_part", *PRICED_COLUMNS, *spec.energy_columns])
    index = priced["_part"].to_numpy(dtype=np.int64) + np.repeat(np.array(offsets, np.int64), counts)
    used, index = np.unique(index, return_inverse=True)    # only the parts some row has enter the types
    table = pd.DataFrame([parts[i] for i in used], columns=list(PART_COLUMNS))
    table = table.astype({c: "Int64" for c in nullable if c in table.columns})
    fixed = table.take(index.reshape(-1)).reset_index(drop=True)
    priced = priced.astype({c: "Int64" for c in nullable if c in priced.columns})
    return {**{c: fixed[c] for c in PART_COLUMNS}, **{c: priced[c] for c in priced.columns if c != "_part"}}


def invalid_frame(spec: SweepSpec, chunks, with_cases: bool = True) -> pd.DataFrame:
    """Every skipped design point, simulation failure and invalid layer_grid combination (unless
    not `with_cases`), with why."""
    records = []
    for case in spec.cases if with_cases else ():
        if case.workload is None:
            values = ", ".join(f"{k}={show(v)}" for k, v in case.values)
            records.append({"kind": "layer_grid", "what": f"{spec.workload_paths[case.workload_index]} with {values}",
                            "point_id": None, "point_hash": None, "_case": case.index,
                            "problems": _problems(case.problems)})
    for c, covered in _unique_chunks(chunks):
        for pid, digest, case, problems in c.invalid:
            if pid < covered:
                continue
            what = f"point {pid} ({_shown(spec, pid)})" if spec.hw_keys else f"point {pid}"
            if case is not None:
                what += f" on {spec.workloads[spec.cases[case].workload_index].name}"
            records.append({"kind": _kind(case, problems), "what": what, "point_id": pid,
                            "point_hash": digest, "_case": case, "problems": _problems(problems)})
    frame = pd.DataFrame(records, columns=["kind", "what", "point_id", "point_hash", "_case", "problems"])
    pid = frame["point_id"].astype("Int64")
    hw = point_columns(spec, pid.fillna(0).to_numpy(dtype=np.int64))
    for key in spec.hw_keys:
        frame[key] = hw[key].where(pid.notna().to_numpy(), None)
    has_case = frame["_case"].notna()
    by_case = case_columns(spec, frame["_case"].fillna(-1).to_numpy(dtype=np.int64))
    for key, series in by_case.items():
        frame[key] = series.where(has_case.to_numpy(), None)
    frame["point_id"] = pid
    return frame[["kind", "what", "point_id", "point_hash", *spec.hw_keys, "workload", "layer_grid_id",
                  *layer_grid_columns(spec), "problems"]]


def _kind(case, problems) -> str:
    if case is not None:
        return "simulation"
    # an expression of the sweep file that failed at this point (see evaluate._point_hardware)
    return "expression" if problems and problems[0][0].startswith(("constraints[", "derived.")) else "hardware"


def _shown(spec: SweepSpec, pid: int) -> str:
    exp = spec.expansion
    try:
        return exp.shown(exp.env(pid))
    except PointError as exc:
        return exc.shown


def filtered_frame(spec: SweepSpec, chunks) -> pd.DataFrame:
    """Every point a constraint left out, with the first constraint it fails and its values."""
    records = [(pid, index) for c, covered in _unique_chunks(chunks) for pid, index in c.filtered if pid >= covered]
    pids = np.array([r[0] for r in records], dtype=np.int64)
    constraints = spec.expansion.constraints
    frame = pd.DataFrame({"point_id": pids,
                          "constraint": [constraints[i].path for _, i in records],
                          "expression": [constraints[i].text for _, i in records]})
    for key, series in point_columns(spec, pids).items():
        frame[key] = series.to_numpy() if len(frame) else []
    return frame


def _problems(problems) -> str:
    return "; ".join(f"{p}: {m}" if p else m for p, m in problems)


def additive_objectives(spec: SweepSpec) -> list[str]:
    return [o for o in dict.fromkeys([*spec.objectives, "cycles", "energy_pj"]) if o != "area_mm2"]


def objective_sums(spec: SweepSpec, results: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per (workload variant, point) of `results`: the additive objectives summed over the layers,
    the point's hash and area, as compact arrays (what a streamed report keeps per point)."""
    additive = additive_objectives(spec)
    agg = {**{o: "sum" for o in additive}, "point_hash": "first", "area_mm2": "first"}
    frame = results.groupby(["_case", "point_id"], sort=True).agg(agg).reset_index()
    out = {"_case": frame["_case"].to_numpy(np.int64), "point_id": frame["point_id"].to_numpy(np.int64),
           "point_hash": frame["point_hash"].to_numpy().astype("S12"),
           "area_mm2": frame["area_mm2"].to_numpy(np.float64)}
    out.update({o: frame[o].to_numpy() for o in additive})
    return out


def per_point_frame(spec: SweepSpec, sums: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per (workload variant, point) from objective_sums arrays (concatenated), ordered by
    variant then point, with the point's swept values, its variant's columns and `_front`."""
    order = np.lexsort((sums["point_id"], sums["_case"]))
    pid, cases = sums["point_id"][order], sums["_case"][order]
    hw = point_columns(spec, pid)
    by_case = case_columns(spec, cases)
    cols = {"_case": cases, "point_id": pid, "point_hash": np.char.decode(sums["point_hash"][order], "ascii")}
    cols.update({k: hw[k].to_numpy() if hw[k].dtype == object else hw[k] for k in spec.hw_keys})
    cols["area_mm2"] = sums["area_mm2"][order]
    cols.update({k: v.to_numpy() if v.dtype == object else v for k, v in by_case.items()})
    cols.update({o: sums[o][order] for o in additive_objectives(spec)})
    carry = ["point_hash", *spec.hw_keys, "area_mm2", "workload", "layer_grid_id", *layer_grid_columns(spec)]
    frame = pd.DataFrame(cols)[["_case", "point_id", *carry, *additive_objectives(spec)]]
    return frame.assign(_front=front_mask(spec, frame))


def objective_frame(spec: SweepSpec, results: pd.DataFrame) -> pd.DataFrame:
    """One row per (workload variant, point): each objective summed over the workload's layers
    (area_mm2 is per point), with the point's swept values."""
    return per_point_frame(spec, objective_sums(spec, results))


def front_mask(spec: SweepSpec, per_point: pd.DataFrame) -> np.ndarray:
    """Which rows of `per_point` are non-dominated over the objectives within their workload variant."""
    keep = np.zeros(len(per_point), dtype=bool)
    for _, idx in per_point.groupby("_case", sort=True).indices.items():
        keep[idx] = non_dominated(per_point.iloc[idx][list(spec.objectives)].to_numpy(dtype=np.float64))
    return keep


def pareto_frame(spec: SweepSpec, per_point: pd.DataFrame) -> pd.DataFrame:
    """The non-dominated points over the objectives, per workload variant (rows marked `_front`)."""
    front = per_point[per_point["_front"]].sort_values(["_case", *spec.objectives, "point_id"], kind="stable")
    cols = ["workload", "layer_grid_id", *layer_grid_columns(spec), "point_id", "point_hash", *spec.hw_keys,
            *spec.objectives]
    return front[list(dict.fromkeys(cols))].reset_index(drop=True)


def influence_frame(spec: SweepSpec, summary) -> pd.DataFrame:
    """Each knob's share of the variance of log(first objective) explained by its mean effect
    (eta squared: between-level sum of squares / total), within each workload variant, from the
    report's summary (summary.ReportSummary.shares); the objective itself when some value is not
    positive."""
    objective = spec.objectives[0]
    log = summary.points > 0 and summary.all_positive
    shares = summary.shares(log)
    records = []
    exp = spec.expansion
    for i, (knob, axis) in enumerate(knobs(spec).items()):
        if len(axis.rows) < 2:
            continue
        followers = ([] if axis.is_zip else list(axis.keys[1:])) + \
            [exp.keys[s] for s, leader in exp.tied if exp.keys[leader] in axis.keys]
        records.append({"knob": knob, "values": len(axis.rows), "objective": objective,
                        "transform": "log" if log else "none", "share": shares.get(i, 0.0),
                        "tied": ", ".join(followers)})
    frame = pd.DataFrame(records, columns=["knob", "values", "objective", "transform", "share", "tied"])
    return frame.sort_values("share", ascending=False, kind="stable").reset_index(drop=True)
