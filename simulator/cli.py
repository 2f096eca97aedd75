"""The `attnsim` command: argument parsing and file output only."""
from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import time
import warnings
from pathlib import Path

_IMPORTED = time.perf_counter()       # the fallback origin of the whole-run time (see _process_seconds)

from . import __version__
from .errors import AttnsimError, ConfigError
from .limits import SEED_MAX, SWEEP_MAX_POINTS

FORMATS = ("table", "csv", "json", "md", "parquet")
_SUFFIX_FORMAT = {".csv": "csv", ".json": "json", ".md": "md", ".txt": "table", ".parquet": "parquet", "": "table"}
_HW_KEYS = ("mac_array", "memories", "vector_unit", "clock_hz", "number_format")
_SWEEP_KEYS = ("base_hw", "workloads", "hw_grid", "layer_grid")


def default_hw_path() -> Path:
    """hw_configs/default.yaml of the source tree this package was installed from."""
    return Path(__file__).resolve().parent.parent / "hw_configs" / "default.yaml"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnsim", description="Simulate attention layers on a modeled MAC-array accelerator.")
    parser.add_argument("--version", action="version", version=f"attnsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a workload (or a model's block stack) on one or more hardware configs")
    run.add_argument("workload", nargs="?", help="workload YAML file (or give --model)")
    run.add_argument("--hw", action="append", metavar="HW.yaml",
                     help="hardware YAML (repeatable; default: hw_configs/default.yaml)")
    run.add_argument("--functional", action="store_true",
                     help="also compute real outputs on the modeled array (same counts)")
    run.add_argument("--seed", type=_int_flag(0, SEED_MAX), default=0,
                     help="seed of the functional inputs, 0 to 2^63-1 (default 0)")
    run.add_argument("--format", choices=FORMATS, help="output format (default: table, or from --out's suffix)")
    run.add_argument("--ops", action="store_true", help="one row per primitive op instead of per layer")
    run.add_argument("--wide", action="store_true",
                     help="--format table: every column (default: a compact view at most 120 characters wide)")
    run.add_argument("--out", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    run.add_argument("--mapper", choices=("heuristic", "search"),
                     help="how GEMMs are tiled: the default mapping (heuristic) or the best of a search "
                          "(default: the workload's `mapper` key, else heuristic); pinned mappings always apply")
    run.add_argument("--objective", choices=("cycles", "energy", "edp"),
                     help="what the search minimises (default: the workload's `objective` key, else cycles)")
    run.add_argument("--schedule", choices=("overlapped", "serial"),
                     help="how a layer's ops share the units (default: each hardware config's `schedule` key)")
    run.add_argument("--trace", metavar="FILE.json",
                     help="write the schedule as a Chrome/Perfetto trace (open in ui.perfetto.dev)")
    run.add_argument("--gantt", metavar="FILE.png", help="draw the schedule as a Gantt chart, one row per unit")
    run.add_argument("--save-outputs", metavar="DIR",
                     help="with --functional: write each layer's inputs, outputs and float64 reference outputs "
                          "to DIR/WORKLOAD.LAYER.HW.npz")
    model = run.add_argument_group("model configs (instead of WORKLOAD.yaml)")
    model.add_argument("--model", metavar="CONFIG.json", help="a Hugging Face-style config.json (see models/)")
    model.add_argument("--phase", help="prefill or decode")
    model.add_argument("--context", type=int, metavar="L", help="tokens already cached (default: prefill 0; "
                                                                "decode the last step of a full context)")
    model.add_argument("--tokens", type=int, metavar="T", help="new tokens per sequence (default: prefill a "
                                                               "full context; decode 1)")
    model.add_argument("--batch", type=int, metavar="B", help="sequences (default 1)")
    run.set_defaults(func=cmd_run)

    table = sub.add_parser("table", help="reproduce and extend Table 1 of 'Attention Is All You Need'")
    table.add_argument("--hw", metavar="HW.yaml", help="hardware config (default: hw_configs/default.yaml)")
    table.add_argument("--out", metavar="DIR", default="reports/table1",
                       help="output folder (default: reports/table1)")
    table.set_defaults(func=cmd_table)

    sweep = sub.add_parser("sweep", help="design-space sweep: every hardware point x workload; Pareto fronts")
    sweep.add_argument("sweep", metavar="SWEEP.yaml", help="sweep file (see docs/sweeps.md)")
    sweep.add_argument("--out", metavar="DIR", help="output folder (default: reports/sweeps/<name>/)")
    sweep.add_argument("--jobs", type=_int_flag(1, 4096), metavar="N",
                       help="worker processes (default and most: the number of CPUs; 1 runs in this process)")
    sweep.add_argument("--executor", choices=("local", "dask"), default="local",
                       help="local processes (default) or a Dask cluster (pip install 'attnsim[distributed]')")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="Dask scheduler address, e.g. tcp://10.0.0.1:8786 (default: a local cluster)")
    sweep.add_argument("--chunk-size", type=_int_flag(1, 1_000_000), metavar="N",
                       help="design points per task (default: about half a second of work each)")
    sweep.add_argument("--max-points", type=_int_flag(1, SWEEP_MAX_POINTS), metavar="N",
                       help="run a sweep of up to N design points x workload variants (like max_points: "
                            "in the sweep file; needed above 100,000)")
    sweep.add_argument("--quiet", action="store_true",
                       help="print nothing but errors: no progress bar, summary or invalid-point warnings "
                            "(invalid points are still listed in invalid.csv)")
    sweep.set_defaults(func=cmd_sweep)

    val = sub.add_parser("validate", help="check hardware, workload and sweep files; list every problem")
    val.add_argument("files", nargs="+", metavar="FILE.yaml")
    val.set_defaults(func=cmd_validate)
    return parser


def cmd_run(args) -> int:
    from . import simulate, to_frame
    from .report import render, render_parquet

    fmt = args.format or (_format_from_suffix(args.out) if args.out else "table")
    if args.out and Path(args.out).is_dir():
        raise AttnsimError(f"--out {args.out}: is a directory; give a file name, e.g. {Path(args.out) / 'report.csv'}")
    if fmt == "parquet" and not args.out:
        raise AttnsimError("--format parquet writes a binary file: give --out FILE.parquet")
    for flag, path, suffix in (("--trace", args.trace, ".json"), ("--gantt", args.gantt, ".png")):
        if path and Path(path).suffix.lower() != suffix:
            raise AttnsimError(f"{flag} {path}: expected a file name ending in {suffix}")
        if path and Path(path).is_dir():
            raise AttnsimError(f"{flag} {path}: is a directory; give a file name")
    if args.objective and args.mapper == "heuristic":
        raise AttnsimError("--objective applies only with --mapper search (the heuristic mapper always "
                           "minimises cycles)")
    saved = _save_folder(args)
    workload = _run_workload(args)
    configs = [_load(p, "hardware") for p in _hw_paths(args.hw)]
    results = simulate(workload, configs, functional=args.functional, seed=args.seed, mapper=args.mapper,
                       objective=args.objective, schedule=args.schedule, tasks=bool(args.trace or args.gantt))
    _write_schedule(results, args.trace, args.gantt)
    if saved is not None:
        from .npz import save_outputs

        names = save_outputs(results, saved)
        print(f"wrote {len(names)} files into {saved}/ (inputs, outputs and float64 reference outputs per layer)",
              file=sys.stderr)
    title = f"attnsim {workload.name}"
    if workload.model is not None and not args.ops:
        from .models.block import describe_run
        from .models.report import model_frame, notes

        frame = model_frame(results, workload.model)
        title = "\n".join([f"{title}: {describe_run(workload.model)}", *(f"  ({n})" for n in notes(workload.model))])
    else:
        frame = to_frame(results, level="op" if args.ops else "layer")
    data = render_parquet(frame) if fmt == "parquet" else render(frame, fmt, title=title, wide=args.wide)
    if args.out:
        _write(args.out, data)
        print(f"wrote {args.out} ({len(frame)} rows)", file=sys.stderr)
    else:
        sys.stdout.write(data)
    return 0


def _save_folder(args):
    """The --save-outputs folder, checked before anything runs."""
    if args.save_outputs is None:
        return None
    if not args.functional:
        raise AttnsimError("--save-outputs needs --functional (a count-only run computes no outputs)")
    from .npz import check_folder

    return check_folder(args.save_outputs)


_MODEL_FLAGS = ("phase", "context", "tokens", "batch")


def _run_workload(args):
    """The workload of `attnsim run`: a YAML file, or the block stack of --model."""
    given = [f"--{flag}" for flag in _MODEL_FLAGS if getattr(args, flag) is not None]
    if args.model is None:
        if args.workload is None:
            raise AttnsimError("give a workload file (attnsim run WORKLOAD.yaml) or a model config (attnsim run "
                               "--model CONFIG.json --phase prefill|decode)")
        if given:
            raise AttnsimError(f"{', '.join(given)} only apply with --model CONFIG.json")
        return _load(args.workload, "workload")
    if args.workload is not None:
        raise AttnsimError(f"give either a workload file ({args.workload}) or --model, not both")
    if args.phase is None:
        raise AttnsimError("--model needs --phase prefill or --phase decode")
    from .checks import Checker
    from .models.block import model_run
    from .models.config import load_model_config
    from .models.workload import model_workload

    shape = load_model_config(args.model)
    chk = Checker("attnsim run")
    run = model_run(chk, "", shape, args.phase, args.context, args.tokens, args.batch,
                    keys=tuple(f"--{flag}" for flag in _MODEL_FLAGS))
    chk.raise_if_any()
    return model_workload(run)


def _write_schedule(results, trace: str | None, gantt: str | None) -> None:
    """The schedule's trace (JSON) and Gantt chart (PNG), when asked for."""
    if trace:
        from .schedule.trace import trace_json

        _write(trace, trace_json(results))
        print(f"wrote {trace} (Trace Event Format; open in ui.perfetto.dev or chrome://tracing)", file=sys.stderr)
    if gantt:
        from .schedule.gantt import write_gantt

        try:
            write_gantt(results, Path(gantt))
        except OSError as exc:
            raise AttnsimError(f"cannot write {gantt}: {exc.strerror or exc}") from None
        print(f"wrote {gantt}", file=sys.stderr)


def cmd_table(args) -> int:
    from .table.report import FILES, make_table1, summary_text

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise AttnsimError(f"--out {args.out}: is a file; give a folder for the report files")
    (hw_path,) = _hw_paths([args.hw] if args.hw else None)
    hw = _load(hw_path, "hardware")
    frames = make_table1(hw, out)
    sys.stdout.write(summary_text(frames))
    print(f"wrote {out}/: {FILES}", file=sys.stderr)
    return 0


def cmd_sweep(args) -> int:
    from .sweep.run import SweepInterrupted, expansion_report, run_sweep
    from .sweep.spec import load_sweep

    if args.scheduler and args.executor != "dask":
        raise AttnsimError("--scheduler is the address of a Dask scheduler: add --executor dask")
    spec = load_sweep(args.sweep)
    say = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    try:
        outcome = run_sweep(spec, args.out, jobs=args.jobs, executor=args.executor, scheduler=args.scheduler,
                            progress=not args.quiet and sys.stderr.isatty(), chunk_size=args.chunk_size, log=say,
                            max_points=args.max_points, warn=say)
    except SweepInterrupted as exc:
        print(f"attnsim: {'terminated' if isinstance(exc.__context__, Terminated) else 'interrupted'}: {exc}",
              file=sys.stderr)
        return 143 if isinstance(exc.__context__, Terminated) else 130
    say(f"wrote {outcome.out_dir}/: {', '.join(outcome.files)} ({outcome.rows:,} rows, "
        f"{len(outcome.pareto):,} Pareto points)")
    say(expansion_report(spec, outcome))
    whole_s = _process_seconds()
    startup_s = max(0.0, whole_s - outcome.eval_seconds - outcome.report_seconds)
    say(f"{outcome.evaluated:,} design points evaluated in {outcome.eval_seconds:.2f} s (whole run {whole_s:.1f} s: "
        f"start-up {startup_s:.1f} s, report and figures {outcome.report_seconds:.1f} s)")
    return 0


def _process_seconds() -> float:
    """Seconds since this process started (interpreter start-up and imports included) on Linux;
    elsewhere since this module was imported."""
    try:
        with open("/proc/self/stat") as f:
            started_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime_s = float(f.read().split()[0])
        return max(0.0, uptime_s - started_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _IMPORTED


def _hw_paths(given) -> list[str]:
    if given:
        return list(given)
    path = default_hw_path()
    if not path.exists():
        raise ConfigError(str(path), [("", "default hardware config not found (is this a source checkout?); "
                                           "pass --hw HW.yaml")])
    return [str(path)]


def _format_from_suffix(out: str) -> str:
    suffix = Path(out).suffix.lower()
    if suffix not in _SUFFIX_FORMAT:
        known = ", ".join(s for s in _SUFFIX_FORMAT if s)
        raise AttnsimError(f"--out {out}: cannot tell the format from the suffix {suffix!r} "
                           f"(known: {known}); pass --format {{{','.join(FORMATS)}}}")
    return _SUFFIX_FORMAT[suffix]


def _write(out: str, text: str) -> None:
    from .fileio import write_atomic

    try:
        removed = write_atomic(out, text)
    except OSError as exc:
        raise AttnsimError(f"cannot write {out}: {exc.strerror or exc}") from None
    for path in removed:
        print(f"attnsim: note: removed {path}, a temporary file an interrupted earlier write left behind",
              file=sys.stderr)


def _int_flag(minimum: int, maximum: int):
    """An argparse type: an integer in [minimum, maximum] (a usage error, exit status 2, otherwise)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not minimum <= value <= maximum:
            shown = text if len(text) <= 40 else f"{text[:30]}... ({len(text):,} characters)"
            high = "2^63-1" if maximum == SEED_MAX else f"{maximum:,}"
            raise argparse.ArgumentTypeError(f"expected an integer from {minimum} to {high}, got {shown!r}")
        return value
    return parse


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings of the simulator (a path length left empty, ...) as one line each on stderr."""
    print(f"attnsim: note: {message}", file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an exception so that temporary files are removed and sweeps save their
    state on the way out, as on Ctrl-C."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _load(path: str, expected: str):
    """Load a workload or hardware file, telling the user when it is the other kind."""
    from . import yaml_io
    from .hardware import Hardware
    from .workload import Workload

    data, text = yaml_io.load_file(path)
    kind = _guess_kind(data)
    if kind == "model config" and expected == "workload":
        raise ConfigError(path, [("", "this is a model config: run it with attnsim run --model "
                                      f"{path} --phase prefill|decode (or name it in a workload's model: section)")])
    if kind is not None and kind != expected:
        raise ConfigError(path, [("", f"this looks like a {kind} file, but a {expected} file was expected here "
                                      f"(usage: attnsim run WORKLOAD.yaml --hw HW.yaml)")])
    cls = Hardware if expected == "hardware" else Workload
    return cls.from_dict(data, source=path, text=text)


def cmd_validate(args) -> int:
    from . import yaml_io

    failed = 0
    for path in args.files:
        try:
            data, text = yaml_io.load_file(path)
            kind = _kind_of(path, data)
            if kind == "hardware":
                from .hardware import Hardware      # each kind imports only what it checks (start-up time)

                Hardware.from_dict(data, source=path, text=text)
            elif kind == "sweep":
                kind = f"sweep: {_sweep_summary(data, path, text)}"
            elif kind == "model config":
                from .models.config import load_model_config

                load_model_config(path)          # strict JSON: duplicates and NaN refused
            else:
                from .workload import Workload

                Workload.from_dict(data, source=path, text=text)
            print(f"{path}: ok ({kind})")
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            failed += 1
    return 2 if failed else 0


def _sweep_summary(data, path: str, text: str) -> str:
    """A sweep file checked as `attnsim sweep` would (its expressions at every point included)."""
    from .sweep.spec import grid_text, sweep_from_dict      # not sweep.run: pandas and Numba stay unloaded

    return grid_text(sweep_from_dict(data, source=path, text=text))


def _guess_kind(data) -> str | None:
    """'hardware', 'workload', 'sweep', or None when the top-level keys do not tell."""
    if isinstance(data, dict) and "base_hw" in data:
        return "sweep"
    if isinstance(data, dict) and any(k in data for k in _HW_KEYS):
        return "hardware"
    if isinstance(data, dict) and ("layers" in data or "model" in data):
        return "workload"
    if isinstance(data, dict) and any(k in data for k in _SWEEP_KEYS):
        return "sweep"
    if isinstance(data, dict) and "model_type" in data:
        return "model config"
    return None


def _kind_of(path: str, data) -> str:
    kind = _guess_kind(data)
    if kind is None:
        raise ConfigError(path, [("", "cannot tell what this file is: a hardware config has 'mac_array' and "
                                      "'memories'; a workload has 'layers' (or 'model'); a sweep has 'base_hw' "
                                      "and 'workloads'; a model config.json has 'model_type'")])
    return kind


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # --help, --version, or a usage error argparse has already printed
        return exc.code if isinstance(exc.code, int) else 2
    previous = _install(signal.SIGTERM, _on_sigterm)
    notice = None
    if args.func in (cmd_run, cmd_table, cmd_sweep) and not getattr(args, "quiet", False):
        from .compile_notice import install

        notice = install()           # says so on stderr when a cold cache compiles kernels (None: off)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", UserWarning)
            warnings.showwarning = _note
            return args.func(args)
    except AttnsimError as exc:
        print(f"attnsim: error: {exc}" if not isinstance(exc, ConfigError) else str(exc), file=sys.stderr)
        return 2
    except Terminated:
        print("attnsim: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("attnsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        _install(signal.SIGTERM, previous)
        if notice is not None:
            notice.finish()


def _install(signum, handler):
    """Set a signal handler where that is possible (the main thread); return the previous one."""
    try:
        return signal.signal(signum, handler)
    except (ValueError, TypeError):       # not the main thread, or no previous Python handler
        return None


def entry() -> None:
    """The `attnsim` command (and `python -m simulator`): main(), then exit without the interpreter's
    teardown, which frees every object one by one (0.3 s after a 10,000-point sweep, a tenth of
    its run). Every file is closed and renamed into place by then; the streams are flushed here and
    the exit handlers (temporary folders, multiprocessing's) still run. Under a profiler or a
    tracer (`python -m cProfile -m simulator ...` writes its file after this returns) it exits
    normally."""
    code = main()
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:         # a reader that went away (`| head`) is not an error
        pass
    atexit._run_exitfuncs()
    os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    entry()
