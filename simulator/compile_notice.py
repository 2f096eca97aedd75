"""Tell the user, on stderr, when Numba compiles kernels (a cold cache), with progress.

The first run after installing (or after the kernels change) compiles the simulator's kernels, which
takes tens of seconds on a small machine; later runs load them from Numba's on-disk cache. Numba
announces every real compilation (never a cache load) as a "numba:compile" event, so a warm run
prints nothing here.
"""
from __future__ import annotations

import sys
import time

# Progress lines at most this often (seconds): about a line per few seconds of compiling.
_EVERY_S = 5.0
# The test suite turns the notice off (tests/conftest.py): a cold cache in CI would add it to the
# stderr that tests compare; tests/test_compile_notice.py turns it back on.
ENABLED = True


class CompileNotice:
    """Prints one notice on the first compilation, a progress line every few seconds while kernels
    compile, and a summary at the end (`finish`). A kernel's callees compile inside its own
    compilation (Numba's events nest): each counts as a kernel, their time once."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.kernels = 0
        self.depth = 0
        self.started = None           # the first compilation's start (perf_counter seconds)
        self.last = 0.0               # the last progress line
        self.entered = 0.0            # the current top-level compilation's start
        self.compile_seconds = 0.0    # spent compiling (not running) so far
        self.stop = lambda: None      # install() sets it: stop listening

    def started_one(self) -> None:
        self.depth += 1
        if self.depth > 1:
            return
        self.entered = time.perf_counter()
        if self.started is None:
            self.started = self.last = self.entered
            self._say("attnsim: compiling the simulator's kernels once (Numba caches them on disk: later runs "
                      "skip this)")

    def finished_one(self) -> None:
        self.depth -= 1
        self.kernels += 1              # every compiled function, a kernel's callees included
        now = time.perf_counter()
        if self.depth == 0:
            self.compile_seconds += now - self.entered
        if now - self.last >= _EVERY_S:
            self.last = now
            self._progress(now)

    def _seconds(self, now) -> float:
        return self.compile_seconds + (now - self.entered if self.depth else 0.0)

    def _progress(self, now) -> None:
        line = f"attnsim: compiled {self.kernels} kernels ({self._seconds(now):.0f} s) ..."
        if self.tty:
            self.stream.write("\r" + line)
            self.stream.flush()
        else:
            self._say(line)

    def finish(self) -> None:
        self.stop()
        if self.started is None:
            return
        line = f"attnsim: compiled {self.kernels} kernels in {self.compile_seconds:.0f} s (cached for later runs)"
        self.stream.write(("\r" if self.tty else "") + line + "\n")
        self.stream.flush()

    def _say(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


_active: list = []       # notices listening now (silence() stops them in a forked child)


def silence() -> None:
    """Stop every notice inherited from the parent process (a forked worker's compilations are the
    parent's to announce, or nobody's)."""
    for notice in list(_active):
        notice.stop()


def install(stream=None) -> CompileNotice | None:
    """Listen for compilations from now on (imports Numba); call .finish() when the command ends,
    which stops listening and prints the summary if anything compiled."""
    if not ENABLED:
        return None
    from numba.core import event

    notice = CompileNotice(stream)

    class _Listener(event.Listener):
        def on_start(self, ev):
            notice.started_one()

        def on_end(self, ev):
            notice.finished_one()

    listener = _Listener()
    event.register("numba:compile", listener)

    def stop():
        if notice in _active:          # once: listening exactly while in _active
            _active.remove(notice)
            event.unregister("numba:compile", listener)

    notice.stop = stop
    _active.append(notice)
    return notice
