"""Matplotlib set-up shared by the figures of `attnsim table`, `attnsim sweep` and the schedule
Gantt chart: the headless backend, one style, and atomic, byte-stable PNG writes."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .fileio import write_atomic  # noqa: E402

STYLE = {"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9}


def save(fig, path: Path) -> None:
    """Write `fig` as a PNG without a software/date stamp, so the same figure gives the same bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_atomic(path, buf.getvalue())


__all__ = ["STYLE", "plt", "save"]
