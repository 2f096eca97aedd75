"""The `attnsim` command: in-process through simulator.cli.main, and as real processes.

Nothing here writes into the repository: every output goes to pytest's tmp_path.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from simulator.variants import REGISTRY
from simulator import cli
from simulator.report import LAYER_COLUMNS, OP_COLUMNS, OP_SCHEDULE_COLUMNS, PROVENANCE_COLUMNS, SCHEDULE_COLUMNS
from tests.helpers import DELETE, hw_dict, with_changes

ROOT = Path(__file__).resolve().parent.parent
SMOKE = str(ROOT / "workloads" / "gemm_smoke.yaml")
EDGE = str(ROOT / "hw_configs" / "edge_32x32.yaml")
DEFAULT = str(ROOT / "hw_configs" / "default.yaml")
# reports show files inside the source tree relative to it, so committed reports do not depend on
# where the checkout lives
EDGE_SHOWN = "hw_configs/edge_32x32.yaml"
DEFAULT_SHOWN = "hw_configs/default.yaml"
SMOKE_LAYERS = ["qk", "proj"]

# The public contract (docs/architecture.md#public-contract), typed in by hand: it must not drift
# with the code.
CONTRACT_COLUMNS = [
    "workload", "layer", "variant", "hw", "dataflow", "n", "d", "heads", "kernel", "window", "batch", "dtype",
    "macs", "slot_macs", "vector_ops", "cycles", "compute_cycles", "stall_cycles", "seconds",
    "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "utilization",
    "energy_pj", "sequential_steps", "max_path_length",
]
# Appended after max_path_length (generation workloads; empty for layers they do not apply to).
GENERATION_COLUMNS = ["repeat", "phase", "context", "new_tokens", "kv_heads", "kv_cache_bytes", "state_bytes"]
# Appended after the contract by issues (never inserted between its columns), also typed by hand.
ADDED_COLUMNS = ["bound_cycles", "mapping_efficiency"]
REPORT_COLUMNS = CONTRACT_COLUMNS + GENERATION_COLUMNS + ADDED_COLUMNS
INFO_COLUMNS = ["shape", "schedule"]         # the layer's sizes in its variant's names; the schedule used


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def csv_frame(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


def assert_clean_error(err: str) -> None:
    assert "Traceback" not in err
    assert err.strip(), "an error must say something on stderr"


@pytest.fixture
def tiny_workload(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\nlayers:\n"
                    "  - {name: square, variant: gemm, m: 8, k: 8, n: 8}\n"
                    "  - {name: odd, variant: gemm, m: 5, k: 7, n: 3, batch: 2}\n")
    return path


# --- run ------------------------------------------------------------------------------------------
def test_run_default_hardware_table(capsys):
    code, out, err = run_cli(capsys, "run", SMOKE)
    assert code == 0 and err == ""
    assert out.startswith("attnsim gemm_smoke\n")
    for word in ["qk", "proj", "gemm", "m=512 k=64 n=512", "MACs", "cycles"]:     # the compact view
        assert word in out
    assert f"# hardware {DEFAULT_SHOWN} sha256 " in out
    assert "# workload workloads/gemm_smoke.yaml" in out


def test_run_csv_contract_columns_in_order(capsys):
    code, out, _ = run_cli(capsys, "run", SMOKE, "--format", "csv")
    assert code == 0
    header = out.splitlines()[0].split(",")
    assert list(LAYER_COLUMNS) == REPORT_COLUMNS
    assert header[:len(REPORT_COLUMNS)] == REPORT_COLUMNS
    assert header[len(REPORT_COLUMNS):] == INFO_COLUMNS + list(SCHEDULE_COLUMNS) + list(PROVENANCE_COLUMNS) + [
        "generated"]
    assert list(PROVENANCE_COLUMNS)[-2:] == ["mode", "seed"]
    assert (frame_bounds := csv_frame(out))["bound_cycles"].between(1, frame_bounds["cycles"]).all()
    frame = csv_frame(out)
    assert list(frame["layer"]) == SMOKE_LAYERS
    assert set(frame["hw"]) == {"default"} and set(frame["workload"]) == {"gemm_smoke"}
    assert list(frame["macs"]) == [512 * 64 * 512, 512 * 768 * 768]
    assert (frame["utilization"] <= 1).all() and (frame["cycles"] > 0).all()
    for col in ["n", "d", "heads", "kernel", "window", "max_path_length", "phase", "context", "new_tokens",
                "kv_heads", "kv_cache_bytes", "state_bytes"]:   # do not apply to a GEMM
        assert frame[col].isna().all(), col


def test_run_two_hardware_configs(capsys):
    code, out, _ = run_cli(capsys, "run", SMOKE, "--hw", EDGE, "--hw", DEFAULT, "--format", "csv")
    assert code == 0
    frame = csv_frame(out)
    assert len(frame) == 4
    assert list(zip(frame["hw"], frame["layer"])) == [("edge_32x32", "qk"), ("edge_32x32", "proj"),
                                                      ("default", "qk"), ("default", "proj")]
    assert list(frame["dtype"]) == ["int8", "int8", "bf16", "bf16"]
    assert list(frame["hw_file"]) == [EDGE_SHOWN, EDGE_SHOWN, DEFAULT_SHOWN, DEFAULT_SHOWN]
    assert frame["hw_sha256"].str.len().eq(64).all()


def test_run_json(capsys):
    code, out, _ = run_cli(capsys, "run", SMOKE, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"generated", "rows"}
    assert [r["layer"] for r in doc["rows"]] == SMOKE_LAYERS
    assert list(doc["rows"][0])[:len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert doc["rows"][0]["n"] is None          # does not apply: empty, not a made-up number


def test_run_markdown(capsys):
    code, out, _ = run_cli(capsys, "run", SMOKE, "--format", "md")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "# attnsim gemm_smoke"
    table = [line for line in lines if line.startswith("|")]
    shown = REPORT_COLUMNS + INFO_COLUMNS + list(SCHEDULE_COLUMNS)
    assert table[0] == "| " + " | ".join(shown) + " |"
    assert table[1] == "|" + "---|" * len(shown)
    assert len(table) == 2 + len(SMOKE_LAYERS)


def test_run_table_with_two_configs(capsys):
    code, out, _ = run_cli(capsys, "run", SMOKE, "--hw", EDGE, "--hw", DEFAULT, "--format", "table")
    assert code == 0
    assert out.count("edge_32x32") >= 2 and "default" in out
    assert f"# hardware {EDGE_SHOWN} sha256" in out and f"# hardware {DEFAULT_SHOWN} sha256" in out


def test_run_ops(capsys):
    code, out, _ = run_cli(capsys, "run", SMOKE, "--ops", "--format", "csv")
    assert code == 0
    frame = csv_frame(out)
    assert list(frame.columns) == list(OP_COLUMNS) + list(OP_SCHEDULE_COLUMNS) + ["generated"]
    assert list(frame["layer"]) == SMOKE_LAYERS          # one GEMM op per layer
    assert set(frame["kind"]) == {"gemm"}


def test_run_functional_gives_the_same_counts(capsys, tiny_workload):
    code, counted, _ = run_cli(capsys, "run", tiny_workload, "--hw", EDGE, "--format", "csv")
    assert code == 0
    code, functional, _ = run_cli(capsys, "run", tiny_workload, "--hw", EDGE, "--format", "csv",
                                  "--functional", "--seed", "3")
    assert code == 0
    a, b = csv_frame(counted), csv_frame(functional)
    assert list(a["layer"]) == ["square", "odd"] and list(a["batch"]) == [1, 2]
    assert list(a["macs"]) == [8 * 8 * 8, 2 * 5 * 7 * 3]
    pd.testing.assert_frame_equal(a[CONTRACT_COLUMNS], b[CONTRACT_COLUMNS])


def test_functional_too_big_is_refused_before_running(capsys, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\nlayers:\n  - {name: huge, variant: gemm, m: 1000000, k: 100000, n: 100000}\n")
    code, out, err = run_cli(capsys, "run", path, "--functional")
    assert code == 2 and out == ""
    assert err.startswith(f"{path}: 1 problem\n  layers[0].")     # the file and the layer's key
    assert "layer 'huge' (gemm): a functional run needs about " in err
    assert "without --functional" in err
    assert_clean_error(err)


def test_sizes_that_overflow_the_counters(capsys, tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("name: huge\nlayers:\n  - {variant: gemm, m: 1e10, k: 1e10, n: 1e10}\n")
    code, _, err = run_cli(capsys, "run", path)
    assert code == 2
    assert err.startswith(f"{path}: 1 problem\n  layers[0].")
    assert "its MACs on " in err and "more than 4.612e+18 (2^62" in err
    assert_clean_error(err)


# --- --out ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, check", [
    ("report.csv", lambda text: list(csv_frame(text)["layer"]) == SMOKE_LAYERS),
    ("report.json", lambda text: [r["layer"] for r in json.loads(text)["rows"]] == SMOKE_LAYERS),
    ("report.md", lambda text: text.startswith("# attnsim gemm_smoke\n") and text.count("\n| ") == 3),
    ("report.txt", lambda text: text.startswith("attnsim gemm_smoke\n") and "# workload" in text),
    ("REPORT.CSV", lambda text: text.startswith(",".join(CONTRACT_COLUMNS) + ",")),
    ("report", lambda text: text.startswith("attnsim gemm_smoke\n")),
])
def test_out_infers_format_from_suffix(capsys, tmp_path, name, check):
    out_path = tmp_path / name
    code, out, err = run_cli(capsys, "run", SMOKE, "--out", out_path)
    assert code == 0 and out == ""
    assert err == f"wrote {out_path} (2 rows)\n"
    text = out_path.read_text()
    assert text.endswith("\n") and check(text)
    assert sorted(os.listdir(tmp_path)) == [name], "temporary files left behind"


def test_out_format_flag_wins_over_suffix(capsys, tmp_path):
    out_path = tmp_path / "report.txt"
    assert run_cli(capsys, "run", SMOKE, "--out", out_path, "--format", "csv")[0] == 0
    assert list(csv_frame(out_path.read_text()).columns)[:len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS


def test_out_file_is_complete_and_replaces_an_old_one(capsys, tmp_path):
    out_path = tmp_path / "r.csv"
    out_path.write_text("old contents that are longer than nothing\n" * 100)
    code, _, _ = run_cli(capsys, "run", SMOKE, "--hw", EDGE, "--hw", DEFAULT, "--out", out_path)
    assert code == 0
    _, stdout_csv, _ = run_cli(capsys, "run", SMOKE, "--hw", EDGE, "--hw", DEFAULT, "--format", "csv")
    written = out_path.read_text()
    assert "old contents" not in written
    pd.testing.assert_frame_equal(csv_frame(written)[CONTRACT_COLUMNS], csv_frame(stdout_csv)[CONTRACT_COLUMNS])
    assert len(csv_frame(written)) == 4
    assert os.listdir(tmp_path) == ["r.csv"]


def test_out_creates_missing_folders_and_normal_permissions(capsys, tmp_path):
    out_path = tmp_path / "a" / "b" / "r.json"
    assert run_cli(capsys, "run", SMOKE, "--out", out_path)[0] == 0
    assert json.loads(out_path.read_text())["rows"]
    umask = os.umask(0)
    os.umask(umask)
    assert out_path.stat().st_mode & 0o777 == 0o666 & ~umask     # not mkstemp's 0600
    assert os.listdir(out_path.parent) == ["r.json"]


def test_out_unknown_suffix(capsys, tmp_path):
    code, out, err = run_cli(capsys, "run", SMOKE, "--out", tmp_path / "r.xlsx")
    assert code == 2 and out == ""
    assert err == (f"attnsim: error: --out {tmp_path / 'r.xlsx'}: cannot tell the format from the suffix '.xlsx' "
                   "(known: .csv, .json, .md, .txt, .parquet); pass --format {table,csv,json,md,parquet}\n")
    assert os.listdir(tmp_path) == []


def test_out_is_a_directory(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", SMOKE, "--out", tmp_path)
    assert code == 2
    assert err == (f"attnsim: error: --out {tmp_path}: is a directory; give a file name, "
                   f"e.g. {tmp_path / 'report.csv'}\n")
    assert os.listdir(tmp_path) == []


def test_out_cannot_be_written(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli(capsys, "run", SMOKE, "--out", blocker / "r.csv")
    assert code == 2
    assert err.startswith(f"attnsim: error: cannot write {blocker / 'r.csv'}: ")
    assert_clean_error(err)
    assert os.listdir(tmp_path) == ["file"]


# --- validate -------------------------------------------------------------------------------------
def test_validate_ok(capsys):
    code, out, err = run_cli(capsys, "validate", EDGE, DEFAULT, SMOKE)
    assert code == 0 and err == ""
    assert out.splitlines() == [f"{EDGE}: ok (hardware)", f"{DEFAULT}: ok (hardware)", f"{SMOKE}: ok (workload)"]


def test_validate_every_preset(capsys):
    """Every bundled file (hardware, workloads, sweeps, model configs) validates, each recognised by kind."""
    kinds = {"hw_configs": "hardware", "workloads": "workload", "sweeps": "sweep", "models": "model config"}
    files = [(str(p), kind) for folder, kind in kinds.items()
             for p in sorted((ROOT / folder).glob("*.json" if folder == "models" else "*.yaml"))]
    assert all(any(k == kind for _, k in files) for kind in kinds.values())
    code, out, err = run_cli(capsys, "validate", *(f for f, _ in files))
    assert (code, err) == (0, "")
    assert [line.split(": ok (")[0] for line in out.splitlines()] == [f for f, _ in files]
    assert [line.split(": ok (")[1].split(":")[0].rstrip(")") for line in out.splitlines()] == [k for _, k in files]


def test_validate_reports_a_broken_sweep_file(capsys, tmp_path):
    bad = tmp_path / "bad_sweep.yaml"
    bad.write_text(f"name: s\nbase_hw: {DEFAULT}\nworkloads: [{SMOKE}]\nhw_grid:\n  mac_array.rowz: [8, 16]\n")
    code, out, err = run_cli(capsys, "validate", bad)
    assert code == 2 and out == ""
    assert err.splitlines()[0] == f"{bad}: 1 problem"
    assert err.splitlines()[1] == ("  hw_grid.mac_array.rowz: not a hardware key: mac_array.rowz is unknown "
                                   "(did you mean 'mac_array.rows'?)")


def test_validate_failing_lists_every_problem(capsys, tmp_path):
    bad_hw = tmp_path / "bad_hw.yaml"
    bad_hw.write_text(yaml.safe_dump(with_changes(hw_dict(), {
        "mac_array.dataflow": "os", "mac_array.rows": 0, "memories[1].read_bw_bytes_per_cycle": -1}),
        sort_keys=False))
    bad_wl = tmp_path / "bad_wl.yaml"
    bad_wl.write_text("name: w\nlayers:\n  - {variant: gemm, m: 0, k: 2, n: 3}\n  - {variant: gem}\n")
    code, out, err = run_cli(capsys, "validate", bad_hw, SMOKE, bad_wl)
    assert code == 2
    assert out == f"{SMOKE}: ok (workload)\n"
    assert err.splitlines() == [
        f"{bad_hw}: 3 problems",
        "  mac_array.rows: expected an integer in [1, 16384], got 0",
        "  mac_array.dataflow: expected one of output_stationary, weight_stationary, input_stationary; got 'os'",
        "  memories[1].read_bw_bytes_per_cycle: expected a number in [0.001, 1e+12], got -1",
        f"{bad_wl}: 2 problems",
        "  layers[0].m: expected an integer in [1, 2^40], got 0",
        f"  layers[1].variant: expected one of {', '.join(sorted(REGISTRY))}; got 'gem' (did you mean 'gemm'?)",
    ]


def test_validate_yaml_error_and_missing_file(capsys, tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: a\nlayers: []\nname: b\n")
    missing = tmp_path / "missing.yaml"
    code, out, err = run_cli(capsys, "validate", dup, missing, tmp_path)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == f"{dup}: 1 problem"
    assert lines[1].startswith("  YAML error at line 3, column 1: duplicate key 'name' (first at line 1)")
    assert lines[2:] == [f"{missing}: 1 problem", "  file not found",
                         f"{tmp_path}: 1 problem", "  is a directory, expected a YAML file"]


def test_validate_unknown_kind_of_file(capsys, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("hello: world\n")
    code, _, err = run_cli(capsys, "validate", other)
    assert code == 2
    assert err == (f"{other}: 1 problem\n  cannot tell what this file is: a hardware config has 'mac_array' and "
                   "'memories'; a workload has 'layers' (or 'model'); a sweep has 'base_hw' and 'workloads'; "
                   "a model config.json has 'model_type'\n")


def test_validate_recognises_a_broken_hardware_file(capsys, tmp_path):
    """A hardware file missing mac_array and memories is still judged as hardware."""
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(with_changes(hw_dict(), {"mac_array": DELETE, "memories": DELETE})))
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 2
    assert err.splitlines() == [f"{path}: 2 problems", "  mac_array: missing key", "  memories: missing key"]


# --- bad input to run: exit 2, a clear message, never a traceback ---------------------------------
def test_run_bad_workload(capsys, tmp_path):
    path = tmp_path / "wl.yaml"
    path.write_text("name: w\nlayers:\n  - {variant: gemm, m: 0, k: 2, n: 3, heads: 4}\n")
    code, out, err = run_cli(capsys, "run", path)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{path}: 2 problems",
        "  layers[0].heads: unknown key (allowed keys: variant, name, batch, repeat, m, k, n, mapping)",
        "  layers[0].m: expected an integer in [1, 2^40], got 0",
    ]


def test_run_bad_hardware(capsys, tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(with_changes(hw_dict(), {"memories[0].size_bytes": 100})))
    code, out, err = run_cli(capsys, "run", SMOKE, "--hw", EDGE, "--hw", path)
    assert code == 2 and out == ""
    assert err == (f"{path}: 1 problem\n  memories[0].size_bytes: too small for one 4x4 array tile of each operand "
                   "(A, B and C): needs at least 384 bytes = 3 operands x 4 x 4 elements x 4 B (fp32) x 2 for "
                   "double buffering; got 100\n")


def test_run_missing_hardware_path(capsys, tmp_path):
    code, out, err = run_cli(capsys, "run", SMOKE, "--hw", tmp_path / "nope.yaml")
    assert code == 2 and out == ""
    assert err == f"{tmp_path / 'nope.yaml'}: 1 problem\n  file not found\n"


def test_run_missing_workload(capsys, tmp_path):
    code, out, err = run_cli(capsys, "run", tmp_path / "nope.yaml")
    assert code == 2 and out == ""
    assert err == f"{tmp_path / 'nope.yaml'}: 1 problem\n  file not found\n"


def test_run_arguments_swapped(capsys):
    code, _, err = run_cli(capsys, "run", EDGE, "--hw", SMOKE)
    assert code == 2
    assert err == (f"{EDGE}: 1 problem\n  this looks like a hardware file, but a workload file was expected here "
                   "(usage: attnsim run WORKLOAD.yaml --hw HW.yaml)\n")
    code, _, err = run_cli(capsys, "run", SMOKE, "--hw", SMOKE)
    assert code == 2
    assert err == (f"{SMOKE}: 1 problem\n  this looks like a workload file, but a hardware file was expected here "
                   "(usage: attnsim run WORKLOAD.yaml --hw HW.yaml)\n")


def test_run_default_hardware_missing(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "default_hw_path", lambda: tmp_path / "default.yaml")
    code, _, err = run_cli(capsys, "run", SMOKE)
    assert code == 2
    assert err == (f"{tmp_path / 'default.yaml'}: 1 problem\n  default hardware config not found "
                   "(is this a source checkout?); pass --hw HW.yaml\n")


@pytest.mark.parametrize("args, fragment", [
    (["run", SMOKE, "--bogus"], "attnsim: error: unrecognized arguments: --bogus"),
    ([], "attnsim: error: the following arguments are required: COMMAND"),
    (["frobnicate"], "attnsim: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (["run", SMOKE, "--format", "xml"], "attnsim run: error: argument --format: invalid choice: 'xml'"),
    (["run", SMOKE, "--seed", "abc"], "attnsim run: error: argument --seed: expected an integer from 0 to 2^63-1, "
                                      "got 'abc'"),
    (["run", SMOKE, "--seed", "-1"], "attnsim run: error: argument --seed: expected an integer from 0 to 2^63-1, "
                                     "got '-1'"),
    (["run", SMOKE, "--functional", "--seed", "-1"], "attnsim run: error: argument --seed: expected an integer "
                                                     "from 0 to 2^63-1, got '-1'"),
    (["run", SMOKE, "--seed", str(2 ** 63)], "attnsim run: error: argument --seed: expected an integer from 0 to "
                                             "2^63-1, got '9223372036854775808'"),
    (["validate"], "attnsim validate: error: the following arguments are required: FILE.yaml"),
])
def test_usage_errors(capsys, args, fragment):
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("usage: attnsim")
    assert err.splitlines()[-1].startswith(fragment)     # argparse words the rest differently per version
    assert_clean_error(err)


def test_version_and_help(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.startswith("attnsim 0.")
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0 and "--functional" in out and "--out FILE" in out


# --- real processes -------------------------------------------------------------------------------
def _proc(argv, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_python_dash_m_run(tmp_path):
    res = _proc([sys.executable, "-m", "simulator", "run", SMOKE, "--hw", EDGE, "--format", "csv"], tmp_path)
    assert res.returncode == 0, res.stderr
    frame = csv_frame(res.stdout)
    assert list(frame.columns[:len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert list(frame["layer"]) == SMOKE_LAYERS and set(frame["hw"]) == {"edge_32x32"}
    assert os.listdir(tmp_path) == []


def test_python_dash_m_bad_input_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: w\nlayers:\n  - {variant: gemm, m: yes, k: 2, n: 3}\n")
    res = _proc([sys.executable, "-m", "simulator", "run", str(bad)], tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == (f"{bad}: 1 problem\n  layers[0].m: expected an integer in [1, 2^40], got True (a boolean: YAML "
                          "reads unquoted yes/no/on/off/true/false as booleans)\n")
    res = _proc([sys.executable, "-m", "simulator", "run", SMOKE, "--out", str(tmp_path)], tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith(f"attnsim: error: --out {tmp_path}: is a directory")


def _without_compile_notice(stderr: str) -> str:
    """A process of its own may find a kernel not yet in Numba's disk cache (CI starts cold) and
    say so (simulator/compile_notice.py, tested in test_compile_notice.py)."""
    return "".join(line for line in stderr.splitlines(keepends=True) if not line.startswith("attnsim: compil"))


def test_installed_attnsim_script(tmp_path):
    script = Path(sys.executable).with_name("attnsim")
    if not script.exists():
        pytest.skip("the attnsim console script is not installed next to this Python")
    out_path = tmp_path / "report.json"
    res = _proc([str(script), "run", SMOKE, "--out", str(out_path)], tmp_path)
    assert res.returncode == 0, res.stderr
    assert _without_compile_notice(res.stderr) == f"wrote {out_path} (2 rows)\n"
    assert [r["layer"] for r in json.loads(out_path.read_text())["rows"]] == SMOKE_LAYERS
    assert os.listdir(tmp_path) == ["report.json"]
    res = _proc([str(script), "validate", str(tmp_path / "missing.yaml")], tmp_path)
    assert res.returncode == 2
    assert res.stderr == f"{tmp_path / 'missing.yaml'}: 1 problem\n  file not found\n"


def test_parquet_needs_a_file_and_pyarrow(capsys, tmp_path, monkeypatch):
    code, out, err = run_cli(capsys, "run", SMOKE, "--format", "parquet")
    assert code == 2 and err == "attnsim: error: --format parquet writes a binary file: give --out FILE.parquet\n"
    target = tmp_path / "r.parquet"
    code, out, err = run_cli(capsys, "run", SMOKE, "--out", str(target))     # pyarrow: in the test extra
    assert code == 0 and list(pd.read_parquet(target)["layer"]) == SMOKE_LAYERS
    target.unlink()
    monkeypatch.setitem(sys.modules, "pyarrow", None)                      # as if it were not installed
    code, out, err = run_cli(capsys, "run", SMOKE, "--out", str(target))
    assert code == 2 and "needs the pyarrow package (pip install pyarrow)" in err and not target.exists()
