"""Sweep files: validation messages (by text and key path), grid expansion, layer_grid, paths.

Every file is written into pytest's tmp_path; the base hardware is tests.helpers.hw_dict plus an
`area:` section.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from simulator import cli
from simulator.sweep.evaluate import EvalContext, evaluate_chunk
from simulator.sweep.grid import apply_values, point_hash, split_key
from simulator.sweep.spec import load_sweep
from simulator.errors import ConfigError
from simulator.hardware import Hardware
from tests.helpers import hw_dict

AREA = {"mm2_per_mac": 0.001, "mm2_per_vector_lane": 0.004, "mm2_per_mib": [2.0]}


def base_hw(**kwargs) -> dict:
    return {**hw_dict(**kwargs), "area": AREA}


WORKLOAD = {"name": "wl", "layers": [
    {"name": "attn", "variant": "self_attention", "n": 16, "d": 8},
    {"name": "g", "variant": "gemm", "m": 8, "k": 8, "n": 12},
    {"name": "mha", "variant": "multi_head_attention", "n": 16, "d": 8, "heads": 2}]}


@pytest.fixture
def files(tmp_path):
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(base_hw()))
    (tmp_path / "wl.yaml").write_text(yaml.safe_dump(WORKLOAD, sort_keys=False))
    return tmp_path


def write_sweep(folder: Path, **changes) -> Path:
    sweep = {"name": "t", "base_hw": str(folder / "hw.yaml"), "workloads": [str(folder / "wl.yaml")],
             "hw_grid": {"mac_array.rows": [2, 4], "memories[0].size_bytes": [4096, 65536]}}
    for key, value in changes.items():
        if value is None:
            sweep.pop(key, None)
        else:
            sweep[key] = value
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def problems(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    assert info.value.source == str(path)
    return list(info.value.problems)


def message(path: Path, key: str) -> str:
    found = [m for p, m in problems(path) if p == key]
    assert found, problems(path)
    return found[0]


# --- grid expansion ---------------------------------------------------------------------------
def test_points_follow_the_canonical_product_order(files):
    grid = {"mac_array.rows": [2, 4, 8], "mac_array.dataflow": ["output_stationary", "weight_stationary"],
            "memories[0].size_bytes": [4096, 65536]}
    spec = load_sweep(write_sweep(files, hw_grid=grid))
    assert spec.n_points == 12
    assert spec.hw_keys == tuple(grid)
    expected = list(itertools.product(*grid.values()))           # last key fastest
    assert [spec.point_values(i) for i in range(12)] == expected


def test_point_hash_is_stable():
    base = base_hw()
    a = apply_values(base, [split_key("mac_array.rows")], [8])
    b = apply_values(base, [split_key("mac_array.rows")], [8])
    assert point_hash(a) == point_hash(b) and len(point_hash(a)) == 12
    assert point_hash(a) != point_hash(apply_values(base, [split_key("mac_array.rows")], [16]))


def test_apply_values_copies_only_what_it_changes():
    base = base_hw()
    out = apply_values(base, [split_key("memories[0].size_bytes"), split_key("mac_array.rows")], [123, 7])
    assert out["memories"][0]["size_bytes"] == 123 and out["mac_array"]["rows"] == 7
    assert base["memories"][0]["size_bytes"] == 1 << 20 and base["mac_array"]["rows"] == 4   # untouched
    assert out["vector_unit"] is base["vector_unit"]


def test_invalid_points_are_reported_with_keys_and_reasons(files):
    # 8 x 8 fp32 double-buffered needs 3 * 64 * 4 * 2 = 1536 bytes: 1024 is too small for it only
    grid = {"mac_array.rows": [2, 8], "mac_array.cols": [8], "memories[0].size_bytes": [1024, 65536]}
    spec = load_sweep(write_sweep(files, hw_grid=grid))
    chunk = evaluate_chunk(EvalContext.from_spec(spec), 0, spec.n_points)
    assert [p[0] for p in chunk.points] == [0, 1, 3]
    [(pid, digest, case, why)] = chunk.invalid
    assert (pid, case) == (2, None) and len(digest) == 12
    assert why[0][0] == "memories[0].size_bytes"
    assert "too small for one 8x8 array tile" in why[0][1] and "got 1024" in why[0][1]


def test_every_generated_point_is_validated_like_a_file(files):
    spec = load_sweep(write_sweep(files, hw_grid={"mac_array.rows": [4, 0], "clock_hz": [1.0e9, -1]}))
    chunk = evaluate_chunk(EvalContext.from_spec(spec), 0, spec.n_points)
    reasons = {pid: why for pid, _, _, why in chunk.invalid}
    assert sorted(reasons) == [1, 2, 3]
    assert reasons[1] == [["clock_hz", "expected a number in [1, 1e+12], got -1"]]
    assert reasons[2] == [["mac_array.rows", "expected an integer in [1, 16384], got 0"]]
    assert len(reasons[3]) == 2


# --- dotted keys --------------------------------------------------------------------------------
def test_unknown_hardware_key_suggests_the_right_one(files):
    msg = message(write_sweep(files, hw_grid={"mac_array.row": [4]}), "hw_grid.mac_array.row")
    assert msg == "not a hardware key: mac_array.row is unknown (did you mean 'mac_array.rows'?)"
    msg = message(write_sweep(files, hw_grid={"memories[0].sise_bytes": [4]}), "hw_grid.memories[0].sise_bytes")
    assert "did you mean 'memories[0].size_bytes'?" in msg
    msg = message(write_sweep(files, hw_grid={"mac_aray.rows": [4]}), "hw_grid.mac_aray.rows")
    assert "did you mean 'mac_array.rows'?" in msg


def test_key_the_schema_allows_but_the_base_omits_is_accepted(files):
    base = base_hw()
    del base["mac_array"]["fold_overlap"]
    del base["memories"][0]["double_buffered"]
    (files / "hw.yaml").write_text(yaml.safe_dump(base))
    spec = load_sweep(write_sweep(files, hw_grid={"mac_array.fold_overlap": ["serial", "pipelined"],
                                                  "memories[0].double_buffered": [True, False]}))
    assert spec.n_points == 4
    chunk = evaluate_chunk(EvalContext.from_spec(spec), 0, 4)
    assert not chunk.invalid and len(chunk.points) == 4


def test_index_into_a_list_the_base_omits(files):
    (files / "hw.yaml").write_text(yaml.safe_dump(hw_dict()))            # no area section
    msg = message(write_sweep(files, hw_grid={"area.mm2_per_mib[0]": [1.0]}, objectives=["cycles"]),
                  "hw_grid.area.mm2_per_mib[0]")
    assert msg == ("area is not in the base hardware, so an index into it addresses nothing; "
                   "add it to the base hardware file")


def test_area_prices_can_be_swept(files):
    spec = load_sweep(write_sweep(files, hw_grid={"area.mm2_per_mac": [0.001, 0.002],
                                                  "area.mm2_per_mib[0]": [2.0, 4.0]}))
    chunk = evaluate_chunk(EvalContext.from_spec(spec), 0, 4)
    areas = [p[2] for p in chunk.points]
    macs, lanes, mib = 16, 4, 1.0
    assert areas == pytest.approx([macs * m + lanes * 0.004 + mib * s
                                   for m, s in itertools.product([0.001, 0.002], [2.0, 4.0])])


@pytest.mark.parametrize("key, expected", [
    ("memories[5].size_bytes", "index 5 is out of range: memories has 2 entries in the base hardware"),
    ("mac_array", "addresses a whole mapping; sweep its keys instead (mac_array.cols, mac_array.dataflow, "),
    ("memories[0]", "addresses a whole mapping; sweep its keys instead (memories[0].double_buffered, "),
    ("memories", "addresses a whole list; sweep its keys instead (memories[0]...)"),
    ("clock_hz.x", "clock_hz is not a mapping in the base hardware, so .x addresses nothing"),
    ("mac_array[0]", "mac_array is not a list in the base hardware, so [0] addresses nothing"),
    ("foo.bar", "not a hardware key: foo is unknown (allowed keys: name, clock_hz, number_format, "),
    ("vector_unit.cycles_per_op.exq", "not a hardware key: vector_unit.cycles_per_op.exq is unknown "
                                      "(did you mean 'vector_unit.cycles_per_op.exp'?)"),
])
def test_keys_that_address_nothing_sweepable(files, key, expected):
    assert message(write_sweep(files, hw_grid={key: [1]}), f"hw_grid.{key}").startswith(expected)


def test_grid_value_problems(files):
    path = write_sweep(files, hw_grid={"mac_array.rows": [], "mac_array.cols": 4, "clock_hz": [1, 1],
                                       "bad key!": [1], "mac_array.dataflow": [{"a": 1}]})
    found = dict(problems(path))
    assert found["hw_grid.mac_array.rows"] == "expected a non-empty list of values, got a list"
    assert found["hw_grid.mac_array.cols"] == "expected a non-empty list of values, got 4"
    assert found["hw_grid.clock_hz"] == "lists 1 more than once (each value makes its own points)"
    assert found["hw_grid.bad key!"] == "expected a dotted key such as mac_array.rows or memories[0].size_bytes"
    assert found["hw_grid.mac_array.dataflow"].startswith("expected numbers, strings or booleans")


def test_overlapping_keys(files):
    path = write_sweep(files, hw_grid={"area.mm2_per_mib": [[1.0]], "area.mm2_per_mib[0]": [2.0]})
    assert message(path, "hw_grid.area.mm2_per_mib[0]") == "overlaps hw_grid.area.mm2_per_mib (one sets part of the other)"


def test_dataflow_lists_are_values(files):
    spec = load_sweep(write_sweep(files, hw_grid={"mac_array.dataflow": [
        "weight_stationary", ["output_stationary", "weight_stationary"]]}))
    chunk = evaluate_chunk(EvalContext.from_spec(spec), 0, 2)
    assert not chunk.invalid
    dataflows = {row[0]: row[5] for row in chunk.rows}
    assert dataflows == {0: "weight_stationary", 1: "output_stationary|weight_stationary"}


# --- layer_grid ---------------------------------------------------------------------------------
def test_layer_grid_applies_to_every_layer_with_the_parameter(files):
    spec = load_sweep(write_sweep(files, layer_grid={"n": [16, 32]}))
    assert [c.values for c in spec.cases] == [(("n", 16),), (("n", 32),)]
    w = spec.cases[1].workload
    assert [layer.params.n for layer in w.layers] == [32, 32, 32]     # attention n and the GEMM's n
    assert w.sha256 == spec.workloads[0].sha256                       # provenance: the file's hash


def test_layer_grid_key_scoped_to_a_layer(files):
    spec = load_sweep(write_sweep(files, layer_grid={"attn.n": [32], "batch": [1, 2]}))
    assert len(spec.cases) == 2
    w = spec.cases[1].workload
    assert [layer.params.n for layer in w.layers] == [32, 12, 16]
    assert [layer.batch for layer in w.layers] == [2, 2, 2]


def test_layer_grid_key_no_layer_has(files):
    msg = message(write_sweep(files, layer_grid={"window": [3]}), "layer_grid.window")
    assert msg.startswith("no layer of the workloads has a parameter 'window' (parameters: batch, causal, d, ")
    msg = message(write_sweep(files, layer_grid={"heads_": [3]}), "layer_grid.heads_")
    assert msg == "no layer of the workloads has a parameter 'heads_' (did you mean 'heads'?)"
    msg = message(write_sweep(files, layer_grid={"atn.n": [3]}), "layer_grid.atn.n")
    assert msg == "no layer is named 'atn' (did you mean 'attn.n'?)"
    msg = message(write_sweep(files, layer_grid={"g.heads": [3]}), "layer_grid.g.heads")
    assert msg.startswith("no layer 'g' has a parameter 'heads'")


def test_invalid_layer_grid_combinations_are_kept_with_reasons(files):
    spec = load_sweep(write_sweep(files, layer_grid={"heads": [2, 3]}))     # 3 does not divide d = 8
    ok, bad = spec.cases
    assert ok.workload is not None and bad.workload is None
    assert any("heads" in p for p, _ in bad.problems)
    assert spec.valid_cases == (ok,)


# --- top level ----------------------------------------------------------------------------------
def test_top_level_problems_all_at_once(files):
    path = write_sweep(files, name="a b", mapper="serch", mapper_objective="energie", extra=1, workloads=[])
    found = dict(problems(path))
    assert found["name"].startswith("expected letters, digits")
    assert found["mapper"] == "expected one of heuristic, search; got 'serch' (did you mean 'search'?)"
    assert found["mapper_objective"] == "expected one of cycles, energy, edp; got 'energie' (did you mean 'energy'?)"
    assert found["extra"].startswith("unknown key")
    assert found["workloads"] == "expected a non-empty list of workload files, got an empty list"


def test_mapper_objective_only_with_the_search_mapper(files):
    msg = message(write_sweep(files, mapper_objective="energy"), "mapper_objective")
    assert msg == "applies only with mapper: search (the heuristic mapper has no objective)"
    spec = load_sweep(write_sweep(files, mapper="search", mapper_objective="edp"))
    assert (spec.mapper, spec.mapper_objective) == ("search", "edp")


def test_missing_keys(files):
    path = files / "sweep.yaml"
    path.write_text("hw_grid: {}\n")
    found = dict(problems(path))
    assert found == {"name": "missing key", "base_hw": "missing key", "workloads": "missing key"}


def test_objectives_are_validated(files):
    found = dict(problems(write_sweep(files, objectives=["cycle", "utilization", "cycles", "cycles"])))
    assert found["objectives[0]"].endswith("got 'cycle' (did you mean 'cycles'?)")
    assert found["objectives[1]"].startswith("utilization cannot be an objective: it is a ratio")
    assert found["objectives[3]"] == "lists cycles twice"
    spec = load_sweep(write_sweep(files, objectives=["energy_dram_pj", "dram_read_bytes", "seconds"]))
    assert spec.objectives == ("energy_dram_pj", "dram_read_bytes", "seconds")
    assert spec.energy_columns == ("energy_mac_pj", "energy_vector_pj", "energy_l0_pj", "energy_dram_pj")


def test_area_objective_needs_an_area_section(files):
    (files / "hw.yaml").write_text(yaml.safe_dump(hw_dict()))
    msg = message(write_sweep(files), "objectives")
    assert msg.startswith("area_mm2 needs an `area:` section in the base hardware file")
    assert load_sweep(write_sweep(files, objectives=["cycles", "energy_pj"])).objectives == ("cycles", "energy_pj")


def test_paths_resolve_from_the_current_folder_then_the_sweep_folder(files, tmp_path, monkeypatch):
    sub = tmp_path / "sweeps"
    sub.mkdir()
    (sub / "hw2.yaml").write_text(yaml.safe_dump(base_hw()))
    path = sub / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base_hw": "hw2.yaml", "workloads": ["wl.yaml"]}))
    monkeypatch.chdir(tmp_path)                   # wl.yaml is found here, hw2.yaml next to the sweep file
    spec = load_sweep("sweeps/s.yaml")
    assert Path(spec.base_hw_path) == Path("sweeps/hw2.yaml") and spec.workload_paths == ("wl.yaml",)
    assert spec.n_points == 1                     # no hw_grid: the base hardware is the one point
    path.write_text(yaml.safe_dump({"name": "s", "base_hw": "nope.yaml", "workloads": ["wl.yaml"]}))
    assert message(Path("sweeps/s.yaml"), "base_hw") == (
        "file not found: 'nope.yaml' (tried nope.yaml, sweeps/nope.yaml; relative paths are looked up from "
        "the current folder, then from the sweep file's folder)")


def test_referenced_files_report_their_own_problems(files):
    bad = base_hw()
    bad["mac_array"]["dataflow"] = "os"
    (files / "hw.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError) as info:
        load_sweep(write_sweep(files))
    assert info.value.source == str(files / "hw.yaml")
    assert info.value.problems[0][0] == "mac_array.dataflow"
    path = write_sweep(files, base_hw=str(files / "wl.yaml"))
    with pytest.raises(ConfigError, match="looks like a workload file, but base_hw names a hardware file"):
        load_sweep(path)


def test_duplicate_workloads(files):
    path = write_sweep(files, workloads=[str(files / "wl.yaml"), str(files / "wl.yaml")])
    assert message(path, "workloads[1]").startswith("lists ")


def test_cli_reports_sweep_file_errors_with_exit_2(files, capsys):
    path = write_sweep(files, hw_grid={"mac_array.row": [4]}, mapper="serch")
    assert cli.main(["sweep", str(path), "--out", str(files / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: 2 problems\n")
    assert "  hw_grid.mac_array.row: not a hardware key" in err and "Traceback" not in err
    assert not (files / "out").exists()


@pytest.mark.parametrize("args, expected", [
    (["--jobs", "0"], "attnsim sweep: error: argument --jobs: expected an integer from 1 to 4,096, got '0'"),
    (["--jobs", "-3"], "attnsim sweep: error: argument --jobs: expected an integer from 1 to 4,096, got '-3'"),
    (["--chunk-size", "0"], "attnsim sweep: error: argument --chunk-size: expected an integer from 1 to "
                            "1,000,000, got '0'"),
    (["--max-points", "x"], "attnsim sweep: error: argument --max-points: expected an integer from 1 to "
                            "10,000,000, got 'x'"),
    (["--scheduler", "tcp://x:1"], "attnsim: error: --scheduler is the address of a Dask scheduler: add "
                                   "--executor dask"),
])
def test_cli_option_errors(files, capsys, args, expected):
    assert cli.main(["sweep", str(write_sweep(files)), *args]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"{expected}\n") and "Traceback" not in err


def test_base_hardware_dict_is_the_validated_one(files):
    spec = load_sweep(write_sweep(files))
    assert Hardware.from_dict(spec.base_data).mac_array.rows == 4
