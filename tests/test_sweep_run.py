"""`attnsim sweep` end to end: the files it writes, their contents against direct simulation,
Pareto fronts against brute force, resume after kill -9 and Ctrl-C equal to an uninterrupted run,
refusal to resume a changed sweep, and the progress bar only on a terminal.

Every output goes to pytest's tmp_path (never reports/).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml

from simulator import cli, load_workload, simulate, to_frame
from simulator.sweep import grid as sweep_grid, spec as sweep_spec
from simulator.sweep.pareto import dominated_brute_force
from simulator.sweep.run import run_sweep
from simulator.sweep.evaluate import EvalContext, evaluate_chunk
from simulator.sweep.grid import apply_values
from simulator.sweep.spec import load_sweep
from simulator.sweep.store import PartialStore
from simulator.errors import AttnsimError
from simulator.hardware import Hardware
from simulator.report import LAYER_COLUMNS, SCHEDULE_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
QUICK = ROOT / "sweeps" / "quick.yaml"
CONTRACT_COLUMNS = [
    "workload", "layer", "variant", "hw", "dataflow", "n", "d", "heads", "kernel", "window", "batch", "dtype",
    "macs", "slot_macs", "vector_ops", "cycles", "compute_cycles", "stall_cycles", "seconds",
    "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "utilization",
    "energy_pj", "sequential_steps", "max_path_length",
]
REPORT_COLUMNS = CONTRACT_COLUMNS + ["repeat", "phase", "context", "new_tokens", "kv_heads", "kv_cache_bytes",
                                     "state_bytes", "bound_cycles", "mapping_efficiency"]
CSVS = ("results.csv", "pareto.csv", "invalid.csv", "influence.csv")
FIGURES = ("pareto.png", "heatmap.png")
_STAMP = re.compile(r",\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", re.M)    # the `generated` column, last


def without_stamp(path: Path) -> str:
    text = path.read_text()
    assert text.splitlines()[0].endswith(",generated")
    return _STAMP.sub("", text)


def same_files(a: Path, b: Path) -> None:
    for name in CSVS:
        assert without_stamp(a / name) == without_stamp(b / name), name
    for name in FIGURES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert not (a / ".partial").exists() and not (b / ".partial").exists()


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    assert cli.main(["sweep", str(QUICK), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    return out


# --- the files ----------------------------------------------------------------------------------
def test_writes_every_file_into_the_folder(quick):
    # pyarrow is in the test extra, so the parquet copy is always expected here
    assert sorted(p.name for p in quick.iterdir()) == sorted(CSVS + FIGURES + ("results.parquet",))
    for name in FIGURES:
        image = matplotlib.image.imread(quick / name)
        assert image.shape[0] > 200 and image.shape[1] > 300


def test_results_columns_and_rows(quick):
    frame = pd.read_csv(quick / "results.csv")
    keys = ["mac_array.rows", "mac_array.cols", "memories[0].size_bytes"]
    assert list(LAYER_COLUMNS) == REPORT_COLUMNS
    assert list(frame.columns) == (["point_id", "point_hash", *keys, "area_mm2", "layer_grid_id"] + REPORT_COLUMNS
                                   + list(SCHEDULE_COLUMNS) + ["energy_mac_pj", "energy_vector_pj", "energy_sram_pj", "energy_dram_pj",
                                      "hw_file", "hw_sha256", "workload_file", "workload_sha256", "sweep_file",
                                      "sweep_sha256", "simulator_version", "generated"])
    assert len(frame) == 26 * 2                          # 27 points, one invalid; two layers each
    assert sorted(set(frame["point_id"])) == [p for p in range(27) if p != 24]
    assert list(frame["layer"][:4]) == ["qk", "proj", "qk", "proj"]
    assert frame["point_id"].is_monotonic_increasing
    assert frame.groupby("point_id")["point_hash"].nunique().eq(1).all()
    assert frame["point_hash"].nunique() == 26
    assert set(frame["hw_file"]) == {"hw_configs/default.yaml"} and set(frame["sweep_file"]) == {"sweeps/quick.yaml"}
    assert set(frame["workload_file"]) == {"workloads/gemm_smoke.yaml"}
    assert frame["hw_sha256"].str.len().eq(64).all() and frame["sweep_sha256"].str.len().eq(64).all()
    breakdown = frame[["energy_mac_pj", "energy_vector_pj", "energy_sram_pj", "energy_dram_pj"]].sum(axis=1)
    assert np.allclose(breakdown, frame["energy_pj"], rtol=1e-12)


def test_rows_equal_a_direct_simulation_of_the_point(quick):
    frame = pd.read_csv(quick / "results.csv")
    spec = load_sweep(QUICK)
    workload = load_workload(ROOT / "workloads" / "gemm_smoke.yaml")
    for pid in (0, 13, 26):
        values = spec.point_values(pid)
        hw = Hardware.from_dict(apply_values(spec.base_data, spec.hw_parts, values), source="x")
        direct = to_frame(simulate(workload, hw))
        rows = frame[frame["point_id"] == pid].reset_index(drop=True)
        assert list(rows[list(spec.hw_keys)].iloc[0]) == list(values)
        assert rows["area_mm2"].iloc[0] == pytest.approx(hw.area_mm2, rel=1e-12)
        for col in REPORT_COLUMNS:
            if col == "hw":
                continue
            a, b = rows[col], direct[col]
            if a.dtype.kind == "f" or b.dtype.kind == "f":
                assert np.allclose(a.astype(float), b.astype(float), rtol=1e-12, equal_nan=True), col
            else:
                assert list(a.astype(str)) == list(b.astype(str)), col


def test_pareto_csv_equals_brute_force_on_the_results(quick):
    frame = pd.read_csv(quick / "results.csv")
    per_point = frame.groupby(["workload", "point_id"]).agg(cycles=("cycles", "sum"), energy_pj=("energy_pj", "sum"),
                                                            area_mm2=("area_mm2", "first")).reset_index()
    front = per_point[~dominated_brute_force(per_point[["cycles", "energy_pj", "area_mm2"]].to_numpy())]
    pareto = pd.read_csv(quick / "pareto.csv")
    assert sorted(pareto["point_id"]) == sorted(front["point_id"])
    assert 1 < len(pareto) < len(per_point)
    merged = pareto.merge(per_point, on=["workload", "point_id"], suffixes=("", "_sum"))
    assert np.allclose(merged["cycles"], merged["cycles_sum"]) and np.allclose(merged["energy_pj"], merged["energy_pj_sum"])
    assert list(pareto.columns[:6]) == ["workload", "layer_grid_id", "point_id", "point_hash", "mac_array.rows",
                                        "mac_array.cols"]


def test_invalid_csv_says_which_keys_and_why(quick):
    invalid = pd.read_csv(quick / "invalid.csv")
    assert len(invalid) == 1
    row = invalid.iloc[0]
    assert (row["kind"], row["point_id"], row["mac_array.rows"], row["mac_array.cols"],
            row["memories[0].size_bytes"]) == ("hardware", 24, 64, 64, 32768)
    assert row["what"] == "point 24 (mac_array.rows=64, mac_array.cols=64, memories[0].size_bytes=32768)"
    assert row["problems"].startswith("memories[0].size_bytes: too small for one 64x64 array tile")


def test_influence_ranks_the_knobs(quick):
    influence = pd.read_csv(quick / "influence.csv")
    assert sorted(influence["knob"]) == sorted(["mac_array.rows", "mac_array.cols", "memories[0].size_bytes"])
    assert influence["share"].between(0, 1).all() and influence["share"].is_monotonic_decreasing
    assert set(influence["objective"]) == {"cycles"} and set(influence["transform"]) == {"log"}


def test_cli_summary_and_invalid_warning(tmp_path, capsys):
    assert cli.main(["sweep", str(QUICK), "--out", str(tmp_path), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"sweep quick: 27 design points x 1 workload variant(s) -> {tmp_path}/\n")
    assert "attnsim: warning: 1 of 27 design points has invalid hardware; skipped" in err
    assert "  point 24 (mac_array.rows=64, mac_array.cols=64, memories[0].size_bytes=32768): memories[0]" in err
    assert (f"wrote {tmp_path}/: results.csv, results.parquet, pareto.csv, invalid.csv, influence.csv, "
            "pareto.png, heatmap.png") in err
    assert "pt/s" not in err                        # no progress bar when stderr is not a terminal


def test_default_output_folder(tmp_path, monkeypatch):
    sweep = yaml.safe_load(QUICK.read_text())
    sweep.update(base_hw=str(ROOT / sweep["base_hw"]), workloads=[str(ROOT / w) for w in sweep["workloads"]],
                 hw_grid={"mac_array.rows": [16, 32], "mac_array.cols": [16, 32]})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(sweep))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sweep", "s.yaml", "--quiet"]) == 0
    assert (tmp_path / "reports" / "sweeps" / "quick" / "results.csv").exists()


def test_report_in_small_pieces_writes_the_same_files(quick, tmp_path, monkeypatch):
    # each piece's results are written as it is made, the last one while the figures are drawn: with
    # pieces of a few rows every piece but the last is written from the loop, in order, none twice or lost
    from simulator.sweep import report

    monkeypatch.setattr(report, "PIECE_ROWS", 7)
    assert cli.main(["sweep", str(QUICK), "--out", str(tmp_path), "--jobs", "1", "--quiet"]) == 0
    same_files(quick, tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "results.parquet").drop(columns="generated"),
                                  pd.read_parquet(quick / "results.parquet").drop(columns="generated"))


def test_layer_grid_variants_and_pareto_per_workload(tmp_path):
    sweep = {"name": "lg", "base_hw": str(ROOT / "hw_configs/default.yaml"),
             "workloads": [str(ROOT / "workloads/gemm_smoke.yaml"), str(ROOT / "workloads/table1.yaml")],
             "hw_grid": {"mac_array.rows": [16, 64], "mac_array.dataflow": ["output_stationary", "weight_stationary"]},
             "layer_grid": {"n": [64, 128], "qk.k": [32]}, "objectives": ["cycles", "energy_pj"]}
    (tmp_path / "lg.yaml").write_text(yaml.safe_dump(sweep))
    outcome = run_sweep(load_sweep(tmp_path / "lg.yaml"), tmp_path / "out", jobs=1)
    frame = pd.read_csv(tmp_path / "out" / "results.csv")
    assert ["layer_grid.n", "layer_grid.qk.k"] == [c for c in frame.columns if c.startswith("layer_grid.")]
    smoke = frame[frame["workload"] == "gemm_smoke"]
    table1 = frame[frame["workload"] == "table1"]
    assert len(smoke) == 4 * 2 * 2 and len(table1) == 4 * 2 * 4
    assert set(smoke["layer_grid.qk.k"]) == {32} and table1["layer_grid.qk.k"].isna().all()
    assert set(table1["n"]) == {64, 128} and set(zip(table1["layer_grid_id"], table1["layer_grid.n"])) == {(0, 64), (1, 128)}
    assert set(frame.loc[frame["layer"] == "qk", "macs"]) == {512 * 32 * 64, 512 * 32 * 128}     # m k n
    pareto = pd.read_csv(tmp_path / "out" / "pareto.csv")
    assert set(zip(pareto["workload"], pareto["layer_grid_id"])) == {("gemm_smoke", 0), ("gemm_smoke", 1),
                                                                     ("table1", 0), ("table1", 1)}
    assert outcome.evaluated == 4


# --- resume -------------------------------------------------------------------------------------
def slow_sweep(folder: Path) -> Path:
    """144 points of the BERT-base layer; with --chunk-size 1 every point is its own fsynced file,
    so the run lasts long enough to be interrupted in the middle."""
    sweep = {"name": "resume", "base_hw": str(ROOT / "hw_configs/default.yaml"),
             "workloads": [str(ROOT / "workloads/bert_base_layer.yaml")],
             "hw_grid": {"mac_array.rows": [16, 32, 64, 128], "mac_array.cols": [16, 32, 64, 128],
                         "mac_array.dataflow": ["output_stationary", "weight_stationary", "input_stationary"],
                         "memories[0].size_bytes": [131072, 1048576, 4194304]}}
    path = folder / "resume.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    path = slow_sweep(folder)
    assert cli.main(["sweep", str(path), "--out", str(folder / "out"), "--jobs", "1", "--quiet"]) == 0
    return path, folder / "out"


def start(path: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simulator", "sweep", str(path), "--out", str(out), "--jobs", "2",
                             "--chunk-size", "1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def wait_for_chunks(out: Path, n: int, proc: subprocess.Popen) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = len(list((out / ".partial").glob("chunk-*.pkl"))) if (out / ".partial").exists() else 0
        if found >= n:
            return found
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    raise AssertionError("the sweep wrote no chunks within 60 s")


def group_alive(pgid: int) -> list[int]:
    """Processes of process group `pgid` still running (zombies count as gone), from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def cleanup(proc: subprocess.Popen) -> None:
    """Stop what is left of the killed run's process group, if anything (a test failed)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_resume_after_kill_equals_an_uninterrupted_run(uninterrupted, tmp_path):
    path, reference = uninterrupted
    out = tmp_path / "out"
    proc = start(path, out)
    try:
        wait_for_chunks(out, 10, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # the workers and the figures' standby end with it, not wait for work forever
        deadline = time.monotonic() + 15
        while group_alive(proc.pid) and sys.platform.startswith("linux") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not group_alive(proc.pid) or not sys.platform.startswith("linux"), group_alive(proc.pid)
    finally:
        cleanup(proc)
    saved = len(list((out / ".partial").glob("chunk-*.pkl")))
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.csv").exists() and 10 <= saved < 144
    (out / ".partial" / ".chunk-000000143-000000144.json.x1y2.tmp").write_text('{"torn')   # a torn write
    outcome = run_sweep(load_sweep(path), out, jobs=1)
    assert outcome.evaluated == 144 - saved
    same_files(out, reference)


def test_ctrl_c_stops_cleanly_and_the_rerun_completes(uninterrupted, tmp_path):
    path, reference = uninterrupted
    out = tmp_path / "out"
    proc = start(path, out)
    try:
        wait_for_chunks(out, 5, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        cleanup(proc)
    assert proc.returncode == 130
    assert re.search(rf"attnsim: interrupted: \d+ of 144 design points are saved in {re.escape(str(out))}/\.partial; "
                     r"run the same command again to finish the rest\n$", err), err
    assert "Traceback" not in err and "pt/s" not in err
    assert cli.main(["sweep", str(path), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    same_files(out, reference)


def test_a_changed_sweep_is_not_mixed_with_old_partial_results(tmp_path, capsys):
    path = tmp_path / "quick.yaml"
    sweep = yaml.safe_load(QUICK.read_text())
    sweep.update(base_hw=str(ROOT / sweep["base_hw"]), workloads=[str(ROOT / w) for w in sweep["workloads"]])
    path.write_text(yaml.safe_dump(sweep))
    spec = load_sweep(path)
    store = PartialStore(tmp_path / "out", spec.fingerprint_parts())
    assert store.load() == []
    store.save(evaluate_chunk(EvalContext.from_spec(spec), 0, 5))       # as if interrupted after 5 points
    sweep["hw_grid"]["mac_array.rows"] = [16, 32, 128]
    path.write_text(yaml.safe_dump(sweep))
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == (f"attnsim: error: {tmp_path / 'out'} holds partial results of a different sweep (changed since: "
                   f"hw_grid); refusing to mix them. Remove {tmp_path / 'out' / '.partial'} to start over, or pass "
                   f"another --out\n")
    # Objectives do not change any row: the same partial results are resumed.
    sweep["hw_grid"]["mac_array.rows"] = [16, 32, 64]
    sweep["objectives"] = ["energy_pj", "cycles"]
    path.write_text(yaml.safe_dump(sweep))
    outcome = run_sweep(load_sweep(path), tmp_path / "out", jobs=1)
    assert outcome.evaluated == 27 - 5 and len(outcome.results) == 52


def test_partial_results_of_other_simulator_code_are_not_resumed(tmp_path, capsys, monkeypatch):
    spec = load_sweep(_tiny_sweep(tmp_path))
    store = PartialStore(tmp_path / "out", spec.fingerprint_parts())
    assert store.load() == []
    store.save(evaluate_chunk(EvalContext.from_spec(spec), 0, 2))
    # the same sweep and version, but edited simulator sources
    monkeypatch.setattr(sweep_spec, "code_digest", lambda: "0" * 64)
    with pytest.raises(AttnsimError, match=r"holds partial results of a different sweep \(changed since: "
                                           r"simulator code\); refusing to mix them"):
        run_sweep(load_sweep(_tiny_sweep(tmp_path)), tmp_path / "out", jobs=1)


def test_code_digest_covers_every_source_file():
    package = ROOT / "simulator"
    sources = sorted(package.rglob("*.py"))
    assert len(sources) > 20 and Path(sweep_grid.__file__).resolve() in [p.resolve() for p in sources]
    assert re.fullmatch(r"[0-9a-f]{64}", sweep_grid.code_digest())


def test_progress_bar_on_a_terminal_only(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:                                     # the child: a terminal 100 columns wide
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "simulator", "sweep", str(QUICK), "--out",
                                  str(tmp_path / "out"), "--jobs", "1", "--chunk-size", "9"])
    output = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        output += data
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert re.search(r"design points: 100%\|.*\| 27/27 \[\d\d:\d\d<00:00, +[\d.]+pt/s\]", text), text
    quiet = subprocess.run([sys.executable, "-m", "simulator", "sweep", str(QUICK), "--out", str(tmp_path / "q"),
                            "--jobs", "1", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    # --quiet: nothing at all, not even the invalid point's warning (it is in invalid.csv)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_invalid_layer_grid_combination_is_reported_and_skipped(tmp_path, capsys):
    sweep = {"name": "lg", "base_hw": str(ROOT / "hw_configs/default.yaml"),
             "workloads": [str(ROOT / "workloads/bert_base_layer.yaml")], "hw_grid": {"mac_array.rows": [32, 64]},
             "layer_grid": {"attention.heads": [12, 7]}}
    (tmp_path / "lg.yaml").write_text(yaml.safe_dump(sweep))
    assert cli.main(["sweep", str(tmp_path / "lg.yaml"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "attnsim: warning: 1 layer_grid combination is invalid; skipped" in err
    assert "bert_base_layer.yaml with attention.heads=7: layers[0].heads: d = 768 is not divisible by heads = 7" in err
    invalid = pd.read_csv(tmp_path / "out" / "invalid.csv")
    assert list(invalid[["kind", "workload", "layer_grid_id", "layer_grid.attention.heads"]].iloc[0]) == [
        "layer_grid", "bert_base_layer", 1, 7]
    assert set(pd.read_csv(tmp_path / "out" / "results.csv")["layer_grid.attention.heads"]) == {12}
    assert not (tmp_path / "out" / "heatmap.png").exists()          # one knob varies: no heat map


def test_all_points_invalid_is_an_error(tmp_path, capsys):
    sweep = {"name": "bad", "base_hw": str(ROOT / "hw_configs/default.yaml"),
             "workloads": [str(ROOT / "workloads/gemm_smoke.yaml")], "hw_grid": {"memories[0].size_bytes": [1024, 2048]}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(sweep))
    assert cli.main(["sweep", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"attnsim: error: {tmp_path / 'bad.yaml'}: no design point could be evaluated (2 invalid); every reason " \
           f"is in" in err
    assert (tmp_path / "out" / "invalid.csv").exists() and not (tmp_path / "out" / "results.csv").exists()


def test_out_is_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert cli.main(["sweep", str(QUICK), "--out", str(tmp_path / "f")]) == 2
    assert capsys.readouterr().err == f"attnsim: error: --out {tmp_path / 'f'}: is a file; give a folder for the sweep's files\n"



def test_sweep_rows_equal_report_layer_records():
    """The sweep builds its rows without report.layer_record (summing each layer's ops once); the
    values must stay those of the layer-level contract."""
    from simulator.sweep.evaluate import _ROW_ORDER, ROW_COLUMNS, layer_row
    from simulator.cost import energy_breakdown_pj
    from simulator.report import layer_record

    assert _ROW_ORDER == ROW_COLUMNS
    hw = Hardware.from_dict(yaml.safe_load((ROOT / "hw_configs" / "edge_32x32.yaml").read_text()))
    for name in ("bert_base_layer", "table1", "luong_nmt"):
        for r in simulate(load_workload(ROOT / "workloads" / f"{name}.yaml"), hw):
            row = layer_row(7, 3, r, hw)
            rec = layer_record(r)
            assert row[:2] == [7, 3]
            assert row[2:2 + len(ROW_COLUMNS)] == [rec[c] for c in ROW_COLUMNS]
            assert row[2 + len(ROW_COLUMNS):] == [float(v) for v in energy_breakdown_pj(r.counts, hw).values()]


def _tiny_sweep(tmp_path: Path, **extra) -> Path:
    (tmp_path / "wl.yaml").write_text("name: tiny\nlayers:\n  - {name: g, variant: gemm, m: 96, k: 80, n: 72}\n"
                                      "  - {name: a, variant: self_attention, n: 48, d: 32}\n")
    sweep = {"name": "tiny", "base_hw": str(ROOT / "hw_configs/default.yaml"), "workloads": [str(tmp_path / "wl.yaml")],
             "hw_grid": {"mac_array.rows": [8, 16], "mac_array.dataflow": ["output_stationary", "weight_stationary"]},
             "objectives": ["cycles", "energy_pj"], **extra}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def test_mapper_and_its_objective_reach_every_gemm(tmp_path, monkeypatch):
    """Both layers' GEMMs (the single-GEMM layer's fast path and the attention layer's simulate()
    step) are mapped with the sweep's mapper and objective."""
    import simulator.engine as engine

    calls = []
    real = engine.choose_gemm_plan
    monkeypatch.setattr(engine, "choose_gemm_plan",
                        lambda op, hw, mapper, objective: calls.append((op.name, mapper, objective))
                        or real(op, hw, mapper, objective))
    spec = load_sweep(_tiny_sweep(tmp_path, mapper="search", mapper_objective="energy"))
    evaluate_chunk(EvalContext.from_spec(spec), 0, spec.n_points)
    assert {c[1:] for c in calls} == {("search", "energy")} and len({c[0] for c in calls}) >= 2


def test_search_mapper_sweep_is_never_slower_than_the_heuristic(tmp_path):
    heuristic = run_sweep(load_sweep(_tiny_sweep(tmp_path)), tmp_path / "h", jobs=1).results
    searched = run_sweep(load_sweep(_tiny_sweep(tmp_path, mapper="search")), tmp_path / "s", jobs=1).results
    assert list(heuristic["point_id"]) == list(searched["point_id"]) and len(heuristic) == 8
    assert (searched["cycles"].to_numpy() <= heuristic["cycles"].to_numpy()).all()
    assert list(searched["macs"]) == list(heuristic["macs"])


def test_parquet_copy_of_the_results_when_pyarrow_is_installed(quick):
    assert pd.read_parquet(quick / "results.parquet").drop(columns="generated").astype(str).equals(
        pd.read_csv(quick / "results.csv").drop(columns="generated").astype(str))


def test_without_pyarrow_the_sweep_writes_csv_only(tmp_path, monkeypatch):
    # `import pyarrow.parquet` now raises ImportError. (Not pyarrow itself: pandas 3 imports it at start-up
    # and imports pyarrow.compute on first use, so hiding it breaks pandas, depending on the tests run before.)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "out"
    run_sweep(load_sweep(_tiny_sweep(tmp_path)), out, jobs=1)
    assert (out / "results.csv").exists() and not (out / "results.parquet").exists()


def test_ctrl_c_while_the_report_is_written_says_how_to_finish_it(tmp_path, monkeypatch):
    from simulator.sweep import run as run_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    path = _tiny_sweep(tmp_path)
    monkeypatch.setattr(run_module, "write_report", interrupted)
    with pytest.raises(run_module.SweepInterrupted, match=r"every design point is saved in .*\.partial, but the "
                       r"report is not finished: run the same command again to write it"):
        run_sweep(load_sweep(path), tmp_path / "out", jobs=1)
    monkeypatch.undo()
    outcome = run_sweep(load_sweep(path), tmp_path / "out", jobs=1)
    assert outcome.evaluated == 0 and (tmp_path / "out" / "results.csv").exists()


def _report_failing_after(n_chunks: int, error: BaseException):
    """A write_report that takes `n_chunks` chunks (while the rest are still evaluated), then raises."""
    def report(spec, out, chunks, warn, standby=None):
        taken = 0
        for chunk in chunks:
            taken += chunk is not None
            if taken == n_chunks:
                raise error
        raise AssertionError("the sweep had fewer chunks")
    return report


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_report_stopped_while_points_are_evaluated_stops_the_workers_and_resumes(tmp_path, monkeypatch, jobs):
    """The report is written while the points are evaluated: Ctrl-C or a write error there says how
    many points are saved, leaves no worker behind, and the same command finishes the rest and writes
    the same files as a run never stopped."""
    import multiprocessing
    import time

    from simulator.sweep import executors, run as run_module

    # 40 one-point chunks of about equal time (a worker's first chunk is otherwise much the slowest,
    # and the other worker could finish every chunk while the report waits for chunk 0), two per
    # worker in flight: the report is stopped when a few points are saved. In process that is
    # certain; with workers it is not when they start fresh rather than forked (this process has
    # threads left by an earlier test: they then miss the even chunks), and all 40 may be saved
    path = _tiny_sweep(tmp_path, hw_grid={"mac_array.rows": [8, 12, 16, 24, 32], "mac_array.cols": [8, 16, 32, 64],
                                          "mac_array.dataflow": ["output_stationary", "weight_stationary"]})
    whole = run_sweep(load_sweep(path), tmp_path / "whole", jobs=1, chunk_size=1)
    real = executors.evaluate_chunk

    def even(ctx, start, stop):
        time.sleep(0.05)
        return real(ctx, start, stop)

    monkeypatch.setattr(executors, "evaluate_chunk", even)       # forked workers inherit it
    monkeypatch.setattr(executors.LocalPool, "IN_FLIGHT_PER_WORKER", 2)
    real_report = run_module.write_report
    monkeypatch.setattr(run_module, "write_report", _report_failing_after(2, KeyboardInterrupt()))
    some = r"[0-9]+ of 40 design points are saved in .*\.partial"
    every = r"every design point is saved in .*\.partial" if jobs > 1 else "(?!)"
    with pytest.raises(run_module.SweepInterrupted, match=rf"^{some}; run the same command again to finish the "
                       rf"rest$|^{every}, but the report is not finished"):
        run_sweep(load_sweep(path), tmp_path / "out", jobs=jobs, chunk_size=1)
    assert not multiprocessing.active_children()
    monkeypatch.setattr(run_module, "write_report", _report_failing_after(5, OSError(28, "No space left on device")))
    with pytest.raises(AttnsimError, match=rf"cannot write the report into .*: No space left on device; ({some}: fix "
                       rf"that and run the same command again to evaluate the rest|{every}: fix that)"):
        run_sweep(load_sweep(path), tmp_path / "out", jobs=jobs, chunk_size=1)
    assert not multiprocessing.active_children()
    monkeypatch.setattr(run_module, "write_report", real_report)
    outcome = run_sweep(load_sweep(path), tmp_path / "out", jobs=jobs, chunk_size=1)
    assert (0 <= outcome.evaluated < 40 if jobs > 1 else 0 < outcome.evaluated < 40) and outcome.rows == whole.rows
    same_files(tmp_path / "whole", tmp_path / "out")


def test_workers_are_forked_before_pandas_is_imported():
    """run_sweep imports the report (pandas, about 0.3 s) once the workers have work, so the import
    overlaps their evaluation: nothing before that (the command line, the sweep file, the warm-up
    points) may import it."""
    code = ("import sys\n"
            "from simulator import cli\n"
            "from simulator.sweep.run import run_sweep\n"
            "from simulator.sweep.spec import load_sweep\n"
            "from simulator.sweep.evaluate import EvalContext, evaluate_chunk\n"
            f"spec = load_sweep({str(QUICK)!r})\n"
            "chunk = evaluate_chunk(EvalContext.from_spec(spec), 0, spec.n_points)\n"
            "assert chunk.rows and 'pandas' not in sys.modules, sorted(m for m in sys.modules if 'pandas' in m)[:3]\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr


def test_local_workers_run_niced_below_the_report():
    """The report is written in this process while the workers evaluate (its one stream is the
    critical path of a big sweep): the workers run WORKER_NICENESS below it."""
    import os

    from simulator.sweep.executors import WORKER_NICENESS, LocalPool

    spec = load_sweep(QUICK)
    with LocalPool(EvalContext.from_spec(spec), "key", 2) as pool:
        niceness = {pool.pool.submit(os.nice, 0).result() for _ in range(4)}
    assert niceness == {min(19, os.nice(0) + WORKER_NICENESS)}
