"""Sweep figures: the Pareto scatter (front highlighted) and a heat map of the two most influential
knobs, one panel per workload variant. Written atomically; labelled axes with units."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib import ticker
from matplotlib.colors import LogNorm

from ..plotting import STYLE, plt, save, wrap
from .pareto import front_2d
from .spec import SweepSpec
from .tables import knob_levels, knobs

MAX_PANELS = 12
_NAMES = {"cycles": ("latency", "cycles"), "compute_cycles": ("compute time", "cycles"),
          "stall_cycles": ("stalls", "cycles"), "seconds": ("latency", "s"), "energy_pj": ("energy", "pJ"),
          "macs": ("useful MACs", ""), "slot_macs": ("issued MAC slots", ""), "vector_ops": ("vector ops", "")}


def label(column: str) -> str:
    """Axis label of an objective column, with its unit."""
    if column == "area_mm2":
        return "area (mm², per design point)"
    name, unit = _NAMES.get(column, (column, "bytes" if column.endswith("_bytes")
                                     else "pJ" if column.endswith("_pj") else ""))
    return f"{name} ({unit + ', ' if unit else ''}summed over the workload's layers)"


def _panels(per_point):
    return list(per_point.groupby("_case", sort=True))[:MAX_PANELS]


def _grid(n: int, width: float, height: float):
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def _chars(fig) -> int:
    """Characters of a 9-10 pt title that fit across the figure."""
    return max(40, int(fig.get_figwidth() * 13))


def _title(frame) -> str:
    first = frame.iloc[0]
    extra = [f"{c.split('.', 1)[1]}={first[c]}" for c in frame.columns
             if c.startswith("layer_grid.") and first[c] is not None and first[c] == first[c]]
    return first["workload"] + (f" ({', '.join(extra)})" if extra else "")


def _log_if_wide(ax, xs, ys) -> None:
    """Log axes for values spanning more than 5x, ticked at 1, 2, 5 x 10^k when they span at most a
    decade and a half, at 10^k beyond (no crowded or overlapping labels)."""
    for values, axis in ((xs, ax.xaxis), (ys, ax.yaxis)):
        if len(values) and values.min() > 0 and values.max() / values.min() > 5:
            (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
            decades = math.log10(values.max() / values.min())
            axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0) if decades <= 1.5 else (1.0,)))
            axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
            axis.set_minor_formatter(ticker.NullFormatter())


_CORNERS = ("upper right", "upper left", "lower left", "lower right")     # ties: the first


def _corner_legend(ax, xs, ys) -> None:
    """The legend in the corner of `ax` whose legend-sized box covers the fewest of the points (xs,
    ys). matplotlib's loc="best" also weighs the points, but tests every point at each of its layout
    passes: a fifth of the drawing of a 10,000-point scatter, on the report's critical path."""
    legend = ax.legend(fontsize=6, loc=_CORNERS[0])
    to_axes = ax.transAxes.inverted()
    box = legend.get_window_extent(ax.figure.canvas.get_renderer()).transformed(to_axes)
    # the constrained layout shrinks the axes a little after this: allow for it
    w, h = min(1.0, 1.15 * box.width), min(1.0, 1.15 * box.height)
    ax.autoscale_view()
    with np.errstate(all="ignore"):
        fx, fy = to_axes.transform(ax.transData.transform(np.column_stack([xs, ys]))).T
    right, top = fx >= 1 - w, fy >= 1 - h
    left, bottom = fx <= w, fy <= h
    counts = [int(np.count_nonzero(m)) for m in (right & top, left & top, left & bottom, right & bottom)]
    best = _CORNERS[counts.index(min(counts))]
    if best != _CORNERS[0]:
        legend.remove()
        ax.legend(fontsize=6, loc=best)


def pareto_figure(spec: SweepSpec, per_point, path: Path, n_points: int, total: int) -> list[str]:
    """First two objectives (or the only one against point id); the points of `per_point` grey (all
    of them up to summary.SAMPLE_ROWS, else a sample with the extremes), the front over all
    objectives coloured (by the third objective when there is one), and the two-objective staircase
    drawn through its points. `n_points` design points and `total` workload variants have rows."""
    objs = list(spec.objectives)
    xcol, ycol = (objs[0], objs[1]) if len(objs) > 1 else ("point_id", objs[0])
    groups = _panels(per_point)
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(groups), 4.6, 3.8)
        for ax, (_, frame) in zip(axes, groups):
            xs, ys = frame[xcol].to_numpy(float), frame[ycol].to_numpy(float)
            front = frame["_front"].to_numpy(bool)
            ax.scatter(xs[~front], ys[~front], s=6, c="0.75", label="dominated", rasterized=True)
            colour = ({"c": frame[objs[2]].to_numpy(float)[front], "cmap": "viridis"} if len(objs) > 2
                      else {"c": "C3"})
            sc = ax.scatter(xs[front], ys[front], s=18, edgecolors="k", linewidths=0.3, zorder=3,
                            label=f"Pareto front ({int(front.sum())} points)", **colour)
            if len(objs) > 1:
                stair = front_2d(xs, ys)
                order = np.argsort(xs[stair])
                ax.plot(xs[stair][order], ys[stair][order], drawstyle="steps-post", color="C3", lw=1, marker="o",
                        ms=9, mfc="none", zorder=4, label=f"front of {xcol} and {ycol} only")
            if len(objs) > 2:
                fig.colorbar(sc, ax=ax, label=wrap(label(objs[2]), 34))
            _log_if_wide(ax, xs, ys)
            ax.set(xlabel=wrap(label(xcol), 48) if xcol != "point_id" else "design point id",
                   ylabel=wrap(label(ycol), 40), title=wrap(_title(frame), 48))
            _corner_legend(ax, xs, ys)
        more = f" (first {MAX_PANELS} of {total} workload variants)" if total > MAX_PANELS else ""
        fig.suptitle(wrap(f"Sweep {spec.name}: {n_points:,} design points; "
                          f"front over {', '.join(objs)}, all minimised{more}", _chars(fig)), fontsize=10)
        save(fig, path)
    return [path.name]


def heatmap_figure(spec: SweepSpec, per_point, influence, path: Path, summary, total: int) -> list[str]:
    """The first objective over the two most influential knobs (influence.csv): each cell the
    geometric mean over the other knobs (summed for every point by `summary`, summary.py). One panel
    per variant of `per_point` (`total` have rows). Nothing is drawn when fewer than two knobs vary."""
    if len(influence) < 2:
        path.unlink(missing_ok=True)
        return []
    a, b = influence["knob"].iloc[0], influence["knob"].iloc[1]
    shares = dict(zip(influence["knob"], influence["share"]))
    # a knob with tied keys moves them too: say so on its axis
    named = {k: f"{k} (= {t})" if t else k for k, t in zip(influence["knob"], influence["tied"])}
    objective = spec.objectives[0]
    log = influence["transform"].iloc[0] == "log"
    levels = knob_levels(spec)
    index = {name: i for i, name in enumerate(knobs(spec))}
    groups = _panels(per_point)
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(groups), 4.8, 3.9)
        for ax, (case, frame) in zip(axes, groups):
            grid = summary.cell_means(int(case), index[a], index[b], log)
            finite = grid[np.isfinite(grid)]
            norm = (LogNorm(finite.min(), finite.max()) if log and len(finite) and finite.max() > 5 * finite.min()
                    else None)
            im = ax.imshow(grid, cmap="viridis_r", aspect="auto", origin="lower", norm=norm)
            middle = np.sqrt(finite.min() * finite.max()) if norm is not None else np.mean(finite) if len(finite) else 0
            for (i, j), v in (np.ndenumerate(grid) if grid.size <= 100 else ()):     # readable sizes only
                ax.text(j, i, cell_text(v), ha="center", va="center", fontsize=6,
                        color="w" if not np.isnan(v) and v > middle else "k").set_in_layout(False)  # inside the axes
            ax.set_xticks(*_ticks(levels[b]), rotation=30, ha="right")
            ax.set_yticks(*_ticks(levels[a]))
            ax.set(xlabel=f"{named[b]} ({shares[b]:.0%} of variance)",
                   ylabel=f"{named[a]} ({shares[a]:.0%} of variance)",
                   title=_title(frame))
            ax.grid(False)
            bar = fig.colorbar(im, ax=ax, label=wrap(label(objective), 34))
            if norm is not None:
                bar.ax.yaxis.set_major_formatter(_SIText(labelOnlyBase=True))
                bar.ax.yaxis.set_minor_formatter(_SIText(labelOnlyBase=False))
        how = "geometric mean" if log else "mean"
        more = f"; first {MAX_PANELS} of {total} workload variants" if total > MAX_PANELS else ""
        fig.suptitle(wrap(f"{objective} over the two most influential knobs ({how} over the other knobs{more}). "
                          f"Influence: share of the variance of {'log ' if log else ''}{objective} explained by a "
                          f"knob's mean effect", _chars(fig)), fontsize=9)
        save(fig, path)
    return [path.name]


class _SIText(ticker.LogFormatter):
    """A log colour bar's tick labels as the cells write their values (cell_text: 1.5M, 20k), on
    the ticks matplotlib's log formatter labels. Its default writes 10^k in mathtext, whose parser
    took a sixth of the heat map's drawing (its grammar is built on first use, in every process)."""

    def __call__(self, x, pos=None):
        return cell_text(x) if super().__call__(x, pos) else ""


_PREFIXES = ("", "k", "M", "G", "T", "P")


def cell_text(v: float) -> str:
    """A heat-map cell's value in at most five characters, so that ten cells fit across a panel:
    three significant digits and an SI prefix (677k, 1.25M, 0.5); 'none' for a cell without points."""
    if np.isnan(v):
        return "none"
    if not np.isfinite(v):
        return f"{v:.3g}"
    mantissa, exponent = f"{v:.2e}".split("e")
    exponent = int(exponent)
    if not 0 <= exponent < 3 * len(_PREFIXES):
        return f"{v:.3g}"
    power = exponent // 3
    return f"{float(mantissa) * 10 ** (exponent - 3 * power):.3g}{_PREFIXES[power]}"


def _ticks(levels: list[str], most: int = 40) -> tuple[list[int], list[str]]:
    """Tick positions and labels of a heat-map axis: every level, or every k-th of a long axis
    (thousands of tick labels cost megabytes and are unreadable)."""
    step = max(1, -(-len(levels) // most))
    return list(range(0, len(levels), step)), levels[::step]
