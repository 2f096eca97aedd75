"""Matplotlib set-up shared by the figures of `attnsim table`, `attnsim sweep` and the schedule
Gantt chart: the headless backend, one style, and atomic, byte-stable PNG writes."""
from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .fileio import write_atomic  # noqa: E402

STYLE = {"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9}


def save(fig, path: Path) -> None:
    """Write `fig` as a PNG without a software/date stamp, so the same figure gives the same bytes."""
    buf = io.BytesIO()
    # a constrained layout already fits every label and legend; "tight" would draw the figure twice
    tight = "tight" if fig.get_layout_engine() is None else None
    fig.savefig(buf, format="png", bbox_inches=tight, metadata={"Software": None})
    plt.close(fig)
    write_atomic(path, buf.getvalue())


def wrap(text: str, width: int) -> str:
    """`text` broken into lines of at most `width` characters (long labels would run off the figure)."""
    return "\n".join(textwrap.wrap(text, width)) or text


MARKERS = "osD^vP*X<>ph"
LINESTYLES = ("-", "--", ":", "-.")


@dataclass(frozen=True)
class Series:
    """One curve: `name` says what it is in a note, `label` in the legend (None: no legend entry)."""
    name: str
    xs: tuple
    ys: tuple
    color: str
    label: str | None = None
    linestyle: str = "-"
    marker: str | None = None


def _near(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def shared_points(a: Series, b: Series, rtol: float = 0.02) -> int:
    """Points at which two series with the same x values draw on each other (y within `rtol`; 2% is
    under a pixel on a log axis spanning a few decades); 0 when their x values differ."""
    if len(a.xs) != len(b.xs) or not all(_near(x, y, rtol) for x, y in zip(a.xs, b.xs)):
        return 0
    return sum(_near(x, y, rtol) for x, y in zip(a.ys, b.ys))


def coincident_groups(series, rtol: float = 0.02) -> list[list[int]]:
    """Indices of series that draw over each other at half their points or more, each group in
    drawing order; series that share no such stretch with another are left out."""
    groups: list[list[int]] = []
    for i, s in enumerate(series):
        for group in groups:
            if 2 * shared_points(series[group[0]], s, rtol) >= max(len(s.xs), 1):
                group.append(i)
                break
        else:
            groups.append([i])
    return [g for g in groups if len(g) > 1]


def draw_series(ax, series, markersize: float = 4.0, rtol: float = 0.02) -> list[str]:
    """Draw every series so that each stays visible: its own marker and, where several coincide,
    hollow markers that grow and line styles that change down the group, so the ones drawn first
    show around the later ones. Returns one note per group of coincident series."""
    groups = coincident_groups(series, rtol)
    place = {i: (k, len(g)) for g in groups for k, i in enumerate(g)}
    styles = {i: style for g in groups for i, style in _linestyles(series, g).items()}
    for i, s in enumerate(series):
        k, size = place.get(i, (0, 1))
        ax.plot(s.xs, s.ys, linestyle=styles.get(i, s.linestyle), marker=s.marker or MARKERS[i % len(MARKERS)],
                ms=markersize + 2.5 * (size - 1 - k), mfc="none" if k < size - 1 else s.color, color=s.color,
                label=s.label, zorder=2 + k)
    return [_note(series, g, rtol) for g in groups]


def _linestyles(series, group) -> dict[int, str]:
    """Each group member keeps its own line style unless an earlier member (drawn under it) has that
    style; then it takes the first style no earlier member has, so the lines underneath show through."""
    out: dict[int, str] = {}
    for i in group:
        s = series[i]
        taken = set(out.values())
        out[i] = s.linestyle if s.linestyle not in taken else next(
            (style for style in LINESTYLES if style not in taken), s.linestyle)
    return out


def _note(series, group, rtol) -> str:
    first = series[group[0]]
    shared = min(shared_points(first, series[i], rtol) for i in group[1:])
    where = "" if shared == len(first.xs) else f" at {shared} of {len(first.xs)} points"
    return f"coincide{where}: " + " = ".join(series[i].name for i in group)


def add_notes(ax, notes: list[str], **legend) -> None:
    """The legend, with a line per note (which series coincide) under the series' entries."""
    handles, labels = ax.get_legend_handles_labels()
    blank = [plt.Line2D([], [], linestyle="none") for _ in notes]
    ax.legend(handles + blank, labels + [wrap(n, 70) for n in notes], **legend)


__all__ = ["STYLE", "plt", "save", "wrap", "Series", "coincident_groups", "shared_points", "draw_series", "add_notes"]
