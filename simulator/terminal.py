"""Text tables for a terminal: the compact default of `attnsim run` (a few columns, numbers with SI
prefixes, at most 120 characters wide) and `--wide` (every column). Empty cells print empty."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

WIDTH = 120
_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_SMALL = ((1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"))


def empty(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def si(v, unit: str = "") -> str:
    """4 significant digits and an SI prefix: 268435456 -> '268.4M', 119952 -> '120.0k',
    0.0007198 -> '719.8µ'; whole numbers under 1000 as they are."""
    if empty(v):
        return ""
    v = float(v)
    a = abs(v)
    if not math.isfinite(v) or a == 0 or (a < 1000 and v == int(v)):
        return f"{int(v) if math.isfinite(v) else v}{unit}"
    for scale, prefix in _PREFIXES + ((1.0, ""),) + _SMALL:
        if a >= scale or scale == _SMALL[-1][0]:
            return f"{v / scale:#.4g}{prefix}{unit}"
    return f"{v:#.4g}{unit}"           # not reached: the last scale always matches


def joules(pj) -> str:
    return "" if empty(pj) else si(float(pj) * 1e-12, "J")


def share(v) -> str:
    return "" if empty(v) else f"{100 * float(v):.1f}%"


def fixed(digits: int) -> Callable[[Any], str]:
    return lambda v: "" if empty(v) else (str(v) if not math.isfinite(float(v)) else f"{float(v):.{digits}f}")


def text(v) -> str:
    return "" if empty(v) else str(v)


@dataclass(frozen=True)
class Col:
    """A shown column: its header, how to get a row's value, how to print it, whether it may be
    shortened (text) to fit the width."""
    header: str
    value: Callable[[dict], Any]
    fmt: Callable[[Any], str] = text
    shrink: int = 0          # 0: never shortened; otherwise columns with a higher number shrink first
    right: bool = True


def field(name: str, fmt=text, header: str | None = None, shrink: int = 0) -> Col:
    return Col(header or name, lambda row: row.get(name), fmt, shrink, right=fmt is not text)


def render_columns(rows: list[dict], cols: list[Col], width: int = WIDTH) -> str:
    """Rows as an aligned table; text columns that may shrink are shortened (ending in '…'), the
    highest `shrink` first and the widest of those, down to 12 characters, until the table fits."""
    cells = [[c.fmt(c.value(row)) for c in cols] for row in rows]
    widths = [max([len(c.header)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    floor = [max(len(c.header), 12) if c.shrink else widths[i] for i, c in enumerate(cols)]
    while sum(widths) + 2 * (len(cols) - 1) > width:
        can = [i for i in range(len(cols)) if widths[i] > floor[i]]
        if not can:
            break
        widths[max(can, key=lambda i: (cols[i].shrink, widths[i]))] -= 1
    lines = ["  ".join(_align(c.header, w, c.right) for c, w in zip(cols, widths))]
    for r in cells:
        lines.append("  ".join(_align(_cut(v, w), w, c.right) for v, c, w in zip(r, cols, widths)))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _cut(v: str, w: int) -> str:
    return v if len(v) <= w else v[:w - 1] + "…"


def _align(v: str, w: int, right: bool) -> str:
    return v.rjust(w) if right else v.ljust(w)


def wide_text(frame: pd.DataFrame) -> str:
    """Every column, empty cells empty; one row is shown as a column of name-value pairs."""
    shown = frame.astype(object).map(_wide_cell)
    if len(shown) == 1:
        return shown.T.to_string(header=False) + "\n"
    with pd.option_context("display.max_columns", None, "display.width", 100000):
        return shown.to_string(index=False) + "\n"


def _wide_cell(v) -> str:
    if empty(v):
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _shape_cell(row: dict) -> str:
    shape = text(row.get("shape"))
    batch = row.get("batch")
    return f"{batch} x {shape}" if not empty(batch) and batch > 1 and shape else shape


def _stall(row: dict):
    cycles, stall = row.get("cycles"), row.get("stall_cycles")
    return None if empty(cycles) or empty(stall) or not cycles else stall / cycles


def _dram(row: dict):
    reads, writes = row.get("dram_read_bytes"), row.get("dram_write_bytes")
    return None if empty(reads) or empty(writes) else reads + writes


def _bytes(v) -> str:
    return si(v, "B")


_LAYER = [field("layer", shrink=1), field("variant", shrink=1), Col("shape", _shape_cell, shrink=2, right=False),
          field("macs", si, "MACs"), field("cycles", si), field("utilization", fixed(3), "util"),
          Col("stall", _stall, share), Col("DRAM", _dram, _bytes), field("energy_pj", joules, "energy")]
_OP = [field("layer", shrink=1), field("op", shrink=1), field("unit"), field("shape", shrink=2),
       field("macs", si, "MACs"), field("cycles", si), field("utilization", fixed(3), "util"),
       Col("DRAM", _dram, _bytes), field("start_cycle", si, "start"), field("end_cycle", si, "end")]


def compact_columns(frame: pd.DataFrame, level: str) -> list[Col]:
    """The compact view's columns for this frame: hw when there are several configs, the stack size
    and bound of model reports, SQNR of functional runs."""
    cols = list(_OP if level == "op" else _LAYER)
    if frame["hw"].nunique() > 1:
        cols.insert(1, field("hw", shrink=1))
    if level != "op" and "repeat" in frame and (frame["repeat"].fillna(1) > 1).any():
        cols.insert(cols.index(next(c for c in cols if c.header == "MACs")), field("repeat", si, "blocks"))
    if "sqnr_db" in frame:
        cols.append(field("sqnr_db", fixed(1), "SQNR dB"))
    if "bound" in frame:
        cols.append(field("bound"))
    return cols


def compact_text(frame: pd.DataFrame, level: str, width: int = WIDTH) -> str:
    rows = frame.astype(object).to_dict("records")
    return render_columns(rows, compact_columns(frame, level), width)
