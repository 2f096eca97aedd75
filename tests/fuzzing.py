"""Hostile mutations of the bundled hardware, workload and sweep files, and what the CLI must do
with each (tests/test_fuzz.py runs a bounded number in CI; benchmarks/fuzz_long.py many more).

A mutation edits one place of a parsed file (delete a key, rename it, change its type, put an
extreme number there: both ends, NaN, inf, a 5000-digit integer, nesting 10,000 deep) or the
whole file (empty, binary, a list, a duplicate key), writes it back as YAML and runs the command
in-process. Whatever happens, the command exits 0 or 2 without a traceback; on 0 every numeric
report value is finite and non-negative and cycles >= compute_cycles; on 2 the message names a
file the user wrote.
"""
from __future__ import annotations

import contextlib
import io
import math
import tempfile
from pathlib import Path

import pandas as pd
import yaml
from hypothesis import strategies as st

from simulator import cli

ROOT = Path(__file__).resolve().parent.parent
HW_FILES = sorted((ROOT / "hw_configs").glob("*.yaml"))
SMOKE = ROOT / "workloads" / "gemm_smoke.yaml"
DEFAULT_HW = ROOT / "hw_configs" / "default.yaml"

# One small layer of every variant (each runs in milliseconds), so a mutation can reach them all.
SMALL_WORKLOAD = {"name": "small", "layers": [
    {"name": "g", "variant": "gemm", "m": 24, "k": 16, "n": 20},
    {"name": "sa", "variant": "self_attention", "n": 16, "d": 8, "causal": True},
    {"name": "mha", "variant": "multi_head_attention", "n": 12, "d": 16, "heads": 2, "fused": True},
    {"name": "rsa", "variant": "restricted_self_attention", "n": 16, "d": 8, "window": 5},
    {"name": "rnn", "variant": "recurrent", "n": 6, "d": 8, "cell": "lstm"},
    {"name": "conv", "variant": "convolutional", "n": 16, "d": 8, "kernel": 3, "dilation": 2},
    {"name": "pe", "variant": "position_embedding", "n": 8, "d": 8},
    {"name": "glob", "variant": "global_attention", "target_len": 6, "source_len": 8, "d": 8, "score": "concat"},
    {"name": "loc", "variant": "local_attention", "target_len": 6, "source_len": 10, "d": 8, "window_radius": 2},
    {"name": "hard", "variant": "hard_attention", "n": 10, "d": 8, "queries": 4},
    {"name": "aoa", "variant": "attention_over_attention", "doc_len": 12, "query_len": 5, "d": 8},
]}

# Values that are written into the YAML text verbatim (PyYAML cannot dump them as such).
DEEP = "[" * 10_000 + "]" * 10_000
HUGE_INT = "9" * 5000
# Valid but large sizes (a layer of 2^31 positions is countable and takes seconds to walk) are left
# to the tests of the guard: here every number is small, or refused.
EXTREMES = [0, -1, 1, 3, 0.5, -0.0, 2 ** 40 + 1, 2 ** 62, 2 ** 63, 2 ** 64, 2 ** 70, 10 ** 30,
            1e-300, 1e308, -1e308, float("nan"), float("inf"), float("-inf"), True, False, None, "", "x" * 200,
            "1e9", [], {}, [1, 2], {"a": 1}, "\u00e9\u00e8", "0x10"]
RAW = {"deep": DEEP, "huge_int": HUGE_INT, "huge_negative": "-" + HUGE_INT, "huge_float": HUGE_INT + ".5",
       "long_text": "y" * 200_000, "date": "2024-13-45", "timestamp": "2001-12-14t21:59:43.10-05:00"}


@st.composite
def mutations(draw, data):
    """(text of the mutated file, what was done) for a parsed YAML `data`."""
    kind = draw(st.sampled_from(["value", "value", "value", "delete", "rename", "raw", "whole", "scale"]))
    if kind == "whole":
        return draw(st.sampled_from(["", "\x00\xff\xfe binary", "- just\n- a list\n", "42\n", "a: 1\na: 2\n",
                                     yaml.safe_dump(data) + "\nname: again\n", "{unclosed: [1, 2\n", "&a [*a]\n"])), kind
    path = draw(_paths(data))
    data = _copy(data)
    parent, key = _parent(data, path)
    marker = None
    if kind == "delete" and isinstance(parent, dict):
        del parent[key]
    elif kind == "rename" and isinstance(parent, dict):
        parent[draw(st.sampled_from([str(key) + "s", str(key).upper(), str(key)[:-1] or "k", "_" + str(key)]))] = \
            parent.pop(key)
    elif kind == "raw":
        marker = draw(st.sampled_from(sorted(RAW)))
        parent[key] = f"@@{marker}@@"
    elif kind == "scale":         # past every limit: refused whatever the value was
        parent[key] = _scaled(parent[key], draw(st.sampled_from([2 ** 40, 2 ** 62])))
    else:
        parent[key] = draw(st.sampled_from(EXTREMES))
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if marker is not None:
        text = text.replace(f"'@@{marker}@@'", RAW[marker]).replace(f"@@{marker}@@", RAW[marker])
    return text, f"{kind} {path}"


def _scaled(value, factor):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return value * factor


def _paths(data):
    paths = list(_walk(data, ()))
    return st.sampled_from(paths)


def _walk(node, path):
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,)
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield path + (i,)
            yield from _walk(v, path + (i,))


def _parent(data, path):
    node = data
    for part in path[:-1]:
        node = node[part]
    return node, path[-1]


def _copy(node):
    if isinstance(node, dict):
        return {k: _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(v) for v in node]
    return node


def run(argv) -> tuple[int, str, str]:
    """The CLI in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv])
        except BaseException as exc:          # noqa: BLE001 - what escapes main() is the failure
            import traceback

            code = -1
            err.write("Traceback (escaped cli.main):\n" + "".join(traceback.format_exception(exc)))
    return code, out.getvalue(), err.getvalue()


def check_outcome(code: int, out: str, err: str, named: list[Path], what: str) -> None:
    """The contract every mutated input must keep (see the module docstring)."""
    assert code in (0, 2), f"{what}: exit status {code}\n{err[-3000:]}"
    assert "Traceback" not in err, f"{what}: traceback\n{err[-3000:]}"
    assert len(err) < 20_000, f"{what}: {len(err)} characters on stderr"
    if code == 2:
        assert any(str(p) in err or p.name in err for p in named), f"{what}: the message names no file\n{err[:2000]}"
        return
    if out.strip():
        check_report(pd.read_csv(io.StringIO(out)), what)


NUMERIC = ("macs", "slot_macs", "vector_ops", "cycles", "compute_cycles", "stall_cycles", "seconds",
           "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "utilization", "energy_pj")


def check_report(frame: pd.DataFrame, what: str = "") -> None:
    """Every numeric report value finite and non-negative; cycles >= compute_cycles; utilization <= 1."""
    for col in NUMERIC:
        values = frame[col].to_numpy(dtype=float)
        assert all(math.isfinite(v) and v >= 0 for v in values), f"{what}: {col} = {list(values)}"
    assert (frame["cycles"] >= frame["compute_cycles"]).all(), what
    assert (frame["utilization"] <= 1.0 + 1e-12).all(), what


def run_mutated_hardware(text: str, what: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hw = Path(tmp) / "mutated_hw.yaml"
        hw.write_text(text, encoding="utf-8", errors="surrogateescape")
        check_outcome(*run(["run", SMOKE, "--hw", hw, "--format", "csv"]), [hw], what)


def run_mutated_workload(text: str, what: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wl = Path(tmp) / "mutated_wl.yaml"
        wl.write_text(text, encoding="utf-8", errors="surrogateescape")
        check_outcome(*run(["run", wl, "--hw", DEFAULT_HW, "--format", "csv"]), [wl], what)


BUNDLED_WORKLOADS = {p.name: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "workloads").glob("*.yaml"))}


def bundled_sweep() -> dict:
    """sweeps/quick.yaml with its paths made absolute (the mutated copy lives in a temporary folder)."""
    data = yaml.safe_load((ROOT / "sweeps" / "quick.yaml").read_text())
    data["base_hw"] = str(ROOT / data["base_hw"])
    data["workloads"] = [str(ROOT / w) for w in data["workloads"]]
    return data


def small_sweep(folder: Path) -> dict:
    """A two-point sweep over the small workload (runs in well under a second)."""
    wl = folder / "small.yaml"
    wl.write_text(yaml.safe_dump({"name": "small", "layers": SMALL_WORKLOAD["layers"][:2]}))
    return {"name": "fuzzed", "base_hw": str(DEFAULT_HW), "workloads": [str(wl)],
            "hw_grid": {"mac_array.rows": [16, 32], "memories[0].size_bytes": [262144]},
            "layer_grid": {"sa.n": [8, 16]}, "objectives": ["cycles", "energy_pj"]}


def run_mutated_sweep(text: str, folder: Path, what: str) -> None:
    sweep = folder / "mutated_sweep.yaml"
    sweep.write_text(text, encoding="utf-8", errors="surrogateescape")
    named = [sweep, folder / "small.yaml", DEFAULT_HW, SMOKE]
    code, out, err = run(["sweep", sweep, "--out", folder / "out", "--jobs", "1", "--quiet"])
    check_outcome(code, "", err, named, what)
    if code == 0:
        check_report(pd.read_csv(folder / "out" / "results.csv"), what)
