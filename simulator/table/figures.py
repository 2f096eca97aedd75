"""PNG figures for `attnsim table`: labelled axes with units, titles, legends.

Every figure is drawn from the measured frames; nothing is typed in. Files are written atomically.
"""
from __future__ import annotations

import math
from pathlib import Path

from matplotlib.ticker import FuncFormatter

from ..plotting import MARKERS, STYLE, Series, add_notes, draw_series, plt, save, wrap


def complexity(measurements, hw_name: str, settings, path: Path) -> None:
    """MACs and cycles vs n for every layer type, log-log, fitted MAC slope in the legend."""
    with plt.rc_context(STYLE):
        fig, (ax_m, ax_c) = plt.subplots(1, 2, figsize=(11.5, 6.0), layout="constrained")
        macs, cycles = [], []
        for i, m in enumerate(measurements):
            frame = m.sweeps.get("n")
            if frame is None:
                continue
            label, color, xs = m.spec.label, f"C{i % 10}", tuple(frame["n"])
            macs.append(Series(label, xs, tuple(frame["macs"]), color,
                               label=f"{label} (slope {m.slopes['n'].exponent:.2f})"))
            cycles.append(Series(label, xs, tuple(frame["cycles"]), color,
                                 label=f"{label} (slope {_slope(frame['n'], frame['cycles']):.2f})"))
        for ax, series in ((ax_m, macs), (ax_c, cycles)):
            notes = draw_series(ax, series, markersize=3)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            add_notes(ax, notes, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14))
        t = settings
        ax_m.set(title=f"Work per layer (d = {t.d}, k = {t.k}, r = {t.r})", xlabel="sequence length n (positions)",
                 ylabel="useful MACs")
        ax_c.set(title=f"Latency on {hw_name}", xlabel="sequence length n (positions)", ylabel="cycles")
        save(fig, path)


def _slope(xs, ys) -> float:
    xs, ys = list(xs), list(ys)
    return math.log(ys[-1] / ys[-2]) / math.log(xs[-1] / xs[-2])


def crossover(sweeps, table, hw_name: str, path: Path) -> None:
    """Attention core vs RNN and LSTM per d: MACs (top row) and simulated cycles (bottom row) vs n,
    with each measured crossover against the RNN and the LSTM marked."""
    ds = sorted(sweeps["d"].unique())
    colors = {"self_attention": "C0", "rnn": "C1", "lstm": "C2"}
    names = {"self_attention": "self-attention core", "rnn": "vanilla RNN", "lstm": "LSTM"}
    marks = {"core_vs_rnn": "C1", "core_vs_lstm": "C2"}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, len(ds), figsize=(4.2 * len(ds), 7.0), squeeze=False, sharex=True,
                                 layout="constrained")
        for col, d in enumerate(ds):
            at_d = sweeps[sweeps["d"] == d]
            for row, (metric, column) in enumerate((("MACs", "macs"), ("cycles", "cycles"))):
                ax = axes[row][col]
                series = []
                for key, color in colors.items():
                    f = at_d[at_d["layer"] == key].sort_values("n")
                    series.append(Series(names[key], tuple(f["n"]), tuple(f[column]), color, label=names[key]))
                notes = draw_series(ax, series, markersize=2.5)
                for comp, color in marks.items():
                    hit = table[(table["d"] == d) & (table["comparison"] == comp)][f"n_star_{column}"].iloc[0]
                    if hit is not None and hit == hit:
                        ax.axvline(hit, color=color, ls=":", lw=1.2)
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                ax.set_title(f"d = {d}: {metric}", fontsize=9)
                ax.set_ylabel("useful MACs" if row == 0 else f"cycles on {hw_name}")
                if row == 1:
                    ax.set_xlabel("sequence length n (positions)")
                if (row, col) == (0, 0) or notes:
                    add_notes(ax, notes, fontsize=7, loc="upper left")
        fig.suptitle("Self-attention vs recurrence: dotted lines mark where attention stops being cheaper\n"
                     "(orange: vs RNN, green: vs LSTM; none drawn = cheaper over the whole sweep)", fontsize=9)
        save(fig, path)


def heads(frame, n: int, d: int, path: Path) -> None:
    """12 heads of d/12 vs one head of d: cycles (split into softmax and the rest) and utilization;
    a case the hardware could not run is marked where its bar would be."""
    arrays = list(dict.fromkeys(frame["array"]))
    labels = list(dict.fromkeys(frame["heads"]))
    with plt.rc_context(STYLE):
        fig, (ax_c, ax_u) = plt.subplots(1, 2, figsize=(10.5, 4.8), layout="constrained")
        width = 0.38
        for j, label in enumerate(labels):
            sub = frame[frame["heads"] == label].set_index("array").loc[arrays]
            xs = [i + (j - 0.5) * width for i in range(len(arrays))]
            other = (sub["cycles"] - sub["softmax_cycles"]).fillna(0)
            ax_c.bar(xs, other, width, color=f"C{j}", label=f"{label}: the rest of its cycles")
            ax_c.bar(xs, sub["softmax_cycles"].fillna(0), width, bottom=other, color=f"C{j}",
                     alpha=0.45, hatch="//", label=f"{label}: softmax (the op's own cycles)")
            ax_u.bar(xs, sub["scores_utilization"].fillna(0), width, color=f"C{j}", label=f"{label}: Q K^T")
            for x, skipped in zip(xs, sub["cycles"].isna()):
                if skipped:
                    for ax in (ax_c, ax_u):
                        ax.annotate("skipped\n(see heads.csv)", (x, 0), ha="center", va="bottom", fontsize=6,
                                    rotation=90)
        scale = frame.groupby("array", sort=False)["memory_scale"].max()
        ticks = [a if not scale.get(a, 1) > 1 else f"{a}\n(memory x{scale[a]:.0f})" for a in arrays]
        for ax in (ax_c, ax_u):
            ax.set_xticks(range(len(arrays)), ticks)
            ax.set_xlabel("MAC array (rows x cols)")
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        ax_c.set(title=f"Same MACs, different cycles (n = {n}, d = {d})", ylabel="cycles")
        # whole numbers with separators: matplotlib's "1e6" offset label sat on the title
        ax_c.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax_u.set(title="Utilization of the score GEMM", ylabel="useful MACs / (cycles x rows x cols)")
        save(fig, path)


def memory(frame, hw_name: str, path: Path) -> None:
    """Unfused vs fused DRAM traffic vs n, with the closed forms of
    docs/conventions/counting.md §3.3 and the compulsory floor."""
    xs = tuple(frame["n"])
    d, m = int(frame["d"].iloc[0]), int(frame["M_elements"].iloc[0])
    series = [
        Series("unfused, simulated", xs, tuple(frame["unfused_dram_bytes"]), "C3", label="unfused, simulated"),
        Series("fused, simulated", xs, tuple(frame["fused_dram_bytes"]), "C0",
               label="fused (FlashAttention), simulated"),
        Series("standard theory", xs, tuple(frame["standard_theory_bytes"]), "C1", linestyle="--",
               label="standard, theory 4Nd + 4N^2 (operands read once)"),
        Series("Algorithm 1 exact", xs, tuple(frame["flash_exact_bytes"]), "C9", linestyle=":",
               label="Algorithm 1, exact count"),
        Series("12 N^2 d^2 / M", xs, tuple(frame["flash_leading_term_bytes"]), "C4", linestyle="--",
               label="12 N^2 d^2 / M, Algorithm 1's leading term"),
        Series("compulsory", xs, tuple(frame["compulsory_bytes"]), "0.4", linestyle="-.",
               label="compulsory 4Nd: Q, K, V read, O written once"),
    ]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.6, 4.6), layout="constrained")
        notes = draw_series(ax, series, markersize=4)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set(title=f"Attention DRAM traffic on {hw_name}\n(one head, d = {d}, M = {m:,} elements)",
               xlabel="sequence length N (positions)", ylabel="DRAM bytes (read + write)")
        add_notes(ax, notes, fontsize=7)
        save(fig, path)


def roofline(points, meta, hw_name: str, point: str, path: Path) -> None:
    """Attained MACs per cycle against intensity on the busier off-chip port: on that axis the line
    min(R C, I x fill rate) is each layer's own roof (simulator/roofline.py)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8.6, 4.4), layout="constrained")
        peak, fill = meta["peak_macs_per_cycle"], meta["fill_bytes_per_cycle"]
        lo = min(points["intensity_macs_per_byte"].min(), meta["ridge_macs_per_byte"]) / 4
        hi = max(points["intensity_macs_per_byte"].max(), meta["ridge_macs_per_byte"]) * 4
        xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
        ax.plot(xs, [min(peak, x * fill) for x in xs], "k-", lw=1.5, label="roof: min(R C, I x DRAM read rate)")
        ax.axvline(meta["ridge_macs_per_byte"], color="k", ls=":", lw=1,
                   label=f"ridge {meta['ridge_macs_per_byte']:.0f} MACs/byte")
        series = [Series(row["layer_type"], (row["intensity_macs_per_byte"],), (row["attained_macs_per_cycle"],),
                         f"C{i % 10}", label=f"{row['layer_type']} ({row['bound']}-bound)")
                  for i, row in points.iterrows()]
        notes = draw_series(ax, series, markersize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set(title=f"Roofline on {hw_name} ({point})",
               xlabel="intensity (useful MACs per byte on the busier DRAM port)", ylabel="attained MACs per cycle")
        add_notes(ax, notes, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        save(fig, path)


def generation(sweep, summary, hw_name: str, metric: str, path: Path) -> None:
    """Per generated token vs context n for every layer type: `metric` (cycles_per_token or
    dram_bytes_per_token) at batch 1 (solid) and at the serving batch (dashed)."""
    batches = sorted(sweep["batch"].unique())
    labels = dict(zip(summary["key"], summary["layer_type"]))
    short = dict(zip(summary["key"], summary["name"]))
    series = []
    for i, key in enumerate(summary["key"]):
        for j, batch in enumerate(batches):
            f = sweep[(sweep["key"] == key) & (sweep["batch"] == batch)].sort_values("n")
            series.append(Series(f"{short[key]} at batch {batch}", tuple(f["n"]), tuple(f[metric]), f"C{i % 10}",
                                 label=labels[key] if j == 0 else None, linestyle="-" if j == 0 else "--",
                                 marker=MARKERS[i % len(MARKERS)]))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8.6, 6.6), layout="constrained")
        notes = draw_series(ax, series, markersize=3)
        what = "cycles per generated token" if metric == "cycles_per_token" else "DRAM bytes per generated token"
        ax.set(title=f"{what[0].upper() + what[1:]} on {hw_name}\n(solid: batch {batches[0]}, dashed: batch "
                     f"{batches[-1]})", xlabel="context n (positions the new token attends to)", ylabel=what)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        handles, names = ax.get_legend_handles_labels()
        blank = [plt.Line2D([], [], linestyle="none") for _ in notes]
        fig.legend(handles + blank, names + [wrap(n, 110) for n in notes], fontsize=7, ncol=1,
                   loc="outside lower center")
        save(fig, path)
