"""Sweeps that cannot wedge: a full disk, damaged saved state, a point that raises, and memory that
does not grow with the number of points."""
from __future__ import annotations

import errno
import gc
import re
import sys
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
import yaml

from simulator.sweep import run as run_module
from simulator.sweep.run import run_sweep
from simulator.sweep.spec import load_sweep
from tests.fuzzing import DEFAULT_HW, SMOKE, run

ROOT = Path(__file__).resolve().parent.parent


def sweep_file(folder: Path, rows=(8, 16, 32, 64), cols=(8, 16, 32)) -> Path:
    path = folder / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base_hw": str(DEFAULT_HW), "workloads": [str(SMOKE)],
                                    "hw_grid": {"mac_array.rows": list(rows), "mac_array.cols": list(cols)}}))
    return path


def without_stamp(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).drop(columns=["generated", "sweep_file"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    code, _, err = run(["sweep", sweep_file(folder), "--out", folder / "out", "--jobs", "1", "--quiet",
                        "--chunk-size", "2"])
    assert code == 0, err
    return folder / "out"


def test_a_full_disk_stops_the_sweep_cleanly_and_it_resumes(tmp_path, monkeypatch, uninterrupted):
    from simulator.sweep import store as store_module

    real = store_module.write_atomic
    saves = []

    def full_disk(path, data, **kwargs):
        if Path(path).name.startswith("chunk-") and len(saves) >= 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        saves.append(path)
        return real(path, data, **kwargs)

    monkeypatch.setattr(store_module, "write_atomic", full_disk)
    sweep, out = sweep_file(tmp_path), tmp_path / "out"
    code, _, err = run(["sweep", sweep, "--out", out, "--jobs", "1", "--quiet", "--chunk-size", "2"])
    assert code == 2 and "Traceback" not in err
    assert re.fullmatch(f"attnsim: error: cannot save finished design points in {re.escape(str(out / '.partial'))}: "
                        f"No space left on device; [0-9] of 12 design points are saved there; fix that \\(free some "
                        f"space, or make the folder writable\\) and run the same command again to resume, or remove "
                        f"{re.escape(str(out / '.partial'))} to start over\n", err), err
    monkeypatch.setattr(store_module, "write_atomic", real)
    code, _, err = run(["sweep", sweep, "--out", out, "--jobs", "1", "--quiet", "--chunk-size", "2"])
    assert code == 0, err
    pd.testing.assert_frame_equal(without_stamp(out / "results.csv"), without_stamp(uninterrupted / "results.csv"))
    assert not (out / ".partial").exists()


def test_a_report_that_cannot_be_written_keeps_every_point(tmp_path, monkeypatch, uninterrupted):
    from simulator.sweep import report as report_module

    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report_module, "_write_frame", refuse)
    sweep, out = sweep_file(tmp_path), tmp_path / "out"
    code, _, err = run(["sweep", sweep, "--out", out, "--jobs", "1", "--quiet"])
    assert code == 2 and f"cannot write the report into {out}: No space left on device" in err
    assert "(nothing is evaluated again)" in err and (out / ".partial").is_dir()
    assert not list(out.glob(".*.tmp"))                          # no half-written report files
    monkeypatch.undo()
    calls = []
    monkeypatch.setattr(run_module, "evaluate_chunk", lambda *a: calls.append(a))
    code, _, err = run(["sweep", sweep, "--out", out, "--jobs", "1", "--quiet"])
    assert code == 0 and calls == [], err
    pd.testing.assert_frame_equal(without_stamp(out / "results.csv"), without_stamp(uninterrupted / "results.csv"))


def test_damaged_saved_chunks_are_set_aside_and_evaluated_again(tmp_path, uninterrupted):
    sweep, out = sweep_file(tmp_path), tmp_path / "out"
    spec = load_sweep(sweep)
    from simulator.sweep.evaluate import EvalContext, evaluate_chunk
    from simulator.sweep.store import PartialStore

    store = PartialStore(out, spec.fingerprint_parts())
    assert store.load() == []
    good = store.save(evaluate_chunk(EvalContext.from_spec(spec), 0, 4))
    bad = store.save(evaluate_chunk(EvalContext.from_spec(spec), 4, 8))
    from simulator.sweep import store as store_module

    data = store_module._loads(bad.path.read_bytes())
    data["cells"] = [["x"]] + data["cells"]                                            # a row of the wrong width
    bad.path.write_bytes(store_module._dumps(data))
    stray = store.save(evaluate_chunk(EvalContext.from_spec(spec), 8, 12))
    data = store_module._loads(stray.path.read_bytes())
    data["cells"][0][2] = len(data["parts"])                                           # a row without its part
    stray.path.write_bytes(store_module._dumps(data))
    torn = out / ".partial" / f".{good.path.name}.999999999.abc.tmp"
    torn.write_text("{")
    code, _, err = run(["sweep", sweep, "--out", out, "--jobs", "1"])
    assert code == 0, err
    assert "attnsim: note: removed 1 temporary file(s) of a run that was killed while saving" in err
    assert "2 saved chunk file(s) in" in err and "their points are evaluated again" in err
    pd.testing.assert_frame_equal(without_stamp(out / "results.csv"), without_stamp(uninterrupted / "results.csv"))


def test_chunk_files_a_machine_crash_could_leave_are_evaluated_again(tmp_path, uninterrupted):
    """Chunk files are renamed into place without an fsync: after a crash of the machine one may be
    empty, zero-filled or cut short. Each is set aside and its points evaluated again."""
    sweep, out = sweep_file(tmp_path), tmp_path / "out"
    spec = load_sweep(sweep)
    from simulator.sweep.evaluate import EvalContext, evaluate_chunk
    from simulator.sweep.store import PartialStore

    store = PartialStore(out, spec.fingerprint_parts())
    assert store.load() == []
    ctx = EvalContext.from_spec(spec)
    refs = [store.save(evaluate_chunk(ctx, start, start + 3)) for start in (0, 3, 6, 9)]
    size = len(refs[1].path.read_bytes())
    refs[1].path.write_bytes(b"")
    refs[2].path.write_bytes(b"\0" * size)
    refs[3].path.write_bytes(refs[3].path.read_bytes()[: size // 2])
    code, _, err = run(["sweep", sweep, "--out", out, "--jobs", "1"])
    assert code == 0, err
    assert "3 saved chunk file(s) in" in err and "their points are evaluated again" in err
    pd.testing.assert_frame_equal(without_stamp(out / "results.csv"), without_stamp(uninterrupted / "results.csv"))


def test_a_point_that_raises_is_recorded_not_replayed(tmp_path, monkeypatch):
    from simulator.sweep import memo as memo_module

    real = memo_module.LayerMemo._evaluate        # what a memo miss runs (simulate() or the GEMM path)

    def flaky(self, case_index, workload, hw):
        if hw.mac_array.rows == 16 and hw.mac_array.cols == 16:
            raise TypeError("a bug")
        return real(self, case_index, workload, hw)

    monkeypatch.setattr(memo_module.LayerMemo, "_evaluate", flaky)
    sweep, out = sweep_file(tmp_path), tmp_path / "out"
    code, _, err = run(["sweep", sweep, "--out", out, "--jobs", "1"])
    assert code == 0 and "1 (point, workload) pair failed to simulate" in err
    invalid = pd.read_csv(out / "invalid.csv")
    assert list(invalid["problems"]) == ["internal error (a bug in attnsim, please report it): TypeError: a bug"]


def test_parent_memory_does_not_grow_with_the_points(tmp_path, monkeypatch):
    """When every point is evaluated the parent holds one (start, stop, path) per chunk (about 3 KB
    per point were held before); the report streams the rows and keeps per point only the objective
    sums the Pareto front needs, plus transient frames and figures."""
    real = run_module.write_report
    peaks = {}

    def measured(*args, **kwargs):
        gc.collect()                      # garbage is not held memory
        peaks["evaluation"] = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        outcome = real(*args, **kwargs)
        peaks["report"] = tracemalloc.get_traced_memory()[1]
        return outcome

    monkeypatch.setattr(run_module, "write_report", measured)

    def peak(n: int) -> dict:
        folder = tmp_path / str(n)
        folder.mkdir()
        sweep = folder / "s.yaml"          # prices only: the mapper's caches do not grow either
        sweep.write_text(yaml.safe_dump({
            "name": "m", "base_hw": str(DEFAULT_HW), "workloads": [str(tiny_workload(folder))],
            "hw_grid": {"mac_array.mac_energy_pj": [0.5 + i / 1000 for i in range(n)], "clock_hz": [1e9, 2e9]},
            "objectives": ["cycles", "energy_pj"]}))
        spec = load_sweep(sweep)
        run_sweep(spec, folder / "warm", jobs=1, warn=lambda m: None)
        tracemalloc.start()
        run_sweep(spec, folder / "out", jobs=1, chunk_size=50, warn=lambda m: None)
        tracemalloc.stop()
        return dict(peaks)

    small, large = peak(20), peak(520)
    points = 2 * (520 - 20)
    assert (large["evaluation"] - small["evaluation"]) / points < 200, (small, large)
    assert (large["report"] - small["report"]) / points < 4000, (small, large)     # transient, see docs/sweeps.md


def tiny_workload(folder: Path) -> Path:
    path = folder / "tiny.yaml"
    path.write_text("name: tiny\nlayers:\n  - {name: g, variant: gemm, m: 8, k: 8, n: 8}\n")
    return path


def test_parquet_keeps_integers_beyond_int64_as_text(tmp_path):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"name": "s", "base_hw": str(DEFAULT_HW), "workloads": [str(SMOKE)],
                                     "layer_grid": {"qk.m": [64, 2 ** 70]}}))
    code, _, err = run(["sweep", sweep, "--out", tmp_path / "out", "--jobs", "1", "--quiet"])
    assert code == 0, err
    assert "parquet" not in sys.modules or (tmp_path / "out" / "results.parquet").exists()
    invalid = pd.read_csv(tmp_path / "out" / "invalid.csv")
    assert list(invalid["layer_grid.qk.m"].astype(str)) == [str(2 ** 70)]


def test_a_knob_of_mixed_number_types_keeps_its_values_as_written(tmp_path):
    """Found by the fuzz: rows [16, 0.5, 64] (0.5 invalid) made the kept points' column 16.0, 64.0,
    which the heat map could not match to its levels."""
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"name": "s", "base_hw": str(DEFAULT_HW), "workloads": [str(SMOKE)],
                                     "hw_grid": {"mac_array.rows": [16, 0.5, 64], "mac_array.cols": [16, 32]}}))
    code, _, err = run(["sweep", sweep, "--out", tmp_path / "out", "--jobs", "1"])
    assert code == 0 and "Traceback" not in err
    assert list(pd.read_csv(tmp_path / "out" / "results.csv", dtype=str)["mac_array.rows"].unique()) == ["16", "64"]
    assert (tmp_path / "out" / "heatmap.png").exists()


def test_chunk_files_hold_plain_values_and_a_planted_pickle_runs_nothing(tmp_path):
    """Chunk files are pickles read by an unpickler that refuses every class and function: a
    planted file that would call a function is set aside as damaged, never run; NumPy scalars are
    stored as the Python numbers they equal."""
    import pickle

    import numpy as np

    from simulator.sweep import store as store_module

    data = {"a": [np.int64(-3), np.float32(0.5), np.uint64(2 ** 63), np.bool_(True), np.str_("x"), None, (1, "y")]}
    back = store_module._loads(store_module._dumps(data))
    assert back == {"a": [-3, 0.5, 2 ** 63, True, "x", None, (1, "y")]}
    assert [type(v) for v in back["a"][:5]] == [int, float, int, bool, str]

    marker = tmp_path / "ran"

    class Planted:
        def __reduce__(self):
            return (marker.write_text, ("the planted file ran",))

    with pytest.raises(pickle.UnpicklingError, match="plain values only"):
        store_module._loads(store_module._MAGIC + pickle.dumps({"rows": [Planted()]}))
    assert not marker.exists()
    with pytest.raises(ValueError):
        store_module._loads(pickle.dumps({"rows": []}))             # no header: not a chunk file


def test_a_chunk_packed_by_a_worker_saves_and_reads_back_as_the_chunk_itself(tmp_path):
    """Workers pack their chunks (store.PackedChunk: the file's bytes); saving one writes the same
    file as saving the chunk, and reads back the same values. A chunk packed for another store's key
    is refused, not saved under this sweep's name."""
    import numpy as np

    from simulator.errors import AttnsimError
    from simulator.sweep.evaluate import EvalContext, evaluate_chunk
    from simulator.sweep.store import PartialStore, pack

    spec = load_sweep(sweep_file(tmp_path))
    chunk = evaluate_chunk(EvalContext.from_spec(spec), 0, 5)
    chunk.cells[0][-1] = np.float64(chunk.cells[0][-1])     # a NumPy number reads back as the float it is
    first = PartialStore(tmp_path / "a", spec.fingerprint_parts())
    second = PartialStore(tmp_path / "b", spec.fingerprint_parts())
    ref_a, plain_a = first.save_and_reread(chunk)
    ref_b, plain_b = second.save_and_reread(pack(chunk, second.key))
    assert ref_a.path.read_bytes() == ref_b.path.read_bytes()
    assert plain_a == plain_b == first.read(ref_a) and type(plain_b.cells[0][-1]) is float
    with pytest.raises(AttnsimError, match="packed for another sweep"):
        first.save_and_reread(pack(chunk, "another sweep's key"))


@pytest.mark.parametrize("jobs", [1, 2])
def test_executors_say_nothing_is_finished_only_when_nothing_is(tmp_path, jobs):
    """The evaluation takes every finished chunk before it tells the report the next one is not
    ready (so the report writes full pieces while the workers are ahead): an executor yields None
    only when no chunk is finished at that moment. Here every chunk is finished before the second
    take, so None never follows; in process, nothing is finished before it is evaluated."""
    import time

    from simulator.sweep.evaluate import EvalContext
    from simulator.sweep.executors import make_executor

    spec = load_sweep(sweep_file(tmp_path))
    ranges = [(0, 3), (3, 6), (6, 9), (9, 12)]
    with make_executor("local", EvalContext.from_spec(spec), "key", jobs, in_flight=8) as pool:
        taken = pool.run(ranges)
        first = next(taken)                 # every chunk is queued before the first take
        if jobs == 1:
            assert first is None and [c is None for c in taken] == [False, True, False, True, False, True, False]
            return
        deadline = time.monotonic() + 60
        while first is None and time.monotonic() < deadline:
            time.sleep(0.5)
            first = next(taken)
        time.sleep(2)                       # three more chunks of a few points each: finished by now
        rest = list(taken)
    assert first is not None and None not in rest
    assert sorted((c.start, c.stop) for c in [first, *rest]) == ranges


def test_finished_chunks_are_taken_before_the_report_is_told_to_write_meanwhile(tmp_path, monkeypatch):
    """The evaluation says 'not ready' (None) to the report only when the chunk it needs next is not
    finished: chunks the workers finished out of order are taken first. Here every chunk is finished
    (the executor never yields None), out of order: only the None after the warm-up is seen."""
    from simulator.sweep.evaluate import EvalContext
    from simulator.sweep.executors import InProcess, evaluate_packed
    from simulator.sweep.store import PartialStore

    spec = load_sweep(sweep_file(tmp_path))
    store = PartialStore(tmp_path / "out", spec.fingerprint_parts())
    store.load()

    class Finished(InProcess):              # every chunk already finished, the second one last
        def __init__(self, kind, ctx, key, *args):
            super().__init__(ctx, key)

        def run(self, ranges, started=None):
            ranges = list(ranges)
            for start, stop in [ranges[0], *ranges[2:], ranges[1]]:
                yield evaluate_packed(self.ctx, self.key, start, stop)

    monkeypatch.setattr(run_module, "make_executor", Finished)
    evaluation = run_module._Evaluation(spec, store, [], 2, "local", None, False, 3)
    taken = list(evaluation.chunks())
    assert [c is None for c in taken] == [True] + [False] * 4
    assert [(c.start, c.stop) for c in taken[1:]] == [(0, 3), (3, 6), (6, 9), (9, 12)]


def test_a_mapping_error_quotes_each_point_s_own_level_name(tmp_path):
    """Caches key on what the model reads, names apart (the mapper's plan cache, the single-GEMM
    parts): a sweep over a level's name where no tile fits reports each point with its own name."""
    from simulator.errors import AttnsimError
    from simulator.sweep.spec import sweep_from_dict
    from tests.helpers import hw_dict

    hw = tmp_path / "hw.yaml"
    hw.write_text(yaml.safe_dump(hw_dict(rows=4, cols=7, sram_bytes=2 * 84 * 4)))      # no tile fits
    spec = sweep_from_dict({"name": "n", "base_hw": str(hw), "workloads": [str(SMOKE)],
                            "hw_grid": {"memories[0].name": ["alpha", "beta"], "clock_hz": [1e9, 2e9]},
                            "objectives": ["cycles", "energy_pj"]}, source=str(tmp_path / "s.yaml"))
    with pytest.raises(AttnsimError, match="no design point could be evaluated"):
        run_sweep(spec, tmp_path / "out", jobs=1, warn=lambda message: None)
    invalid = pd.read_csv(tmp_path / "out" / "invalid.csv")
    quoted = invalid["problems"].str.extract(r"fits level '(\w+)'")[0]
    assert list(quoted) == ["alpha", "alpha", "beta", "beta"]


def _chunk(start: int, stop: int, rows_per_point: int = 2):
    from simulator.sweep.evaluate import ChunkResult

    cells = [[p, 0, 0] for p in range(start, stop) for _ in range(rows_per_point)]
    return ChunkResult(start, stop, [[p, "", 0.0] for p in range(start, stop)], cells, [], [], [])


def test_pieces_near_the_end_are_written_while_the_last_chunks_are_evaluated():
    """report._pieces: while the next chunk is not ready (None), a piece is cut at EARLY_ROWS rows, or
    smaller once the points still to come are no more than those held (then little is left for
    after the last chunk, when the command works alone); every chunk in exactly one piece, in order."""
    from simulator.sweep.report import EARLY_ROWS, _pieces

    n_points, size = 100, 10
    stream = []
    for start in range(0, n_points, size):
        stream += [_chunk(start, start + size), None]
    pieces = [[(c.start, c.stop) for c in piece] for piece in _pieces(iter(stream), n_points)]
    assert [r for piece in pieces for r in piece] == [(s, s + size) for s in range(0, n_points, size)]
    # 20 rows a chunk, far below EARLY_ROWS: held until the points to come (100 - covered) are at most
    # those held (covered - first start): cut after 50, 80, 90 and 100 points
    assert 20 * n_points < EARLY_ROWS
    assert [piece[-1][1] for piece in pieces] == [50, 80, 90, 100]
    # no None: one piece (PIECE_ROWS not reached); a None before anything is held cuts nothing
    assert len(list(_pieces(iter([None] + [c for c in stream if c is not None]), n_points))) == 1


def test_only_the_piece_reaching_the_grid_s_end_is_held_for_after_the_figures(tmp_path, monkeypatch):
    """Every piece but the last is written as it is made (before the next piece is made); the last
    is written while the figures are drawn; results.csv has every row once, in point order."""
    from simulator.sweep import report

    order = []
    real_write = report._Streams.write_results
    real_submit = report.Standby.submit
    real_frame = report.tables.results_frame

    def frame(spec, piece):
        order.append(("made",))
        return real_frame(spec, piece)

    def write(self, frame):
        order.append(("rows", int(frame["point_id"].min()), int(frame["point_id"].max())))
        return real_write(self, frame)

    def submit(self, *args):
        order.append(("figure",))
        return real_submit(self, *args)

    monkeypatch.setattr(report._Streams, "write_results", write)
    monkeypatch.setattr(report.Standby, "submit", submit)
    monkeypatch.setattr(report.tables, "results_frame", frame)
    monkeypatch.setattr(report, "PIECE_ROWS", 7)
    spec = load_sweep(sweep_file(tmp_path))
    run_sweep(spec, tmp_path / "out", jobs=1, chunk_size=1, warn=lambda message: None)
    written = [entry for entry in order if entry[0] == "rows"]
    figures = [i for i, entry in enumerate(e for e in order if e[0] != "made") if entry == ("figure",)]
    assert len(written) >= 3 and figures == [len(written) - 1, len(written)]
    assert written[-1][2] == spec.n_points - 1 and order[-1][0] == "rows"
    kinds = [entry[0] for entry in order]
    assert kinds[:2 * (len(written) - 1)] == ["made", "rows"] * (len(written) - 1)
    assert [w[1] for w in written[1:]] == [w[2] + 1 for w in written[:-1]]
    frame = pd.read_csv(tmp_path / "out" / "results.csv")
    assert frame["point_id"].is_monotonic_increasing and frame["point_id"].nunique() == spec.n_points
