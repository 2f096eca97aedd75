"""The `attnsim` command: argument parsing and file output only."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import AttnsimError, ConfigError

FORMATS = ("table", "csv", "json", "md")
_SUFFIX_FORMAT = {".csv": "csv", ".json": "json", ".md": "md", ".txt": "table"}


def default_hw_path() -> Path:
    """hw_configs/default.yaml of the source tree this package was installed from."""
    return Path(__file__).resolve().parent.parent / "hw_configs" / "default.yaml"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnsim", description="Simulate attention layers on a modeled MAC-array accelerator.")
    parser.add_argument("--version", action="version", version=f"attnsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a workload on one or more hardware configs")
    run.add_argument("workload", help="workload YAML file")
    run.add_argument("--hw", action="append", metavar="HW.yaml",
                     help="hardware YAML (repeatable; default: hw_configs/default.yaml)")
    run.add_argument("--functional", action="store_true",
                     help="also compute real outputs on the modeled array (same counts)")
    run.add_argument("--seed", type=int, default=0, help="seed of the functional inputs (default 0)")
    run.add_argument("--format", choices=FORMATS, help="output format (default: table, or from --out's suffix)")
    run.add_argument("--ops", action="store_true", help="one row per primitive op instead of per layer")
    run.add_argument("--out", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="check hardware and workload files; list every problem")
    val.add_argument("files", nargs="+", metavar="FILE.yaml")
    val.set_defaults(func=cmd_validate)
    return parser


def cmd_run(args) -> int:
    from . import load_hardware, load_workload, simulate, to_frame
    from .fileio import write_atomic
    from .report import render

    fmt = args.format or (_SUFFIX_FORMAT.get(Path(args.out).suffix.lower(), "table") if args.out else "table")
    hw_paths = args.hw or [str(default_hw_path())]
    if not args.hw and not Path(hw_paths[0]).exists():
        raise ConfigError(hw_paths[0], [("", "default hardware config not found (is this a source checkout?); pass --hw HW.yaml")])
    workload = load_workload(args.workload)
    configs = [load_hardware(p) for p in hw_paths]
    results = simulate(workload, configs, functional=args.functional, seed=args.seed)
    frame = to_frame(results, level="op" if args.ops else "layer")
    text = render(frame, fmt, title=f"attnsim {workload.name}")
    if args.out:
        write_atomic(args.out, text)
        print(f"wrote {args.out} ({len(frame)} rows)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_validate(args) -> int:
    from . import yaml_io
    from .hardware import Hardware
    from .workload import Workload

    failed = 0
    for path in args.files:
        try:
            data, text = yaml_io.load_file(path)
            kind = _kind_of(path, data)
            if kind == "hardware":
                Hardware.from_dict(data, source=path, text=text)
            else:
                Workload.from_dict(data, source=path, text=text)
            print(f"{path}: ok ({kind})")
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            failed += 1
    return 2 if failed else 0


def _kind_of(path: str, data) -> str:
    if isinstance(data, dict) and ("mac_array" in data or "memories" in data):
        return "hardware"
    if isinstance(data, dict) and "layers" in data:
        return "workload"
    raise ConfigError(path, [("", "cannot tell what this file is: a hardware config has 'mac_array' and "
                                  "'memories'; a workload has 'layers'")])


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AttnsimError as exc:
        print(f"attnsim: error: {exc}" if not isinstance(exc, ConfigError) else str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("attnsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
