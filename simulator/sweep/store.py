"""Loss-free, resumable sweep output: every finished chunk is its own file in DIR/.partial/.

Each chunk file is written atomically (temporary file, fsync, rename), so after Ctrl-C or kill -9
a chunk file is either complete or absent; a half-written temporary file is ignored and removed.
The manifest records what decides the rows (hashes of the base hardware, workloads, grids, mapper,
simulator version and source code): a run whose sweep differs is refused rather than mixed with old results.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np

from ..errors import AttnsimError
from ..fileio import write_atomic
from .evaluate import ChunkResult

PARTIAL = ".partial"
MANIFEST = "manifest.json"
_FORMAT = 1


class PartialStore:
    def __init__(self, out_dir: Path, fingerprint: dict[str, str]):
        self.dir = Path(out_dir) / PARTIAL
        self.fingerprint = dict(fingerprint)
        self.key = json.dumps(self.fingerprint, sort_keys=True)

    def load(self) -> list[ChunkResult]:
        """Chunks finished by earlier runs of this same sweep (none when starting fresh)."""
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
        for tmp in self.dir.glob(".*.tmp"):          # torn writes of a killed run
            tmp.unlink(missing_ok=True)
        chunks = []
        for path in sorted(self.dir.glob("chunk-*.json")):
            chunk = self._read(path)
            if chunk is not None:
                chunks.append(chunk)
        return chunks

    def _read(self, path: Path) -> ChunkResult | None:
        try:
            data = json.loads(path.read_text())
            if data.get("fingerprint") != self.key:
                return None
            return ChunkResult.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)          # cannot happen with atomic writes; recompute it
            return None

    def _write_manifest(self) -> None:
        write_atomic(self.dir / MANIFEST, json.dumps({"format": _FORMAT, "fingerprint": self.fingerprint},
                                                     indent=1, sort_keys=True) + "\n")

    def save(self, chunk: ChunkResult) -> None:
        data = {"fingerprint": self.key, **chunk.to_json()}
        text = json.dumps(data, separators=(",", ":"), default=_plain)
        write_atomic(self.dir / f"chunk-{chunk.start:09d}-{chunk.stop:09d}.json", text)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _plain(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"cannot store {type(value).__name__} in a chunk file")


def done_ranges(chunks) -> list[tuple[int, int]]:
    """Merged [start, stop) ranges covered by finished chunks."""
    merged: list[list[int]] = []
    for start, stop in sorted((c.start, c.stop) for c in chunks):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return [tuple(r) for r in merged]


def pending_ranges(n_points: int, done, chunk_size: int) -> list[tuple[int, int]]:
    """The points not in `done`, cut into consecutive ranges of at most `chunk_size` points."""
    out, cursor = [], 0
    for start, stop in list(done) + [(n_points, n_points)]:
        for a in range(cursor, start, chunk_size):
            out.append((a, min(a + chunk_size, start)))
        cursor = max(cursor, stop)
    return out


def count(ranges) -> int:
    return sum(b - a for a, b in ranges)


def auto_chunk_size(seconds_per_point: float, pending: int, workers: int, target_s: float = 0.5) -> int:
    """Points per chunk: at most about `target_s` of work (fine progress, little lost on a kill, the
    per-task overhead of a few milliseconds amortised), and at least 16 chunks per worker: neighbouring
    points cost alike (the grid's last keys vary fastest), so few big chunks would end unevenly."""
    by_time = target_s / max(seconds_per_point, 1e-6)
    by_balance = math.ceil(pending / (16 * max(1, workers)))
    return int(max(1, min(1000, by_time, by_balance)))
