"""PNG figures for `attnsim table`: labelled axes with units, titles, legends.

Every figure is drawn from the measured frames; nothing is typed in. Files are written atomically.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..plotting import STYLE, plt, save


def complexity(measurements, hw_name: str, path: Path) -> None:
    """MACs and cycles vs n for every layer type, log-log, fitted MAC slope in the legend."""
    with plt.rc_context(STYLE):
        fig, (ax_m, ax_c) = plt.subplots(1, 2, figsize=(11, 4.2))
        for m in measurements:
            frame = m.sweeps.get("n")
            if frame is None:
                continue
            slope = m.slopes["n"].exponent
            ax_m.loglog(frame["n"], frame["macs"], "o-", ms=3, label=f"{m.spec.label} (slope {slope:.2f})")
            cyc = _slope(frame["n"], frame["cycles"])
            ax_c.loglog(frame["n"], frame["cycles"], "o-", ms=3, label=f"{m.spec.label} (slope {cyc:.2f})")
        ax_m.set(title="Work per layer (d = 512, k = 3, r = 65)", xlabel="sequence length n (positions)",
                 ylabel="useful MACs")
        ax_c.set(title=f"Latency on {hw_name}", xlabel="sequence length n (positions)", ylabel="cycles")
        for ax in (ax_m, ax_c):
            ax.set_xscale("log", base=2)
            ax.legend(fontsize=7)
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
        fig, axes = plt.subplots(2, len(ds), figsize=(4.0 * len(ds), 6.6), squeeze=False, sharex=True)
        for col, d in enumerate(ds):
            at_d = sweeps[sweeps["d"] == d]
            for row, (metric, column) in enumerate((("MACs", "macs"), ("cycles", "cycles"))):
                ax = axes[row][col]
                for key, color in colors.items():
                    f = at_d[at_d["layer"] == key].sort_values("n")
                    ax.loglog(f["n"], f[column], "-", color=color, label=names[key])
                for comp, color in marks.items():
                    hit = table[(table["d"] == d) & (table["comparison"] == comp)][f"n_star_{column}"].iloc[0]
                    if hit is not None and hit == hit:
                        ax.axvline(hit, color=color, ls=":", lw=1.2)
                ax.set_xscale("log", base=2)
                ax.set_title(f"d = {d}: {metric}", fontsize=9)
                ax.set_ylabel("useful MACs" if row == 0 else f"cycles on {hw_name}")
                if row == 1:
                    ax.set_xlabel("sequence length n (positions)")
        axes[0][0].legend(fontsize=7, loc="upper left")
        fig.suptitle("Self-attention vs recurrence: dotted lines mark where attention stops being cheaper "
                     "(orange: vs RNN, green: vs LSTM; none drawn = cheaper over the whole sweep)", fontsize=9)
        save(fig, path)


def heads(frame, path: Path) -> None:
    """12 heads of 64 vs one head of 768: cycles (split into softmax and the rest) and utilization."""
    arrays = list(dict.fromkeys(frame["array"]))
    with plt.rc_context(STYLE):
        fig, (ax_c, ax_u) = plt.subplots(1, 2, figsize=(10, 3.8))
        width = 0.38
        for j, label in enumerate(["12 heads x 64", "1 head x 768"]):
            sub = frame[frame["heads"] == label].set_index("array").loc[arrays]
            xs = [i + (j - 0.5) * width for i in range(len(arrays))]
            ax_c.bar(xs, sub["cycles"] - sub["softmax_cycles"], width, color=f"C{j}", label=f"{label}: other ops")
            ax_c.bar(xs, sub["softmax_cycles"], width, bottom=sub["cycles"] - sub["softmax_cycles"], color=f"C{j}",
                     alpha=0.45, hatch="//", label=f"{label}: softmax")
            ax_u.bar(xs, sub["scores_utilization"], width, color=f"C{j}", label=f"{label}: Q K^T")
        for ax in (ax_c, ax_u):
            ax.set_xticks(range(len(arrays)), arrays)
            ax.set_xlabel("MAC array (rows x cols)")
            ax.legend(fontsize=7)
        ax_c.set(title="Same MACs, different cycles (n = 512, d = 768)", ylabel="cycles")
        ax_u.set(title="Utilization of the score GEMM", ylabel="useful MACs / (cycles x rows x cols)")
        save(fig, path)


def memory(frame, hw_name: str, path: Path) -> None:
    """Unfused vs fused DRAM traffic vs n, with the closed forms of
    docs/conventions/counting.md §3.3."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.2, 4.2))
        ax.loglog(frame["n"], frame["unfused_dram_bytes"], "o-", color="C3", label="unfused, simulated")
        ax.loglog(frame["n"], frame["fused_dram_bytes"], "o-", color="C0", label="fused (FlashAttention), simulated")
        ax.loglog(frame["n"], frame["standard_theory_bytes"], "--", color="C3", alpha=0.6,
                  label="standard, theory 4Nd + 4N^2 (operands read once)")
        ax.loglog(frame["n"], frame["flash_exact_bytes"], ":", color="C0", lw=2, label="Algorithm 1, exact count")
        ax.loglog(frame["n"], frame["flash_bound_bytes"], "--", color="C0", alpha=0.6, label="12 N^2 d^2 / M")
        ax.set_xscale("log", base=2)
        d, m = int(frame["d"].iloc[0]), int(frame["M_elements"].iloc[0])
        ax.set(title=f"Attention DRAM traffic on {hw_name} (one head, d = {d}, M = {m} elements)",
               xlabel="sequence length N (positions)", ylabel="DRAM bytes (read + write)")
        ax.legend(fontsize=7)
        save(fig, path)


def roofline(points, meta, hw_name: str, path: Path) -> None:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 4.4))
        peak, beta = meta["peak_macs_per_cycle"], meta["dram_bytes_per_cycle"]
        lo = min(points["intensity_macs_per_byte"].min(), meta["ridge_macs_per_byte"]) / 4
        hi = max(points["intensity_macs_per_byte"].max(), meta["ridge_macs_per_byte"]) * 4
        xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
        ax.loglog(xs, [min(peak, x * beta) for x in xs], "k-", lw=1.5, label="min(R C, I x DRAM read bandwidth)")
        ax.axvline(meta["ridge_macs_per_byte"], color="k", ls=":", lw=1,
                   label=f"ridge {meta['ridge_macs_per_byte']:.0f} MACs/byte")
        for i, row in points.iterrows():
            ax.loglog(row["intensity_macs_per_byte"], row["attained_macs_per_cycle"], "osD^vP*X"[i % 8],
                      color=f"C{i}", ms=8 - i % 3, alpha=0.85, label=row["layer_type"])
            ax.loglog(row["intensity_macs_per_byte"], row["roof_macs_per_cycle"], "_", color=f"C{i}", ms=14,
                      mew=2)             # the layer's own roof: reads and writes on their own ports
        ax.set(title=f"Roofline on {hw_name} (n = d = 512, k = 3, r = 65)",
               xlabel="arithmetic intensity (useful MACs per DRAM byte)", ylabel="attained MACs per cycle")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        save(fig, path)


def generation(sweep, summary, hw_name: str, metric: str, path: Path) -> None:
    """Per generated token vs context n for every layer type: `metric` (cycles_per_token or
    dram_bytes_per_token) at batch 1 (solid) and at the serving batch (dashed)."""
    batches = sorted(sweep["batch"].unique())
    labels = dict(zip(summary["key"], summary["layer_type"]))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 4.6))
        for i, key in enumerate(summary["key"]):
            for j, batch in enumerate(batches):
                f = sweep[(sweep["key"] == key) & (sweep["batch"] == batch)].sort_values("n")
                ax.loglog(f["n"], f[metric], "-" if j == 0 else "--", color=f"C{i % 10}", marker="o" if j == 0 else None,
                          ms=2.5, label=labels[key] if j == 0 else None)
        what = "cycles per generated token" if metric == "cycles_per_token" else "DRAM bytes per generated token"
        ax.set(title=f"{what[0].upper() + what[1:]} on {hw_name} (solid: batch {batches[0]}, dashed: batch "
                     f"{batches[-1]})", xlabel="context n (positions the new token attends to)", ylabel=what)
        ax.set_xscale("log", base=2)
        handles, names = ax.get_legend_handles_labels()
        fig.legend(handles, names, fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, 0.0))
        save(fig, path)
