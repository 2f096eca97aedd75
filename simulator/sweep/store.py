"""Loss-free, resumable sweep output: every finished chunk is its own file in DIR/.partial/.

Each chunk file is written atomically (temporary file, rename), so after Ctrl-C or kill -9 a chunk
file is either complete or absent (after a crash of the machine it may be damaged: see below); it is
a pickle of plain values (lists, text, numbers: about 10x faster to write than JSON, 4x to read),
read back by an unpickler that refuses any class or function, so a planted file cannot run code; the temporary file of a killed write is removed by the
next run. The manifest records what decides the rows (hashes of the base hardware, workloads,
grids, mapper, simulator version and source code): a run whose sweep differs is refused rather
than mixed with old results. A chunk file that cannot be read back (damaged, or not the shape this
version writes) is set aside and its points are evaluated again, so no saved state can make every
later run fail the same way.

The parent process keeps only each chunk's (start, stop, path), never its rows: memory does not
grow with the number of points. The report reads the chunks back one at a time.
"""
from __future__ import annotations

import builtins
import copyreg
import io
import json
import math
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AttnsimError
from ..fileio import remove_stale_temps, write_atomic
from .evaluate import ChunkResult
from .rows import HEAD_LENGTH, MIDDLE_LENGTH, TAIL_LENGTH

PARTIAL = ".partial"
MANIFEST = "manifest.json"
_FORMAT = 3                     # 1: JSON chunk files; 2: a row per (point, case, layer)
_MAGIC = b"attnsim chunk 3\n"


@dataclass(frozen=True)
class ChunkRef:
    """Where the results of design points [start, stop) are saved."""
    start: int
    stop: int
    path: Path


@dataclass(frozen=True)
class PackedChunk:
    """A chunk as its file's bytes, made where it was evaluated: a worker packs its chunk, so the
    process that writes the report (the critical path of a big sweep) only writes the bytes and reads
    them back, and a pipe carries one bytes object instead of every row's values."""
    start: int
    stop: int
    data: bytes


def pack(chunk: ChunkResult, key: str) -> PackedChunk:
    """`chunk` as the bytes PartialStore (whose `key` it is) saves."""
    return PackedChunk(chunk.start, chunk.stop, _dumps({"fingerprint": key, **chunk.to_dict()}))


def unpack(data: bytes, key: str) -> ChunkResult:
    """The chunk whose file bytes are `data`, packed for the store whose key is `key`."""
    plain = _loads(data)
    if plain.get("fingerprint") != key:
        raise AttnsimError("internal error (a bug in attnsim, please report it): a chunk was packed for "
                           "another sweep")
    return ChunkResult.from_dict(plain)


class PartialStore:
    def __init__(self, out_dir: Path, fingerprint: dict[str, str], row_width: int | None = None):
        self.dir = Path(out_dir) / PARTIAL
        self.fingerprint = dict(fingerprint)
        self.key = json.dumps(self.fingerprint, sort_keys=True)
        self.row_width = row_width          # values per result row, to check chunk files read back
        self.discarded: list[Path] = []     # damaged chunk files set aside by load()
        self.stale: list[Path] = []         # temporary files of killed writes removed by load()

    def load(self) -> list[ChunkRef]:
        """Chunks finished by earlier runs of this same sweep (none when starting fresh)."""
        if self.dir.exists() and not self.dir.is_dir():
            raise AttnsimError(f"{self.dir} is not a folder; remove it to run the sweep")
        manifest = self.dir / MANIFEST
        if not manifest.exists():
            self._write_manifest()
            return []
        try:
            old = json.loads(manifest.read_text())
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict) or old.get("format") != _FORMAT:
            raise AttnsimError(f"{manifest}: unreadable or from another version of attnsim; remove {self.dir} "
                               f"to start the sweep over")
        changed = [k for k, v in self.fingerprint.items() if old.get("fingerprint", {}).get(k) != v]
        if changed:
            raise AttnsimError(
                f"{self.dir.parent} holds partial results of a different sweep (changed since: {', '.join(changed)}); "
                f"refusing to mix them. Remove {self.dir} to start over, or pass another --out")
        self.stale = remove_stale_temps(self.dir)
        refs = []
        for path in sorted(self.dir.glob("chunk-*.pkl")):
            chunk = self._read_checked(path)
            if chunk is not None:
                refs.append(ChunkRef(chunk.start, chunk.stop, path))
        return refs

    def read(self, ref: ChunkRef) -> ChunkResult:
        chunk = self._read_checked(ref.path)
        if chunk is None:
            raise AttnsimError(f"{ref.path} was changed or damaged while the sweep ran; run the same command again "
                               f"(its points are evaluated again)")
        return chunk

    def _read_checked(self, path: Path) -> ChunkResult | None:
        """The chunk in `path`, or None when it belongs to another sweep (kept) or cannot be used
        (damaged: renamed to *.damaged so its points are evaluated again)."""
        try:
            data = _loads(path.read_bytes())
            if not isinstance(data, dict) or data.get("fingerprint") != self.key:
                return None
            chunk = ChunkResult.from_dict(data)
            _check_shape(chunk, self.row_width)
            return chunk
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError,
                pickle.UnpicklingError):
            self.discarded.append(path)
            try:
                path.replace(path.with_suffix(".damaged"))
            except OSError:
                pass
            return None

    def _write_manifest(self) -> None:
        write_atomic(self.dir / MANIFEST, json.dumps({"format": _FORMAT, "fingerprint": self.fingerprint},
                                                     indent=1, sort_keys=True) + "\n")

    def save(self, chunk: ChunkResult | PackedChunk) -> ChunkRef:
        return self._write(chunk)[0]

    def save_and_reread(self, chunk: ChunkResult | PackedChunk) -> tuple[ChunkRef, ChunkResult]:
        """Save `chunk`; return its ChunkRef and the chunk as read() would give it back (NumPy
        scalars become the Python numbers they equal), from the bytes written."""
        ref, text = self._write(chunk)
        return ref, unpack(text, self.key)

    def _write(self, chunk: ChunkResult | PackedChunk) -> tuple[ChunkRef, bytes]:
        text = (chunk if isinstance(chunk, PackedChunk) else pack(chunk, self.key)).data
        path = self.dir / f"chunk-{chunk.start:09d}-{chunk.stop:09d}.pkl"
        # no fsync (about 25 ms a chunk): the rename alone keeps the file whole after Ctrl-C or kill -9;
        # after a crash of the machine a chunk left empty or damaged fails to read back, is set aside
        # and its points are evaluated again
        write_atomic(path, text, durable=False)
        return ChunkRef(chunk.start, chunk.stop, path), text

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _check_shape(chunk: ChunkResult, row_width: int | None) -> None:
    """Raise ValueError unless the chunk has the structure evaluate_chunk writes."""
    if not (isinstance(chunk.start, int) and isinstance(chunk.stop, int) and 0 <= chunk.start < chunk.stop):
        raise ValueError("bad point range")
    for point in chunk.points:
        if len(point) != 3 or not chunk.start <= point[0] < chunk.stop:
            raise ValueError("bad point entry")
    lengths = (HEAD_LENGTH, MIDDLE_LENGTH, TAIL_LENGTH)
    for part in chunk.parts:
        if tuple(map(len, part)) != lengths:
            raise ValueError("bad row part")
    width = None if row_width is None else row_width - sum(lengths) + 1      # a row less its part, plus the index
    n_parts = len(chunk.parts)
    for cells in chunk.cells:
        if (width is not None and len(cells) != width) or not chunk.start <= cells[0] < chunk.stop \
                or not (type(cells[2]) is int and 0 <= cells[2] < n_parts):
            raise ValueError("bad result row")
    for entry in chunk.invalid:
        if len(entry) != 4 or not chunk.start <= entry[0] < chunk.stop or not isinstance(entry[3], list):
            raise ValueError("bad invalid-point entry")


def _dumps(data) -> bytes:
    """`data` (plain values; NumPy scalars are stored as the Python numbers they equal) as a chunk
    file's bytes."""
    buf = io.BytesIO()
    buf.write(_MAGIC)
    pickler = pickle.Pickler(buf, protocol=5)
    pickler.dispatch_table = _PLAIN_TABLE
    pickler.dump(data)
    return buf.getvalue()


def _loads(raw: bytes):
    if not raw.startswith(_MAGIC):
        raise ValueError("not a chunk file of this version")
    return _PlainUnpickler(io.BytesIO(raw[len(_MAGIC):])).load()


class _PlainUnpickler(pickle.Unpickler):
    """Plain values only: building any object other than lists, dicts, tuples, text and numbers
    would need a class or function by name, and every name is refused but the number and text types."""

    def find_class(self, module, name):
        if module == "builtins" and name in ("int", "float", "bool", "str"):
            return getattr(builtins, name)
        raise pickle.UnpicklingError(f"a chunk file holds plain values only, not {module}.{name}")


def _as(kind):
    return lambda value: (kind, (kind(value),))


_PLAIN_TABLE = copyreg.dispatch_table.copy()
_PLAIN_TABLE.update({t: _as(int) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                                            np.uint64)})
_PLAIN_TABLE.update({t: _as(float) for t in (np.float16, np.float32, np.float64)})
_PLAIN_TABLE[np.bool_] = _as(bool)
_PLAIN_TABLE[np.str_] = _as(str)


def done_ranges(chunks) -> list[tuple[int, int]]:
    """Merged [start, stop) ranges covered by finished chunks (ChunkRefs or ChunkResults)."""
    merged: list[list[int]] = []
    for start, stop in sorted((c.start, c.stop) for c in chunks):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return [tuple(r) for r in merged]


def pending_ranges(n_points: int, done, chunk_size: int) -> list[tuple[int, int]]:
    """The points not in `done`, cut into consecutive ranges of at most `chunk_size` points, at
    multiples of `chunk_size` (so a chunk size that is a multiple of the grid's inner period keeps
    each group of points that differ only in the fastest keys in one chunk: auto_chunk_size)."""
    out, cursor = [], 0
    for start, stop in list(done) + [(n_points, n_points)]:
        a = cursor
        while a < start:
            b = min(start, (a // chunk_size + 1) * chunk_size)
            out.append((a, b))
            a = b
        cursor = max(cursor, stop)
    return out


def count(ranges) -> int:
    return sum(b - a for a, b in ranges)


def auto_chunk_size(seconds_per_point: float, pending: int, workers: int, target_s: float = 0.5,
                    periods: tuple[int, ...] = ()) -> int:
    """Points per chunk: at most about `target_s` of work (fine progress, little lost on a kill, the
    per-task overhead of a few milliseconds amortised), and at least 16 chunks per worker: neighbouring
    points cost alike (the grid's last keys vary fastest), so few big chunks would end unevenly.
    Rounded down to a multiple of the largest of `periods` (the products of the innermost axes'
    lengths) that fits: the points that differ only in those keys then go to one worker, whose
    caches (mappings, walks, plans: they depend on the outer keys, an array shape say) they share,
    instead of two workers each filling them."""
    by_time = target_s / max(seconds_per_point, 1e-6)
    by_balance = math.ceil(pending / (16 * max(1, workers)))
    size = int(max(1, min(1000, by_time, by_balance)))
    period = max((p for p in periods if 2 <= p <= size), default=1)
    return size // period * period


def inner_periods(lengths) -> tuple[int, ...]:
    """(the last axis' length, the last two's product, ...) of a grid whose last axis varies fastest."""
    out, product = [], 1
    for n in reversed(list(lengths)):
        product *= n
        out.append(product)
    return tuple(out)
