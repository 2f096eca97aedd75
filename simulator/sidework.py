"""Work run in a forked second process while this one goes on, or here where forking is unsafe.

`attnsim table` measures its crossover and memory sweeps there, `attnsim sweep` draws one of its
figures there: on a machine with two cores or more the two halves take about half the time, and
the files are the same bytes either way (the child starts as a copy of this process). A fork is
taken only on Linux, in a single-threaded process, with a second core; otherwise, or when the
child fails, the work runs here when its result is asked for.
"""
from __future__ import annotations

import os
import sys
import threading


def can_fork() -> bool:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return sys.platform.startswith("linux") and threading.active_count() == 1 and cores >= 2


def quiet_child() -> None:
    """The parent speaks for both processes: no compile notice here, and no traceback on Ctrl-C or
    a kill of the process group (Ctrl-C reaches the parent, which terminates this process)."""
    import signal

    from . import compile_notice

    compile_notice.silence()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class SideWork:
    """`with SideWork(fn, *args) as side: ...; value = side.result()`: fn(*args) in a forked process
    started on entering (when `fork_ok()`), else here in result(). Leaving the block on an error
    terminates the child: its work is not wanted."""

    def __init__(self, fn, *args, fork_ok=None):
        self.fn, self.args = fn, args
        self.fork_ok = fork_ok or can_fork
        self.pool = self.future = None

    def __enter__(self):
        if self.fork_ok():
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                            initializer=quiet_child)
            self.future = self.pool.submit(self.fn, *self.args)
        return self

    def result(self):
        if self.future is not None:
            try:
                return self.future.result()
            except Exception:           # e.g. the child died: the same work here, with its own error
                pass
        return self.fn(*self.args)

    def __exit__(self, exc_type, *exc):
        if self.pool is None:
            return
        if exc_type is not None:
            # no public way to stop a running task before Python 3.14: the pool's own process table
            for process in list(getattr(self.pool, "_processes", {}).values()):
                process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)
