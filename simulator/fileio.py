"""Atomic file output: write to a temporary name in the same folder, then rename.

A temporary file is named `.<name>.<pid>.<random>.tmp`. It is removed when the write fails or is
interrupted (Ctrl-C, and SIGTERM, which the CLI turns into an exception); one left by a process
killed outright (kill -9) is found by the next write into that folder: a temporary file whose
process no longer runs is stale and is removed (`stale_temps`), and the caller may report it.
"""
from __future__ import annotations

import errno
import glob
import os
import stat
import tempfile
import time
from pathlib import Path

_UNKNOWN_PID_AGE_S = 3600       # a temporary file without a pid (older versions) is stale after an hour


def write_atomic(path: str | Path, data: str | bytes, durable: bool = True) -> list[Path]:
    """Write `data` to `path` so readers see either the old file or the whole new one. Returns the
    stale temporary files of earlier, killed writes to the same name that were removed. `durable`
    also flushes it to the disk before the rename (a report survives a crash of the machine); a
    file whose loss is detected and repaired (a sweep's saved chunk) may skip that."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    removed = remove_stale_temps(path.parent, path.name)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as fh:
            fh.write(data)
            fh.flush()
            # mkstemp creates the file 0600; give it the mode a plain open() would (or the old file's).
            os.fchmod(fh.fileno(), _target_mode(path))
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return removed


class AtomicStream:
    """A file written piece by piece into a temporary name and renamed into place by `commit()`
    (a sweep's results.csv, written chunk by chunk); `discard()` removes the temporary file."""

    def __init__(self, path: str | Path, binary: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.removed = remove_stale_temps(self.path.parent, self.path.name)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.{os.getpid()}.", suffix=".tmp",
                                        dir=self.path.parent)
        self.fh = os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""}))
        self.synced = False

    def write(self, data) -> None:
        self.fh.write(data)

    def commit(self) -> None:
        self.sync()
        self.publish()

    def sync(self) -> None:
        """Flush the temporary file to the disk (it may run in another thread: os.fsync releases
        the GIL, and a report's big files take a noticeable time)."""
        if not self.synced:
            self.fh.flush()
            os.fchmod(self.fh.fileno(), _target_mode(self.path))
            os.fsync(self.fh.fileno())
            self.synced = True

    def publish(self) -> None:
        """Rename the synced temporary file into place."""
        self.sync()
        self.fh.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def remove_stale_temps(folder: str | Path, name: str | None = None) -> list[Path]:
    """Remove the temporary files of interrupted writes in `folder` (of `name` only, when given)
    whose writing process is gone; return them."""
    removed = []
    pattern = f".{glob.escape(name)}.*.tmp" if name is not None else ".*.tmp"
    try:
        candidates = list(Path(folder).glob(pattern))
    except OSError:
        return removed
    for tmp in candidates:
        if _is_stale(tmp):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def _is_stale(tmp: Path) -> bool:
    parts = tmp.name[:-len(".tmp")].split(".")
    pid = parts[-2] if len(parts) >= 3 else ""
    if pid.isdigit():
        return not _alive(int(pid))
    try:
        return time.time() - tmp.stat().st_mtime > _UNKNOWN_PID_AGE_S
    except OSError:
        return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _target_mode(path: Path) -> int:
    """Permission bits for the new file: the existing file's, else 0666 less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
