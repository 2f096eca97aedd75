"""Work run in a forked second process while this one goes on, or here where forking is unsafe.

`attnsim table` measures its crossover and memory sweeps there (SideWork); `attnsim sweep` draws its
figures in forks of a standby process forked early, which imported matplotlib meanwhile (Standby).
On a machine with two cores or more the work takes about half the time, and the files are the same
bytes either way (a child starts as a copy of its parent). A fork is taken only on Linux, in a
single-threaded process, with a second core; otherwise, or when the child fails, the work runs
here when its result is asked for. Every child ends with its parent, even one killed outright.
"""
from __future__ import annotations

import os
import sys
import threading


def can_fork() -> bool:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return sys.platform.startswith("linux") and threading.active_count() == 1 and cores >= 2


def quiet_child(parent_pid: int | None = None) -> None:
    """The parent speaks for both processes: no compile notice here, and no traceback on Ctrl-C or
    a kill of the process group (Ctrl-C reaches the parent, which terminates this process). This
    process ends when `parent_pid` (the parent) does, however it ends (die_with_parent)."""
    import signal

    from . import compile_notice

    compile_notice.silence()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if parent_pid is not None:
        die_with_parent(parent_pid)


def die_with_parent(parent_pid: int) -> None:
    """Have Linux send this forked process SIGTERM when its parent ends: a parent killed outright
    (kill -9, the out-of-memory killer) cannot stop its workers, which would otherwise wait for
    work forever. A parent already gone (before the request took effect) ends this one now."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)    # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


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
                                            initializer=quiet_child, initargs=(os.getpid(),))
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


class Standby:
    """A process forked on creation, with what this one has loaded so far (compiled kernels), that
    imports `modules` (matplotlib, for the figures) while this one goes on; `submit(module, name,
    *args)` then runs module.name(*args) in a fork of it, already warm, so several run at once.
    Without a fork (can_fork), or when the work fails there, job.result() runs it here instead,
    with its own error. `attnsim sweep` draws its two figures this way: matplotlib's import and
    the drawing leave the report's critical path."""

    def __init__(self, modules: tuple[str, ...], fork_ok=None):
        self.conn = self.process = None
        self.jobs = 0
        if not (fork_ok or can_fork)():
            return
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.conn, theirs = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(theirs, modules, os.getpid()), daemon=True)
        self.process.start()
        theirs.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def submit(self, module: str, name: str, *args) -> "StandbyJob":
        job = StandbyJob(self, self.jobs, module, name, args)
        self.jobs += 1
        if self.conn is not None:
            try:
                self.conn.send(("run", job.id, (module, name, args)))
                job.sent = True
            except (OSError, ValueError):        # the standby is gone: the work runs here
                pass
        return job

    def close(self) -> None:
        """Stop the standby and any work it still runs (its results are not wanted)."""
        if self.process is None:
            return
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=10)
        self.conn.close()
        self.process = self.conn = None


class StandbyJob:
    def __init__(self, standby: Standby, job_id: int, module: str, name: str, args: tuple):
        self.standby, self.id, self.module, self.name, self.args = standby, job_id, module, name, args
        self.sent = False

    def result(self):
        conn = self.standby.conn
        if self.sent and conn is not None:
            try:
                conn.send(("get", self.id, None))
                ok, value = conn.recv()
                if ok:
                    return value
            except (OSError, EOFError, ValueError):
                pass
        from importlib import import_module

        return getattr(import_module(self.module), self.name)(*self.args)


def _serve(conn, modules: tuple[str, ...], parent_pid: int) -> None:
    """The standby: import `modules`, then fork a child per ("run", id, work) message and answer a
    ("get", id) with (True, value) or (False, why) once that child is done. SIGTERM (close())
    ends the children too."""
    import multiprocessing
    import signal
    from importlib import import_module

    children: dict[int, tuple] = {}
    me = os.getpid()

    def stop(*_):
        if os.getpid() == me:           # not a child caught before it reset the handler
            for _reader, pid in children.values():
                _kill(pid)
        os._exit(0)

    quiet_child(parent_pid)             # a parent already gone ends this process here: no children yet
    signal.signal(signal.SIGTERM, stop)
    for module in modules:
        try:
            import_module(module)
        except Exception:           # noqa: BLE001 - the job then fails here and runs in the parent
            pass
    while True:
        try:
            kind, job_id, work = conn.recv()
        except (EOFError, OSError, TypeError):
            stop()
        if kind == "run":
            reader, writer = multiprocessing.Pipe(duplex=False)
            pid = os.fork()
            if pid == 0:
                _run_child(reader, writer, work, me)
            writer.close()
            children[job_id] = (reader, pid)
            continue
        reader, pid = children.pop(job_id)
        try:
            reply = reader.recv()
        except (EOFError, OSError):
            reply = (False, "the drawing process died")
        os.waitpid(pid, 0)
        conn.send(reply)


def _run_child(reader, writer, work, standby_pid: int) -> None:
    from importlib import import_module
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(standby_pid)
    reader.close()
    code = 0
    try:
        module, name, args = work
        reply = (True, getattr(import_module(module), name)(*args))
    except BaseException as exc:    # noqa: BLE001 - reported; the parent runs the work itself
        reply, code = (False, f"{type(exc).__name__}: {exc}"), 1
    try:
        writer.send(reply)
    finally:
        os._exit(code)


def _kill(pid: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (OSError, ChildProcessError):
        pass
