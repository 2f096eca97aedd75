"""`attnsim table`: measure Table 1 and its hardware extensions, write CSV, Markdown and figures."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import __version__
from ..fileio import write_atomic
from ..report import display_path, markdown_table
from . import extensions, figures, generation
from .runs import shared_runs
from .table1 import Settings, measure_table

PAPER_COLUMNS = ["layer_type", "paper_complexity", "n_exponent", "d_exponent", "k_exponent", "r_exponent",
                 "paper_sequential_ops", "sequential_ops", "paper_path_length", "path_length"]
HARDWARE_COLUMNS = ["layer_type", "macs", "cycles", "serial_cycles", "overlap_speedup", "seconds", "utilization",
                    "dram_bytes", "energy_pj", "array_share", "vector_share", "stall_share"]
GENERATION_COLUMNS = ["layer_type", "macs_exponent", "dram_bytes_exponent", "cycles_exponent", "state_bytes_per_sequence",
                      "state_exponent", *(f"memory_bound_from_n_batch_{b}" for b in generation.GenerationSettings().batches)]
PER_TOKEN_COLUMNS = ["layer_type", "macs_per_token_at_state_n", "dram_bytes_per_token_at_state_n",
                     "cycles_per_token_at_state_n", "array_cycles_per_token_at_state_n",
                     "vector_cycles_per_token_at_state_n", "dram_transfer_cycles_per_token_at_state_n",
                     "bound_at_state_n"]
FILES = ("table1.csv, table1.md, crossover.csv, heads.csv, memory.csv, roofline.csv, generation.csv, "
         "generation_sweep.csv and 7 figures")


def provenance(hw) -> dict:
    return {"hw": hw.name, "hw_file": display_path(hw.source), "hw_sha256": hw.sha256,
            "simulator_version": __version__}


def make_table1(hw, out_dir: Path, settings: Settings | None = None) -> dict[str, pd.DataFrame]:
    """Run every measurement and write the report files into `out_dir`. Returns the frames."""
    with shared_runs():                  # sections that simulate the same layer share the run
        return _make_table1(hw, out_dir, settings)


def _make_table1(hw, out_dir: Path, settings: Settings | None) -> dict[str, pd.DataFrame]:
    out_dir = Path(out_dir)
    table, measurements = measure_table(hw, settings)
    sweeps = extensions.crossover_sweeps(hw)
    frames = {
        "table1": table,
        "crossover": extensions.crossover_table(sweeps),
        "heads": extensions.heads_question(hw),
        "memory": extensions.memory_sweep(hw),
    }
    roof, roof_meta = extensions.roofline_points(measurements, hw)
    frames["roofline"] = roof
    frames["generation_sweep"] = generation.measure_sweep(hw)
    frames["generation"] = generation.summary(frames["generation_sweep"])
    prov = provenance(hw)
    # No timestamp: the same code and hardware give byte-identical files, so re-running the main
    # job on a checkout leaves it clean (the simulator version and the config's sha256 say what made it).
    for name, frame in frames.items():
        write_atomic(out_dir / f"{name}.csv", frame.assign(**prov).to_csv(index=False))
    figures.complexity(measurements, hw.name, out_dir / "complexity.png")
    figures.crossover(sweeps, frames["crossover"], hw.name, out_dir / "crossover.png")
    figures.heads(frames["heads"], out_dir / "heads.png")
    figures.memory(frames["memory"], hw.name, out_dir / "memory.png")
    figures.roofline(roof, roof_meta, hw.name, out_dir / "roofline.png")
    for metric, name in (("cycles_per_token", "generation_cycles"), ("dram_bytes_per_token", "generation_bytes")):
        figures.generation(frames["generation_sweep"], frames["generation"], hw.name, metric, out_dir / f"{name}.png")
    write_atomic(out_dir / "table1.md", render_markdown(frames, roof_meta, prov))
    return frames


def render_markdown(frames, roof_meta, prov) -> str:
    t = frames["table1"]
    lines = [
        "# Table 1 of \"Attention Is All You Need\", measured",
        "",
        f"- simulator {prov['simulator_version']}",
        f"- hardware `{prov['hw_file']}` ({prov['hw']}), sha256 `{prov['hw_sha256']}`",
        "- made by `attnsim table`; every number below is measured from simulation (count-only).",
        "",
        "## The paper's three columns",
        "",
        "Exponents are log-log slopes of simulated useful MACs over sweeps (fit ranges in table1.csv: "
        "the tail of each sweep where the local slope has settled). Sequential operations and path length "
        "are classified by which O(.) form best explains `sequential_steps` and `max_path_length` measured "
        "at several n (and k or r).",
        "",
        markdown_table(t[PAPER_COLUMNS]),
        "",
        "Rows not in the paper's printed table: " + ", ".join(t.loc[~t["in_paper"], "layer_type"]) + ".",
        "",
        *_notes(t),
        "",
        "## What hardware adds (n = d = 512, k = 3, r = 65)",
        "",
        "Cycles are the overlapped schedule's (array, vector unit and transfers run concurrently where the "
        "data and the buffer space allow); serial_cycles runs the same ops one after another, and "
        "overlap_speedup is their ratio. Shares are of the layer's cycles: MAC array busy, vector unit busy "
        "(softmax, nonlinearities; under overlap the two may add up to more than 1), and stalls (cycles in "
        "which neither computes).",
        "",
        markdown_table(t[HARDWARE_COLUMNS]),
        "",
        "![MACs and cycles vs n](complexity.png)",
        "",
        "## Crossover: when is self-attention cheaper than a recurrent layer?",
        "",
        "n* is the first sequence length at which the attention layer costs at least as much as the "
        "recurrent one (interpolated in log space); empty means attention stays cheaper over the whole sweep.",
        "",
        markdown_table(frames["crossover"][["d", "comparison", "paper_rule_by_macs", "by_macs", "by_cycles",
                                            "n_star_cycles_over_d", "by_serial_cycles"]]),
        "",
        "By MACs the paper's rules hold (n* = d against a vanilla RNN). By cycles the recurrent layer pays for "
        "n dependent matrix-vector steps that leave most of the array idle, so attention stays cheaper to much "
        "longer sequences; by_cycles uses the overlapped schedule, by_serial_cycles ops one after another "
        "(a recurrence's steps cannot overlap, attention's softmax can hide array work).",
        "",
        "![crossover](crossover.png)",
        "",
        "## The source's question: 12 heads of 768 x 64 vs one 768 x 768",
        "",
        markdown_table(frames["heads"]),
        "",
        "Same MACs; 12x the softmax work; and with d_k = 64 the score GEMM's reduction fills at most 64 rows "
        "of an array wider than 64. cycles and utilization are the overlapped schedule's, serial_cycles and "
        "serial_utilization one op after another: overlapping hides part of the 12 heads' softmax under the "
        "array's work.",
        "",
        "![heads](heads.png)",
        "",
        "## Memory: unfused vs fused attention",
        "",
        markdown_table(frames["memory"][["n", "unfused_dram_bytes", "unfused_serial_dram_bytes", "fused_dram_bytes",
                                         "standard_theory_bytes", "flash_exact_bytes", "flash_bound_bytes",
                                         "unfused_cycles", "unfused_serial_cycles", "fused_cycles",
                                         "fused_serial_cycles"]]),
        "",
        "unfused_dram_bytes is the overlapped schedule's traffic: score and probability blocks that fit on chip "
        "beside the running ops go straight to their consumer; unfused_serial_dram_bytes writes and reads every "
        "one (the standard count).",
        "",
        "![memory](memory.png)",
        "",
        "## Roofline",
        "",
        f"Peak {roof_meta['peak_macs_per_cycle']} MACs/cycle, DRAM {roof_meta['dram_bytes_per_cycle']:g} "
        f"bytes/cycle (read bandwidth), ridge {roof_meta['ridge_macs_per_byte']:.1f} MACs/byte. Each layer's "
        f"roof (the dash in the figure) counts its reads and writes on their own ports: MACs / max(reads / read "
        f"bandwidth, writes / write bandwidth), at most the peak; attained is the overlapped schedule's, "
        f"serial_attained one op after another.",
        "",
        markdown_table(frames["roofline"]),
        "",
        "![roofline](roofline.png)",
        "",
        *_generation_section(frames),
    ]
    return "\n".join(lines)


def _generation_section(frames) -> list[str]:
    s = generation.GenerationSettings()
    g = frames["generation"]
    batches = " and ".join(str(b) for b in s.batches)
    return [
        "## Generation: one new token at context n",
        "",
        f"Each layer type runs its decode step at context n = {s.n_sweep[0]} .. {s.n_sweep[-1]} (d = {s.d}, "
        f"{s.heads} query heads of {s.d // s.heads}, k = {s.kernel}, r = {s.window}), count-only, at batch "
        f"{batches}: attention reads a KV cache of n positions (the new token's Q, K, V are inputs, as Table 1 "
        "counts the attention core), a recurrent layer runs one step from its state, the convolution one output "
        "from its window of k inputs, restricted attention reads its last r positions. Costs are per generated "
        "token, state per sequence; exponents are log-log slopes at batch 1 over the tail of the sweep where the "
        "local slope has settled (fit ranges in generation.csv).",
        "",
        markdown_table(g[GENERATION_COLUMNS]),
        "",
        f"Per token at n = {s.state_n}, batch {s.batches[0]} (array and vector cycles: busy time of each unit; DRAM "
        "transfer cycles: the bytes at the DRAM bandwidth):",
        "",
        markdown_table(g[PER_TOKEN_COLUMNS]),
        "",
        "What the measurements show:",
        "",
        *generation.findings(g, frames["generation_sweep"], s),
        "",
        "![cycles per token](generation_cycles.png)",
        "",
        "![bytes per token](generation_bytes.png)",
        "",
    ]


def _notes(t) -> list[str]:
    """Explanations of rows whose numbers a reader would question, quoting the measurements."""
    notes = []
    mha = t[t["key"] == "multi_head_attention"]
    if len(mha):
        notes.append(f"- Multi-head attention costs 4nd^2 + 2n^2d, a sum: its fitted tail slopes "
                     f"(n: {mha['n_exponent'].iloc[0]:.2f}, d: {mha['d_exponent'].iloc[0]:.2f}) sit between the "
                     f"two terms' exponents; the n^2 d term dominates only when n >> 2d.")
    lstm = t[t["key"] == "recurrent_lstm"]
    if len(lstm) and lstm["stall_share"].iloc[0] > 0.25:
        notes.append(f"- The LSTM's stall share ({lstm['stall_share'].iloc[0]:.0%}) and DRAM traffic "
                     f"({lstm['dram_bytes'].iloc[0] / 2 ** 20:.0f} MiB) come from its recurrent weights not "
                     f"fitting on chip at this size, so every one of the n dependent steps re-reads them "
                     f"(the op-level report of `attnsim run` says which: `weights re-read every step`).")
    return notes


def summary_text(frames) -> str:
    """What the command prints: the paper's columns and the hardware columns."""
    t = frames["table1"]
    with pd.option_context("display.max_columns", None, "display.width", 200):
        return (t[PAPER_COLUMNS].to_string(index=False) + "\n\n"
                + t[HARDWARE_COLUMNS].to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n\n"
                + "Generation (per new token at context n):\n"
                + frames["generation"][GENERATION_COLUMNS].to_string(index=False) + "\n")
