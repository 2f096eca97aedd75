"""Every figure the CLI draws (attnsim table's seven, the sweep's Pareto scatter and heat map, the
Gantt chart), checked on the drawn canvas: no two pieces of text overlap (tick labels, axis labels,
titles, legends, colour bars), nothing is cut off at the edge, and series that coincide are drawn
so both show (a different marker size, one hollow) and named in the legend."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator import load_hardware, load_workload, simulate
from simulator.plotting import STYLE, Series, add_notes, coincident_groups, draw_series, plt, shared_points

ROOT = Path(__file__).resolve().parent.parent


def capture(monkeypatch, module) -> list:
    """Replace `module.save` so every figure it would write is kept (drawn) for inspection."""
    figs = []

    def keep(fig, path):
        fig.canvas.draw()
        figs.append((Path(path).name, fig))

    monkeypatch.setattr(module, "save", keep)
    return figs


def _visible_ticklabels(axis, lo, hi):
    out = []
    for label in axis.get_ticklabels(which="both"):
        x = label.get_position()[0 if axis.axis_name == "x" else 1]
        if label.get_visible() and label.get_text() and min(lo, hi) - 1e-9 <= x <= max(lo, hi) + 1e-9:
            out.append(label)
    return out


def texts(fig) -> list[tuple[str, int | None, object]]:
    """(name, owning axes or None, window extent) of every piece of text a reader must read."""
    renderer = fig.canvas.get_renderer()
    out = []
    if fig._suptitle is not None and fig._suptitle.get_text():
        out.append(("suptitle", None, fig._suptitle.get_window_extent(renderer)))
    for legend in fig.legends:
        out.append(("figure legend", None, legend.get_window_extent(renderer)))
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        for name, t in (("title", ax.title), ("xlabel", ax.xaxis.label), ("ylabel", ax.yaxis.label)):
            if t.get_visible() and t.get_text():
                out.append((f"axes {i} {name} {t.get_text()[:30]!r}", i, t.get_window_extent(renderer)))
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            for t in _visible_ticklabels(axis, lo, hi):
                out.append((f"axes {i} {axis.axis_name}tick {t.get_text()!r}", i, t.get_window_extent(renderer)))
        legend = ax.get_legend()
        if legend is not None:
            out.append((f"axes {i} legend", i, legend.get_window_extent(renderer)))
    return out


def _meet(a, b) -> bool:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w > 1 and h > 1


def overlaps(fig) -> list[str]:
    """Text running off the figure, two texts on each other, or a text on another axes' plot area."""
    items = texts(fig)
    width, height = fig.canvas.get_width_height()
    bad = [f"{name} runs off the figure" for name, _, box in items
           if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1]
    for i, (a, _, box_a) in enumerate(items):
        bad += [f"{a} overlaps {b}" for b, _, box_b in items[i + 1:] if _meet(box_a, box_b)]
    for j, ax in enumerate(fig.axes):
        if ax.get_visible():
            area = ax.get_window_extent()
            bad += [f"{a} overlaps the plot of axes {j}" for a, owner, box in items if owner != j and _meet(box, area)]
    return bad


def hidden_series(fig) -> list[str]:
    """Pairs of lines in one axes whose points coincide (2%) but that would draw identically."""
    bad = []
    for ax in fig.axes:
        lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) and ln.get_marker() not in (None, "None", "")]
        for i, a in enumerate(lines):
            for b in lines[i + 1:]:
                xa, ya, xb, yb = (np.asarray(v, float) for v in (a.get_xdata(), a.get_ydata(), b.get_xdata(),
                                                                  b.get_ydata()))
                if xa.shape != xb.shape or not (np.allclose(xa, xb, rtol=0.02) and np.allclose(ya, yb, rtol=0.02)):
                    continue
                same = (a.get_marker() == b.get_marker() and a.get_markersize() == b.get_markersize()
                        and a.get_markerfacecolor() == b.get_markerfacecolor())
                if same or a.get_markersize() <= b.get_markersize():
                    bad.append(f"{a.get_label()} hides under {b.get_label()}")
    return bad


def legend_text(fig) -> str:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return "\n".join(t.get_text() for legend in legends for t in legend.get_texts())


def assert_readable(figs) -> None:
    assert figs
    for name, fig in figs:
        assert overlaps(fig) == [], name
        assert hidden_series(fig) == [], name
        plt.close(fig)


def test_coincident_groups_by_hand():
    a = Series("a", (1, 2, 3), (10.0, 20.0, 30.0), "C0")
    b = Series("b", (1, 2, 3), (10.1, 20.0, 30.2), "C1")           # within 2% of a at every point
    c = Series("c", (1, 2, 3), (10.0, 25.0, 36.0), "C2")           # on a at one point of three
    d = Series("d", (1, 2), (10.0, 20.0), "C3")                     # fewer points
    e = Series("e", (1, 2, 3), (10.0, 20.0, 33.0), "C4")           # on a at two points of three
    assert coincident_groups([a, b, c, d, e]) == [[0, 1, 4]]
    assert coincident_groups([a, c, d]) == []
    assert shared_points(a, e) == 2 and shared_points(a, d) == 0
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        assert draw_series(ax, [a, b, c, d, e]) == ["coincide at 2 of 3 points: a = b = e"]
        plt.close(fig)


def test_coinciding_series_stay_visible_and_are_named_in_the_legend():
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        series = [Series("first", (1, 2), (1.0, 2.0), "C0", label="first"),
                  Series("second", (1, 2), (1.0, 2.0), "C1", label="second"),
                  Series("third", (1, 2), (3.0, 1.0), "C2", label="third")]
        notes = draw_series(ax, series)
        add_notes(ax, notes)
        fig.canvas.draw()
        first, second, third = ax.get_lines()
        assert first.get_markersize() > second.get_markersize() and first.get_markerfacecolor() == "none"
        assert first.get_linestyle() != second.get_linestyle()
        assert notes == ["coincide: first = second"]
        assert "coincide: first = second" in legend_text(fig)
        assert hidden_series(fig) == []
        plt.close(fig)


def test_every_table_figure_is_readable(monkeypatch, tmp_path):
    from simulator.table import figures
    from simulator.table.report import make_table1
    from simulator.table.settings import TableSettings

    figs = capture(monkeypatch, figures)
    monkeypatch.setattr("simulator.table.report._can_fork", lambda: False)   # every figure drawn here, captured
    make_table1(load_hardware(ROOT / "hw_configs" / "default.yaml"), tmp_path, TableSettings.small())
    assert sorted(name for name, _ in figs) == sorted(["complexity.png", "crossover.png", "heads.png", "memory.png",
                                                      "roofline.png", "generation_cycles.png",
                                                      "generation_bytes.png"])
    legends = {name: legend_text(fig) for name, fig in figs}
    # the contiguous and the dilated convolution do nearly the same work: the legend says so
    assert "coincide: Convolutional (contiguous) = Convolutional (dilated stack)" in legends["complexity.png"]
    # fused attention's simulated traffic is Algorithm 1's count exactly
    assert "coincide: fused, simulated = Algorithm 1 exact" in legends["memory.png"]
    assert_readable(figs)


def test_crossover_at_full_size_is_readable(monkeypatch):
    """The table's three columns of d with values up to 10^12 (the committed report's range): the
    y labels of the second and third columns once ran into the plots to their left."""
    import pandas as pd

    from simulator.table import extensions, figures

    figs = capture(monkeypatch, figures)
    rows = []
    for d in (256, 512, 1024):
        for n in (2 ** i for i in range(4, 15)):
            rows += [{"d": d, "layer": layer, "n": n, "macs": macs, "cycles": cycles, "serial_cycles": cycles}
                     for layer, macs, cycles in (("self_attention", 2 * n * n * d, n * n),
                                                 ("rnn", 2 * n * d * d, 10 * n * d), ("lstm", 8 * n * d * d, 40 * n * d),
                                                 ("multi_head_attention", 4 * n * d * d + 2 * n * n * d, n * n))]
    sweeps = pd.DataFrame(rows)
    figures.crossover(sweeps, extensions.crossover_table(sweeps), "default", Path("crossover.png"))
    assert_readable(figs)


def test_sweep_figures_are_readable(monkeypatch, tmp_path):
    from simulator.sweep import figures
    from simulator.sweep.run import run_sweep
    from simulator.sweep.spec import load_sweep

    figs = capture(monkeypatch, figures)
    monkeypatch.setattr("simulator.sidework.can_fork", lambda: False)    # every figure drawn here, captured
    for sweep in ("quick.yaml", "square_arrays.yaml"):
        run_sweep(load_sweep(ROOT / "sweeps" / sweep), tmp_path / sweep, jobs=1, warn=lambda msg: None)
    assert sorted(name for name, _ in figs) == ["heatmap.png", "heatmap.png", "pareto.png", "pareto.png"]
    assert_readable(figs)


def test_gantt_is_readable(monkeypatch, tmp_path):
    from simulator.schedule import gantt

    figs = capture(monkeypatch, gantt)
    results = simulate(load_workload(ROOT / "workloads" / "gemm_smoke.yaml"),
                       [load_hardware(ROOT / "hw_configs" / n) for n in ("default.yaml", "edge_32x32.yaml")],
                       tasks=True)
    gantt.write_gantt(results, tmp_path / "g.png")
    assert_readable(figs)


@pytest.mark.parametrize("side", [4])
def test_the_overlap_check_catches_overlapping_labels(side):
    """The check itself: two y labels pushed onto each other's tick labels are reported."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(side, 2))
        for ax in axes:
            ax.set_ylabel("a long label " * 3)
            ax.plot([1, 10 ** 6], [1, 10 ** 6])
        fig.canvas.draw()
        assert overlaps(fig)
        plt.close(fig)


def test_heat_map_cells_fit_five_characters_and_round_like_3g():
    from simulator.sweep.figures import cell_text

    assert [cell_text(v) for v in (6.77e5, 1.25e6, 999_499, 999_500, 999.5, 12, 0.5, -4.5e6, 0.0)] == \
        ["677k", "1.25M", "999k", "1M", "1k", "12", "0.5", "-4.5M", "0"]
    assert cell_text(float("nan")) == "none" and cell_text(float("inf")) == "inf"
    for v in np.geomspace(1, 9.99e17, 500):
        text = cell_text(v)
        assert len(text) <= 5
        scale = 1000 ** "kMGTP".index(text[-1]) * 1000 if text[-1] in "kMGTP" else 1
        assert abs(float(text.rstrip("kMGTP")) * scale - float(f"{v:.3g}")) <= 1e-9 * v, (v, text)


def test_the_pareto_legend_goes_to_the_emptiest_corner():
    """figures._corner_legend (matplotlib's loc="best" was a quarter of a 10,000-point scatter's
    drawing): the corner whose legend-sized box holds the fewest points, ties to the upper right."""
    import matplotlib.pyplot as plt
    import numpy as np

    from simulator.sweep import figures

    codes = {"upper right": 1, "upper left": 2, "lower left": 3, "lower right": 4}
    rng = np.random.default_rng(0)
    cloud = rng.uniform(0, 0.1, size=(200, 2))
    for crowded, expected in ((("upper right", "upper left", "lower left"), "lower right"),
                              (("upper right", "lower left", "lower right"), "upper left"),
                              ((), "upper right")):
        xs, ys = np.array([0.0, 1.0, 0.5, 0.5]), np.array([0.5, 0.5, 0.0, 1.0])    # edges' midpoints: 0..1
        for corner in crowded:
            dx = 0.9 if "right" in corner else 0.0
            dy = 0.9 if "upper" in corner else 0.0
            xs, ys = np.concatenate([xs, cloud[:, 0] + dx]), np.concatenate([ys, cloud[:, 1] + dy])
        fig, ax = plt.subplots()
        ax.scatter(xs, ys, label="points")
        figures._corner_legend(ax, xs, ys)
        assert ax.get_legend()._loc == codes[expected], (crowded, expected)
        plt.close(fig)


@pytest.mark.parametrize("lo, hi", [(2.1e5, 8.7e5), (1.3e3, 4.2e7), (0.02, 7.0)])
def test_the_heat_maps_log_colour_bar_labels_the_default_ticks_as_the_cells_write_values(lo, hi):
    """figures._SIText: the ticks matplotlib's log formatter labels (decades, or the minor ticks of a
    bar spanning less than a decade), each written as cell_text writes a cell, without mathtext."""
    from matplotlib.colors import LogNorm

    from simulator.sweep.figures import _SIText, cell_text

    labelled = {}
    for ours in (False, True):
        with plt.rc_context(STYLE):
            fig, ax = plt.subplots()
            bar = fig.colorbar(ax.imshow([[lo, hi]], norm=LogNorm(lo, hi)), ax=ax)
            if ours:
                bar.ax.yaxis.set_major_formatter(_SIText(labelOnlyBase=True))
                bar.ax.yaxis.set_minor_formatter(_SIText(labelOnlyBase=False))
            fig.canvas.draw()
            labelled[ours] = {round(t.get_position()[1], 9): t.get_text()
                              for t in bar.ax.yaxis.get_ticklabels(which="both")
                              if t.get_text() and lo <= t.get_position()[1] <= hi}
            plt.close(fig)
    assert labelled[True] and sorted(labelled[True]) == sorted(labelled[False])
    assert all(text == cell_text(v) and "$" not in text for v, text in labelled[True].items())
