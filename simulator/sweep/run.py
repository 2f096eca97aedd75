"""`attnsim sweep`: run a design-space sweep, resumably, and write results, Pareto fronts and figures.

run_sweep() evaluates every pending design point (count-only) on an executor, saves each finished
chunk in DIR/.partial/ as it arrives, and streams results.csv in (point id, workload variant,
layer) order (sweep/report.py) while the points are evaluated: each chunk is handed to the report
once every chunk before it is (those of an earlier run read back), so at most the chunks in flight
are held, and an interrupted-and-resumed run writes the same files as an uninterrupted one. A
sweep larger than limits.SWEEP_DEFAULT_MAX_POINTS needs `max_points:` (or --max-points); --jobs
is capped at the CPUs; a full disk or an unwritable folder stops it with exit status 2 and a
resumable state. See docs/sweeps.md.
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AttnsimError, ConfigError
from ..limits import SWEEP_DEFAULT_MAX_POINTS, SWEEP_MAX_POINTS
from ..sidework import Standby
from . import FIGURES
from .evaluate import EvalContext, evaluate_chunk
from .executors import LocalPool, make_executor
from .rows import ROW_COLUMNS
from .spec import SweepSpec, grid_text
from .store import PartialStore, auto_chunk_size, count, done_ranges, inner_periods, pending_ranges

if TYPE_CHECKING:
    from .report import SweepOutcome

AHEAD_S = 1.0               # work queued per worker while the report is written (_Evaluation._warm_up)
MAX_AHEAD_POINTS = 10_000   # points per worker at most: finished results held here stay bounded

PROVENANCE = ("hw_file", "hw_sha256", "workload_file", "workload_sha256", "sweep_file", "sweep_sha256",
              "simulator_version", "generated")
__all__ = ["run_sweep", "SweepOutcome", "SweepInterrupted", "default_out_dir", "write_report", "grid_text",
           "expansion_report"]


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: what is saved, and how to finish."""


def __getattr__(name: str):
    if name == "SweepOutcome":          # report.py (and pandas with it) is imported when first needed
        from .report import SweepOutcome
        return SweepOutcome
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write_report(spec: SweepSpec, out: Path, chunks, warn, standby: Standby | None = None):
    """sweep/report.py's write_report. That module imports pandas (about 0.3 s): this process imports
    it once the workers have started (_import_report), so that they are forked without it and the
    import overlaps their work instead of delaying it."""
    from .report import write_report as write

    return write(spec, out, chunks, warn, standby)


def _import_report() -> None:
    """Import report.py (pandas with it) in a second thread: this one goes on taking the workers'
    chunks and giving them more (the import holds the interpreter most of the time, but taking a
    chunk needs it only briefly). Called once the workers are forked: no fork follows."""
    import threading

    def load() -> None:
        try:
            from . import report  # noqa: F401
        except Exception:       # noqa: BLE001 - write_report imports it again and raises it there
            pass

    threading.Thread(target=load, name="attnsim-import", daemon=True).start()


def default_out_dir(spec: SweepSpec) -> Path:
    return Path("reports") / "sweeps" / spec.name


def run_sweep(spec: SweepSpec, out_dir: str | Path | None = None, jobs: int | None = None,
              executor: str = "local", scheduler: str | None = None, progress: bool = False,
              chunk_size: int | None = None, log=None, warn=None, max_points: int | None = None) -> SweepOutcome:
    """Evaluate every design point of `spec` not already saved in `out_dir`, then write the report.

    `log(message)` receives progress lines and notes (default: none), `warn(message)` the
    invalid-point warning (default: stderr). `max_points` allows a sweep of that many evaluations
    (design points x workload variants) like the sweep file's `max_points:`."""
    started = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else default_out_dir(spec)
    if out.exists() and not out.is_dir():
        raise AttnsimError(f"--out {out}: is a file; give a folder for the sweep's files")
    if not spec.valid_cases:
        raise AttnsimError(f"{spec.source}: every layer_grid combination is invalid; the first: "
                           f"{_case_problem(spec, spec.cases[0])}")
    check_size(spec, max_points)
    say = log or (lambda msg: None)
    jobs = _jobs(jobs, executor, scheduler, say)
    store = PartialStore(out, spec.fingerprint_parts(), row_width=2 + len(ROW_COLUMNS) + len(spec.energy_columns))
    refs = _io(store.load, store, spec, "read the saved points in")
    _say_repairs(store, say)
    done = done_ranges(refs)
    say(f"sweep {spec.name}: {grid_text(spec)} x {len(spec.valid_cases)} workload variant(s)"
        f"{f', resuming with {count(done):,} done' if done else ''} -> {out}/")
    eval_started = time.perf_counter()
    # The figures' standby is forked first, before the compiled kernels are loaded here and before any
    # worker or thread (a Dask client's) exists: it imports matplotlib on another core meanwhile and
    # needs no kernel (figures.py draws without one).
    with Standby((FIGURES,)) as standby:
        evaluation = _Evaluation(spec, store, refs, jobs, executor, scheduler, progress, chunk_size)
        chunks = evaluation.chunks()
        try:
            next(chunks)            # the warm-up points here, then the workers started (_Evaluation)
            outcome = write_report(spec, out, chunks, warn or _stderr, standby)
        except OSError as exc:
            if evaluation.done_at is None:
                raise AttnsimError(f"cannot write the report into {out}: {exc.strerror or exc}; "
                                   f"{count(done_ranges(refs)):,} of {spec.n_points:,} design points are saved in "
                                   f"{store.dir}: fix that and run the same command again to evaluate the rest and "
                                   f"write the report") from None
            raise AttnsimError(f"cannot write the report into {out}: {exc.strerror or exc}; every design point is "
                               f"saved in {store.dir}: fix that and run the same command again to write the report "
                               f"(nothing is evaluated again)") from None
        except SweepInterrupted:
            raise
        except KeyboardInterrupt as exc:
            if evaluation.done_at is None:
                raise evaluation.interrupted() from exc
            raise SweepInterrupted(f"every design point is saved in {store.dir}, but the report is not finished: run "
                                   f"the same command again to write it (nothing is evaluated again)") from exc
        finally:
            chunks.close()          # stops the workers if the report stopped early
    store.remove()
    ended = time.perf_counter()
    outcome.evaluated, outcome.seconds = evaluation.evaluated, ended - started
    outcome.eval_seconds, outcome.report_seconds = evaluation.done_at - eval_started, ended - evaluation.done_at
    return outcome


def expansion_report(spec: SweepSpec, outcome: SweepOutcome) -> str:
    """How the grid expanded and what became of its points: 'design points: 150 in the product of the
    listed values, 120 tied away -> 30 in the grid; 6 filtered by constraints, 2 invalid, 22 evaluated'
    (counted while the report was streamed)."""
    exp = spec.expansion
    head = f"{exp.combinations:,} in the product of the listed values, {exp.tied_away:,} tied away -> " \
        if exp.tied_away else ""
    parts = []
    if exp.constraints:
        by = outcome.filtered_by
        detail = f" ({', '.join(f'{c}: {n:,}' for c, n in sorted(by.items()))})" if len(exp.constraints) > 1 and \
            len(by) else ""
        parts.append(f"{sum(by.values()):,} filtered by constraints{detail}")
    parts.append(f"{outcome.invalid_points:,} invalid")
    parts.append(f"{outcome.evaluated_points:,} evaluated")
    return f"design points: {head}{spec.n_points:,} in the grid; {', '.join(parts)}"


def check_size(spec: SweepSpec, max_points: int | None = None) -> None:
    """Refuse a sweep of more evaluations (design points x workload variants) than allowed: the
    sweep file's max_points (or the flag), else SWEEP_DEFAULT_MAX_POINTS."""
    evaluations = spec.n_points * len(spec.valid_cases)
    allowed = max_points or spec.max_points or SWEEP_DEFAULT_MAX_POINTS
    if evaluations <= allowed:
        return
    size = (f"{spec.n_points:,} design points x {len(spec.valid_cases):,} workload variant"
            f"{'s' if len(spec.valid_cases) != 1 else ''} = {evaluations:,} evaluations")
    if evaluations > SWEEP_MAX_POINTS:
        why = f"more than this tool runs in one sweep ({SWEEP_MAX_POINTS:,}): narrow the grid or split it into " \
              f"several sweep files"
    elif max_points or spec.max_points:
        why = f"more than max_points allows ({allowed:,}): raise it to {evaluations} or narrow the grid"
    else:
        why = (f"more than {SWEEP_DEFAULT_MAX_POINTS:,}, the most a sweep runs unasked: add `max_points: "
               f"{evaluations}` to the sweep file (or pass --max-points {evaluations}) to run it")
    raise ConfigError(spec.source, [("max_points" if (max_points or spec.max_points) else "hw_grid",
                                     f"{size}, {why}")])


def _jobs(jobs: int | None, executor: str, scheduler: str | None, say) -> int:
    """Worker processes: at most the CPUs this process may use (a note says when capped); a remote
    Dask cluster is not capped."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    if jobs is None:
        return cpus
    if jobs < 1:
        raise AttnsimError(f"--jobs must be at least 1, got {jobs}")
    if jobs > cpus and not (executor == "dask" and scheduler):
        say(f"attnsim: note: --jobs {jobs} is more than the {cpus} CPU{'s' if cpus != 1 else ''} this machine "
            f"gives it; using {cpus}")
        return cpus
    return jobs


def _io(action, store, spec, what: str):
    """Run a store operation; an OSError (a full disk, a read-only folder) becomes a clear error."""
    try:
        return action()
    except OSError as exc:
        raise _io_error(exc, store, spec, what) from None


def _io_error(exc: OSError, store, spec, what: str, done: int | None = None) -> AttnsimError:
    """What failed, what is saved and how to go on."""
    saved = f" {done:,} of {spec.n_points:,} design points are saved there;" if done is not None else ""
    return AttnsimError(f"cannot {what} {store.dir}: {exc.strerror or exc};{saved} fix that (free some space, or "
                        f"make the folder writable) and run the same command again to resume, or remove "
                        f"{store.dir} to start over")


def _say_repairs(store: PartialStore, say) -> None:
    if store.stale:
        say(f"attnsim: note: removed {len(store.stale)} temporary file(s) of a run that was killed while saving")
    if store.discarded:
        say(f"attnsim: note: {len(store.discarded)} saved chunk file(s) in {store.dir} could not be read back "
            f"(renamed *.damaged); their points are evaluated again")


_END = object()        # the executor has no chunk left


class _Evaluation:
    """The pending points, evaluated on the executor while the report is written from them.

    chunks() yields None once the warm-up points have run here (the compiled kernels loaded before
    any fork, and a few points timed to size the chunks) and the workers have started, then every
    chunk of the sweep in point order: those saved before (by an earlier run, or the warm-up) read
    back, the others as the workers finish them (each saved first, and handed on as it reads back).
    Before waiting for a chunk that is not finished it yields None: the report may then write the
    rows it holds (report._pieces), so it is written while the points are evaluated."""

    def __init__(self, spec, store, refs, jobs, executor, scheduler, progress, chunk_size):
        self.spec, self.store, self.refs, self.jobs = spec, store, refs, jobs
        self.executor, self.scheduler, self.progress, self.chunk_size = executor, scheduler, progress, chunk_size
        self.evaluated = 0          # points evaluated by this run
        self.done_at = None         # perf_counter() when the last of them was finished
        self.arrived = 0            # chunks the workers finished
        self.bar = self.ctx = self.in_flight = None

    def chunks(self):
        store = self.store
        try:
            pending = self._warm_up()
            saved = [(ref.start, ref.stop, ref) for ref in self.refs]
            order = sorted(saved + [(a, b, None) for a, b in pending], key=lambda item: item[:2])
            if not pending:
                self.done_at = time.perf_counter()
                yield None
                for _, _, ref in order:
                    yield store.read(ref)
                return
            with make_executor(self.executor, self.ctx, store.key, self.jobs, self.scheduler,
                               self.in_flight) as pool:
                arrivals = pool.run(pending, started=_import_report)
                ready = dict([self._arrived(arrivals, len(pending))])
                yield None
                for start, _, ref in order:
                    if ref is not None:
                        yield store.read(ref)
                        continue
                    if start not in ready:      # take what is finished; only then is it not ready
                        ready.update(self._finished(arrivals, len(pending)))
                    if start not in ready:
                        yield None
                    while start not in ready:
                        ready.update([self._arrived(arrivals, len(pending))])
                    yield ready.pop(start)
        except KeyboardInterrupt as exc:
            raise self.interrupted() from exc
        finally:
            if self.bar is not None:
                self.bar.close()

    def interrupted(self) -> SweepInterrupted:
        done_now = count(done_ranges(self.refs))
        return SweepInterrupted(f"{done_now:,} of {self.spec.n_points:,} design points are saved in {self.store.dir}; "
                                f"run the same command again to finish the rest")

    def _warm_up(self) -> list:
        """Evaluate the warm-up points (saved like any chunk); return the pending ranges the workers get."""
        spec = self.spec
        pending = pending_ranges(spec.n_points, done_ranges(self.refs), spec.n_points or 1)
        if pending:
            self.bar = _progress_bar(spec.n_points, spec.n_points - count(pending), self.progress)
        self.ctx = EvalContext.from_spec(spec)
        chunk_size = self.chunk_size
        if pending and chunk_size is None:
            chunk_size, per_point = _probe(self.ctx, self._save, pending, self.jobs)
            # chunks queued per worker: at least AHEAD_S of work, so that a piece of the report written
            # between two takes of the results (a few tenths of a second) never leaves a worker idle
            by_time = math.ceil(AHEAD_S / max(per_point * chunk_size, 1e-6))
            self.in_flight = max(LocalPool.IN_FLIGHT_PER_WORKER, min(by_time, MAX_AHEAD_POINTS // chunk_size))
        return pending_ranges(spec.n_points, done_ranges(self.refs), chunk_size or 1)

    def _finished(self, arrivals, n_pending: int) -> list:
        """[(start, chunk as it reads back)] of the chunks the workers have finished by now, saved
        (the executor yields None when no other is finished)."""
        taken = []
        while self.arrived < n_pending:
            chunk = next(arrivals, _END)
            if chunk is None:
                break
            taken.append(self._took(chunk, n_pending))
        return taken

    def _arrived(self, arrivals, n_pending: int) -> tuple:
        """(start, chunk as it reads back) of the next chunk a worker finishes, saved (waits for it)."""
        chunk = next(arrivals, _END)
        while chunk is None:                # nothing finished yet: asking again waits for a worker
            chunk = next(arrivals, _END)
        return self._took(chunk, n_pending)

    def _took(self, chunk, n_pending: int) -> tuple:
        if chunk is _END:
            raise AttnsimError("internal error (a bug in attnsim, please report it): a chunk of design points "
                               "was never evaluated")
        plain = self._save(chunk, reread=True)
        self.arrived += 1
        if self.arrived == n_pending:
            self.done_at = time.perf_counter()
        return chunk.start, plain

    def _save(self, chunk, reread: bool = False):
        """Save `chunk`; with `reread`, return it as it reads back (plain numbers: the report gets the
        same values whether a chunk was evaluated by this run or an earlier one). The warm-up's
        chunks are not reread here: the report reads them back with the saved ones."""
        try:
            ref, plain = self.store.save_and_reread(chunk) if reread else (self.store.save(chunk), None)
        except OSError as exc:
            raise _io_error(exc, self.store, self.spec, "save finished design points in",
                            count(done_ranges(self.refs))) from None
        self.refs.append(ref)
        self.evaluated += chunk.stop - chunk.start
        if self.bar is not None:
            self.bar.update(chunk.stop - chunk.start)
        return plain


def _probe(ctx, save, pending, jobs) -> tuple[int, float]:
    """Evaluate the first pending point, then time the next eight; return (the chunk size, seconds
    per point)."""
    first = pending[0][0]
    evaluated = 0
    elapsed = 0.0
    for start, stop in ((first, first + 1), (first + 1, min(first + 9, pending[0][1]))):
        if start >= stop:
            break
        t0 = time.perf_counter()
        chunk = evaluate_chunk(ctx, start, stop)
        elapsed = time.perf_counter() - t0
        save(chunk)
        evaluated += stop - start
    per_point = elapsed / max(1, stop - start)
    return auto_chunk_size(per_point, count(pending) - evaluated, jobs,
                           periods=inner_periods(len(axis.rows) for axis in ctx.expansion.axes)), per_point


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


def _case_problem(spec: SweepSpec, case) -> str:
    values = ", ".join(f"{k}={v}" for k, v in case.values)
    problems = "; ".join(f"{p}: {m}" if p else m for p, m in case.problems)
    return f"{spec.workload_paths[case.workload_index]} with {values}: {problems}"

