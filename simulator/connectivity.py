"""Maximum path length from a layer's actual connectivity (the paper's third column).

A layer's connectivity says which input positions each output position reads in one hop:
* `Ranges`: output i reads inputs [lo_i, hi_i) (attention masks, windows);
* `Taps`: output i reads inputs i + o for each tap offset o of that layer, clipped to [0, n)
  (convolution; a stack may change the offsets per layer, e.g. growing dilations);
* `Chain`: output i reads input i and the previous output i-1 of the same layer (recurrence).

The distance from input j to output i is the fewest hops over a stack of such layers: a
feed-forward layer is one hop; a recurrence step is one hop. The reported value is the largest
distance over all pairs j != i that some stack connects, found by propagating the reach set of
every source position layer by layer. None means no two distinct positions are ever connected
(position-wise layers: the paper's infinity).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True, eq=False)
class Ranges:
    lo: np.ndarray
    hi: np.ndarray
    n_in: int
    cross: bool = False     # outputs and inputs are different sequences even when n_in == len(lo)


@dataclass(frozen=True, eq=False)
class Taps:
    n: int
    offsets_for_layer: Callable[[int], np.ndarray]   # stack depth (0 = first layer) -> tap offsets
    constant: bool = True                            # every layer has the same offsets


@dataclass(frozen=True)
class Chain:
    n: int


@dataclass(frozen=True)
class Pointwise:
    """Output i reads input i only (position embedding, feed-forward)."""
    n: int


def max_path_length(conn) -> int | None:
    if isinstance(conn, Chain):
        return _chain(conn.n)
    if isinstance(conn, Pointwise):
        lo = np.arange(conn.n)
        return _ranges(Ranges(lo, lo + 1, conn.n))
    if isinstance(conn, Ranges):
        return _ranges(conn)
    if isinstance(conn, Taps):
        return _taps(conn)
    raise TypeError(f"unknown connectivity {type(conn).__name__}")


@functools.lru_cache(maxsize=256)          # the table asks for the same long chains again
def _chain(n: int) -> int | None:
    from .kernels import paths

    return int(paths.chain_search(n)) or None


def _ranges(conn: Ranges) -> int | None:
    from .kernels import paths

    lo = np.ascontiguousarray(conn.lo, np.int64)
    hi = np.ascontiguousarray(conn.hi, np.int64)
    n = len(lo)
    if conn.n_in != n or conn.cross:
        # Cross-attention (targets read a different sequence): no stacking; one hop or nothing.
        return 1 if np.any(hi > lo) else None
    idx = np.arange(n)
    if np.all(np.diff(lo) >= 0) and np.all(np.diff(hi) >= 0) and np.all((lo <= idx) & (idx < hi)):
        d = paths.interval_search(_readonly(lo), _readonly(hi))   # reach sets stay intervals and only grow
    else:
        d = _bitset_search(n, _ranges_as_layers(lo, hi))
    return int(d) or None


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view: ranges come frozen from masks or freshly computed, and the kernel is
    compiled for one of the two."""
    view = a.view()
    view.setflags(write=False)
    return view


def _ranges_as_layers(lo, hi):
    """Explicit (output, input) edge lists for the bitset search."""
    src = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)]) if len(lo) else np.zeros(0, np.int64)
    dst = np.repeat(np.arange(len(lo)), hi - lo)
    return ("edges", dst.astype(np.int64), src.astype(np.int64))


def _taps(conn: Taps) -> int | None:
    n = conn.n
    first = np.unique(np.asarray(conn.offsets_for_layer(0), np.int64))
    if len(first) == 0:
        return None                       # every tap reads padding: no two positions connect
    if conn.constant and len(first) == first[-1] - first[0] + 1 and first[0] <= 0 <= first[-1]:
        idx = np.arange(n)
        return _ranges(Ranges(np.clip(idx + first[0], 0, n), np.clip(idx + first[-1] + 1, 0, n), n))
    return int(_bitset_search(n, ("taps", conn))) or None


def _schedule(conn: Taps, n: int) -> np.ndarray:
    """Tap offsets per stacked layer, padded with a sentinel, deep enough to cover any pair."""
    layers = []
    span = 0
    limit = 4 * n + 4 if conn.constant else 64 + 4 * n.bit_length() ** 2
    while len(layers) < limit:
        offs = np.unique(np.asarray(conn.offsets_for_layer(len(layers)), np.int64))
        layers.append(offs)
        span += int(offs[-1] - offs[0]) if len(offs) else 4 * n      # no tap inside: nothing farther

        if not conn.constant and span >= 4 * n and len(layers) >= 2:
            break
    width = max(1, max(len(o) for o in layers))
    table = np.full((len(layers), width), np.iinfo(np.int64).min, np.int64)
    for i, o in enumerate(layers):
        table[i, :len(o)] = o
    return table


class SearchTooLarge(Exception):
    """The exact search would take longer than limits.MAX_PATH_SEARCH_STEPS; `steps` its estimate."""

    def __init__(self, steps: int):
        self.steps = steps
        super().__init__(f"about {steps:.2g} steps")


def _bitset_search(n: int, spec) -> int:
    from .kernels import paths
    from .limits import MAX_PATH_SEARCH_STEPS

    words = (n + 63) // 64
    if spec[0] == "edges":
        _, dst, src = spec
        steps = n * n * (len(dst) + n)                     # sources x hops x (edges + positions)
        if steps > MAX_PATH_SEARCH_STEPS:
            raise SearchTooLarge(steps)
        return paths.edge_search(n, dst, src)
    conn = spec[1]
    first = np.unique(np.asarray(conn.offsets_for_layer(0)))
    # constant taps that include 0 grow a reach set by one position a layer or stop: <= n + 1 layers
    layers = (n + 2 if 0 in first else 4 * n + 4) if conn.constant else 64 + 4 * n.bit_length() ** 2
    taps = len(first)
    steps = n * layers * taps * words
    if steps > MAX_PATH_SEARCH_STEPS or layers * taps > MAX_PATH_SEARCH_STEPS // 64:    # the table's entries too
        raise SearchTooLarge(steps)
    table = _schedule(conn, n)
    return paths.taps_search(n, words, table, conn.constant)

