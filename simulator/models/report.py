"""The report of a model step: one row per kind of layer (the whole stack of blocks), the stack's
total, and the total per generated token (decode) or per sequence (prefill).

`bound` says what limits each row on the simulated hardware (roofline.bound, the one definition
every report uses): `memory` when moving its DRAM bytes takes more than 5% longer than the MAC
array and the vector unit are busy (`compute_cycles`), reads and writes each on their own port at
its rate, `compute` when the busy time exceeds the transfer time by more than 5%, `balanced` in
between.
"""
from __future__ import annotations

import pandas as pd

from ..report import _OPTIONAL_INT, ERROR_COLUMNS, INFO_COLUMNS, LAYER_COLUMNS, PROVENANCE_COLUMNS, to_frame
from ..roofline import bound_of_record as bound
from .block import ModelRun

# summed over the layers of a stack (and divided per token or sequence)
_ADDITIVE = ("macs", "slot_macs", "vector_ops", "cycles", "compute_cycles", "stall_cycles", "seconds",
             "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "energy_pj")


_INTEGER = tuple(c for c in LAYER_COLUMNS if c in _ADDITIVE or c in _OPTIONAL_INT
                 if c not in ("seconds", "energy_pj"))


def model_frame(results, run: ModelRun) -> pd.DataFrame:
    """Layer rows (each the whole stack) then, per hardware config, `total` and `per token` (decode)
    or `per sequence` (prefill); `bound` appended."""
    frame = to_frame(results)
    frame["phase"] = run.phase
    out = []
    for hw_name, rows in frame.groupby("hw", sort=False):
        hw = next(r.hw for r in results if r.hw.name == hw_name)
        rows = rows.copy()
        rows["bound"] = [bound(rec, hw) for rec in rows.to_dict("records")]
        total = _total_row(rows, run, hw)
        per = dict(total, layer="per token" if run.phase == "decode" else "per sequence")
        per.update({c: _exact(total[c], run.tokens_generated) for c in _ADDITIVE})
        per["kv_cache_bytes"] = None if total["kv_cache_bytes"] is None else _exact(total["kv_cache_bytes"], run.batch)
        out += [rows, pd.DataFrame([total, per])]
    columns = (list(LAYER_COLUMNS) + list(INFO_COLUMNS) + [c for c in ERROR_COLUMNS if c in frame] + ["bound"]
               + list(PROVENANCE_COLUMNS))
    merged = pd.concat(out, ignore_index=True)[columns]
    for c in _INTEGER:       # integer columns stay integer where every value is (concat makes floats)
        if merged[c].dropna().map(lambda v: float(v).is_integer()).all():
            merged[c] = merged[c].astype("Int64")
    return merged


def _exact(total, parts: int):
    """total / parts, as an int when it divides exactly."""
    return total // parts if isinstance(total, int) and total % parts == 0 else total / parts


def _total_row(rows: pd.DataFrame, run: ModelRun, hw) -> dict:
    s = run.shape
    first = rows.iloc[0]
    rec = {c: None for c in LAYER_COLUMNS}
    rec.update({c: first[c] for c in ("workload", "hw", "dataflow", "dtype", *PROVENANCE_COLUMNS)})
    rec.update({c: rows[c].sum().item() for c in _ADDITIVE})
    rec.update(layer="total", variant="", n=run.context + run.tokens, d=s.d, heads=s.heads, batch=run.batch, repeat=s.layers,
               phase=run.phase, context=run.context, new_tokens=run.tokens, kv_heads=s.kv_heads,
               sequential_steps=int(rows["sequential_steps"].sum()))
    cache = rows["kv_cache_bytes"].dropna()
    rec["kv_cache_bytes"] = int(cache.sum()) if len(cache) else None
    arr = hw.mac_array
    rec["utilization"] = rec["macs"] / (rec["cycles"] * arr.rows * arr.cols) if rec["cycles"] else 0.0
    rec["bound"] = bound(rec, hw)
    return rec


def notes(run: ModelRun) -> list[str]:
    """What the report leaves out of this model's block."""
    out = ["embeddings, the final norm and the LM head are outside the block stack"]
    out += [f"not modeled: {what}" for what in run.shape.not_modeled]
    if run.shape.activation == "gelu":
        out.append("GELU runs in its tanh form (the vector unit has no erf; it differs from the erf form by under 1e-3)")
    return out
