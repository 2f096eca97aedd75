"""Table 1 of "Attention Is All You Need", measured: every number comes from simulation.

For each layer type: the complexity exponents are log-log slopes of simulated `macs` over sweeps of
n, d, k and r (fitted where the leading term dominates); the sequential-operations class is chosen
from `sequential_steps` measured at several n; the path-length class from `max_path_length`
measured at several n (and k or r). The hardware columns are the same layer simulated at the
reference point (n = d = 512, k = 3, r = 65) on the chosen configuration.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from ..enums import Counter
from .fits import classify, leading_range, loglog_slope
from .runs import run_layers


@dataclass(frozen=True)
class RowSpec:
    key: str
    label: str
    paper_complexity: str
    paper_sequential: str
    paper_path: str
    make: Callable[[int, int, int, int], dict]      # (n, d, k, r) -> layer mapping
    axes: tuple[str, ...]                           # variables the complexity depends on
    path_axis: str | None = None                    # "k" or "r" when the path length depends on it
    extension: bool = False                         # not in the paper's printed table
    paper_exponents: tuple[tuple[str, float], ...] = ()   # the paper's power of each variable, when a pure power law


def _sa(n, d, k, r):
    return {"variant": "self_attention", "n": n, "d": d}


ROWS = (
    RowSpec("self_attention", "Self-Attention", "O(n^2 d)", "O(1)", "O(1)", _sa, ("n", "d"),
            paper_exponents=(("n", 2), ("d", 1))),
    RowSpec("recurrent_rnn", "Recurrent (vanilla RNN)", "O(n d^2)", "O(n)", "O(n)",
            lambda n, d, k, r: {"variant": "recurrent", "n": n, "d": d, "cell": "rnn"}, ("n", "d"),
            paper_exponents=(("n", 1), ("d", 2))),
    RowSpec("recurrent_lstm", "Recurrent (LSTM)", "O(n d^2)", "O(n)", "O(n)",
            lambda n, d, k, r: {"variant": "recurrent", "n": n, "d": d, "cell": "lstm"}, ("n", "d"), extension=True,
            paper_exponents=(("n", 1), ("d", 2))),
    RowSpec("convolutional", "Convolutional (contiguous)", "O(k n d^2)", "O(1)", "O(n/k)",
            lambda n, d, k, r: {"variant": "convolutional", "n": n, "d": d, "kernel": k},
            ("n", "d", "k"), path_axis="k", paper_exponents=(("n", 1), ("d", 2), ("k", 1))),
    RowSpec("convolutional_dilated", "Convolutional (dilated stack)", "O(k n d^2)", "O(1)", "O(log_k n)",
            lambda n, d, k, r: {"variant": "convolutional", "n": n, "d": d, "kernel": k, "padding": "causal",
                                "stack_dilation": "exponential"}, ("n", "d", "k"), path_axis="k",
            paper_exponents=(("n", 1), ("d", 2), ("k", 1))),
    RowSpec("restricted", "Self-Attention (restricted)", "O(r n d)", "O(1)", "O(n/r)",
            lambda n, d, k, r: {"variant": "restricted_self_attention", "n": n, "d": d, "window": r},
            ("n", "d", "r"), path_axis="r", paper_exponents=(("n", 1), ("d", 1), ("r", 1))),
    RowSpec("multi_head_attention", "Multi-head attention (with projections)", "O(n^2 d + n d^2)", "O(1)", "O(1)",
            lambda n, d, k, r: {"variant": "multi_head_attention", "n": n, "d": d, "heads": 8}, ("n", "d"),
            extension=True),
)


@dataclass(frozen=True)
class Settings:
    """Reference point and sweeps (powers of two, as the issue asks)."""
    n: int = 512
    d: int = 512
    k: int = 3
    r: int = 65
    n_sweep: tuple[int, ...] = tuple(2 ** i for i in range(6, 14))        # 64 .. 8192
    d_sweep: tuple[int, ...] = tuple(2 ** i for i in range(6, 12))        # 64 .. 2048
    k_sweep: tuple[int, ...] = (3, 5, 9, 17, 33)
    r_sweep: tuple[int, ...] = (9, 17, 33, 65, 129)
    r_sweep_n: int = 4096          # r is swept on a long sequence so boundary clipping stays small
    steps_n: tuple[int, ...] = (64, 256, 1024, 4096)
    path_n: tuple[int, ...] = (64, 256, 1024, 4096)
    path_k: tuple[int, ...] = (3, 5, 9)
    path_r: tuple[int, ...] = (9, 17, 33)


@dataclass
class RowMeasurement:
    spec: RowSpec
    sweeps: dict[str, pd.DataFrame] = field(default_factory=dict)   # variable -> frame of (value, macs, cycles)
    slopes: dict = field(default_factory=dict)                       # variable -> Slope
    steps: list = field(default_factory=list)                        # (n, sequential_steps)
    paths: list = field(default_factory=list)                        # (n, k, r, max_path_length)
    reference: dict = field(default_factory=dict)                    # hardware columns at the reference point


def _run(layers: list[dict], hw):
    return run_layers(layers, hw, "table1")


def measure_row(spec: RowSpec, hw, s: Settings) -> RowMeasurement:
    m = RowMeasurement(spec)
    base = {"n": s.n, "d": s.d, "k": s.k, "r": s.r}
    sweep_values = {"n": s.n_sweep, "d": s.d_sweep, "k": s.k_sweep, "r": s.r_sweep}
    for var in spec.axes:
        at = dict(base, n=s.r_sweep_n) if var == "r" else base
        points = [dict(at, **{var: v}) for v in sweep_values[var]]
        results = _run([spec.make(p["n"], p["d"], p["k"], p["r"]) for p in points], hw)
        frame = pd.DataFrame({var: sweep_values[var], "macs": [r.macs for r in results],
                              "cycles": [r.cycles for r in results]})
        m.sweeps[var] = frame
        xs, ys = leading_range(list(frame[var]), list(frame["macs"]))
        m.slopes[var] = loglog_slope(xs, ys)
    steps = _run([spec.make(n, s.d, s.k, s.r) for n in s.steps_n], hw)
    m.steps = [(n, r.sequential_steps) for n, r in zip(s.steps_n, steps)]
    extra = {"k": s.path_k, "r": s.path_r}.get(spec.path_axis, (None,))
    grid = [(n, x) for n in s.path_n for x in extra]
    paths = _run([spec.make(n, s.d, x if spec.path_axis == "k" else s.k, x if spec.path_axis == "r" else s.r)
                  for n, x in grid], _path_hw(hw))
    m.paths = [(n, x if spec.path_axis == "k" else None, x if spec.path_axis == "r" else None, r.max_path_length)
               for (n, x), r in zip(grid, paths)]
    (ref,) = _run([spec.make(s.n, s.d, s.k, s.r)], hw)
    m.reference = _hardware_columns(ref)
    return m


def _path_hw(hw):
    """Path length does not depend on the hardware; any config serves."""
    return hw


def _hardware_columns(r) -> dict:
    from ..report import layer_record

    rec = layer_record(r)
    total = max(rec["cycles"], 1)
    return {
        "macs": rec["macs"],
        "cycles": rec["cycles"],
        "compute_cycles": rec["compute_cycles"],
        "serial_cycles": rec["serial_cycles"],
        "overlap_speedup": rec["serial_cycles"] / total,
        "seconds": rec["seconds"],
        "utilization": rec["utilization"],
        "dram_bytes": rec["dram_read_bytes"] + rec["dram_write_bytes"],
        "dram_read_bytes": rec["dram_read_bytes"],
        "dram_write_bytes": rec["dram_write_bytes"],
        "energy_pj": rec["energy_pj"],
        "array_share": rec["array_busy_cycles"] / total,
        "vector_share": rec["vector_busy_cycles"] / total,
        "stall_share": rec["stall_cycles"] / total,
        "serial_array_share": int(r.total.counts[Counter.ARRAY_CYCLES]) / max(rec["serial_cycles"], 1),
        "serial_vector_share": int(r.total.counts[Counter.VECTOR_CYCLES]) / max(rec["serial_cycles"], 1),
    }


def row_record(m: RowMeasurement) -> dict:
    spec = m.spec
    seq_class, _, _ = classify([(n, None, None, v) for n, v in m.steps], allowed=("O(1)", "O(log n)", "O(n)"))
    path_points = [p for p in m.paths if p[3] is not None]
    path_class = classify(path_points)[0] if path_points else "none (no path)"
    rec = {"layer_type": spec.label, "key": spec.key, "in_paper": not spec.extension,
           "paper_complexity": spec.paper_complexity}
    paper = dict(spec.paper_exponents)
    for var in ("n", "d", "k", "r"):
        slope = m.slopes.get(var)
        rec[f"{var}_exponent"] = round(slope.exponent, 4) if slope else None
        rec[f"paper_{var}_exponent"] = paper.get(var)
        rec[f"{var}_fit_range"] = slope.describe(var) if slope else ""
    rec.update({
        "paper_sequential_ops": spec.paper_sequential,
        "sequential_ops": seq_class,
        "sequential_steps": "; ".join(f"n={n}: {v}" for n, v in m.steps),
        "paper_path_length": spec.paper_path,
        "path_length": path_class,
        "max_path_length": "; ".join(_path_text(n, k, r, v) for n, k, r, v in m.paths),
    })
    rec.update(m.reference)
    return rec


def _path_text(n, k, r, v) -> str:
    where = f"n={n}" + (f",k={k}" if k else "") + (f",r={r}" if r else "")
    return f"{where}: {'none' if v is None else v}"


def measure_table(hw, settings: Settings | None = None, rows=ROWS) -> tuple[pd.DataFrame, list[RowMeasurement]]:
    s = settings or Settings()
    measurements = [measure_row(spec, hw, s) for spec in rows]
    return pd.DataFrame([row_record(m) for m in measurements]), measurements
