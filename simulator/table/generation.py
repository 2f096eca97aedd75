"""Table 1 at generation time: the cost of one new token at context n, per layer type.

Each layer type runs its decode step (count-only) at every n of the sweep: self-attention reads a
KV cache of n positions (with kv_heads = heads, heads / 8 and 1); a recurrent layer one step from
its state; a causal convolution one output from its window of k inputs; restricted attention the
last r positions of its cache. As in Table 1, the attention rows count the attention core
(Q, K, V of the new token are inputs; no output projection), the recurrent and convolutional rows
their whole layer; one extension row adds the projections to attention. Everything is divided by
the batch: costs per generated token, state per sequence.

From the sweep: log-log exponents in n of MACs, DRAM bytes and cycles per token, the cache or state
each layer keeps per sequence, and from which n each is memory-bound (roofline.bound: moving its
DRAM bytes, reads and writes each on its own port, takes longer than its array and vector-unit
work), at batch 1 and at a serving batch where the weights are shared by many sequences.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from ..enums import Counter
from ..results import price_counts
from ..roofline import bound_of_record, transfer_cycles
from .fits import crossover, leading_range, loglog_slope
from .runs import run_layers


@dataclass(frozen=True)
class GenerationSettings:
    d: int = 1024
    heads: int = 16                       # d_k = 64; kv_heads = 16, 2 (heads / 8) and 1
    kernel: int = 3
    window: int = 65                      # restricted attention's r, as in Table 1
    batches: tuple[int, ...] = (1, 256)   # one sequence; a serving batch sharing the weights
    n_sweep: tuple[int, ...] = tuple(2 ** i for i in range(6, 16))      # 64 .. 32768
    state_n: int = 4096                   # context at which the state per sequence is quoted


@dataclass(frozen=True)
class GenRow:
    key: str
    label: str                  # formatted with the settings' fields (and kv = heads / 8)
    short: str                  # the name used in sentences
    make: Callable[[int, GenerationSettings], dict]     # (context n, settings) -> the decode-step layer
    extension: bool = False

    def title(self, s: GenerationSettings) -> str:
        return self.label.format(heads=s.heads, gqa=s.heads // 8, k=s.kernel, r=s.window)

    def name(self, s: GenerationSettings) -> str:
        return self.short.format(heads=s.heads, gqa=s.heads // 8, k=s.kernel, r=s.window)


def _kv(kv_of: Callable[[int], int], projections: bool = False, window: bool = False):
    def make(n, s):
        layer = {"variant": "kv_cache_attention", "context": n - 1, "new_tokens": 1, "d": s.d, "heads": s.heads,
                 "kv_heads": kv_of(s.heads), "projections": projections}
        return dict(layer, window=s.window) if window else layer
    return make


ROWS = (
    GenRow("attention_mha", "Self-attention, KV cache (kv_heads = heads = {heads})", "attention (kv_heads = {heads})",
           _kv(lambda h: h)),
    GenRow("attention_gqa", "Self-attention, KV cache (kv_heads = heads/8 = {gqa})", "attention (kv_heads = {gqa})",
           _kv(lambda h: h // 8)),
    GenRow("attention_mqa", "Self-attention, KV cache (kv_heads = 1)", "attention (kv_heads = 1)",
           _kv(lambda h: 1)),
    GenRow("recurrent_rnn", "Recurrent (vanilla RNN), one step from its state", "the vanilla RNN",
           lambda n, s: {"variant": "recurrent", "n": 1, "d": s.d, "cell": "rnn", "initial_state": "given"}),
    GenRow("recurrent_lstm", "Recurrent (LSTM), one step from its state", "the LSTM",
           lambda n, s: {"variant": "recurrent", "n": 1, "d": s.d, "cell": "lstm", "initial_state": "given"}),
    GenRow("convolutional", "Convolutional (contiguous, k = {k}), one output from its window", "the convolution",
           lambda n, s: {"variant": "convolutional", "n": s.kernel, "d": s.d, "kernel": s.kernel,
                         "padding": "valid"}),
    GenRow("restricted", "Self-attention restricted to the last r = {r}, KV cache", "restricted attention",
           _kv(lambda h: h, window=True)),
    GenRow("attention_mha_projections", "Self-attention with Q, K, V, O projections (kv_heads = {heads})",
           "attention with its projections", _kv(lambda h: h, projections=True), extension=True),
)


def measure_sweep(hw, s: GenerationSettings | None = None, rows=ROWS) -> pd.DataFrame:
    """One record per (layer type, batch, n): per-token counts, state per sequence, bound."""
    s = s or GenerationSettings()
    records = []
    for batch in s.batches:
        layers = [dict(row.make(n, s), batch=batch, name=f"{row.key}_{n}") for row in rows for n in s.n_sweep]
        results = run_layers(layers, hw, "generation")
        for i, r in enumerate(results):
            row, n = rows[i // len(s.n_sweep)], s.n_sweep[i % len(s.n_sweep)]
            rec = price_counts(r.counts, r.cycles, r.compute_cycles, hw)
            state = r.fields.get("kv_cache_bytes") or r.fields.get("state_bytes") or 0
            per = {"macs": rec["macs"], "dram_bytes": rec["dram_read_bytes"] + rec["dram_write_bytes"],
                   "cycles": rec["cycles"], "array_cycles": r.total.count(Counter.ARRAY_CYCLES),
                   "vector_cycles": r.total.count(Counter.VECTOR_CYCLES)}
            records.append({"key": row.key, "layer_type": row.title(s), "batch": batch, "n": n,
                            **{f"{k}_per_token": _exact(v, batch) for k, v in per.items()},
                            "dram_transfer_cycles_per_token": transfer_cycles(rec["dram_read_bytes"],
                                                                               rec["dram_write_bytes"], hw) / batch,
                            "state_bytes_per_sequence": _exact(state, batch), "bound": bound_of_record(rec, hw)})
    return pd.DataFrame(records)


def _exact(total: int, parts: int):
    return total // parts if total % parts == 0 else total / parts


def summary(sweep: pd.DataFrame, s: GenerationSettings | None = None, rows=ROWS) -> pd.DataFrame:
    """Per layer type: exponents in n at batch 1, state per sequence, memory-bound from which n."""
    s = s or GenerationSettings()
    out = []
    for row in rows:
        one = sweep[(sweep["key"] == row.key) & (sweep["batch"] == s.batches[0])].sort_values("n")
        rec = {"key": row.key, "layer_type": row.title(s), "name": row.name(s), "extension": row.extension}
        for metric in ("macs", "dram_bytes", "cycles"):
            xs, ys = leading_range(list(one["n"]), list(one[f"{metric}_per_token"]))
            slope = loglog_slope(xs, ys)
            rec[f"{metric}_exponent"] = round(slope.exponent, 4) + 0.0      # + 0.0: no "-0.0" for a flat fit
            rec[f"{metric}_fit_range"] = slope.describe("n")
        at = one[one["n"] == s.state_n].iloc[0]
        rec.update({f"{m}_at_state_n": _int(at[m]) for m in ("macs_per_token", "dram_bytes_per_token",
                                                             "cycles_per_token", "array_cycles_per_token",
                                                             "vector_cycles_per_token")})
        rec.update({"dram_transfer_cycles_per_token_at_state_n": round(at["dram_transfer_cycles_per_token"], 1),
                    "bound_at_state_n": at["bound"],
                    "state_bytes_per_sequence": _int(at["state_bytes_per_sequence"]),
                    "state_exponent": round(loglog_slope(one["n"], one["state_bytes_per_sequence"]).exponent, 4) + 0.0
                    if (one["state_bytes_per_sequence"] > 0).all() else None})
        for batch in s.batches:
            at_b = sweep[(sweep["key"] == row.key) & (sweep["batch"] == batch)].sort_values("n")
            rec[f"memory_bound_from_n_batch_{batch}"] = memory_bound_from(list(at_b["n"]), list(at_b["bound"]))
        out.append(rec)
    return pd.DataFrame(out)


def _int(v):
    return int(v) if float(v).is_integer() else v


def memory_bound_from(ns, bounds) -> str:
    """'n >= N' for the smallest sweep n from which every larger n is memory-bound; 'every n' or
    'never' at the ends."""
    start = len(ns)
    while start > 0 and bounds[start - 1] == "memory":
        start -= 1
    if start == 0:
        return f"every n (from {ns[0]})"
    if start == len(ns):
        return f"never (n <= {ns[-1]})"
    return f"n >= {ns[start]}"


def crossovers(sweep: pd.DataFrame, s: GenerationSettings | None = None) -> dict[str, float | None]:
    """Context n at which attention's per-token cost reaches each recurrent layer's (batch 1)."""
    s = s or GenerationSettings()
    one = sweep[sweep["batch"] == s.batches[0]]

    def series(key, metric):
        return list(one[one["key"] == key].sort_values("n")[metric])

    out = {}
    for att in ("attention_mha", "attention_gqa", "attention_mqa"):
        for rec in ("recurrent_rnn", "recurrent_lstm"):
            for metric in ("macs_per_token", "dram_bytes_per_token", "cycles_per_token"):
                out[f"{att}|{rec}|{metric}"] = crossover(list(s.n_sweep), series(att, metric), series(rec, metric))
    return out


def findings(table: pd.DataFrame, sweep: pd.DataFrame, s: GenerationSettings | None = None) -> list[str]:
    """What the measurements show, in plain words; every number quoted comes from them."""
    s = s or GenerationSettings()
    t = table.set_index("key")
    at = sweep[(sweep["batch"] == s.batches[0]) & (sweep["n"] == s.state_n)].set_index("key")
    lines = [_growth_text(t, s), _crossover_text(t, crossovers(sweep, s)), _gqa_text(t, at, s),
             _bound_text(t, sweep, s)]
    if "attention_mha_projections" in t.index:
        p = t.loc["attention_mha_projections"]
        lines.append(f"- With its projections, attention also reads 4 d^2 weights per token: its exponents over "
                     f"{p['dram_bytes_fit_range']} are {p['macs_exponent']:.2f} (MACs) and "
                     f"{p['dram_bytes_exponent']:.2f} (bytes); the cache dominates only once n is well above 2d.")
    return lines


def _growth_text(t: pd.DataFrame, s: GenerationSettings) -> str:
    core = t[~t["extension"]]
    growing = [k for k in core.index if core.loc[k, "dram_bytes_exponent"] > 0.5]
    flat = [k for k in core.index if abs(core.loc[k, "macs_exponent"]) < 0.05
            and abs(core.loc[k, "dram_bytes_exponent"]) < 0.05]
    return (f"- Per generated token, {_names(t, growing)} cost more the longer the context: DRAM bytes grow as "
            f"n^{_range(t, growing, 'dram_bytes_exponent')} and MACs as n^{_range(t, growing, 'macs_exponent')}, "
            f"because every token reads the whole cache, which grows by one position per token. "
            f"{_cap(_names(t, flat))} cost the same at every context (exponents within 0.05 of 0): each keeps a "
            f"fixed state ({_state_list(t, flat)} per sequence), against the "
            f"{_size(t.loc['attention_mha', 'state_bytes_per_sequence'])} cache of {t.loc['attention_mha', 'name']} "
            f"at n = {s.state_n}.")


def _crossover_text(t: pd.DataFrame, cross: dict) -> str:
    def c(att, rec, metric="dram_bytes_per_token"):
        return _n(cross[f"{att}|{rec}|{metric}"])

    return (f"- The comparison turns around: {t.loc['attention_mha', 'name']} reads more DRAM bytes per token than "
            f"the vanilla RNN from n = {c('attention_mha', 'recurrent_rnn')} and than the LSTM from "
            f"n = {c('attention_mha', 'recurrent_lstm')} (by MACs from n = "
            f"{c('attention_mha', 'recurrent_rnn', 'macs_per_token')} and "
            f"{c('attention_mha', 'recurrent_lstm', 'macs_per_token')}, Table 1's n < d and n < 4d rules per "
            f"token). Sharing K and V among query heads moves the byte crossovers out: "
            f"{t.loc['attention_gqa', 'name']} to n = {c('attention_gqa', 'recurrent_rnn')} and "
            f"{c('attention_gqa', 'recurrent_lstm')}, {t.loc['attention_mqa', 'name']} to n = "
            f"{c('attention_mqa', 'recurrent_rnn')} and {c('attention_mqa', 'recurrent_lstm')}.")


def _gqa_text(t: pd.DataFrame, at: pd.DataFrame, s: GenerationSettings) -> str:
    def ratio(b, col):
        return at.loc["attention_mha", col] / at.loc[b, col]

    return (f"- At n = {s.state_n}, {t.loc['attention_gqa', 'name']} keeps 1/"
            f"{ratio('attention_gqa', 'state_bytes_per_sequence'):.0f} of the cache and reads "
            f"{ratio('attention_gqa', 'dram_bytes_per_token'):.1f}x fewer DRAM bytes per token "
            f"({ratio('attention_gqa', 'cycles_per_token'):.1f}x fewer cycles); {t.loc['attention_mqa', 'name']} "
            f"reads {ratio('attention_mqa', 'dram_bytes_per_token'):.1f}x fewer bytes. The savings are less than "
            f"the cache's because the scores and probabilities, one row per query head, do not shrink.")


def _bound_text(t: pd.DataFrame, sweep: pd.DataFrame, s: GenerationSettings) -> str:
    """Which layers are memory-bound at each batch, and why the serving batch changes it."""
    parts = []
    for batch in (s.batches[0], s.batches[-1]):
        col = f"memory_bound_from_n_batch_{batch}"
        groups = {"at every n": [k for k in t.index if t.loc[k, col].startswith("every")],
                  "never": [k for k in t.index if t.loc[k, col].startswith("never")]}
        ranged = [f"{t.loc[k, 'name']} from {t.loc[k, col]}" for k in t.index
                  if not t.loc[k, col].startswith(("every", "never"))]
        said = [f"{what}: {_names(t, keys)}" for what, keys in groups.items() if keys] + ranged
        parts.append(f"at batch {batch}, memory-bound " + "; ".join(said))
    first, serving = (f"memory_bound_from_n_batch_{b}" for b in (s.batches[0], s.batches[-1]))
    freed = [k for k in t.index if t.loc[k, first].startswith("every") and t.loc[k, serving].startswith("never")]
    stays = [k for k in t.index if t.loc[k, first].startswith("every") and t.loc[k, serving].startswith("every")]
    text = ("- Memory-bound here means the DRAM transfers (reads and writes each on their own port) take more "
            "than 5% longer than the array and vector-unit work (`bound` in the sweep CSV; the roofline section's "
            "definition). " + ". ".join(_cap(p) for p in parts) + ".")
    if freed:
        text += (f" A serving batch frees {_names(t, freed)}: their weights are read once for all {s.batches[-1]} "
                 f"sequences.")
    cached = [k for k in stays if t.loc[k, "state_exponent"] >= 0.5]      # state grows with n: a cache
    fixed = [k for k in stays if k not in cached]
    if cached:
        text += f" It cannot free {_names(t, cached)}: every sequence reads its own cache."
    if fixed:
        at_n = sweep[sweep["n"] == s.state_n].set_index(["key", "batch"])["dram_bytes_per_token"]
        cuts = "; ".join(f"{t.loc[k, 'name']} {at_n[(k, s.batches[0])] / at_n[(k, s.batches[-1])]:.0f}x"
                         for k in fixed)
        text += (f" {_cap(_names(t, fixed))} stay memory-bound although the batch cuts their DRAM bytes per "
                 f"token ({cuts} at n = {s.state_n}): per token their transfers still outlast the array's work.")
    light = [k for k in t.index if t.loc[k, "bound_at_state_n"] != "memory"]
    if light:
        text += (" Where the DRAM traffic is small the compute catches up (per token at n = "
                 f"{s.state_n}, DRAM transfer cycles against array and vector-unit busy cycles): "
                 + "; ".join(f"{t.loc[k, 'name']} {t.loc[k, 'dram_transfer_cycles_per_token_at_state_n']:.0f} "
                             f"against {t.loc[k, 'array_cycles_per_token_at_state_n']} + "
                             f"{t.loc[k, 'vector_cycles_per_token_at_state_n']}" for k in light)
                 + ". The softmax over every query head's scores does not shrink with the cache, and short "
                   "reductions fill the array's folds poorly.")
    return text


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _names(t, keys) -> str:
    names = [t.loc[k, "name"] for k in keys]
    if not names:
        return "no layer"
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]


def _range(t, keys, col) -> str:
    lo, hi = min(t.loc[k, col] for k in keys), max(t.loc[k, col] for k in keys)
    return f"{lo:.2f}" if abs(hi - lo) < 0.005 else f"{lo:.2f} to {hi:.2f}"


def _state_list(t, keys) -> str:
    return ", ".join(_size(t.loc[k, "state_bytes_per_sequence"]) for k in keys)


def _size(v) -> str:
    return f"{v / 2 ** 20:g} MiB" if v >= 2 ** 20 else f"{v / 2 ** 10:g} KiB"


def _n(value) -> str:
    return "none in the sweep" if value is None else f"{value:.0f}"
