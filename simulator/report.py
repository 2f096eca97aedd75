"""DataFrames from result records: the public report columns, provenance, and text formats."""
from __future__ import annotations

import datetime as _dt
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from . import __version__
from .accuracy import ERROR_COLUMNS
from .errors import AttnsimError
from .results import LayerResult, price_counts

if TYPE_CHECKING:
    import pandas as pd
# pandas is imported where a frame is made: a sweep's workers build rows with this module's
# columns and record functions, and are forked before the sweep's process imports pandas
# (sweep/run.py), which takes about 0.3 s

LAYER_COLUMNS = (
    "workload", "layer", "variant", "hw", "dataflow", "n", "d", "heads", "kernel", "window", "batch", "dtype",
    "macs", "slot_macs", "vector_ops", "cycles", "compute_cycles", "stall_cycles", "seconds",
    "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "utilization",
    "energy_pj", "sequential_steps", "max_path_length",
    # appended columns: generation fields (filled by the variants that have them), then the bound
    # (a lower bound on the cycles: the sum of the ops' bounds) and bound / the sum of op cycles
    *("repeat", "phase", "context", "new_tokens", "kv_heads", "kv_cache_bytes", "state_bytes"),
    *("bound_cycles", "mapping_efficiency"),
)
# After the contract's columns, before the error and schedule columns: the layer's sizes and options
# in its variant's own names (a GEMM's m, k, n), and the schedule its numbers come from (serial with
# the reason when an overlapped one was asked for and not used).
INFO_COLUMNS = ("shape", "schedule")
GENERATION_COLUMNS = LAYER_COLUMNS[LAYER_COLUMNS.index("repeat"):LAYER_COLUMNS.index("state_bytes") + 1]
BOUND_COLUMNS = ("bound_cycles", "mapping_efficiency")
# The schedule's columns (docs/architecture.md, "Schedule"), after the contract's, at both levels.
SCHEDULE_COLUMNS = ("serial_cycles", "array_busy_cycles", "vector_busy_cycles", "dram_read_busy_cycles",
                    "dram_write_busy_cycles")
OP_SCHEDULE_COLUMNS = SCHEDULE_COLUMNS + ("start_cycle", "end_cycle")
# `mode`: functional (outputs computed, error columns present) or count-only; `seed`: the inputs'
# seed (functional runs and data-dependent layers; empty when the counts used no random values)
PROVENANCE_COLUMNS = ("hw_file", "hw_sha256", "workload_file", "workload_sha256", "simulator_version", "mode",
                      "seed")
# A functional run's error against the float64 reference (accuracy.ERROR_COLUMNS): at layer level
# after the contract columns, before the schedule's; at op level at the end.
OP_COLUMNS = ("workload", "layer", "op", "kind", "unit", "phase", "shape", "mapping", "hw", "dataflow", "dtype",
              "macs", "slot_macs", "vector_ops", "cycles", "compute_cycles", "stall_cycles", "seconds",
              "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "utilization",
              "energy_pj", "bound_cycles", "mapping_efficiency")
_OPTIONAL_INT = ("n", "d", "heads", "kernel", "window", "batch", "sequential_steps", "max_path_length",
                 "repeat", "context", "new_tokens", "kv_heads", "kv_cache_bytes", "state_bytes", "seed")
_FIELD_COLUMNS = ("n", "d", "heads", "kernel", "window", "batch")
SOURCE_ROOT = Path(__file__).resolve().parent.parent     # the checkout this package runs from


def layer_record(r: LayerResult) -> dict:
    hw = r.hw
    rec = {"workload": r.workload, "layer": r.layer, "variant": r.variant, "hw": hw.name,
           "dataflow": hw.dataflow_name}
    rec.update({c: r.fields.get(c) for c in _FIELD_COLUMNS})
    rec["dtype"] = hw.format_name
    rec.update(price_counts(r.counts, r.cycles, r.compute_cycles, hw))
    rec["sequential_steps"] = r.sequential_steps
    rec["max_path_length"] = r.max_path_length
    rec.update({c: r.fields.get(c) for c in GENERATION_COLUMNS})
    rec.update(schedule_record(r))
    rec.update(bound_columns(r.total))
    rec["shape"] = r.fields.get("shape", "")
    rec["schedule"] = schedule_used(r)
    rec.update({"hw_file": display_path(hw.source), "hw_sha256": hw.sha256,
                "workload_file": display_path(r.workload_file) if r.workload_file != "<dict>" else r.workload_file,
                "workload_sha256": r.workload_sha256,
                "simulator_version": __version__, "mode": "functional" if r.tensors is not None else "count-only",
                "seed": r.seed})
    if r.tensors is not None:
        rec.update(r.errors[0])
    return rec


def schedule_record(r: LayerResult) -> dict:
    """The layer's schedule columns: its ops one after another, and the units' busy cycles."""
    busy = r.schedule.busy if r.schedule is not None else _busy_of(r.counts)
    return {"serial_cycles": int(r.serial_cycles), "array_busy_cycles": busy["array"],
            "vector_busy_cycles": busy["vector"], "dram_read_busy_cycles": busy["dram_read"],
            "dram_write_busy_cycles": busy["dram_write"]}


def schedule_used(r: LayerResult) -> str:
    """'overlapped' or 'serial', and why when an overlapped schedule was asked for but not used."""
    s = r.schedule
    if s is None:
        return "serial"
    return f"{s.mode} ({s.note})" if s.fell_back and s.note else s.mode


def _busy_of(counts) -> dict:
    from .enums import Counter

    c = counts.tolist()
    return {"array": c[Counter.ARRAY_CYCLES], "vector": c[Counter.VECTOR_CYCLES],
            "dram_read": c[Counter.OFFCHIP_FILL_CYCLES], "dram_write": c[Counter.OFFCHIP_DRAIN_CYCLES]}


def op_records(r: LayerResult) -> list[dict]:
    """One row per op result: its counts as it runs alone (`cycles` its own latency), and its span
    [start_cycle, end_cycle) in the layer's schedule."""
    hw = r.hw
    rows = []
    spans = r.schedule.spans if r.schedule is not None else None
    start = 0
    for i, op in enumerate(r.ops):
        rec = {"workload": r.workload, "layer": r.layer, "op": op.op, "kind": op.kind, "unit": op.unit,
               "phase": op.phase, "shape": op.shape, "mapping": op.mapping, "hw": hw.name,
               "dataflow": hw.dataflow_name, "dtype": hw.format_name}
        rec.update(price_counts(op.counts, op.cycles, op.compute_cycles, hw))
        busy = _busy_of(op.counts)
        span = spans[i] if spans is not None else (start, start + op.cycles)
        start += op.cycles
        rec.update({"serial_cycles": op.cycles, "array_busy_cycles": busy["array"],
                    "vector_busy_cycles": busy["vector"], "dram_read_busy_cycles": busy["dram_read"],
                    "dram_write_busy_cycles": busy["dram_write"], "start_cycle": span[0], "end_cycle": span[1]})
        rec.update(bound_columns(op))
        if r.tensors is not None:
            rec.update(r.errors[1].get(op.op, {}))
        rows.append(rec)
    return rows


def bound_columns(op) -> dict:
    """bound_cycles and mapping_efficiency of an op or of a layer's sum of ops (so a layer's
    efficiency is against the sum of its ops' latencies)."""
    return {"bound_cycles": op.bound_cycles, "mapping_efficiency": mapping_efficiency(op.bound_cycles, op.cycles)}


def mapping_efficiency(bound_cycles: int, cycles: int) -> float | None:
    """bound / cycles; empty (None) when the op takes no time."""
    return bound_cycles / cycles if cycles > 0 else None


def to_frame(results: Iterable[LayerResult], level: str = "layer") -> pd.DataFrame:
    """Layer-level (one row per layer x hardware) or op-level (one row per primitive op) frame."""
    import pandas as pd

    results = list(results)
    errors = ERROR_COLUMNS if any(r.tensors is not None for r in results) else ()
    if level == "layer":
        frame = pd.DataFrame([layer_record(r) for r in results],
                             columns=LAYER_COLUMNS + INFO_COLUMNS + errors + SCHEDULE_COLUMNS + PROVENANCE_COLUMNS)
        for col in _OPTIONAL_INT:
            frame[col] = frame[col].astype("Int64")
        return frame
    if level == "op":
        return pd.DataFrame([rec for r in results for rec in op_records(r)],
                            columns=OP_COLUMNS + OP_SCHEDULE_COLUMNS + errors)
    raise ValueError(f"level must be 'layer' or 'op', got {level!r}")


def render_parquet(frame: pd.DataFrame) -> bytes:
    """Parquet bytes of `frame` (with a `generated` column), when pyarrow is installed."""
    import io

    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise AttnsimError("--format parquet needs the pyarrow package (pip install pyarrow); "
                           "--format csv writes the same columns") from None
    buf = io.BytesIO()
    frame.assign(generated=_now()).to_parquet(buf, index=False)
    return buf.getvalue()


def render(frame: pd.DataFrame, fmt: str, title: str = "", wide: bool = False) -> str:
    """Text of `frame` in one of: table (compact, at most 120 characters wide, unless `wide`),
    csv, json, md."""
    if fmt == "csv":
        return frame.assign(generated=_now()).to_csv(index=False)
    if fmt == "json":
        records = json.loads(frame.to_json(orient="records"))
        return json.dumps({"generated": _now(), "rows": records}, indent=2) + "\n"
    shown = frame[[c for c in frame.columns if c not in PROVENANCE_COLUMNS]]
    if fmt == "md":
        head = f"# {title}\n\n" if title else ""
        return head + _provenance_lines(frame, "- ") + "\n" + _markdown(shown) + "\n"
    if fmt == "table":
        from .terminal import compact_text, wide_text

        level = "op" if "op" in frame else "layer"
        body = wide_text(shown) if wide else (compact_text(frame, level) + "# compact view: --wide shows every "
                                              "column, --format csv|json|md every column with exact values\n")
        if "schedule" in frame:
            body += "".join(f"# {r.layer} on {r.hw}: {r.schedule}\n" for r in frame.itertuples()
                            if isinstance(r.schedule, str) and "(" in r.schedule)
        return (f"{title}\n" if title else "") + body + _provenance_lines(frame, "# ")
    raise ValueError(f"unknown format {fmt!r}")


@functools.lru_cache(maxsize=1024)
def display_path(path) -> str:
    """A config path as reports show it: relative to the source tree when inside it, else as given."""
    try:
        return str(Path(path).resolve().relative_to(SOURCE_ROOT))
    except (ValueError, OSError):
        return str(path)


def markdown_table(frame: pd.DataFrame) -> str:
    return _markdown(frame)


def _markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def _cell(v) -> str:
    import pandas as pd

    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _provenance_lines(frame: pd.DataFrame, prefix: str) -> str:
    if frame.empty or "hw_file" not in frame:
        return ""
    seeds = ", ".join(str(s) for s in frame["seed"].dropna().unique())
    run = " and ".join(frame["mode"].unique()) + (f", seed {seeds}" if seeds else "")
    lines = [f"{prefix}simulator {frame['simulator_version'].iloc[0]}, {run}, generated {_now()}"]
    for (hw_file, digest), _ in frame.groupby(["hw_file", "hw_sha256"], sort=False):
        lines.append(f"{prefix}hardware {hw_file} sha256 {digest}")
    for wl in frame["workload_file"].unique():
        lines.append(f"{prefix}workload {wl}")
    return "\n".join(lines) + "\n"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
