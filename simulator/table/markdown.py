"""table1.md: the readable report of `attnsim table`. Every number in it comes from the measured
frames or the settings they were measured at; sentences that compare rows are written from the data."""
from __future__ import annotations

from ..report import markdown_table
from . import generation

PAPER_COLUMNS = ["layer_type", "paper_complexity", "n_exponent", "d_exponent", "k_exponent", "r_exponent",
                 "paper_sequential_ops", "sequential_ops", "paper_path_length", "path_length"]
HARDWARE_COLUMNS = ["layer_type", "macs", "cycles", "serial_cycles", "overlap_speedup", "seconds", "utilization",
                    "dram_bytes", "energy_pj", "array_share", "vector_share", "stall_share"]
PER_TOKEN_COLUMNS = ["layer_type", "macs_per_token_at_state_n", "dram_bytes_per_token_at_state_n",
                     "cycles_per_token_at_state_n", "array_cycles_per_token_at_state_n",
                     "vector_cycles_per_token_at_state_n", "dram_transfer_cycles_per_token_at_state_n",
                     "bound_at_state_n"]
MEMORY_COLUMNS = ["n", "T_c", "unfused_dram_bytes", "unfused_serial_dram_bytes", "fused_dram_bytes", "compulsory_bytes",
                  "standard_theory_bytes", "flash_exact_bytes", "flash_leading_term_bytes", "unfused_cycles",
                  "unfused_serial_cycles", "fused_cycles", "fused_serial_cycles"]


def generation_columns(s: generation.GenerationSettings) -> list[str]:
    return ["layer_type", "macs_exponent", "dram_bytes_exponent", "cycles_exponent", "state_bytes_per_sequence",
            "state_exponent", *(f"memory_bound_from_n_batch_{b}" for b in s.batches)]


def reference_point(s) -> str:
    t = s.table1
    return f"n = {t.n}, d = {t.d}, k = {t.k}, r = {t.r}" if t.n != t.d else f"n = d = {t.n}, k = {t.k}, r = {t.r}"


def render_markdown(frames, roof_meta, prov, settings) -> str:
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
        f"## What hardware adds ({reference_point(settings)})",
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
        *_crossover_section(frames["crossover"]),
        *_heads_section(frames["heads"], settings),
        *_memory_section(frames["memory"], prov),
        *_roofline_section(frames["roofline"], roof_meta),
        *_generation_section(frames, settings.generation),
    ]
    return "\n".join(lines)


def _crossover_section(c) -> list[str]:
    later = c[c["n_star_macs"].notna()]
    longer = [r for r in later.itertuples() if r.n_star_cycles != r.n_star_cycles or r.n_star_cycles > r.n_star_macs]
    return [
        "## Crossover: when is self-attention cheaper than a recurrent layer?",
        "",
        "n* is the first sequence length at which the attention layer costs at least as much as the "
        "recurrent one (interpolated in log space); empty means attention stays cheaper over the whole sweep.",
        "",
        markdown_table(c[["d", "comparison", "paper_rule_by_macs", "by_macs", "by_cycles", "n_star_cycles_over_d",
                          "by_serial_cycles"]]),
        "",
        f"By MACs n* follows the paper's rules (paper_rule_by_macs). By cycles attention stays cheaper to longer "
        f"sequences than by MACs in {len(longer)} of the {len(later)} comparisons with a MAC crossover: the "
        f"recurrent layer pays for n dependent matrix-vector steps that leave most of the array idle. by_cycles "
        f"uses the overlapped schedule, by_serial_cycles ops one after another (a recurrence's steps cannot "
        f"overlap, attention's softmax can hide array work).",
        "",
        "![crossover](crossover.png)",
        "",
    ]


def _heads_section(h, settings) -> list[str]:
    d, dk = settings.heads_d, settings.heads_d // 12
    notes = list(dict.fromkeys(f"{r.array}: {r.note}" for r in h.itertuples() if isinstance(r.note, str) and r.note))
    return [
        f"## The source's question: 12 heads of {d} x {dk} vs one {d} x {d}",
        "",
        f"Multi-head attention at n = {settings.heads_n}, d = {d} on square arrays with the config's memories "
        f"(vector lanes = array columns).",
        "",
        markdown_table(h.drop(columns=["note"])),
        "",
        *(f"- {n}" for n in notes),
        *([""] if notes else []),
        f"Same MACs; 12x the softmax work; and with d_k = {dk} the score GEMM's reduction fills at most {dk} rows "
        f"of an array wider than {dk}. cycles and utilization are the overlapped schedule's, serial_cycles and "
        f"serial_utilization one op after another: overlapping hides part of the 12 heads' softmax under the "
        f"array's work.",
        "",
        "![heads](heads.png)",
        "",
    ]


def _memory_section(m, prov) -> list[str]:
    d, m_elems = int(m["d"].iloc[0]), int(m["M_elements"].iloc[0])
    return [
        "## Memory: unfused vs fused attention",
        "",
        f"One attention head of width d = {d} (Q, K and V are N x {d}; no projections), unfused (S = QK^T and "
        f"P = softmax(S) go through memory) and fused (FlashAttention's Algorithm 1), on {prov['hw']}: the "
        f"innermost level holds M = {m_elems:,} elements, so K/V blocks have B_c = ceil(M / 4d) = "
        f"{-(-m_elems // (4 * d)):,} rows (at most N) and there are T_c = ceil(N / B_c) of them. "
        f"compulsory_bytes (Q, K, V read and O written once, 4Nd elements) is a floor under every algorithm: "
        f"both simulated columns stay at or above it. standard_theory_bytes is the standard algorithm's count "
        f"with each GEMM reading its operands once (4Nd + 4N^2), flash_exact_bytes Algorithm 1's exact count "
        f"(Nd + 2N + 2Nd + T_c (3Nd + 4N)), and flash_leading_term_bytes its leading term 12 N^2 d^2 / M (the "
        f"Theta(N^2 d^2 / M) of Dao et al.), which the exact count approaches only once N is many times B_c "
        f"(T_c large); while T_c is small the 3Nd of reading K, V and initialising O dominates.",
        "",
        markdown_table(m[MEMORY_COLUMNS]),
        "",
        "unfused_dram_bytes is the overlapped schedule's traffic: score and probability blocks that fit on chip "
        "beside the running ops go straight to their consumer; unfused_serial_dram_bytes writes and reads every "
        "one (the standard count).",
        "",
        "![memory](memory.png)",
        "",
    ]


def _roofline_section(roof, meta) -> list[str]:
    return [
        "## Roofline",
        "",
        f"Peak {meta['peak_macs_per_cycle']} MACs/cycle; DRAM reads come in at {meta['fill_bytes_per_cycle']:g} "
        f"bytes/cycle and writes go out at {meta['drain_bytes_per_cycle']:g} bytes/cycle, on their own ports at "
        f"the same time, so a layer needs at least transfer_cycles = max(read bytes / read rate, write bytes / "
        f"write rate) and its roof is min(peak, MACs / transfer_cycles). intensity is MACs per byte on the busier "
        f"port (in read-port bytes: MACs / (read rate x transfer_cycles)), so the line min(peak, intensity x read "
        f"rate) in the figure is every layer's own roof and the ridge sits at {meta['ridge_macs_per_byte']:.1f} "
        f"MACs/byte (MACs per byte of all DRAM traffic, read plus written, is macs / dram_bytes in the hardware "
        f"table). attained is the overlapped schedule's, serial_attained one op after another; neither can exceed "
        f"the roof. bound compares the measured run: memory when transfer_cycles exceeds compute_cycles (cycles in "
        f"which the array or the vector unit computes) by more than 5%, compute when the reverse, balanced in "
        f"between; a memory-bound layer stalls for at least the difference.",
        "",
        markdown_table(roof),
        "",
        *_roofline_notes(roof, meta),
        "![roofline](roofline.png)",
        "",
    ]


def _roofline_notes(roof, meta) -> list[str]:
    """Layers whose bound a reader would not guess from where they sit against the ridge."""
    left = roof[(roof["intensity_macs_per_byte"] < meta["ridge_macs_per_byte"]) & (roof["bound"] != "memory")]
    if left.empty:
        return []
    said = "; ".join(f"{r.layer_type}: {r.compute_cycles:,} busy cycles against {r.transfer_cycles:,.0f} transfer "
                     f"cycles, attained {r.attained_macs_per_cycle:.0f} of a {r.roof_macs_per_cycle:.0f} roof"
                     for r in left.itertuples())
    return [f"Left of the ridge but not memory-bound ({said}): the roof is only what the traffic would allow; "
            f"these layers' array and vector-unit busy time is longer than their transfers, so compute sets their "
            f"cycles (a recurrence's dependent matrix-vector steps, or a short reduction, keep the array busy far "
            f"longer than MACs / (rows x cols)).", ""]


def _generation_section(frames, s: generation.GenerationSettings) -> list[str]:
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
        markdown_table(g[generation_columns(s)]),
        "",
        f"Per token at n = {s.state_n}, batch {s.batches[0]} (array and vector cycles: busy time of each unit; DRAM "
        "transfer cycles: reads and writes each on their own port, as in the roofline):",
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
