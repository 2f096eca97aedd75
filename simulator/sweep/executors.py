"""Where a sweep's chunks run: in this process, in a local process pool, or on a Dask cluster.

Every executor is a context manager with `run(ranges, started=None)`, which yields the chunks, each
packed for the store whose key it was given (store.PackedChunk: the worker pickles its rows), in
completion order (any order) and calls `started()` once the workers have work (not in-process);
closing it (also on Ctrl-C) stops the workers. Before it would wait for a worker, it yields None
once: nothing is finished at this moment (the caller may do other work, or ask again to wait).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from ..errors import AttnsimError
from ..sidework import die_with_parent
from .evaluate import EvalContext, evaluate_chunk
from .store import PackedChunk, pack

EXECUTORS = ("local", "dask")
_CONTEXT: EvalContext | None = None     # a pool worker's context, set once by _init_worker
_KEY: str | None = None                 # and the key of the store its chunks are packed for


def evaluate_packed(ctx: EvalContext, key: str, start: int, stop: int) -> PackedChunk:
    """Evaluate design points start..stop-1 and pack them for the store whose key is `key`."""
    return pack(evaluate_chunk(ctx, start, stop), key)


class InProcess:
    """--jobs 1: chunks run one after another here (simplest to debug and profile)."""

    def __init__(self, ctx: EvalContext, key: str):
        self.ctx, self.key = ctx, key

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def run(self, ranges, started=None):
        for start, stop in ranges:
            yield None                  # nothing is finished before it is evaluated, here
            yield evaluate_packed(self.ctx, self.key, start, stop)


def _init_worker(ctx: EvalContext, key: str, parent_pid: int | None) -> None:
    global _CONTEXT, _KEY
    _CONTEXT, _KEY = ctx, key
    # Ctrl-C reaches the whole process group; the parent handles it and stops the workers. SIGTERM
    # (the parent stopping them, or Linux when the parent was killed outright) ends a worker at
    # once, whatever handler the parent had installed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if parent_pid is not None:          # forked by this process (not by a fork server)
        die_with_parent(parent_pid)
    _lower_priority()


WORKER_NICENESS = 5


def _lower_priority() -> None:
    """A local worker runs at a lower priority than the sweep's own process, which writes the report
    while the points are evaluated (run.py): the report is one stream in point order, so on a big
    sweep it is the critical path, and with every core busy with workers it got two thirds of one.
    Niced, the workers take what it leaves (all of it while it waits for the next chunk)."""
    if hasattr(os, "nice"):
        try:
            os.nice(WORKER_NICENESS)
        except OSError:
            pass


def _pool_task(bounds):
    return evaluate_packed(_CONTEXT, _KEY, *bounds)


class LocalPool:
    """--jobs N: N worker processes, each given the context (parsed workloads) once. At most
    `in_flight` chunks per worker are queued or finished and not yet taken, so neither the queue
    nor finished results pile up in the parent; enough to keep the workers busy while the parent
    writes a piece of the report between two takes (run.py sizes it). A worker that dies (killed,
    out of memory) stops the sweep with an error instead of leaving it waiting forever."""

    IN_FLIGHT_PER_WORKER = 8

    def __init__(self, ctx: EvalContext, key: str, jobs: int, in_flight: int | None = None):
        # fork starts workers in milliseconds with the compiled kernels already loaded, but is only
        # safe in a single-threaded parent (a Dask client, for one, leaves threads behind); otherwise,
        # and off Linux, workers start fresh and re-import the package.
        if sys.platform.startswith("linux"):
            method = "fork" if threading.active_count() == 1 else "forkserver"
        else:
            method = "spawn"
        self.jobs = jobs
        self.in_flight = max(1, in_flight or self.IN_FLIGHT_PER_WORKER)      # chunks per worker
        self.pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method),
                                        initializer=_init_worker,
                                        initargs=(ctx, key, os.getpid() if method == "fork" else None))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        processes = list(getattr(self.pool, "_processes", {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:          # running chunks are abandoned (their points are not saved)
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)
        return False

    def run(self, ranges, started=None):
        todo = iter(ranges)
        running = set()
        while True:
            while len(running) < self.in_flight * self.jobs:
                bounds = next(todo, None)
                if bounds is None:
                    break
                running.add(self.pool.submit(_pool_task, bounds))
            if not running:
                return
            if started is not None:      # the workers are forked and have work queued
                started()
                started = None
            finished, running = wait(running, timeout=0, return_when=FIRST_COMPLETED)
            if not finished:
                yield None
                finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    yield future.result()
                except BrokenProcessPool:
                    raise AttnsimError("a worker process died (killed, or out of memory) while evaluating design "
                                       "points; the points finished before are saved: run the same command again "
                                       "to resume (with fewer --jobs if memory is short)") from None


class DaskExecutor:
    """Chunks as Dask tasks on a cluster (`scheduler` address) or on a local cluster of `jobs`
    single-threaded worker processes. The context is scattered to every worker once."""

    def __init__(self, ctx: EvalContext, key: str, jobs: int, scheduler: str | None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise AttnsimError("--executor dask needs Dask's distributed scheduler: "
                               "pip install 'attnsim[distributed]'") from None
        self.cluster = None
        try:
            if scheduler:
                self.client = Client(scheduler, timeout="20s")
            else:
                self.cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                            dashboard_address=":0")
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise AttnsimError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from None
        self.ctx = self.client.scatter(ctx, broadcast=True)
        self.key = key
        self.futures = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self) -> None:
        if getattr(self, "futures", None):
            self.client.cancel(self.futures)
            self.futures = []
        if getattr(self, "client", None) is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def run(self, ranges, started=None):
        from dask.distributed import as_completed

        self.futures = [self.client.submit(evaluate_packed, self.ctx, self.key, start, stop, pure=False)
                        for start, stop in ranges]
        if started is not None:
            started()
        finished = as_completed(self.futures)
        for _ in range(len(self.futures)):
            if not finished.has_ready():
                yield None
            future = next(finished)
            result = future.result()
            future.release()
            yield result


def make_executor(kind: str, ctx: EvalContext, key: str, jobs: int, scheduler: str | None = None,
                  in_flight: int | None = None):
    """`key`: the store's (PartialStore.key) the chunks are packed for; `in_flight`: chunks queued per
    local worker (default LocalPool.IN_FLIGHT_PER_WORKER)."""
    if kind == "dask":
        return DaskExecutor(ctx, key, jobs, scheduler)
    if kind != "local":
        raise AttnsimError(f"--executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    return InProcess(ctx, key) if jobs == 1 else LocalPool(ctx, key, jobs, in_flight)
