"""What hardware adds to Table 1: crossovers, the heads question, memory traffic, rooflines.

Every number is simulated (count-only) on the chosen hardware; closed forms appear only as
labelled theory curves next to the measurements.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..analytic.attention import flash_dram_elements, standard_attention_dram_elements
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

CROSSOVER_D = (256, 512, 1024)
CROSSOVER_N = tuple(2 ** i for i in range(4, 15))          # 16 .. 16384


def crossover_sweeps(hw: Hardware, ds=CROSSOVER_D, ns=CROSSOVER_N) -> pd.DataFrame:
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
HEADS_ARRAYS = (32, 64, 128)


def with_array(hw: Hardware, side: int) -> Hardware:
    raw = dict(hw.raw)
    raw["mac_array"] = dict(raw["mac_array"], rows=side, cols=side)
    raw["name"] = f"{hw.name}_{side}x{side}"
    raw["vector_unit"] = dict(raw["vector_unit"], lanes=side)
    return Hardware.from_dict(raw, source=hw.source)


def heads_question(hw: Hardware, arrays=HEADS_ARRAYS, n: int = 512, d: int = 768) -> pd.DataFrame:
    rows = []
    for side in arrays:
        config = with_array(hw, side)
        many, one = _run([{"variant": "multi_head_attention", "n": n, "d": d, "heads": 12},
                          {"variant": "multi_head_attention", "n": n, "d": d, "heads": 1}], config)
        for label, r in (("12 heads x 64", many), ("1 head x 768", one)):
            ops = {o.op: o for o in r.ops}
            scores = ops["scores"]
            rows.append({
                "array": f"{side}x{side}", "heads": label, "macs": r.macs,
                "softmax_exps": int(r.counts[Counter.VEC_OPS + VecKind.EXP]),
                "vector_ops": int(vector_ops(r.counts)),
                "cycles": r.cycles,
                "softmax_cycles": ops["softmax"].cycles,
                "scores_utilization": scores.macs / (scores.cycles * side * side) if scores.cycles else 0.0,
                "utilization": r.macs / (r.cycles * side * side),
                "serial_cycles": r.serial_cycles,
                "serial_utilization": r.macs / (r.serial_cycles * side * side),
            })
    return pd.DataFrame(rows)


# --- memory: unfused vs fused attention traffic as n grows -------------------------------------------
MEMORY_N = tuple(2 ** i for i in range(8, 15))            # 256 .. 16384
MEMORY_D = 64                     # one head of width 64 (docs/conventions/counting.md §3, §4)


def memory_sweep(hw: Hardware, ns=MEMORY_N, d: int = MEMORY_D) -> pd.DataFrame:
    results = _run([{"variant": "self_attention", "n": n, "d": d, "fused": f} for n in ns for f in (False, True)], hw)
    eb = hw.bytes_per_element
    m_elems, _, _ = flash_block_sizes(hw, d)
    rows = []
    for i, n in enumerate(ns):
        unfused, fused = results[2 * i], results[2 * i + 1]
        rows.append({
            "n": n, "d": d, "M_elements": m_elems,
            "unfused_dram_bytes": _dram(unfused), "fused_dram_bytes": _dram(fused),
            "unfused_serial_dram_bytes": _dram(unfused, serial=True),
            "standard_theory_bytes": standard_attention_dram_elements(n, d) * eb,
            "flash_exact_bytes": sum(flash_dram_elements(n, d, m_elems).values()) * eb,
            "flash_bound_bytes": 12 * n * n * d * d / m_elems * eb,
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
def roofline_points(measurements, hw: Hardware) -> pd.DataFrame:
    """Arithmetic intensity (MACs per DRAM byte) and attained MACs per cycle at the reference point.

    A layer's roof: reads and writes cross the off-chip boundary on their own ports (the fill and
    drain engines), so it needs at least max(read bytes / read bandwidth, write bytes / write
    bandwidth) cycles besides MACs / (R C): roof = MACs / that. The figure's line, I x the read
    bandwidth, is the roof of traffic that is all reads."""
    peak = hw.mac_array.rows * hw.mac_array.cols
    beta = hw.memories[-1].read_bw_bytes_per_cycle
    write_bw = hw.memories[-1].write_bw_bytes_per_cycle
    rows = []
    for m in measurements:
        ref = m.reference
        intensity = ref["macs"] / ref["dram_bytes"] if ref["dram_bytes"] else float("inf")
        transfer = max(ref["dram_read_bytes"] / beta, ref["dram_write_bytes"] / write_bw)
        roof = min(peak, ref["macs"] / transfer) if transfer else peak
        rows.append({"layer_type": m.spec.label, "intensity_macs_per_byte": intensity,
                     "attained_macs_per_cycle": ref["macs"] / ref["cycles"],
                     "roof_macs_per_cycle": roof,
                     "bound": "memory" if roof < peak else "compute",
                     "serial_attained_macs_per_cycle": ref["macs"] / ref["serial_cycles"]})
    return pd.DataFrame(rows), {"peak_macs_per_cycle": peak, "dram_bytes_per_cycle": beta,
                                "ridge_macs_per_byte": peak / beta}
