"""sidework.SideWork: the forked second process, its fall-back, and the sweep report drawn with it."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import sidework
from simulator.sidework import SideWork

ROOT = Path(__file__).resolve().parent.parent


def _pid_and(value):
    return os.getpid(), value * 2


def _fails_in_child(parent_pid):
    if os.getpid() != parent_pid:
        raise RuntimeError("the child's failure")
    return "here"


def test_work_runs_in_a_second_process_when_it_can():
    with SideWork(_pid_and, 21, fork_ok=lambda: True) as side:
        pid, value = side.result()
    assert value == 42 and pid != os.getpid()


def test_work_runs_here_without_a_fork():
    with SideWork(_pid_and, 4, fork_ok=lambda: False) as side:
        assert side.result() == (os.getpid(), 8)


def test_a_failing_child_leaves_the_work_to_this_process():
    with SideWork(_fails_in_child, os.getpid(), fork_ok=lambda: True) as side:
        assert side.result() == "here"


def test_sweep_files_are_the_same_bytes_with_the_figure_drawn_apart(tmp_path, monkeypatch):
    from simulator.sweep.run import run_sweep
    from simulator.sweep.spec import load_sweep

    if not sidework.can_fork():
        pytest.skip("this process cannot fork safely (threads left by an earlier test, or one core)")
    spec = load_sweep(ROOT / "sweeps" / "quick.yaml")
    run_sweep(spec, tmp_path / "forked", jobs=1, warn=lambda msg: None)
    monkeypatch.setattr(sidework, "can_fork", lambda: False)
    run_sweep(spec, tmp_path / "alone", jobs=1, warn=lambda msg: None)
    names = sorted(p.name for p in (tmp_path / "alone").iterdir())
    assert "pareto.png" in names and names == sorted(p.name for p in (tmp_path / "forked").iterdir())
    for name in names:
        if name.endswith(".png"):           # CSVs carry the time they were generated
            assert (tmp_path / "forked" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes(), name


# --- Standby: a process forked early, warm, that runs each job in a fork of itself -----------------

def _in_standby(value):
    import sys

    return os.getpid(), value + 1, "wave" in sys.modules


def _sleep_then(path, seconds):
    import time

    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)
    return "late"


def test_standby_runs_jobs_in_warm_forks_at_once():
    if not sidework.can_fork():
        pytest.skip("this process cannot fork safely (threads left by an earlier test, or one core)")
    with sidework.Standby(("wave",)) as standby:
        jobs = [standby.submit(__name__, "_in_standby", v) for v in (1, 2)]
        (pid1, v1, warm1), (pid2, v2, warm2) = (job.result() for job in jobs)
    assert (v1, v2) == (2, 3) and warm1 and warm2
    assert len({pid1, pid2, os.getpid()}) == 3          # one fork per job, neither of them here


def test_standby_without_a_fork_runs_jobs_here():
    with sidework.Standby(("wave",), fork_ok=lambda: False) as standby:
        assert standby.submit(__name__, "_in_standby", 5).result()[:2] == (os.getpid(), 6)


def test_a_job_failing_in_the_standby_runs_here():
    if not sidework.can_fork():
        pytest.skip("this process cannot fork safely")
    with sidework.Standby(()) as standby:
        assert standby.submit(__name__, "_fails_in_child", os.getpid()).result() == "here"


def test_closing_the_standby_stops_the_work_it_runs(tmp_path):
    import time

    if not sidework.can_fork():
        pytest.skip("this process cannot fork safely")
    marker = tmp_path / "pid"
    standby = sidework.Standby(())
    standby.submit(__name__, "_sleep_then", str(marker), 60)
    for _ in range(500):
        if marker.exists() and marker.read_text():
            break
        time.sleep(0.01)
    child = int(marker.read_text())
    standby.close()
    for _ in range(500):            # the child is gone (and reaped by the standby) within seconds
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    else:
        pytest.fail(f"the standby's job {child} still runs after close()")


def _figure_inputs(folder: Path, chunk_points: int):
    """(spec, summary, drawn, influence, heads) of sweeps/quick.yaml evaluated in chunks of
    `chunk_points` and streamed through the report (files left out): what the figures are given."""
    from simulator.sweep import report, tables
    from simulator.sweep.evaluate import EvalContext, evaluate_chunk
    from simulator.sweep.spec import load_sweep

    spec = load_sweep(ROOT / "sweeps" / "quick.yaml")
    ctx = EvalContext.from_spec(spec)
    chunks = [evaluate_chunk(ctx, s, min(s + chunk_points, spec.n_points))
              for s in range(0, spec.n_points, chunk_points)]
    streams = report._Streams(folder)
    try:
        summary = report._stream_rows(spec, iter(chunks), streams, {"generated": "x"}, "x").summary
    finally:
        streams.discard()
    drawn = tables.per_point_frame(spec, summary.figure_rows())
    influence = tables.influence_frame(spec, summary)
    return spec, summary, drawn, influence, drawn.groupby("_case", sort=True).head(1)


def test_the_heat_map_sent_to_the_standby_is_the_one_drawn_from_the_whole_summary(tmp_path):
    """The standby gets a row per panel and the cells (report._HeatCells), not the summary."""
    from simulator.sweep import figures, report

    spec, summary, drawn, influence, heads = _figure_inputs(tmp_path / "files", 7)
    assert len(influence) >= 2
    figures.heatmap_figure(spec, drawn, influence, tmp_path / "whole.png", summary, 3)
    figures.heatmap_figure(spec, heads, influence, tmp_path / "sent.png",
                           report._HeatCells(spec, heads, influence, summary), 3)
    assert (tmp_path / "whole.png").read_bytes() == (tmp_path / "sent.png").read_bytes()


_DRAW_WITHOUT_KERNELS = r"""
import gc, pickle, sys
from pathlib import Path
from numba.core.dispatcher import Dispatcher
from simulator.sweep import figures

spec, drawn, heads, influence, cells = pickle.loads(Path(sys.argv[1]).read_bytes())
figures.pareto_figure(spec, drawn, Path(sys.argv[2]) / "p.png", 10, 3)
figures.heatmap_figure(spec, heads, influence, Path(sys.argv[2]) / "h.png", cells, 3)
assert (Path(sys.argv[2]) / "p.png").exists() and (Path(sys.argv[2]) / "h.png").exists()
print(sum(len(d.overloads) for d in gc.get_objects() if isinstance(d, Dispatcher)))
"""


def test_drawing_the_figures_loads_no_compiled_kernel(tmp_path):
    """run_sweep forks the figures' standby before the kernels are loaded: drawing must need none
    (a kernel there would set up Numba again, about 0.3 s, at the end of the run). The figures are
    drawn in a fresh process from what the standby is sent (pickled), as there."""
    import pickle

    from simulator.sweep import report

    spec, summary, drawn, influence, heads = _figure_inputs(tmp_path, 1 << 20)
    sent = tmp_path / "sent.pickle"
    sent.write_bytes(pickle.dumps((spec, drawn, heads, influence, report._HeatCells(spec, heads, influence, summary))))
    out = subprocess.run([sys.executable, "-c", _DRAW_WITHOUT_KERNELS, str(sent), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
