"""A sweep's report files, streamed from the saved chunks in point order.

results.csv (and results.parquet) and invalid.csv are written chunk by chunk into temporary files
and renamed into place at the end, so memory does not grow with the rows. Per design point and
workload variant only the summed objectives, the point's hash and area are kept (a few dozen bytes,
documented in docs/sweeps.md) for the Pareto front, the knob influence and the figures.
"""
from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import __version__
from ..csvtext import frame_csv
from ..errors import AttnsimError
from ..fileio import AtomicStream, write_atomic
from ..report import display_path
from ..sidework import Standby
from . import FIGURES, tables
from .summary import ReportSummary
from .spec import SweepSpec


@dataclass
class SweepOutcome:
    out_dir: Path
    rows: int                    # rows of results.csv
    pareto: pd.DataFrame
    influence: pd.DataFrame
    files: list[str]
    invalid_rows: int = 0
    evaluated: int = 0           # point ids gone through by this run (the rest were resumed)
    seconds: float = 0.0         # the whole run
    eval_seconds: float = 0.0    # evaluating the points (warm-up, workers, chunk files), nothing else
    report_seconds: float = 0.0  # streaming the tables, writing the files and the figures
    notes: list[str] = field(default_factory=list)
    evaluated_points: int = 0    # design points with at least one row in results.csv
    invalid_points: int = 0      # design points whose hardware (or an expression at them) was invalid
    filtered_by: dict = field(default_factory=dict)    # constraint key path -> points it left out

    @property
    def filtered(self) -> pd.DataFrame:
        """filtered.csv, read back (points a constraint left out; empty without constraints)."""
        path = self.out_dir / "filtered.csv"
        return pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["point_id", "constraint"])

    @property
    def results(self) -> pd.DataFrame:
        """results.csv, read back (the rows are streamed to disk, never all held)."""
        return pd.read_csv(self.out_dir / "results.csv")

    @property
    def invalid(self) -> pd.DataFrame:
        return pd.read_csv(self.out_dir / "invalid.csv")


def write_report(spec: SweepSpec, out: Path, chunks, warn, standby: Standby | None = None) -> SweepOutcome:
    """Write every report file from `chunks` (ChunkResults, or an iterable that reads them back one
    at a time, in order of start; a point covered twice counts once; None between them says the next
    is not ready yet: run.py's evaluation hands them on as they are finished). The figures are drawn by
    `standby` (a Standby that imported FIGURES: run_sweep forks it before the warm-up point), else
    by one forked here, while the tables are written and flushed to the disk."""
    generated = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    prov = {"sweep_file": display_path(spec.source), "sweep_sha256": spec.sha256,
            "simulator_version": __version__, "generated": generated}
    streams = _Streams(out, with_filtered=bool(spec.expansion.constraints))
    try:
        tally = _stream_rows(spec, chunks, streams, prov, generated)
        _report_invalid(spec, tally.kinds, tally.first_invalid, out, warn)
        if tally.rows == 0:
            _nothing_evaluated(spec, out, streams, tally)
        with (standby or Standby((FIGURES,))) as side:
            pareto, influence, files, drawing = _tables_and_figures(spec, out, streams, tally, prov, side)
            streams.commit()
            for job in drawing:
                files += job.result()
    finally:
        streams.discard()
    order = ["results.csv", "results.parquet", "pareto.csv", "invalid.csv", "filtered.csv", "influence.csv"]
    files.sort(key=lambda f: order.index(f) if f in order else len(order))
    return SweepOutcome(out, tally.rows, pareto, influence, files, tally.invalid_rows,
                        evaluated_points=tally.evaluated_points, invalid_points=len(tally.invalid_ids),
                        filtered_by=dict(tally.filtered_by))


def _tables_and_figures(spec, out: Path, streams, tally, prov: dict, side: Standby):
    """Start both figures on `side`, flush the streamed files apart, write pareto.csv and
    influence.csv; return (pareto, influence, files written, the figures' jobs)."""
    summary = tally.summary
    pareto = tables.pareto_frame(spec, tables.per_point_frame(spec, summary.fronts()))
    influence = tables.influence_frame(spec, summary)
    drawn = tables.per_point_frame(spec, summary.figure_rows())      # a bounded subset (summary.py)
    counted = (tally.evaluated_points, len(summary.front))
    # what the standby is sent is pickled: the heat map gets its cells and a row per panel, not the
    # summary (which holds the scatter's sample of up to summary.SAMPLE_ROWS points)
    heads = drawn.groupby("_case", sort=True).head(1)
    # the heat map first: it takes longer to draw (its files are still listed after the scatter's)
    heat = side.submit(FIGURES, "heatmap_figure", spec, heads, influence, out / "heatmap.png",
                       _HeatCells(spec, heads, influence, summary), counted[1])
    drawing = [side.submit(FIGURES, "pareto_figure", spec, drawn, out / "pareto.png", *counted), heat]
    if tally.held is not None:           # the last piece's rows, written while the figures are drawn
        streams.write_results(tally.held)
        tally.held = None
    streams.sync_apart()
    files = ["results.csv"] + (["results.parquet"] if streams.parquet is not None else []) + ["invalid.csv"]
    files += ["filtered.csv"] if streams.filtered is not None else []
    for name, frame in (("pareto", pareto), ("influence", influence)):
        files += _write_frame(out / f"{name}.csv", frame.assign(**prov))
    return pareto, influence, files, drawing


class _HeatCells:
    """The heat map's grids (figures.heatmap_figure asks summary.cell_means of each panel), taken
    from the summary here: a few numbers per cell."""

    def __init__(self, spec, heads, influence, summary):
        self.grids = {}
        if len(influence) >= 2:
            index = {name: i for i, name in enumerate(tables.knobs(spec))}
            a, b = (index[k] for k in influence["knob"].iloc[:2])
            log = bool(influence["transform"].iloc[0] == "log")
            for case in heads["_case"]:
                self.grids[(int(case), a, b, log)] = summary.cell_means(int(case), a, b, log)

    def cell_means(self, case: int, a: int, b: int, log: bool):
        return self.grids[(case, a, b, bool(log))]


@dataclass
class _Tally:
    """What streaming the chunks counted: the report's summary of the points (fronts, influence
    sums, figure data: summary.py), rows, invalid and filtered points (for the warning and the
    expansion report)."""
    summary: ReportSummary
    kinds: Counter = field(default_factory=Counter)
    first_invalid: list = field(default_factory=list)
    rows: int = 0
    invalid_rows: int = 0
    evaluated_points: int = 0
    invalid_ids: set = field(default_factory=set)       # bounded by the invalid points, not the grid
    filtered_by: Counter = field(default_factory=Counter)
    held: pd.DataFrame | None = None        # the last piece's results, not written yet (_stream_rows)


def _nothing_evaluated(spec, out: Path, streams, tally: _Tally) -> None:
    """No row at all: say why (every point filtered, or every one invalid) and keep invalid.csv."""
    filtered = sum(tally.filtered_by.values())
    if tally.invalid_rows == 0 and filtered:
        raise AttnsimError(f"{spec.source}: the constraints filter every one of the {spec.n_points:,} design points "
                           f"({', '.join(f'{c}: {n:,}' for c, n in sorted(tally.filtered_by.items()))}); "
                           f"nothing to evaluate")
    streams.commit_invalid()
    also = f", {filtered:,} filtered by constraints" if filtered else ""
    raise AttnsimError(f"{spec.source}: no design point could be evaluated ({tally.invalid_rows} invalid{also}); every "
                       f"reason is in {out / 'invalid.csv'}; the first: {tally.first_invalid[0][1]}")


def _stream_rows(spec, chunks, streams, prov, generated) -> "_Tally":
    """Stream every chunk's rows, invalid and filtered points into the files, in point order; return
    the points' summary and the counts the warning and the expansion report need. Each piece's
    results are written as soon as they are made, but the last piece's (the one reaching the grid's
    end) are held in the tally (`held`): the summary is complete without writing them, so the
    figures can be started first and drawn while they are written (_tables_and_figures)."""
    t = _Tally(ReportSummary(spec))

    def invalid(frame: pd.DataFrame, header: bool = False) -> None:
        if len(frame) or header:
            streams.write_invalid(frame.assign(**prov))
        t.kinds.update(frame["kind"])
        t.first_invalid.extend((r.what, r.problems) for r in frame.head(3 - len(t.first_invalid)).itertuples())
        t.invalid_rows += len(frame)
        t.invalid_ids.update(int(p) for p in frame.loc[frame["kind"] != "simulation", "point_id"].dropna())

    invalid(tables.invalid_frame(spec, [], with_cases=True), header=True)   # invalid layer_grid variants
    for piece in _pieces(chunks, spec.n_points):
        results = tables.results_frame(spec, piece)
        if len(results):
            t.summary.add(tables.objective_sums(spec, results))
            results = results.assign(**_provenance(spec, results), generated=generated)
            if piece[-1].stop >= spec.n_points:
                t.held = results
            else:
                streams.write_results(results)
            t.rows += len(results)
            t.evaluated_points += results["point_id"].nunique()      # pieces never share a point
        if any(c.invalid for c in piece):
            invalid(tables.invalid_frame(spec, piece, with_cases=False))
        if streams.filtered is not None:
            filtered = tables.filtered_frame(spec, piece)
            streams.write_filtered(filtered.assign(**prov))
            t.filtered_by.update(filtered["constraint"])
    return t


PIECE_ROWS = 20_000      # rows per written piece: pandas' per-call cost amortised, memory bounded
EARLY_ROWS = 4_000       # or as few as this when the next chunk is still being evaluated


def _pieces(chunks, n_points: int):
    """Consecutive chunks grouped into pieces (lists of chunks) of about PIECE_ROWS rows (a point
    covered by an earlier chunk counts once). `chunks` (of a grid of `n_points`) may yield None,
    meaning the next chunk is not ready yet: a piece of at least EARLY_ROWS rows is then written
    meanwhile, or a smaller one once the points still to come are no more than those it covers
    (near the end: what is written while the last chunks are evaluated is not left for after them,
    when this process works alone)."""
    covered, pending, size = 0, [], 0
    for chunk in chunks:
        if chunk is None:
            if pending and (size >= EARLY_ROWS or n_points - covered <= covered - pending[0].start):
                yield pending
                pending, size = [], 0
            continue
        chunk = _uncovered(chunk, covered)
        covered = max(covered, chunk.stop)
        pending.append(chunk)
        size += len(chunk.cells) + len(chunk.invalid)
        if size >= PIECE_ROWS:
            yield pending
            pending, size = [], 0
    if pending:
        yield pending


def _uncovered(chunk, covered: int):
    """`chunk` without the points an earlier chunk already covered (overlapping resumed chunks)."""
    if covered <= chunk.start:
        return chunk
    keep = (lambda entries: [e for e in entries if e[0] >= covered])
    return type(chunk)(chunk.start, chunk.stop, keep(chunk.points), keep(chunk.cells), keep(chunk.invalid),
                       keep(chunk.filtered), chunk.parts)


class _Streams:
    """results.csv, results.parquet (with pyarrow), invalid.csv and (with constraints) filtered.csv,
    written piece by piece."""

    def __init__(self, out: Path, with_filtered: bool = False):
        self.results = AtomicStream(out / "results.csv")
        self.invalid = AtomicStream(out / "invalid.csv")
        self.filtered = AtomicStream(out / "filtered.csv") if with_filtered else None
        self.parquet = _ParquetStream.open(out / "results.parquet")
        self._header = {"results": True, "invalid": True, "filtered": True}
        self._sync = None

    def write_results(self, frame: pd.DataFrame) -> None:
        frame = _public(frame)
        self.results.write(frame_csv(frame, header=self._header["results"]))
        self._header["results"] = False
        if self.parquet is not None:
            self.parquet.write(frame)

    def write_invalid(self, frame: pd.DataFrame) -> None:
        self.invalid.write(_public(frame).to_csv(index=False, header=self._header["invalid"]))
        self._header["invalid"] = False

    def write_filtered(self, frame: pd.DataFrame) -> None:
        if len(frame) or self._header["filtered"]:
            self.filtered.write(_public(frame).to_csv(index=False, header=self._header["filtered"]))
            self._header["filtered"] = False

    def commit_invalid(self) -> None:
        self.invalid.commit()

    def _files(self) -> list:
        parquet = self.parquet.stream if self.parquet is not None else None
        return [f for f in (self.results, parquet, self.invalid, self.filtered) if f is not None]

    def sync_apart(self) -> None:
        """Flush every file to the disk in a second thread (fsync waits on the disk, not the CPU:
        the figures and the small tables are made meanwhile); commit() waits for it."""
        if self.parquet is not None:
            self.parquet.finish()
        self._sync = _Syncing(self._files())

    def commit(self) -> None:
        """Rename every file into place once it is on the disk (an error flushing it is raised here)."""
        if self._sync is None:
            self.sync_apart()
        self._sync.wait()
        for stream in self._files():
            stream.publish()

    def discard(self) -> None:
        if self._sync is not None:
            self._sync.wait(raising=False)
        for stream in (self.results, self.invalid, self.filtered, self.parquet):
            if stream is not None:
                stream.discard()


class _Syncing:
    def __init__(self, files: list):
        import threading

        self.error = None
        self.thread = threading.Thread(target=self._run, args=(files,), name="attnsim-fsync", daemon=True)
        self.thread.start()

    def _run(self, files) -> None:
        try:
            for f in files:
                f.sync()
        except OSError as exc:
            self.error = exc

    def wait(self, raising: bool = True) -> None:
        self.thread.join()
        if raising and self.error is not None:
            raise self.error


class _ParquetStream:
    """results.parquet through one pyarrow ParquetWriter: a row group per piece, the schema of the
    first piece (a column that is empty there is typed as text)."""

    def __init__(self, path: Path, pa, pq):
        self.pa, self.pq = pa, pq
        self.stream = AtomicStream(path, binary=True)
        self.writer = None
        self.schema = None

    @classmethod
    def open(cls, path: Path):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            return None
        return cls(path, pa, pq)

    def write(self, frame: pd.DataFrame) -> None:
        pa = self.pa
        frame = frame.assign(**{c: _as_text(frame[c]) for c in frame.columns if _mixed(frame[c])})
        if self.writer is None:
            schema = pa.Schema.from_pandas(frame, preserve_index=False)
            self.schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema])
            self.writer = self.pq.ParquetWriter(self.stream.tmp, self.schema)   # pyarrow's own handle
        self.writer.write_table(pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False))

    def finish(self) -> None:
        """Write the footer (the file is then complete, and ready to sync)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def discard(self) -> None:
        self.stream.discard()


def _mixed(column: pd.Series) -> bool:
    """An object column holding anything but text (swept values of mixed types, integers beyond
    int64): parquet gets its text, as results.csv shows it."""
    return column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty")


def _as_text(column: pd.Series) -> pd.Series:
    return column.map(lambda v: None if v is None else str(v))


def _public(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if c.startswith("_")])


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
    write_atomic(path, _public(frame).to_csv(index=False))
    return [path.name]


def _report_invalid(spec: SweepSpec, kinds: Counter, first: list, out: Path, warn) -> None:
    if not sum(kinds.values()):
        return
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
    lines += [f"  {what}: {problems}" for what, problems in first[:3]]
    warn("\n".join(lines))


def _s(n: int) -> str:
    return "" if n == 1 else "s"
