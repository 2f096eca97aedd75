"""Brute-force buffer replay of the GEMM tile walk: a test-only reference for kernels/gemm.py.

Written from docs/architecture.md ("The GEMM tile walk (kernels/gemm.py)") and docs/conventions/systolic.md §5, not from
the kernel.  It is deliberately slow and literal:

1. enumerate every innermost tile step of the loop nest (batch, then each level's three loops,
   outermost level first, partial edge tiles included) and drop the steps a mask leaves empty;
2. replay the computed steps through an explicit model of every on-chip level (the resident A, B
   and C tile with their byte sizes, and the set of output tiles already written), which yields
   the fills and drains of every boundary;
3. count the array work of each step with the per-dataflow table;
4. build the tree of level steps (maximal runs of computed steps sharing a level-l tile) and
   evaluate the document's timing recurrence on it.

Everything here is plain Python on small problems; nothing is imported from the simulator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

AXES = "mkn"


# --- inputs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """C[b] (M x N) += A[b] (M x K) @ B[b] (K x N) for b < batch.

    mask_axis is None (no mask), "n" (row i of C needs columns [lo_i, hi_i)) or "k" (row i
    reduces over k in [lo_i, hi_i)); mask_lo / mask_hi have one entry per row of C.
    """
    m: int
    k: int
    n: int
    batch: int = 1
    shared_b: bool = False
    mask_axis: str | None = None
    mask_lo: tuple[int, ...] = ()
    mask_hi: tuple[int, ...] = ()

    def extent(self, axis: str) -> int:
        return {"m": self.m, "k": self.k, "n": self.n}[axis]


@dataclass(frozen=True)
class Level:
    """One on-chip level: its tile (tm, tk, tn), loop order (outermost first) and the rates of
    the boundary between it and the next level outwards (bytes per cycle)."""
    tile: tuple[int, int, int]
    order: str
    double_buffered: bool
    fill_bw: float     # min(read bw of level l+1, write bw of level l)
    drain_bw: float    # min(read bw of level l, write bw of level l+1)

    def pitch(self, axis: str) -> int:
        return self.tile[AXES.index(axis)]


@dataclass(frozen=True)
class Array:
    rows: int
    cols: int
    dataflow: str          # "os", "ws" or "is"
    pipelined: bool
    unit_read_bw: float    # read bw of level 0
    unit_write_bw: float   # write bw of level 0
    elem_bytes: int


# --- small arithmetic helpers -----------------------------------------------------------------
def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def transfer_cycles(nbytes: int, bw: float) -> int:
    """Time of moving `nbytes` at `bw` bytes/cycle: ceil(x / w)."""
    return math.ceil(nbytes / bw) if nbytes else 0


def overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


# --- the loop nest ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One innermost tile step: batch element b and half-open ranges along m, k, n."""
    b: int
    m: tuple[int, int]
    k: tuple[int, int]
    n: tuple[int, int]

    def range(self, axis: str) -> tuple[int, int]:
        return {"m": self.m, "k": self.k, "n": self.n}[axis]

    def size(self, axis: str) -> int:
        lo, hi = self.range(axis)
        return hi - lo


def tile_ranges(lo: int, hi: int, pitch: int) -> list[tuple[int, int]]:
    """Tiles of pitch `pitch` covering [lo, hi); the last one may be partial."""
    return [(s, min(s + pitch, hi)) for s in range(lo, hi, pitch)]


def innermost_steps(problem: Problem, levels: list[Level]) -> list[Step]:
    """Every innermost step of the loop nest, in walk order (masked-out steps included)."""
    steps: list[Step] = []

    def walk(b: int, level: int, box: dict[str, tuple[int, int]]) -> None:
        lv = levels[level]
        ranges = {axis: tile_ranges(*box[axis], lv.pitch(axis)) for axis in AXES}
        outer, middle, inner = lv.order
        for r0 in ranges[outer]:
            for r1 in ranges[middle]:
                for r2 in ranges[inner]:
                    sub = {outer: r0, middle: r1, inner: r2}
                    if level == 0:
                        steps.append(Step(b, sub["m"], sub["k"], sub["n"]))
                    else:
                        walk(b, level - 1, sub)

    whole = {axis: (0, problem.extent(axis)) for axis in AXES}
    for b in range(problem.batch):
        walk(b, len(levels) - 1, whole)
    return steps


def useful_macs(problem: Problem, step: Step) -> int:
    """MACs the math needs in this step: other x sum_i |[lo_i, hi_i) ∩ axis range|."""
    if problem.mask_axis is None:
        return step.size("m") * step.size("k") * step.size("n")
    other = step.size("k") if problem.mask_axis == "n" else step.size("n")
    axis_range = step.range(problem.mask_axis)
    valid = sum(overlap((problem.mask_lo[i], problem.mask_hi[i]), axis_range) for i in range(*step.m))
    return other * valid


# --- tiles of a level ---------------------------------------------------------------------------
def level_tile_key(problem: Problem, level: Level, step: Step) -> tuple[int, int, int, int]:
    """(batch, m, k, n) index of the level tile containing this innermost step."""
    return (step.b,) + tuple(step.range(axis)[0] // level.pitch(axis) for axis in AXES)


def level_tile_extent(problem: Problem, level: Level, axis: str, index: int) -> int:
    """Extent along `axis` of the level tile with grid index `index` (partial at the edge)."""
    pitch = level.pitch(axis)
    return min(pitch, problem.extent(axis) - index * pitch)


def operand_tiles(problem: Problem, level: Level, step: Step) -> dict[str, tuple[tuple, int]]:
    """Resident-tile key and word count of A, B and C needed by `step` at this level."""
    b, im, ik, in_ = level_tile_key(problem, level, step)
    em = level_tile_extent(problem, level, "m", im)
    ek = level_tile_extent(problem, level, "k", ik)
    en = level_tile_extent(problem, level, "n", in_)
    b_batch = 0 if problem.shared_b else b
    return {"A": ((b, im, ik), em * ek),
            "B": ((b_batch, ik, in_), ek * en),
            "C": ((b, im, in_), em * en)}


@dataclass
class LevelBuffer:
    """An on-chip level as the document models it: one resident tile per operand, plus the
    output tiles some computed step has already written (the partial-sum rule)."""
    resident: dict[str, tuple[tuple, int] | None] = field(default_factory=lambda: {"A": None, "B": None, "C": None})
    written: set = field(default_factory=set)

    def visit(self, wanted: dict[str, tuple[tuple, int]], elem_bytes: int) -> dict[str, int]:
        """Make `wanted` resident; returns the bytes moved: fill_a, fill_b, fill_c, drain_c."""
        moved = {"fill_a": 0, "fill_b": 0, "fill_c": 0, "drain_c": 0}
        for operand in ("A", "B"):
            if self.resident[operand] is None or self.resident[operand][0] != wanted[operand][0]:
                moved["fill_" + operand.lower()] += wanted[operand][1] * elem_bytes
                self.resident[operand] = wanted[operand]
        old_c = self.resident["C"]
        if old_c is None or old_c[0] != wanted["C"][0]:
            if old_c is not None:
                moved["drain_c"] += old_c[1] * elem_bytes       # written back before replacement
            if wanted["C"][0] in self.written:
                moved["fill_c"] += wanted["C"][1] * elem_bytes  # partial sums come back
            self.resident["C"] = wanted["C"]
        self.written.add(wanted["C"][0])                        # this computed step writes into it
        return moved

    def final_drain_bytes(self, elem_bytes: int) -> int:
        return 0 if self.resident["C"] is None else self.resident["C"][1] * elem_bytes


# --- array work of one sub-GEMM ---------------------------------------------------------------
def folds_and_temporal(dataflow: str, rows: int, cols: int, tm: int, tk: int, tn: int) -> tuple[int, int]:
    if dataflow == "os":
        return cdiv(tm, rows) * cdiv(tn, cols), tk
    if dataflow == "ws":
        return cdiv(tk, rows) * cdiv(tn, cols), tm
    return cdiv(tk, rows) * cdiv(tm, cols), tn


def unit_words(dataflow: str, rows: int, cols: int, tm: int, tk: int, tn: int) -> tuple[int, int, int]:
    """Words the unit reads of A, of B, and writes of C (before the partial-sum read rule)."""
    if dataflow == "os":
        return cdiv(tn, cols) * tm * tk, cdiv(tm, rows) * tk * tn, tm * tn
    if dataflow == "ws":
        return cdiv(tn, cols) * tm * tk, tk * tn, cdiv(tk, rows) * tm * tn
    return tm * tk, cdiv(tm, cols) * tk * tn, cdiv(tk, rows) * tm * tn


def fold_cycles(dataflow: str, rows: int, cols: int, folds: int, temporal: int, pipelined: bool) -> int:
    """Array cycles of the step, without the once-per-op pipelined fill and drain."""
    if pipelined:
        return folds * temporal if dataflow == "os" else folds * max(temporal, rows)
    if dataflow == "os":
        return folds * (temporal + rows + cols - 2)
    return folds * (2 * rows + cols + temporal - 2)


def pipeline_fill_drain(dataflow: str, rows: int, cols: int) -> int:
    return rows + cols - 2 if dataflow == "os" else 2 * rows + cols - 2


# --- the timing tree ----------------------------------------------------------------------------
@dataclass
class LevelStep:
    """A maximal run of consecutive computed innermost steps with the same level-l tile."""
    level: int
    key: tuple
    fill_cycles: int = 0       # F(s): the fills across boundary l made when it begins
    drain_cycles: int = 0      # D(s): the drain of the C tile it replaces
    own_cycles: int = 0        # level 0 only: the innermost step's own duration
    children: list = field(default_factory=list)
    next: "LevelStep | None" = None   # next level-l step in the global sequence


def build_tree(records: list[dict], levels: list[Level]) -> list[LevelStep]:
    """Group the computed steps into level steps, outermost level first; returns the top steps.

    Each record carries "keys" (level-l tile key per level), "fill_cycles"/"drain_cycles" (per
    level, for the boundary transfers this innermost step triggered) and "own_cycles".
    """
    top = len(levels) - 1

    def group(recs: list[dict], level: int) -> list[LevelStep]:
        out: list[LevelStep] = []
        runs: list[list[dict]] = []
        for rec in recs:
            if runs and runs[-1][0]["keys"][level] == rec["keys"][level]:
                runs[-1].append(rec)
            else:
                runs.append([rec])
        for run in runs:
            first = run[0]
            # transfers across boundary l only happen when a new level-l tile begins
            assert all(r["fill_bytes"][level] == 0 and r["drain_bytes"][level] == 0 for r in run[1:])
            node = LevelStep(level, first["keys"][level], first["fill_cycles"][level], first["drain_cycles"][level])
            if level == 0:
                assert len(run) == 1
                node.own_cycles = first["own_cycles"]
            else:
                node.children = group(run, level - 1)
            out.append(node)
        return out

    return group(records, top) if records else []


def steps_of_level(roots: list[LevelStep], level: int) -> list[LevelStep]:
    """The global sequence of level-l steps, in walk order."""
    out: list[LevelStep] = []

    def visit(node: LevelStep) -> None:
        if node.level == level:
            out.append(node)
        else:
            for child in node.children:
                visit(child)

    for root in roots:
        visit(root)
    return out


def evaluate_cycles(roots: list[LevelStep], levels: list[Level]) -> int:
    """Main time: the durations of the outermost level's steps, by the document's recurrence."""
    for level in range(len(levels)):
        seq = steps_of_level(roots, level)
        for a, b in zip(seq, seq[1:]):
            a.next = b

    memo: dict[int, int] = {}

    def inner(s: LevelStep) -> int:
        return s.own_cycles if s.level == 0 else sum(dur(c) for c in s.children)

    def dur(s: LevelStep) -> int:
        if id(s) not in memo:
            if levels[s.level].double_buffered:
                fill_next = s.next.fill_cycles if s.next is not None else 0
                memo[id(s)] = max(inner(s), fill_next, s.drain_cycles)
            else:
                memo[id(s)] = s.drain_cycles + s.fill_cycles + inner(s)
        return memo[id(s)]

    return sum(dur(r) for r in roots)


# --- the replay -------------------------------------------------------------------------------
def replay(problem: Problem, levels: list[Level], array: Array) -> dict:
    """Replay the tile walk; returns the counters (bytes where the kernel counts bytes).

    Keys: macs, slot_macs, folds, tiles, skipped_tiles, array_cycles, cycles, unit_read_a,
    unit_read_b, unit_read_c, unit_write_c, and "boundaries": a list (innermost first) of dicts
    with fill_a, fill_b, fill_c, drain_c.
    """
    eb = array.elem_bytes
    R, C = array.rows, array.cols
    buffers = [LevelBuffer() for _ in levels]
    totals = dict(macs=0, slot_macs=0, folds=0, tiles=0, skipped_tiles=0, array_cycles=0,
                  unit_read_a=0, unit_read_b=0, unit_read_c=0, unit_write_c=0)
    boundaries = [dict(fill_a=0, fill_b=0, fill_c=0, drain_c=0) for _ in levels]
    records: list[dict] = []

    for step in innermost_steps(problem, levels):
        useful = useful_macs(problem, step)
        if useful == 0:
            totals["skipped_tiles"] += 1
            continue
        first_computed = totals["tiles"] == 0
        totals["tiles"] += 1
        totals["macs"] += useful

        # the level-0 output tile was computed before (checked before this step marks it)
        c0_key = operand_tiles(problem, levels[0], step)["C"][0]
        c_seen_before = c0_key in buffers[0].written

        # boundary transfers, level by level
        fill_bytes, drain_bytes, fill_cyc, drain_cyc, keys = [], [], [], [], []
        for l, (lv, buf) in enumerate(zip(levels, buffers)):
            moved = buf.visit(operand_tiles(problem, lv, step), eb)
            for name, value in moved.items():
                boundaries[l][name] += value
            fills = moved["fill_a"] + moved["fill_b"] + moved["fill_c"]
            fill_bytes.append(fills)
            drain_bytes.append(moved["drain_c"])
            fill_cyc.append(transfer_cycles(fills, lv.fill_bw))
            drain_cyc.append(transfer_cycles(moved["drain_c"], lv.drain_bw))
            keys.append(level_tile_key(problem, lv, step))

        # array work
        tm, tk, tn = step.size("m"), step.size("k"), step.size("n")
        folds, temporal = folds_and_temporal(array.dataflow, R, C, tm, tk, tn)
        read_a, read_b, write_c = unit_words(array.dataflow, R, C, tm, tk, tn)
        read_c = write_c - tm * tn + (tm * tn if c_seen_before else 0)
        cycles = fold_cycles(array.dataflow, R, C, folds, temporal, array.pipelined)
        if array.pipelined and first_computed:
            cycles += pipeline_fill_drain(array.dataflow, R, C)
        totals["folds"] += folds
        totals["slot_macs"] += folds * R * C * temporal
        totals["array_cycles"] += cycles
        totals["unit_read_a"] += read_a * eb
        totals["unit_read_b"] += read_b * eb
        totals["unit_read_c"] += read_c * eb
        totals["unit_write_c"] += write_c * eb
        reads = (read_a + read_b + read_c) * eb
        own = max(cycles, transfer_cycles(reads, array.unit_read_bw),
                  transfer_cycles(write_c * eb, array.unit_write_bw))
        records.append(dict(keys=keys, fill_bytes=fill_bytes, drain_bytes=drain_bytes,
                            fill_cycles=fill_cyc, drain_cycles=drain_cyc, own_cycles=own))

    # final drains: every level's last resident C tile
    final_drain_cycles = 0
    for l, (lv, buf) in enumerate(zip(levels, buffers)):
        last = buf.final_drain_bytes(eb)
        boundaries[l]["drain_c"] += last
        final_drain_cycles += transfer_cycles(last, lv.drain_bw)

    roots = build_tree(records, levels)
    main = evaluate_cycles(roots, levels)
    exposed_first_fills = 0
    for l, lv in enumerate(levels):
        seq = steps_of_level(roots, l)
        if lv.double_buffered and seq:
            exposed_first_fills += seq[0].fill_cycles
    totals["cycles"] = main + exposed_first_fills + final_drain_cycles
    totals["boundaries"] = boundaries
    return totals
