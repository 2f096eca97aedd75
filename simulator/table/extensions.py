"""What hardware adds to Table 1: crossovers, the heads question, memory traffic, rooflines.

Every number is simulated (count-only) on the chosen hardware; closed forms appear only as
labelled theory curves next to the measurements.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import roofline
from ..analytic.attention import flash_blocks, flash_dram_elements, standard_attention_dram_elements
from ..cost import vector_ops
from ..enums import Counter, VecKind
from ..hardware import Hardware
from ..lowering import flash_block_sizes
from .fits import crossover
from .runs import run_layers


def _run(layers, hw):
    return run_layers(layers, hw, "ext")


# --- crossover: when does self-attention stop being cheaper than a recurrent layer? -----------------
@dataclass(frozen=True)
class Comparison:
    key: str
    attention: str          # label
    recurrent: str
    paper_rule: str         # attention cheaper iff ... (by MACs, docs/conventions/counting.md §2.3)
    attention_layer: callable
    recurrent_layer: callable


COMPARISONS = (
    Comparison("core_vs_rnn", "self-attention core (2n^2 d)", "vanilla RNN (2n d^2)", "n < d",
               lambda n, d: {"variant": "self_attention", "n": n, "d": d},
               lambda n, d: {"variant": "recurrent", "n": n, "d": d, "cell": "rnn"}),
    Comparison("core_vs_lstm", "self-attention core (2n^2 d)", "LSTM (8n d^2)", "n < 4d",
               lambda n, d: {"variant": "self_attention", "n": n, "d": d},
               lambda n, d: {"variant": "recurrent", "n": n, "d": d, "cell": "lstm"}),
    Comparison("mha_vs_lstm", "multi-head attention, 8 heads (4n d^2 + 2n^2 d)", "LSTM (8n d^2)", "n < 2d",
               lambda n, d: {"variant": "multi_head_attention", "n": n, "d": d, "heads": 8},
               lambda n, d: {"variant": "recurrent", "n": n, "d": d, "cell": "lstm"}),
    Comparison("mha_vs_rnn", "multi-head attention, 8 heads (4n d^2 + 2n^2 d)", "vanilla RNN (2n d^2)", "never",
               lambda n, d: {"variant": "multi_head_attention", "n": n, "d": d, "heads": 8},
               lambda n, d: {"variant": "recurrent", "n": n, "d": d, "cell": "rnn"}),
)

def crossover_sweeps(hw: Hardware, ds, ns) -> pd.DataFrame:
    """macs and cycles of every layer the comparisons use, over n, for each d."""
    makers = {"self_attention": COMPARISONS[0].attention_layer, "rnn": COMPARISONS[0].recurrent_layer,
              "lstm": COMPARISONS[1].recurrent_layer, "multi_head_attention": COMPARISONS[2].attention_layer}
    rows = []
    for d in ds:
        for key, make in makers.items():
            results = _run([make(n, d) for n in ns], hw)
            rows += [{"d": d, "layer": key, "n": n, "macs": r.macs, "cycles": r.cycles,
                      "serial_cycles": r.serial_cycles} for n, r in zip(ns, results)]
    return pd.DataFrame(rows)


def crossover_table(sweeps: pd.DataFrame) -> pd.DataFrame:
    """n* per d and comparison, by MACs and by simulated cycles (None: attention stays cheaper)."""
    key_of = {"self-attention core (2n^2 d)": "self_attention", "vanilla RNN (2n d^2)": "rnn", "LSTM (8n d^2)": "lstm",
              "multi-head attention, 8 heads (4n d^2 + 2n^2 d)": "multi_head_attention"}
    out = []
    for d in sorted(sweeps["d"].unique()):
        at_d = sweeps[sweeps["d"] == d]
        for c in COMPARISONS:
            a = at_d[at_d["layer"] == key_of[c.attention]].sort_values("n")
            b = at_d[at_d["layer"] == key_of[c.recurrent]].sort_values("n")
            ns = list(a["n"])
            by_macs = crossover(ns, list(a["macs"]), list(b["macs"]))
            by_cycles = crossover(ns, list(a["cycles"]), list(b["cycles"]))
            by_serial = crossover(ns, list(a["serial_cycles"]), list(b["serial_cycles"]))
            out.append({"d": int(d), "comparison": c.key, "attention": c.attention, "recurrent": c.recurrent,
                        "paper_rule_by_macs": c.paper_rule,
                        "n_star_macs": by_macs, "n_star_cycles": by_cycles,
                        "by_macs": _verdict(by_macs, ns), "by_cycles": _verdict(by_cycles, ns),
                        "n_star_macs_over_d": None if by_macs is None else by_macs / d,
                        "n_star_cycles_over_d": None if by_cycles is None else by_cycles / d,
                        "sweep": f"n in [{ns[0]}, {ns[-1]}]",
                        "n_star_serial_cycles": by_serial, "by_serial_cycles": _verdict(by_serial, ns)})
    return pd.DataFrame(out)


def _verdict(n_star, ns) -> str:
    if n_star is None:
        return f"attention cheaper over the whole sweep (n <= {ns[-1]})"
    if n_star <= ns[0]:
        return f"attention never cheaper in the sweep (n >= {ns[0]})"
    return f"attention cheaper below n = {n_star:.0f}"


# --- the source's question: 12 heads of 768 x 64 vs one 768 x 768 --------------------------------------
def heads_layers(d: int) -> tuple[tuple[str, int], ...]:
    """(label, heads) of the two layers the question compares: 12 heads of d/12 and one of d."""
    return ((f"12 heads x {d // 12}", 12), (f"1 head x {d}", 1))


def with_array(hw: Hardware, side: int) -> tuple[Hardware, int]:
    """`hw` with a side x side array (and as many vector lanes), and the factor its on-chip levels
    were scaled by: 1 when they hold the new array's tiles as they are; otherwise every on-chip
    level keeps the bytes per PE it has on `hw` (the smallest such scaling that keeps the hierarchy's
    proportions). Raises ConfigError when even that hardware is invalid."""
    from ..errors import ConfigError

    raw = dict(hw.raw)
    raw["mac_array"] = dict(raw["mac_array"], rows=side, cols=side)
    raw["name"] = f"{hw.name}_{side}x{side}"
    raw["vector_unit"] = dict(raw["vector_unit"], lanes=side)
    try:
        return Hardware.from_dict(raw, source=hw.source), 1
    except ConfigError:
        pe_ratio = side * side / (hw.mac_array.rows * hw.mac_array.cols)
        if pe_ratio <= 1:
            raise
    factor = -(-side * side // (hw.mac_array.rows * hw.mac_array.cols))      # whole factor, rounded up
    raw["memories"] = [dict(m, size_bytes=m["size_bytes"] * factor) if m.get("size_bytes") is not None else m
                       for m in raw["memories"]]
    return Hardware.from_dict(raw, source=hw.source), factor


def heads_question(hw: Hardware, arrays, n: int, d: int) -> pd.DataFrame:
    """Each array size and head split: counts, or why that case was skipped."""
    from ..errors import AttnsimError

    layers = heads_layers(d)
    rows = []
    for side in arrays:
        try:
            config, factor = with_array(hw, side)
            results = _run([{"variant": "multi_head_attention", "n": n, "d": d, "heads": h} for _, h in layers],
                           config)
        except AttnsimError as exc:
            reason = str(exc).replace("\n", "; ")
            rows += [{"array": f"{side}x{side}", "heads": label, "note": f"skipped: {reason}"}
                     for label, _ in layers]
            continue
        buffer_bytes = sum(level.size_bytes for level in config.on_chip)
        note = "" if factor == 1 else (f"on-chip memory scaled x{factor} with the array (same bytes per PE as "
                                       f"{hw.name}): {hw.name}'s does not hold a {side}x{side} tile of each operand")
        for (label, _), r in zip(layers, results):
            rows.append(dict(_heads_row(r, side), array=f"{side}x{side}", heads=label, buffer_bytes=buffer_bytes,
                             memory_scale=factor, note=note))
    return pd.DataFrame(rows, columns=HEADS_COLUMNS)


HEADS_COLUMNS = ("array", "heads", "macs", "softmax_exps", "vector_ops", "cycles", "softmax_cycles",
                 "scores_utilization", "utilization", "serial_cycles", "serial_utilization", "buffer_bytes",
                 "memory_scale", "note")


def _heads_row(r, side: int) -> dict:
    ops = {o.op: o for o in r.ops}
    scores = ops["scores"]
    return {
        "macs": r.macs,
        "softmax_exps": int(r.counts[Counter.VEC_OPS + VecKind.EXP]),
        "vector_ops": int(vector_ops(r.counts)),
        "cycles": r.cycles,
        "softmax_cycles": ops["softmax"].cycles,
        "scores_utilization": scores.macs / (scores.cycles * side * side) if scores.cycles else 0.0,
        "utilization": r.macs / (r.cycles * side * side),
        "serial_cycles": r.serial_cycles,
        "serial_utilization": r.macs / (r.serial_cycles * side * side),
    }


# --- memory: unfused vs fused attention traffic as n grows -------------------------------------------
def memory_sweep(hw: Hardware, ns, d: int) -> pd.DataFrame:
    """One attention head of width d (Q, K, V of N x d), unfused and fused, at each N: simulated DRAM
    bytes against the floor every algorithm pays (Q, K, V read and O written once), the standard
    algorithm's count, Algorithm 1's exact count and its leading term 12 N^2 d^2 / M."""
    results = _run([{"variant": "self_attention", "n": n, "d": d, "fused": f} for n in ns for f in (False, True)], hw)
    eb = hw.bytes_per_element
    m_elems, _, _ = flash_block_sizes(hw, d)
    rows = []
    for i, n in enumerate(ns):
        unfused, fused = results[2 * i], results[2 * i + 1]
        rows.append({
            "n": n, "d": d, "heads": 1, "M_elements": m_elems, "T_c": flash_blocks(n, d, m_elems)[3],
            "unfused_dram_bytes": _dram(unfused), "fused_dram_bytes": _dram(fused),
            "unfused_serial_dram_bytes": _dram(unfused, serial=True),
            "compulsory_bytes": 4 * n * d * eb,
            "standard_theory_bytes": standard_attention_dram_elements(n, d) * eb,
            "flash_exact_bytes": sum(flash_dram_elements(n, d, m_elems).values()) * eb,
            "flash_leading_term_bytes": 12 * n * n * d * d / m_elems * eb,
            "unfused_cycles": unfused.cycles, "fused_cycles": fused.cycles,
            "unfused_serial_cycles": unfused.serial_cycles, "fused_serial_cycles": fused.serial_cycles,
        })
    return pd.DataFrame(rows)


def _dram(r, serial: bool = False) -> int:
    """Off-chip bytes of a layer as scheduled (forwarded blocks stay on chip), or one op after
    another (`serial`: every op reads its inputs from memory and writes its outputs back)."""
    from ..results import price_counts

    counts = r.total.counts if serial else r.counts
    rec = price_counts(counts, r.cycles, r.compute_cycles, r.hw)
    return rec["dram_read_bytes"] + rec["dram_write_bytes"]


# --- roofline ---------------------------------------------------------------------------------------
ROOFLINE_COLUMNS = ("layer_type", "macs", "dram_read_bytes", "dram_write_bytes", "intensity_macs_per_byte",
                    "roof_macs_per_cycle", "attained_macs_per_cycle", "serial_attained_macs_per_cycle",
                    "transfer_cycles", "compute_cycles", "stall_share", "bound")


def roofline_points(measurements, hw: Hardware) -> tuple[pd.DataFrame, dict]:
    """Each layer at the reference point on the roofline (simulator/roofline.py, one definition).

    intensity: MACs per byte on the busier off-chip port (reads and writes move at once, each on its
    own port), so min(peak, intensity x fill rate) is exactly the layer's roof; attained: MACs per
    cycle of the overlapped schedule (serial: one op after another); bound: whether the run's DRAM
    transfers or its array and vector-unit busy time is the longer (5% apart)."""
    rows = []
    for m in measurements:
        ref = m.reference
        reads, writes = ref["dram_read_bytes"], ref["dram_write_bytes"]
        rows.append({"layer_type": m.spec.label, "macs": ref["macs"], "dram_read_bytes": reads,
                     "dram_write_bytes": writes,
                     "intensity_macs_per_byte": roofline.port_intensity(ref["macs"], reads, writes, hw),
                     "roof_macs_per_cycle": roofline.roof_macs_per_cycle(ref["macs"], reads, writes, hw),
                     "attained_macs_per_cycle": ref["macs"] / ref["cycles"],
                     "serial_attained_macs_per_cycle": ref["macs"] / ref["serial_cycles"],
                     "transfer_cycles": roofline.transfer_cycles(reads, writes, hw),
                     "compute_cycles": ref["compute_cycles"], "stall_share": ref["stall_share"],
                     "bound": roofline.bound(ref["compute_cycles"], reads, writes, hw)})
    fill, drain = roofline.offchip_rates(hw)
    peak = roofline.peak_macs_per_cycle(hw)
    return pd.DataFrame(rows, columns=ROOFLINE_COLUMNS), {
        "peak_macs_per_cycle": peak, "fill_bytes_per_cycle": fill, "drain_bytes_per_cycle": drain,
        "ridge_macs_per_byte": peak / fill}
