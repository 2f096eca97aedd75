"""Readable terminal output: the default `attnsim run` table fits 120 columns for every bundled
workload (layers, ops, several configs, model reports, functional runs), empty cells print empty,
GEMMs show m, k, n, `heads` is filled for every attention variant; `--wide` has every column."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from simulator import cli, load_workload, simulate, to_frame
from simulator.report import LAYER_COLUMNS, render
from simulator.terminal import Col, joules, render_columns, si

from .helpers import make_hw

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = sorted((ROOT / "workloads").glob("*.yaml"))
PRESETS = sorted((ROOT / "hw_configs").glob("*.yaml"))
# every variant whose math is attention (a softmax over positions); the rest have no heads
ATTENTION = {"self_attention", "multi_head_attention", "restricted_self_attention", "kv_cache_attention",
             "global_attention", "local_attention", "hard_attention", "attention_over_attention"}


def run_out(capsys, *args) -> str:
    assert cli.main([str(a) for a in args]) == 0
    return capsys.readouterr().out


def assert_readable(out: str, width: int = 120) -> None:
    lines = out.splitlines()
    table = [line for line in lines if not line.startswith(("#", "attnsim ", "  ("))]
    assert table and max(len(line) for line in table) <= width, max(table, key=len)
    for bad in ("<NA>", "None", "nan", "NaN"):
        assert bad not in out, bad


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda p: p.stem)
def test_the_default_table_fits_120_columns_for_every_workload(workload, capsys):
    hw = [a for p in PRESETS[:2] for a in ("--hw", p)]
    assert_readable(run_out(capsys, "run", workload, "--schedule", "serial"))
    assert_readable(run_out(capsys, "run", workload, "--schedule", "serial", *hw))
    assert_readable(run_out(capsys, "run", workload, "--schedule", "serial", "--ops"))


def test_model_reports_and_functional_runs_fit_too(capsys):
    out = run_out(capsys, "run", "--model", ROOT / "models" / "llama3_8b_shaped.json", "--phase", "decode",
                  "--context", "127")
    assert_readable(out)
    assert "bound" in out and "blocks" in out
    out = run_out(capsys, "run", ROOT / "workloads" / "gemm_smoke.yaml", "--functional")
    assert_readable(out)
    assert "SQNR dB" in out and "functional, seed 0" in out


def test_gemms_show_their_shape(capsys):
    out = run_out(capsys, "run", ROOT / "workloads" / "gemm_smoke.yaml")
    assert "m=512 k=64 n=512" in out and "m=512 k=768 n=768" in out
    ops = run_out(capsys, "run", ROOT / "workloads" / "bert_base_layer.yaml", "--ops", "--schedule", "serial")
    assert "512x768x768" in ops and "12 x (512x64x512)" in ops            # m x k x n, batched by head


def test_wide_shows_every_column_with_empty_cells_empty(capsys):
    out = run_out(capsys, "run", ROOT / "workloads" / "gemm_smoke.yaml", "--wide")
    header = out.splitlines()[1].split()
    assert set(LAYER_COLUMNS) <= set(header) and "shape" in header
    assert_readable(out, width=10 ** 4)
    one = run_out(capsys, "run", ROOT / "workloads" / "bert_projection.yaml", "--wide")    # one row: a column
    assert_readable(one, width=10 ** 4)
    assert any(line.split()[:1] == ["max_path_length"] and len(line.split()) == 1 for line in one.splitlines())


def test_heads_is_filled_for_every_attention_variant_and_only_those():
    frames = []
    for workload in WORKLOADS:
        frames.append(to_frame(simulate(load_workload(workload), make_hw(rows=8, cols=8, sram_bytes=1 << 20),
                                        schedule="serial")))
    seen = set()
    for frame in frames:
        for rec in frame.to_dict("records"):
            seen.add(rec["variant"])
            if rec["variant"] in ATTENTION:
                assert rec["heads"] >= 1, rec["variant"]
            else:
                assert pd.isna(rec["heads"]), rec
    assert ATTENTION - {"self_attention"} <= seen


def test_si_prefixes_by_hand():
    assert [si(v) for v in (0, 7, 999, 1000, 119952, 268435456, 1.5e9, 0.5463)] == [
        "0", "7", "999", "1.000k", "120.0k", "268.4M", "1.500G", "546.3m"]
    assert si(2_500_000, "B") == "2.500MB" and si(None) == "" and si(float("nan")) == ""
    assert joules(719_818_752) == "719.8µJ" and joules(None) == ""


def test_text_columns_shrink_to_fit_the_width():
    rows = [{"name": "x" * 80, "other": "y" * 60, "n": 12345678}]
    cols = [Col("name", lambda r: r["name"], shrink=2, right=False), Col("other", lambda r: r["other"], shrink=1),
            Col("n", lambda r: r["n"], si)]
    out = render_columns(rows, cols, width=60)
    assert max(len(line) for line in out.splitlines()) <= 60
    assert "…" in out.splitlines()[1] and "12.35M" in out
    assert out.splitlines()[1].count("y") == 60 - 2 * 2 - len("12.35M") - 12 - 1   # name shrank first, to 12


def test_render_table_of_a_count_only_frame_has_no_error_columns():
    (r,) = simulate(load_workload({"name": "t", "layers": [{"name": "g", "variant": "gemm", "m": 3, "k": 4,
                                                           "n": 5}]}), make_hw())
    out = render(to_frame([r]), "table", title="t")
    assert "SQNR" not in out and "m=3 k=4 n=5" in out and "count-only" in out
