"""A schedule as a Gantt chart (PNG): one row per unit, one bar per stretch of an op's tasks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import ticker

from ..plotting import STYLE, plt, save
from .tasks import T
from .trace import unit_names


def _bars(starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    """Back-to-back intervals merged (thousands of tile steps draw as one bar)."""
    order = np.argsort(starts, kind="stable")
    out = []
    for s, e in zip(starts[order], ends[order]):
        if e <= s:
            continue
        if out and s <= out[-1][0] + out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e - out[-1][0]))
        else:
            out.append((int(s), int(e - s)))
    return out


def _draw(ax, result) -> list[str]:
    sched = result.schedule
    tab = sched.graph.tab
    start, end, dur, _ = sched.times
    names = unit_names(result.hw)
    ops = sorted({int(o) for o in tab[tab[:, T.UNIT] >= 0, T.OP]})
    for u in range(len(names)):
        on_unit = tab[:, T.UNIT] == u
        for i, op in enumerate(ops):
            sel = np.flatnonzero(on_unit & (tab[:, T.OP] == op))
            bars = _bars(start[sel], start[sel] + dur[sel])
            if bars:
                ax.broken_barh(bars, (u - 0.4, 0.8), linewidth=0, **_look(i))
    n = len(tab)
    spills = np.flatnonzero(dur[n:] > 0)
    if len(spills):
        ax.broken_barh(_bars(start[n + spills], start[n + spills] + dur[n + spills]),
                       (3 + 2 * (result.hw.n_boundaries - 1) - 0.4, 0.8), color="black", linewidth=0)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(0, max(sched.cycles, 1))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_title(f"{result.workload} / {result.layer} on {result.hw.name}: {sched.mode}, {sched.cycles:,} cycles "
                 f"(serial {result.serial_cycles:,})", fontsize=9)
    return [result.ops[op].op for op in ops]


def _look(i: int) -> dict:
    """Op i's colour: ten clearly different colours, then the same ten hatched, then cross-hatched
    (tab20's paired shades were hard to tell apart for neighbouring ops)."""
    colors = plt.get_cmap("tab10").colors
    hatch = ("", "///", "xxx", "...")[(i // len(colors)) % 4]
    return {"facecolor": colors[i % len(colors)], "hatch": hatch, "edgecolor": "white" if hatch else None}


def write_gantt(results, path: Path) -> None:
    """One panel per layer result (simulated with tasks=True), units as rows, ops as colours."""
    results = list(results)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(results), 1, figsize=(11, 0.5 + 1.9 * len(results)), squeeze=False,
                                 layout="constrained")
        for ax, r in zip(axes[:, 0], results):
            ops = _draw(ax, r)
            handles = [plt.Rectangle((0, 0), 1, 1, **_look(i)) for i in range(len(ops))]
            if r.schedule.graph is not None and (r.schedule.times[2][len(r.schedule.graph.tab):] > 0).any():
                handles.append(plt.Rectangle((0, 0), 1, 1, color="black"))
                ops = ops + ["spills"]
            ax.legend(handles, ops, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
        axes[-1, 0].set_xlabel("cycle")
        save(fig, Path(path))
