"""The cold-cache notice: the CLI says on stderr when Numba compiles kernels, and only then."""
import io
import time

import numpy as np
from numba import njit

from simulator import cli, compile_notice


def _fresh_kernel():
    """A kernel no cache holds: defined anew (cache=False), compiled on its first call."""
    @njit(cache=False)
    def twice(x):
        return 2 * x

    return twice


def test_a_compilation_is_announced_with_a_summary(monkeypatch):
    monkeypatch.setattr(compile_notice, "ENABLED", True)
    stream = io.StringIO()
    notice = compile_notice.install(stream)
    kernel = _fresh_kernel()
    assert kernel(np.int64(3)) == 6
    assert kernel(np.int64(4)) == 8                        # compiled once for this signature
    notice.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("attnsim: compiling the simulator's kernels once")
    assert lines[-1].startswith("attnsim: compiled 1 kernels in ") and len(lines) == 2
    _fresh_kernel()(np.int64(5))                           # after finish: no longer listening
    assert stream.getvalue().splitlines() == lines


def test_progress_lines_while_compiling_takes_long(monkeypatch):
    monkeypatch.setattr(compile_notice, "ENABLED", True)
    monkeypatch.setattr(compile_notice, "_EVERY_S", 0.0)    # every compilation counts as "long"
    stream = io.StringIO()
    notice = compile_notice.install(stream)
    for _ in range(3):
        _fresh_kernel()(np.int64(1))
    notice.finish()
    progress = [line for line in stream.getvalue().splitlines() if line.endswith("...")]
    assert [line.split()[2] for line in progress] == ["1", "2", "3"]   # "attnsim: compiled N kernels (T s) ..."


def test_nothing_is_said_when_nothing_compiles(monkeypatch):
    monkeypatch.setattr(compile_notice, "ENABLED", True)
    kernel = _fresh_kernel()
    kernel(np.int64(1))                                    # compiled before listening
    stream = io.StringIO()
    notice = compile_notice.install(stream)
    kernel(np.int64(2))
    notice.finish()
    assert stream.getvalue() == ""


def test_a_warm_cli_run_prints_no_notice(monkeypatch, capsys):
    smoke = str(cli.__file__).replace("simulator/cli.py", "workloads/gemm_smoke.yaml")
    assert cli.main(["run", smoke, "--format", "csv"]) == 0   # kernels compiled (or loaded) now
    capsys.readouterr()
    monkeypatch.setattr(compile_notice, "ENABLED", True)
    assert cli.main(["run", smoke, "--format", "csv"]) == 0
    assert "compil" not in capsys.readouterr().err


def test_the_cli_announces_a_compilation_on_stderr(monkeypatch, capsys):
    """A run that has to compile something (here: a fresh kernel made to run inside the command)."""
    monkeypatch.setattr(compile_notice, "ENABLED", True)
    smoke = str(cli.__file__).replace("simulator/cli.py", "workloads/gemm_smoke.yaml")
    real = cli.cmd_run

    def run_compiling(args):
        _fresh_kernel()(np.int64(1))
        return real(args)

    monkeypatch.setattr(cli, "cmd_run", run_compiling)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser(), run_compiling))
    assert cli.main(["run", smoke, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("attnsim: compiling the simulator's kernels once")
    assert "attnsim: compiled 1 kernels in " in captured.err
    assert "compil" not in captured.out


def _with_func(parser, func):
    sub = next(a for a in parser._actions if a.dest == "command")
    sub.choices["run"].set_defaults(func=func)
    return parser


def test_a_kernels_callees_count_and_their_time_once(monkeypatch):
    monkeypatch.setattr(compile_notice, "ENABLED", True)
    inner = _fresh_kernel()

    @njit(cache=False)
    def outer(x):
        return inner(x) + 1

    stream = io.StringIO()
    notice = compile_notice.install(stream)
    began = time.perf_counter()
    assert outer(np.int64(2)) == 5                         # compiles outer, and inner inside it
    wall_s = time.perf_counter() - began
    assert notice.depth == 0 and notice.kernels == 2
    assert 0 < notice.compile_seconds <= wall_s            # nested time not counted twice
    notice.finish()
    assert stream.getvalue().splitlines()[-1].startswith("attnsim: compiled 2 kernels in ")


def test_a_forked_worker_is_silenced(monkeypatch):
    """attnsim table's second process compiles too; the parent alone speaks (silence() in the child)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from simulator.table import report

    monkeypatch.setattr(compile_notice, "ENABLED", True)
    stream = io.StringIO()
    notice = compile_notice.install(stream)
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                 initializer=report._quiet_child) as pool:
            assert pool.submit(_listeners_in_child).result() == (0, 0)
    finally:
        notice.finish()
    assert _listeners_in_child() == (0, 0)                 # and finish() stopped this one


def _listeners_in_child():
    from numba.core import event

    return len(compile_notice._active), len(event._registered.get("numba:compile", []))
