"""`attnsim sweep`: run a design-space sweep, resumably, and write results, Pareto fronts and figures.

run_sweep() evaluates every pending design point (count-only) on an executor, saves each finished
chunk in DIR/.partial/ as it arrives, and at the end assembles results.csv in (point id, workload
variant, layer) order, so an interrupted-and-resumed run writes the same files as an uninterrupted
one. See docs/sweeps.md.
"""
from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import AttnsimError
from ..fileio import write_atomic
from ..report import display_path
from . import tables
from .executors import make_executor
from .evaluate import EvalContext, evaluate_chunk
from .spec import SweepSpec
from .store import PartialStore, auto_chunk_size, count, done_ranges, pending_ranges

PROVENANCE = ("hw_file", "hw_sha256", "workload_file", "workload_sha256", "sweep_file", "sweep_sha256",
              "simulator_version", "generated")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: what is saved, and how to finish."""


@dataclass
class SweepOutcome:
    out_dir: Path
    results: pd.DataFrame
    pareto: pd.DataFrame
    invalid: pd.DataFrame
    influence: pd.DataFrame
    files: list[str]
    evaluated: int              # design point ids gone through by this run (the rest were resumed)
    seconds: float              # run_sweep() as a whole
    eval_seconds: float = 0.0   # evaluating the points (warm-up, workers, chunk files), nothing else
    report_seconds: float = 0.0  # assembling the tables, writing the files and the figures
    filtered: pd.DataFrame | None = None    # points a constraint left out (filtered.csv)


def default_out_dir(spec: SweepSpec) -> Path:
    return Path("reports") / "sweeps" / spec.name


def run_sweep(spec: SweepSpec, out_dir: str | Path | None = None, jobs: int | None = None,
              executor: str = "local", scheduler: str | None = None, progress: bool = False,
              chunk_size: int | None = None, log=None, warn=None) -> SweepOutcome:
    """Evaluate every design point of `spec` not already saved in `out_dir`, then write the report.

    `log(message)` receives progress lines (default: none), `warn(message)` the invalid-point
    warning (default: stderr)."""
    started = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else default_out_dir(spec)
    if out.exists() and not out.is_dir():
        raise AttnsimError(f"--out {out}: is a file; give a folder for the sweep's files")
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise AttnsimError(f"--jobs must be at least 1, got {jobs}")
    if not spec.valid_cases:
        raise AttnsimError(f"{spec.source}: every layer_grid combination is invalid; the first: "
                           f"{_case_problem(spec, spec.cases[0])}")
    say = log or (lambda msg: None)
    store = PartialStore(out, spec.fingerprint_parts())
    chunks = store.load()
    done = done_ranges(chunks)
    say(f"sweep {spec.name}: {grid_text(spec)} x {len(spec.valid_cases)} workload variant(s)"
        f"{f', resuming with {count(done):,} done' if done else ''} -> {out}/")
    eval_started = time.perf_counter()
    evaluated = _evaluate(spec, store, chunks, done, jobs, executor, scheduler, progress, chunk_size)
    eval_done = time.perf_counter()
    outcome = write_report(spec, out, chunks, warn or _stderr)
    store.remove()
    outcome.evaluated, outcome.seconds = evaluated, time.perf_counter() - started
    outcome.eval_seconds, outcome.report_seconds = eval_done - eval_started, time.perf_counter() - eval_done
    return outcome


def grid_text(spec: SweepSpec) -> str:
    """'30 design points (150 in the product of the listed values, 120 tied away; constraints filter
    6 before simulation)': the grid as the sweep file expands it, before anything is simulated."""
    exp = spec.expansion
    notes = [f"{exp.combinations:,} in the product of the listed values, {exp.tied_away:,} tied away"] \
        if exp.tied_away else []
    if spec.filtered_early:
        notes.append(f"constraints filter {spec.filtered_early:,} before simulation")
    return f"{spec.n_points:,} design point{_s(spec.n_points)}" + (f" ({'; '.join(notes)})" if notes else "")


def expansion_report(spec: SweepSpec, outcome: SweepOutcome) -> str:
    """How the grid expanded and what became of its points: 'design points: 150 in the product of the
    listed values, 120 tied away -> 30 in the grid; 6 filtered by constraints, 2 invalid, 22 evaluated'."""
    exp = spec.expansion
    head = f"{exp.combinations:,} in the product of the listed values, {exp.tied_away:,} tied away -> " \
        if exp.tied_away else ""
    parts = []
    if exp.constraints:
        by = outcome.filtered["constraint"].value_counts()
        detail = f" ({', '.join(f'{c}: {n:,}' for c, n in sorted(by.items()))})" if len(exp.constraints) > 1 and \
            len(by) else ""
        parts.append(f"{len(outcome.filtered):,} filtered by constraints{detail}")
    invalid = outcome.invalid
    parts.append(f"{invalid['point_id'][invalid['kind'] != 'simulation'].nunique():,} invalid")
    parts.append(f"{outcome.results['point_id'].nunique():,} evaluated")
    return f"design points: {head}{spec.n_points:,} in the grid; {', '.join(parts)}"


def _evaluate(spec, store, chunks, done, jobs, executor, scheduler, progress, chunk_size) -> int:
    ctx = EvalContext.from_spec(spec)
    pending = pending_ranges(spec.n_points, done, spec.n_points or 1)
    bar = None
    evaluated = 0
    try:
        bar = _progress_bar(spec.n_points, spec.n_points - count(pending), progress) if pending else None
        if pending and chunk_size is None:
            # Warm up here (kernels loaded once, before any fork) and time a few points to size chunks.
            chunk_size, evaluated = _probe(ctx, store, chunks, pending, jobs)
            if bar is not None:
                bar.update(evaluated)
        pending = pending_ranges(spec.n_points, done_ranges(chunks), chunk_size or 1)
        if not pending:
            return evaluated
        with make_executor(executor, ctx, jobs, scheduler) as pool:
            for chunk in pool.run(pending):
                store.save(chunk)
                chunks.append(chunk)
                evaluated += chunk.stop - chunk.start
                if bar is not None:
                    bar.update(chunk.stop - chunk.start)
    except KeyboardInterrupt:
        done_now = count(done_ranges(chunks))
        raise SweepInterrupted(f"{done_now:,} of {spec.n_points:,} design points are saved in {store.dir}; "
                               f"run the same command again to finish the rest") from None
    finally:
        if bar is not None:
            bar.close()
    return evaluated


def _probe(ctx, store, chunks, pending, jobs) -> tuple[int, int]:
    evaluated = 0
    first = pending[0][0]
    for start, stop in ((first, first + 1), (first + 1, min(first + 9, pending[0][1]))):
        if start >= stop:
            break
        t0 = time.perf_counter()
        chunk = evaluate_chunk(ctx, start, stop)
        elapsed = time.perf_counter() - t0
        store.save(chunk)
        chunks.append(chunk)
        evaluated += stop - start
    per_point = elapsed / max(1, stop - start)
    return auto_chunk_size(per_point, count(pending) - evaluated, jobs), evaluated


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    class Bar(tqdm):
        monitor_interval = 0        # no monitor thread: worker processes are forked after this

    return Bar(total=total, initial=initial, unit="pt", desc="design points", file=sys.stderr,
               dynamic_ncols=True, smoothing=0.1)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def write_report(spec: SweepSpec, out: Path, chunks, warn=_stderr) -> SweepOutcome:
    """Assemble the saved chunks into the report files."""
    chunks = sorted(chunks, key=lambda c: c.start)
    generated = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    results = tables.results_frame(spec, chunks)
    invalid = tables.invalid_frame(spec, chunks)
    filtered = tables.filtered_frame(spec, chunks)
    _report_invalid(spec, invalid, out, warn)
    if results.empty:
        _nothing_evaluated(spec, out, invalid, filtered)
    per_point = tables.objective_frame(spec, results)
    pareto = tables.pareto_frame(spec, per_point)
    influence = tables.influence_frame(spec, per_point)
    files = []
    stamped = results.assign(**_provenance(spec, results), generated=generated)
    files += _write_frame(out / "results.csv", stamped)
    files += _write_parquet(out / "results.parquet", stamped)
    prov = {"sweep_file": display_path(spec.source), "sweep_sha256": spec.sha256,
            "simulator_version": __version__, "generated": generated}
    frames = [("pareto", pareto), ("invalid", invalid), ("influence", influence)]
    for name, frame in frames + ([("filtered", filtered)] if spec.expansion.constraints else []):
        files += _write_frame(out / f"{name}.csv", frame.assign(**prov))
    from . import figures

    files += figures.pareto_figure(spec, per_point, out / "pareto.png")
    files += figures.heatmap_figure(spec, per_point, influence, out / "heatmap.png")
    return SweepOutcome(out, stamped, pareto, invalid, influence, files, 0, 0.0, filtered=filtered)


def _nothing_evaluated(spec: SweepSpec, out: Path, invalid: pd.DataFrame, filtered: pd.DataFrame) -> None:
    if invalid.empty:
        counts = filtered["constraint"].value_counts()
        raise AttnsimError(f"{spec.source}: the constraints filter every one of the {spec.n_points:,} design points "
                           f"({', '.join(f'{c}: {n:,}' for c, n in sorted(counts.items()))}); nothing to evaluate")
    write_atomic(out / "invalid.csv", invalid.to_csv(index=False))
    also = f", {len(filtered)} filtered by constraints" if len(filtered) else ""
    raise AttnsimError(f"no design point could be evaluated ({len(invalid)} invalid{also}); every reason is in "
                       f"{out / 'invalid.csv'}; the first: {invalid['problems'].iloc[0]}")


def _provenance(spec: SweepSpec, results: pd.DataFrame) -> dict:
    wl_file = {c.index: display_path(c.workload.source) for c in spec.valid_cases}
    wl_sha = {c.index: c.workload.sha256 for c in spec.valid_cases}
    case = results["_case"].to_numpy()
    return {"hw_file": display_path(spec.base_hw_path), "hw_sha256": spec.base_hw.sha256,
            "workload_file": pd.Series(case).map(wl_file).to_numpy(),
            "workload_sha256": pd.Series(case).map(wl_sha).to_numpy(),
            "sweep_file": display_path(spec.source), "sweep_sha256": spec.sha256,
            "simulator_version": __version__}


def _write_frame(path: Path, frame: pd.DataFrame) -> list[str]:
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("_")])
    try:
        write_atomic(path, frame.to_csv(index=False))
    except OSError as exc:
        raise AttnsimError(f"cannot write {path}: {exc.strerror or exc}") from None
    return [path.name]


def _write_parquet(path: Path, frame: pd.DataFrame) -> list[str]:
    try:
        import pyarrow  # noqa: F401  (pandas writes parquet through it)
    except ImportError:
        return []
    import io

    buf = io.BytesIO()
    frame.drop(columns=[c for c in frame.columns if c.startswith("_")]).to_parquet(buf, index=False)
    write_atomic(path, buf.getvalue())
    return [path.name]


def _report_invalid(spec: SweepSpec, invalid: pd.DataFrame, out: Path, warn) -> None:
    if invalid.empty:
        return
    kinds = invalid["kind"].value_counts()
    parts = []
    if kinds.get("hardware", 0):
        parts.append(f"{kinds['hardware']:,} of {spec.n_points:,} design point{_s(spec.n_points)} "
                     f"{'has' if kinds['hardware'] == 1 else 'have'} invalid hardware")
    if kinds.get("expression", 0):
        parts.append(f"{kinds['expression']:,} design point{_s(kinds['expression'])} failed a constraint's "
                     f"expression")
    if kinds.get("simulation", 0):
        parts.append(f"{kinds['simulation']:,} (point, workload) pair{_s(kinds['simulation'])} failed to simulate")
    if kinds.get("layer_grid", 0):
        parts.append(f"{kinds['layer_grid']:,} layer_grid combination{_s(kinds['layer_grid'])} "
                     f"{'is' if kinds['layer_grid'] == 1 else 'are'} invalid")
    lines = [f"attnsim: warning: {'; '.join(parts)}; skipped (all in {out / 'invalid.csv'}):"]
    for row in invalid.head(3).itertuples(index=False):
        lines.append(f"  {row.what}: {row.problems}")
    warn("\n".join(lines))


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _case_problem(spec: SweepSpec, case) -> str:
    values = ", ".join(f"{k}={v}" for k, v in case.values)
    problems = "; ".join(f"{p}: {m}" if p else m for p, m in case.problems)
    return f"{spec.workload_paths[case.workload_index]} with {values}: {problems}"

