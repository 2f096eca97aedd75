"""Primitive operations and the op graph a layer is lowered into.

Tensors are named; in functional mode they live in a dict (the "store") of numpy arrays with a
leading batch axis: a GEMM reads A (batch, m, k) and B (batch or 1, k, n) and writes C (batch, m, n).
Every op names the ops it depends on and the phase it belongs to; phases are what the paper's
"sequential operations" column counts.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .enums import VecKind


class RowRanges:
    """Row i of a masked matrix is valid on columns [lo[i], hi[i]); everything else is masked out.

    The arrays may be deferred (`RowRanges.deferred`): a layer's op graph is then built in
    microseconds whatever its size, so its counts and memory can be bounded (upper_bounds.py, guard.py)
    before a mask of a billion rows is ever allocated. `rows` is known either way.
    """
    __slots__ = ("rows", "_make", "_arrays", "_digest")     # _digest: mapeval caches the bytes hash here

    def __init__(self, lo, hi):
        lo, hi = _normalised(lo, hi)
        self.rows = len(lo)
        self._make = None
        self._arrays = (lo, hi)

    @classmethod
    def from_arrays(cls, lo, hi) -> "RowRanges":
        return cls(lo, hi)

    @classmethod
    def deferred(cls, rows: int, make: Callable[[], tuple]) -> "RowRanges":
        """Ranges of `rows` rows whose (lo, hi) arrays `make()` computes on first use."""
        self = cls.__new__(cls)
        self.rows = int(rows)
        self._make = make
        self._arrays = None
        return self

    def _get(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            lo, hi = _normalised(*self._make())
            if len(lo) != self.rows:
                raise ValueError(f"deferred ranges made {len(lo)} rows, {self.rows} were announced")
            self._arrays = (lo, hi)
            self._make = None
        return self._arrays

    @property
    def lo(self) -> np.ndarray:
        return self._get()[0]

    @property
    def hi(self) -> np.ndarray:
        return self._get()[1]

    @property
    def lengths(self) -> np.ndarray:
        lo, hi = self._get()
        return hi - lo

    def valid(self) -> int:
        return int(self.lengths.sum())


def _normalised(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array(lo, dtype=np.int64)          # copies: the stored arrays are read-only
    hi = np.maximum(np.asarray(hi, dtype=np.int64), lo)
    lo.setflags(write=False)
    hi.setflags(write=False)
    return lo, hi


@dataclass(frozen=True)
class TensorSpec:
    """A tensor of the layer.  role: input | weight | intermediate | output.

    `init` draws the values of an input or weight in functional mode: a function of
    (numpy Generator, shape) returning float64 values; None means standard normal.
    """
    name: str
    shape: tuple[int, ...]
    role: str
    init: Callable | None = field(default=None, compare=False)


@dataclass(frozen=True, eq=False)
class Gemm:
    """C = A @ B per batch element, on the MAC array."""
    name: str
    a: str
    b: str
    c: str
    m: int
    k: int
    n: int
    batch: int = 1
    shared_b: bool = False              # B has no batch axis (weights shared by every batch element)
    mask: RowRanges | None = None       # per-row ranges over the n axis (scores) or the k axis (P @ V)
    mask_axis: str = "n"
    phase: str = ""
    deps: tuple[str, ...] = ()
    dataflow: object = None             # None: the hardware's dataflow
    step_barrier: bool = False          # batch elements are dependent steps (set by Recurrence)
    unit = "array"

    @property
    def useful_macs(self) -> int:
        if self.mask is None:
            return self.batch * self.m * self.k * self.n
        other = self.k if self.mask_axis == "n" else self.n
        return self.batch * other * self.mask.valid()


class VOp:
    """Vector-unit opcodes.  Each has the kind it is counted as (sampling counts three kinds)."""
    (ADD, SUB, MUL, DIV, MAX, EXP, TANH, SIGMOID, SIN, COS, RSQRT, RMAX, RSUM, SCALE, ADD_CONST,
     ARGMAX, SAMPLE, SQUARE, MAX_CONST) = range(19)
    NAMES = ("add", "sub", "mul", "div", "max", "exp", "tanh", "sigmoid", "sin", "cos", "rsqrt",
             "rowmax", "rowsum", "scale", "add_const", "argmax", "sample", "square", "max_const")
    KIND = (VecKind.ADD, VecKind.ADD, VecKind.MUL, VecKind.DIV, VecKind.MAX, VecKind.EXP, VecKind.TANH,
            VecKind.SIGMOID, VecKind.SIN, VecKind.COS, VecKind.RSQRT, VecKind.MAX, VecKind.ADD, VecKind.MUL,
            VecKind.ADD, VecKind.MAX, VecKind.MAX, VecKind.MUL, VecKind.MAX)
    ROW_OUTPUT = (11, 12, 15, 16)     # rowmax, rowsum, argmax, sample: one value per row


@dataclass(frozen=True)
class VPass:
    """One vector pass: dst = opcode(src...), over each row's valid range.

    rowmax, rowsum, argmax and sample write one value per row (a tensor of width 1); argmax and
    sample write the chosen column index.  sample(p, u) draws from row p by inverse CDF in float64
    with the row's uniform u (docs/conventions/layers.md §6.4).  A width-1 source is broadcast
    along the row, a column vector (see VectorOp.col_vectors) down the rows.
    """
    opcode: int
    dst: str
    src: tuple[str, ...]
    const: float = 0.0


@dataclass(frozen=True, eq=False)
class VectorOp:
    """A program of vector passes over `rows` x `cols` tensors (batch of them), chunked through memory.

    `inputs` are read from memory and `outputs` written back; every other tensor a pass touches is
    a temporary that lives only on chip.  `widths` gives each tensor's row width (cols, or 1 for a
    per-row scalar).
    """
    name: str
    passes: tuple[VPass, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    rows: int
    cols: int
    widths: tuple[tuple[str, int], ...]
    batch: int = 1
    ranges: RowRanges | None = None
    phase: str = ""
    deps: tuple[str, ...] = ()
    col_vectors: tuple[str, ...] = ()   # tensors of shape (batch, 1, cols) shared by every row
    unit = "vector"

    def width(self, tensor: str) -> int:
        return dict(self.widths).get(tensor, self.cols)

    def height(self, tensor: str) -> int:
        return 1 if tensor in self.col_vectors else self.rows


@dataclass(frozen=True)
class OpGraph:
    """Ops in a topological order, the layer's tensors, and what feeds what."""
    ops: tuple
    tensors: tuple[TensorSpec, ...]

    def __post_init__(self):
        names = [op.name for op in self.ops]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate op names in graph: {names}")
        seen: set[str] = set()
        for op in self.ops:
            missing = [d for d in op.deps if d not in seen]
            if missing:
                raise ValueError(f"op {op.name!r} depends on {missing}, which do not precede it")
            seen.add(op.name)

    def tensor(self, name: str) -> TensorSpec:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    @functools.cached_property
    def _depth(self) -> int:
        return longest_phase_chain(self.ops)

    def phase_depth(self) -> int:
        """Length of the longest chain of dependent phases (the table's sequential operations)."""
        return self._depth


def longest_phase_chain(ops) -> int:
    """Number of distinct phases on the longest dependency chain through `ops`.

    Ops that share a phase label form one phase; an edge between two ops of different phases
    orders those phases. A Recurrence counts as `steps` x the phase depth of its body. Ops are
    given in topological order.
    """
    phase_of = {op.name: (op.phase or op.name) for op in ops}
    depth: dict[str, int] = {}
    for op in ops:
        ph = phase_of[op.name]
        weight = op.steps * longest_phase_chain(op.body) if isinstance(op, Recurrence) else 1
        d = weight
        for dep in op.deps:
            dph = phase_of[dep]
            d = max(d, depth[dph] + (0 if dph == ph else weight))
        depth[ph] = max(depth.get(ph, 0), d)
    return max(depth.values(), default=0)


def softmax_passes(scores: str, probs: str, tag: str) -> tuple[tuple[VPass, ...], tuple[tuple[str, int], ...]]:
    """Max-shifted row softmax: rowmax, subtract, exp, rowsum, divide (spec: SM(m))."""
    mx, shifted, ex, total = f"{tag}.max", f"{tag}.shifted", f"{tag}.exp", f"{tag}.sum"
    passes = (
        VPass(VOp.RMAX, mx, (scores,)),
        VPass(VOp.SUB, shifted, (scores, mx)),
        VPass(VOp.EXP, ex, (shifted,)),
        VPass(VOp.RSUM, total, (ex,)),
        VPass(VOp.DIV, probs, (ex, total)),
    )
    return passes, ((mx, 1), (total, 1))


@dataclass(frozen=True, eq=False)
class Layout:
    """A free rearrangement (reshape, transpose, head split, slice, concat): no counts, no time.

    The DMA engine reads tiles with arbitrary strides, so a consumer can read a transposed or
    head-split view directly; `fn` only produces that view for functional runs.
    fn(*input arrays) -> tuple of output arrays (one per name in `outputs`).
    """
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    fn: Callable
    phase: str = ""
    deps: tuple[str, ...] = ()
    unit = "none"


@dataclass(frozen=True, eq=False)
class Gather:
    """out[b, i, :] = table[b, index[b, i], :]: rows picked by an index tensor (hard attention).

    The index tensor (batch, rows, 1) holds column positions as produced by argmax/sample passes.
    """
    name: str
    table: str
    index: str
    out: str
    rows: int
    width: int
    table_rows: int
    batch: int = 1
    phase: str = ""
    deps: tuple[str, ...] = ()
    unit = "dma"


@dataclass(frozen=True, eq=False)
class FusedAttention:
    """softmax(scale * Q K^T) V per batch element without materialising the scores off chip.

    FlashAttention's Algorithm 1 (Dao et al. 2022; docs/conventions/counting.md §3): K/V blocks of
    B_c rows outer, Q blocks of B_r rows inner, online softmax with running row max m and row sum l;
    O, l, m live in memory and are read and written once per (K/V block, Q block). Q (batch, n_q,
    d), K and V (batch, n_kv, d), O (batch, n_q, d); `mask` gives each query's valid key range.
    """
    name: str
    q: str
    k: str
    v: str
    o: str
    n_q: int
    n_kv: int
    d: int
    scale: float
    batch: int = 1
    mask: RowRanges | None = None
    phase: str = ""
    deps: tuple[str, ...] = ()
    unit = "array+vector"


@dataclass(frozen=True, eq=False)
class Recurrence:
    """`steps` dependent repetitions of a body: step t+1 starts only when step t has ended.

    Body GEMMs describe one step (their A and C are the step's state and products; B is the
    weight shared by every step). Across steps a GEMM walk continues with its buffer contents, so
    a weight whose tiles fit stays on chip (when the body's working sets fit together; otherwise
    it is re-read every step). `before(store, t)` writes step t's inputs into the store and
    `after(store, t)` collects its outputs; both only run in functional mode.
    """
    name: str
    steps: int
    body: tuple
    before: Callable
    after: Callable
    phase: str = ""
    deps: tuple[str, ...] = ()
    unit = "array+vector"
