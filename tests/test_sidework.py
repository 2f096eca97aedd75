"""sidework.SideWork: the forked second process, its fall-back, and the sweep report drawn with it."""
import os
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
