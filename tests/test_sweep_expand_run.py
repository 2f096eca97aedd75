"""Sweeps with zip, tied and derived keys and constraints, end to end: rows equal a direct simulation
of the derived hardware, filtered.csv, resume and Dask equal to the local run, and the resumable
store keyed on the new sections. The sweep is the issue's square-array example (sweeps/square_arrays.yaml),
with a zip group added."""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from simulator import load_workload, simulate, to_frame
from simulator.errors import AttnsimError
from simulator.hardware import Hardware
from simulator.sweep.evaluate import EvalContext, evaluate_chunk
from simulator.sweep.grid import apply_values
from simulator.sweep.run import run_sweep
from simulator.sweep.spec import load_sweep
from simulator.sweep.store import PartialStore
from tests import test_sweep_dask as dask_test

ROOT = Path(__file__).resolve().parent.parent
SQUARE = ROOT / "sweeps" / "square_arrays.yaml"
_STAMP = re.compile(r",\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", re.M)


def sweep_file(folder: Path, **changes) -> Path:
    sweep = yaml.safe_load(SQUARE.read_text())
    sweep.update(base_hw=str(ROOT / sweep["base_hw"]), workloads=[str(ROOT / w) for w in sweep["workloads"]])
    sweep["hw_grid"] = {"mac_array.rows": [16, 32, 128], "mac_array.dataflow": ["weight_stationary"],
                        "memories[0].size_bytes": [131072, 2097152]}
    sweep["zip"] = [{"memories[1].read_bw_bytes_per_cycle": [32, 64], "memories[1].write_bw_bytes_per_cycle": [16, 64]}]
    sweep.update(changes)
    path = folder / "square.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def same_files(a: Path, b: Path) -> None:
    dask_test.same_files(a, b)          # the four CSVs every sweep writes, and the figures
    assert _STAMP.sub("", (a / "filtered.csv").read_text()) == _STAMP.sub("", (b / "filtered.csv").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("square")
    path = sweep_file(folder)
    outcome = run_sweep(load_sweep(path), folder / "out", jobs=1, warn=lambda m: None)
    return path, folder / "out", outcome


def test_the_bundled_example_loads_with_its_expansion():
    spec = load_sweep(SQUARE)
    assert (spec.n_points, spec.expansion.combinations, spec.expansion.tied_away) == (30, 150, 120)
    assert spec.hw_keys[3:] == ("mac_array.cols", "vector_unit.lanes", "memories[0].read_bw_bytes_per_cycle")


def test_rows_equal_a_direct_simulation_of_the_derived_hardware(reference):
    path, out, outcome = reference
    spec = load_sweep(path)
    frame = pd.read_csv(out / "results.csv")
    # 3 rows x 2 sizes x 2 zip rows = 12 points; rows 128: 49 mm2 of MACs > 40 (filtered after validation)
    # or invalid with 128 KiB (3 x 128 x 128 x 2 B x 2 > 131072)
    assert sorted(frame["point_id"]) == [0, 1, 2, 3, 4, 5, 6, 7]
    wl = load_workload(ROOT / "workloads" / "bert_projection.yaml")
    for pid in (0, 7):
        row = frame[frame["point_id"] == pid].iloc[0]
        values = dict(zip(spec.hw_keys, spec.point_values(pid)))
        assert values["mac_array.cols"] == values["mac_array.rows"] == row["mac_array.cols"]
        assert row["vector_unit.lanes"] == values["mac_array.rows"]
        assert row["memories[0].read_bw_bytes_per_cycle"] == 2 * values["mac_array.rows"]
        hw = Hardware.from_dict(apply_values(spec.base_data, spec.hw_parts, spec.point_values(pid)), source="x")
        assert hw.mac_array.cols == hw.vector_unit.lanes == values["mac_array.rows"]
        direct = to_frame(simulate(wl, hw)).iloc[0]
        for col in ("cycles", "macs", "dram_read_bytes", "sram_read_bytes", "energy_pj"):
            assert row[col] == pytest.approx(direct[col], rel=1e-12), col
        assert row["area_mm2"] == pytest.approx(hw.area_mm2)


def test_filtered_and_invalid_points_are_reported_apart(reference):
    _, out, outcome = reference
    filtered = pd.read_csv(out / "filtered.csv")
    assert list(filtered.columns[:3]) == ["point_id", "constraint", "expression"]
    assert list(filtered["point_id"]) == [10, 11] and set(filtered["constraint"]) == {"constraints[0]"}
    assert set(filtered["expression"]) == {"area_mm2 <= 40"}
    assert (filtered["mac_array.cols"] == 128).all() and (filtered["vector_unit.lanes"] == 128).all()
    invalid = pd.read_csv(out / "invalid.csv")
    assert list(invalid["point_id"]) == [8, 9] and set(invalid["kind"]) == {"hardware"}
    assert invalid["what"].iloc[0].startswith("point 8 (mac_array.rows=128, mac_array.dataflow=weight_stationary, "
                                              "memories[0].size_bytes=131072, memories[1].read_bw_bytes_per_cycle=32, ")
    influence = pd.read_csv(out / "influence.csv")
    knobs = dict(zip(influence["knob"], influence["tied"].fillna("")))
    assert knobs == {"mac_array.rows": "mac_array.cols", "memories[0].size_bytes": "",
                     "(memories[1].read_bw_bytes_per_cycle, memories[1].write_bw_bytes_per_cycle)": ""}


def test_resume_equals_an_uninterrupted_run(reference, tmp_path):
    path, out, _ = reference
    spec = load_sweep(path)
    store = PartialStore(tmp_path / "out", spec.fingerprint_parts())
    assert store.load() == []
    ctx = EvalContext.from_spec(spec)
    for start, stop in ((0, 3), (8, 11)):               # as if killed: some chunks saved, out of order
        store.save(evaluate_chunk(ctx, start, stop))
    outcome = run_sweep(load_sweep(path), tmp_path / "out", jobs=1, warn=lambda m: None)
    assert outcome.evaluated == 12 - 6
    same_files(tmp_path / "out", out)


def test_the_partial_state_is_keyed_on_every_new_section(tmp_path):
    path = sweep_file(tmp_path)
    spec = load_sweep(path)
    PartialStore(tmp_path / "out", spec.fingerprint_parts()).load()
    changes = {"tied": {"mac_array.cols": "mac_array.rows",
                        "memories[0].write_bw_bytes_per_cycle": "memories[1].write_bw_bytes_per_cycle"},
               "derived": {"memories[0].read_bw_bytes_per_cycle": "4 * mac_array.cols"},
               "constraints": ["area_mm2 <= 41"],
               "zip": [{"memories[1].read_bw_bytes_per_cycle": [32, 64],
                        "memories[1].write_bw_bytes_per_cycle": [16, 32]}]}
    for section, value in changes.items():
        with pytest.raises(AttnsimError, match=rf"changed since: {section}\)"):
            run_sweep(load_sweep(sweep_file(tmp_path, **{section: value})), tmp_path / "out", jobs=1)
    # spacing and redundant parentheses do not change an expression: the partial state is resumed
    respaced = {"vector_unit.lanes": "(mac_array.cols)", "memories[0].read_bw_bytes_per_cycle": "2*mac_array.cols"}
    outcome = run_sweep(load_sweep(sweep_file(tmp_path, derived=respaced)), tmp_path / "out", jobs=1,
                        warn=lambda m: None)
    assert outcome.evaluated == 12


def test_the_evaluation_context_pickles(reference):
    """Pool workers started fresh (forkserver, spawn) and Dask receive the context pickled: the
    expansion's compiled expressions are rebuilt there."""
    path, _, _ = reference
    ctx = EvalContext.from_spec(load_sweep(path))
    here = evaluate_chunk(ctx, 0, 12)
    there = evaluate_chunk(pickle.loads(pickle.dumps(ctx)), 0, 12)
    assert here.to_dict() == there.to_dict() and here.filtered == [[10, 0], [11, 0]]


def test_dask_equals_local(reference, tmp_path):
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed")
    path, out, _ = reference
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c:
        outcome = run_sweep(load_sweep(path), tmp_path / "dask", executor="dask", scheduler=c.scheduler_address,
                            chunk_size=3, warn=lambda m: None)
    assert outcome.evaluated == 12
    same_files(tmp_path / "dask", out)
