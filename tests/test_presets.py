"""Every bundled preset runs every command: the main job (`attnsim table`'s code path at small sizes),
`attnsim run` of every bundled workload, `attnsim sweep`; the heads study scales the buffer with
the array or says what it skipped and why; `sweep --quiet` prints nothing."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import cli, load_hardware
from simulator.table import extensions
from simulator.table.report import make_table1, summary_text
from simulator.table.settings import TableSettings

from .test_schedule import ALL_VARIANTS

ROOT = Path(__file__).resolve().parent.parent
PRESETS = sorted((ROOT / "hw_configs").glob("*.yaml"))
WORKLOADS = sorted((ROOT / "workloads").glob("*.yaml"))
FILES = ("table1.csv", "table1.md", "crossover.csv", "heads.csv", "memory.csv", "roofline.csv", "generation.csv",
         "generation_sweep.csv", "complexity.png", "crossover.png", "heads.png", "memory.png", "roofline.png",
         "generation_cycles.png", "generation_bytes.png")


def test_the_main_job_in_two_processes_writes_what_one_process_writes(tmp_path, monkeypatch):
    """make_table1 measures the crossover and memory sweeps in a forked process when it can:
    the files (CSV, Markdown, PNG bytes) and frames are those of a run in one process."""
    from simulator.table import report

    hw = load_hardware(PRESETS[0])
    settings = TableSettings.small()
    assert report._can_fork()                 # Linux, 2 cores or more: the test machines
    forked = make_table1(hw, tmp_path / "forked", settings)
    monkeypatch.setattr(report, "_can_fork", lambda: False)
    alone = make_table1(hw, tmp_path / "alone", settings)
    assert list(forked) == list(alone) == list(report.FRAME_ORDER)
    for name in forked:
        pd.testing.assert_frame_equal(forked[name], alone[name])
    files = sorted(p.name for p in (tmp_path / "alone").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "forked").iterdir()) and len(files) == len(FILES)
    for name in files:
        assert (tmp_path / "forked" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes(), name


def test_a_failing_second_process_leaves_the_work_to_this_one(tmp_path, monkeypatch):
    from simulator.table import report

    class Broken:
        def result(self):
            raise RuntimeError("the worker died")

    monkeypatch.setattr(report._SidePart, "__enter__", lambda self: setattr(self, "future", Broken()) or self)
    frames = make_table1(load_hardware(PRESETS[0]), tmp_path, TableSettings.small())
    assert list(frames) == list(report.FRAME_ORDER) and len(list(tmp_path.iterdir())) == len(FILES)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_the_main_job_runs_on_every_preset(preset, tmp_path):
    """make_table1 is what `attnsim table --hw PRESET` runs; here at TableSettings.small()."""
    hw = load_hardware(preset)
    settings = TableSettings.small()
    frames = make_table1(hw, tmp_path, settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    assert "Generation (per new token" in summary_text(frames, settings)
    roof = frames["roofline"]
    assert (roof["attained_macs_per_cycle"] <= roof["roof_macs_per_cycle"] * (1 + 1e-12)).all()
    assert (roof["serial_attained_macs_per_cycle"] <= roof["roof_macs_per_cycle"] * (1 + 1e-12)).all()
    memory = frames["memory"]
    for col in ("unfused_dram_bytes", "fused_dram_bytes", "unfused_serial_dram_bytes"):
        assert (memory[col] >= memory["compulsory_bytes"]).all(), col
    heads = frames["heads"]
    assert len(heads) == 2 * len(settings.heads_arrays)
    measured = heads["cycles"].notna()
    assert measured.any()
    assert heads.loc[~measured, "note"].str.startswith("skipped: ").all()
    text = (tmp_path / "table1.md").read_text()
    assert f"width d = {settings.memory_d}" in text and "One attention head" in text
    assert "flash_bound" not in text


def test_the_heads_study_scales_a_buffer_too_small_for_the_array():
    """eyeriss_like's 108 KiB cannot hold a double-buffered 128 x 128 fp16 tile of each operand
    (196,608 bytes): its on-chip level keeps its bytes per PE instead (x ceil(128^2 / 168) = x98)."""
    hw = load_hardware(ROOT / "hw_configs" / "eyeriss_like.yaml")
    frame = extensions.heads_question(hw, (32, 128), 64, 96)
    small, wide = frame[frame["array"] == "32x32"], frame[frame["array"] == "128x128"]
    assert (small["buffer_bytes"] == 110592).all() and (small["note"] == "").all()
    assert (wide["buffer_bytes"] == 110592 * 98).all()
    assert wide["note"].str.contains("scaled x98").all() and wide["cycles"].notna().all()
    assert (frame.groupby("array")["macs"].nunique() == 1).all()


def test_the_heads_study_says_what_it_skipped_and_why(monkeypatch):
    from simulator.errors import MappingError

    hw = load_hardware(ROOT / "hw_configs" / "default.yaml")
    real = extensions._run

    def refuse_wide(layers, config):
        if config.mac_array.rows == 32:
            raise MappingError("no mapping fits (made up by the test)")
        return real(layers, config)

    monkeypatch.setattr(extensions, "_run", refuse_wide)
    frame = extensions.heads_question(hw, (16, 32), 32, 96)
    skipped = frame[frame["array"] == "32x32"]
    assert skipped["cycles"].isna().all()
    assert (skipped["note"] == "skipped: no mapping fits (made up by the test)").all()
    assert frame[frame["array"] == "16x16"]["cycles"].notna().all()


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda p: p.stem)
def test_attnsim_run_of_every_bundled_workload_on_every_preset(workload, tmp_path):
    """The CLI end to end (the golden tests cover the overlapped counts of every pair; the serial
    schedule keeps this fast): one row per layer and preset, model workloads with their summary rows."""
    out = tmp_path / "r.csv"
    args = ["run", str(workload), "--schedule", "serial", "--out", str(out)]
    for preset in PRESETS:
        args += ["--hw", str(preset)]
    assert cli.main(args) == 0
    frame = pd.read_csv(out)
    assert set(frame["hw"]) == {load_hardware(p).name for p in PRESETS}
    assert (frame["cycles"] > 0).all() and (frame["macs"] >= 0).all()


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_attnsim_sweep_on_every_preset(preset, tmp_path, capsys):
    """Each preset as a sweep's base: its own buffer and twice it, and a smaller array."""
    hw = load_hardware(preset)
    size = hw.memories[0].size_bytes
    sweep = {"name": f"on_{preset.stem}", "base_hw": str(preset),
             "workloads": [str(ROOT / "workloads/gemm_smoke.yaml")],
             "hw_grid": {"memories[0].size_bytes": [size, 2 * size],
                         "mac_array.rows": sorted({hw.mac_array.rows, max(1, hw.mac_array.rows // 2)})},
             "objectives": ["cycles", "energy_pj"]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sweep))
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "out"), "--jobs", "1", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(results) == 4 * 2                                   # 4 design points x gemm_smoke's 2 layers


def test_sweep_quiet_prints_nothing_even_with_invalid_points(tmp_path, capsys):
    quick = ROOT / "sweeps" / "quick.yaml"                    # one of its 27 points is invalid
    assert cli.main(["sweep", str(quick), "--out", str(tmp_path), "--jobs", "1", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    assert len(pd.read_csv(tmp_path / "invalid.csv")) == 1      # still listed in the file


# --- the overlapped schedule's budget ----------------------------------------------------------------
def test_every_bundled_pair_stays_under_the_overlapped_schedules_budget():
    """So every bundled workload on every preset is scheduled overlapped (its golden numbers)."""
    from simulator import load_workload
    from simulator.schedule.oplog import step_rows
    from simulator.simulate import OVERLAP_STEP_BUDGET, layer_graph

    for hw in (load_hardware(p) for p in PRESETS):
        for workload in WORKLOADS:
            for spec in load_workload(workload).layers:
                if spec.variant != "local_attention":         # data-dependent windows: counted at run time
                    assert step_rows(layer_graph(spec), hw) <= OVERLAP_STEP_BUDGET, (workload.stem, spec.name)


def test_a_layer_over_the_budget_runs_serially_and_says_so(monkeypatch):
    import importlib

    from simulator import load_workload, simulate, to_frame

    simulate_module = importlib.import_module("simulator.simulate")      # the module, not the function

    from .helpers import make_hw

    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 12)
    wl = load_workload({"name": "b", "layers": [{"name": "lstm", "variant": "recurrent", "n": 6, "d": 8,
                                                 "cell": "lstm"},
                                                {"name": "g", "variant": "gemm", "m": 40, "k": 40, "n": 40}]})
    (lstm, gemm) = simulate(wl, hw)
    assert lstm.schedule.mode == "overlapped" and not lstm.schedule.fell_back
    monkeypatch.setattr(simulate_module, "OVERLAP_STEP_BUDGET", 20)
    (lstm_b, gemm_b) = simulate(wl, make_hw(rows=4, cols=4, sram_bytes=1 << 12))
    (serial, _) = simulate(wl, make_hw(rows=4, cols=4, sram_bytes=1 << 12), schedule="serial")
    assert lstm_b.schedule.mode == "serial" and lstm_b.schedule.fell_back and lstm_b.cycles == serial.cycles
    used = to_frame([lstm_b, gemm_b]).set_index("layer")["schedule"]
    assert used["lstm"].startswith("serial (") and "over the overlapped schedule's budget of 20" in used["lstm"]
    assert used["g"] == "overlapped" and gemm_b.cycles == gemm.cycles       # one GEMM: nothing to overlap


@settings(max_examples=40, deadline=None)
@given(ALL_VARIANTS, st.integers(0, 4))
def test_the_step_count_bounds_the_kernels_logs(layer, which):
    """step_rows (the budget's measure) is at least the step-log rows the kernels write."""
    from simulator import load_workload
    from simulator.schedule.oplog import run_logged, step_rows
    from simulator.simulate import layer_graph

    hw = load_hardware(PRESETS[which])
    graph = layer_graph(load_workload({"name": "w", "layers": [dict(layer, name="l")]}).layers[0])
    _, logs = run_logged(graph, hw)
    assert sum(len(log.rows) for log in logs) <= step_rows(graph, hw)
