"""Upper bounds, in Python integers, of every count the kernels can produce.

A bound is a list in the kernels' counter layout (enums.Counter, then four counters per memory
boundary): entry i is at least what counter i of the op's (or layer's) counts vector can reach.
guard.py refuses a workload when a bound, or a report column summed from bounds, could pass
limits.COUNT_LIMIT, so no int64 counter can wrap.

Two tiers, both sound for every op type of graph.py:
* `layer_bound` (coarse, any mapping): from a few hardware-independent sums per layer (MAC volume,
  vector operations per kind, elements moved, steps), cached per op graph, combined with a dozen
  hardware numbers. Microseconds per layer, so sweeps pay nothing noticeable. It assumes the
  worst tiling (every tile one element), so it is loose for big GEMMs on big arrays.
* `op_bound(op, hw, mapping)` (tight): a GEMM under its actual mapping, from per-axis sums over
  the tile grid (exact for MACs, slots, folds and array cycles of an unmasked GEMM), fused
  attention from its real block sizes. Used only where the coarse tier does not fit.

Cycles are bounded as compute time plus every transfer's time: a step's duration is at most
the sum of the terms of its max(), each transfer is ceil(bytes / bandwidth) <= bytes / bandwidth
+ 1 (+ 1 more for the float rounding of that quotient), and every fill or drain is timed once
(docs/architecture.md: the double-buffered recurrence counts each transfer in one duration).
"""
from __future__ import annotations

import math

from .enums import BOUNDARY_BASE, N_BOUNDARY_COUNTERS, N_VEC_KINDS, BoundaryCounter, Counter, VecKind, n_counters
from .graph import FusedAttention, Gather, Gemm, Layout, Recurrence, VectorOp, VOp

_UNIT = (Counter.UNIT_READ_A, Counter.UNIT_READ_B, Counter.UNIT_READ_C, Counter.UNIT_WRITE_C)
_SAFETY = 1 + 2 ** -40          # float quotients of transfer times are rounded up by this much


# --- hardware-independent sums of a layer -------------------------------------------------------
class Terms:
    """What a layer's ops amount to, independent of the hardware (Python ints, all upper bounds):
    `vol` MAC volume of array work (batch x M x K x N summed), `chains` timing chains that pay
    a pipelined fill and drain, `vec_ops[k]` vector operations of kind k, `vec_terms[k]` the
    (chunk, pass) pairs that round ops of kind k up to whole lanes, `unit` elements the vector
    unit reads and writes, `moved` elements crossing each boundary besides the GEMMs' (at most
    4 vol), `steps` chunks and blocks (each a few rounded transfers), `gather` gathered elements."""
    __slots__ = ("vol", "chains", "vec_ops", "vec_terms", "unit", "moved", "steps", "gather")

    def __init__(self):
        self.vol = self.chains = self.unit = self.moved = self.steps = self.gather = 0
        self.vec_ops = [0] * N_VEC_KINDS
        self.vec_terms = [0] * N_VEC_KINDS

    def add(self, other: "Terms", times: int = 1) -> None:
        for name in ("vol", "chains", "unit", "moved", "steps", "gather"):
            setattr(self, name, getattr(self, name) + times * getattr(other, name))
        for k in range(N_VEC_KINDS):
            self.vec_ops[k] += times * other.vec_ops[k]
            self.vec_terms[k] += times * other.vec_terms[k]


def op_terms(op) -> Terms:
    t = Terms()
    if isinstance(op, Gemm):
        t.vol = op.batch * op.m * op.k * op.n
        t.chains = op.batch if op.step_barrier else 1
    elif isinstance(op, VectorOp):
        _vector_terms(op, t)
    elif isinstance(op, FusedAttention):
        _fused_terms(op, t)
    elif isinstance(op, Gather):
        t.gather = op.batch * op.rows * op.width
        t.moved = op.batch * op.rows * (2 + 2 * op.width)
        t.steps = op.batch
    elif isinstance(op, Recurrence):
        for body in op.body:
            step = op_terms(body)
            if isinstance(body, Gemm):       # one walk over all steps, each step its own chain
                step.chains = body.batch
            t.add(step, op.steps)
    elif not isinstance(op, Layout):
        raise TypeError(f"no count bound for op type {type(op).__name__}: add one to upper_bounds.py")
    return t


def _pass_kinds(p) -> tuple[VecKind, ...]:
    if p.opcode == VOp.SAMPLE:              # prefix-sum adds, one multiply, a binary search
        return VecKind.ADD, VecKind.MUL, VecKind.MAX
    return (VOp.KIND[p.opcode],)


def _vector_terms(op: VectorOp, t: Terms) -> None:
    """Every pass touches at most batch x rows x cols elements (a binary search at most
    bit_length(cols) per row), reads two operands and writes one; a chunk is at least one row
    and, streaming, one pass."""
    rows = op.batch * op.rows
    elems = rows * op.cols
    for p in op.passes:
        for kind in _pass_kinds(p):
            t.vec_ops[kind] += elems if kind != VecKind.MAX or p.opcode != VOp.SAMPLE else \
                rows * max(1, op.cols.bit_length())
            t.vec_terms[kind] += rows
        t.unit += 3 * elems + 2 * rows
        t.moved += 3 * elems
    t.steps = rows * max(1, len(op.passes))


def _fused_terms(op: FusedAttention, t: Terms) -> None:
    """Blocks of at least one query and one key: at most U = batch x n_q x n_kv of them; per
    block kernels/fused.py counts the vector work below (valid <= rows x keys of the block)."""
    u = op.batch * op.n_q * op.n_kv
    d = op.d
    t.vol = 2 * u * d
    t.chains = 1
    for kind, ops, terms in ((VecKind.MUL, 4 + 2 * d, 3), (VecKind.MAX, 2, 2), (VecKind.ADD, 5 + d, 5),
                             (VecKind.EXP, 3, 2), (VecKind.DIV, d, 1)):
        t.vec_ops[kind] += u * ops
        t.vec_terms[kind] += u * terms
    t.unit = u * (32 + 10 * d)
    t.moved = u * (3 * d + 4) + op.batch * (2 * op.n_kv * d + op.n_q * d + 2 * op.n_q)
    t.steps = 4 * (u + op.batch)


def per_graph(graph, key: str, make):
    """`make(graph)`, computed once per op graph (graphs are cached per layer spec; keyed by
    identity, since hashing a graph hashes all its ops)."""
    entry = _PER_GRAPH.get(id(graph))
    if entry is None or entry[0] is not graph:
        entry = _PER_GRAPH[id(graph)] = (graph, {})
        if len(_PER_GRAPH) > 4096:
            _PER_GRAPH.pop(next(iter(_PER_GRAPH)))
    values = entry[1]
    if key not in values:
        values[key] = make(graph)
    return values[key]


_PER_GRAPH: dict = {}


def graph_terms(graph) -> Terms:
    def make(g):
        total = Terms()
        for op in g.ops:
            total.add(op_terms(op))
        return total
    return per_graph(graph, "terms", make)


# --- hardware numbers the bounds use ------------------------------------------------------------
def rates(hw) -> tuple[float, list[float]]:
    """The slowest port of the innermost level (unit traffic), and per boundary the slower of its
    fill and drain bandwidths."""
    from .lowering import boundary_rates

    inner = hw.on_chip[0]
    unit = min(inner.read_bw_bytes_per_cycle, inner.write_bw_bytes_per_cycle)
    return unit, [min(f, d) for f, d in boundary_rates(hw)]


def transfer_time(nbytes: int, bytes_per_cycle: float, transfers: int) -> int:
    """Cycles of `transfers` transfers moving `nbytes` in all: sum of ceil(x / bw) + float slack."""
    if nbytes == 0:
        return 0
    return math.ceil(nbytes / bytes_per_cycle * _SAFETY) + 2 * transfers


def combine(terms: Terms, hw) -> list[int]:
    """The coarse bound of counts with these terms on `hw` (any mapping)."""
    arr, eb = hw.mac_array, hw.bytes_per_element
    r, c, vol = arr.rows, arr.cols, terms.vol
    levels = hw.n_boundaries
    out = [0] * n_counters(levels)
    out[Counter.MACS] = out[Counter.FOLDS] = out[Counter.TILES] = out[Counter.SKIPPED_TILES] = vol
    out[Counter.SLOT_MACS] = vol * r * c
    out[Counter.ARRAY_CYCLES] = vol * (1 + 2 * r + c) + terms.chains * (2 * r + c)
    lanes, cpo = hw.vector_unit.lanes, hw.vector_unit.cycles_per_op
    out[Counter.VECTOR_CYCLES] = sum((terms.vec_ops[k] // lanes + 1 + terms.vec_terms[k]) * cpo[k]
                                     for k in range(N_VEC_KINDS) if terms.vec_ops[k] or terms.vec_terms[k])
    for k in range(N_VEC_KINDS):
        out[Counter.VEC_OPS + k] = terms.vec_ops[k]
    out[Counter.GATHER_ELEMS] = terms.gather
    unit_bytes = (4 * vol + terms.unit) * eb
    moved_bytes = (4 * vol + terms.moved) * eb
    for i in _UNIT:
        out[i] = unit_bytes
    for b in range(levels):
        for which in BoundaryCounter:
            out[BOUNDARY_BASE + N_BOUNDARY_COUNTERS * b + which] = moved_bytes
    steps = vol + terms.steps + terms.chains
    unit_bw, boundary_bw = rates(hw)
    out[Counter.CYCLES] = (out[Counter.ARRAY_CYCLES] + out[Counter.VECTOR_CYCLES]
                           + transfer_time(4 * unit_bytes, unit_bw, 4 * steps)
                           + sum(transfer_time(4 * moved_bytes, bw, 4 * steps) for bw in boundary_bw))
    _engine_cycles(out)
    return out


def _engine_cycles(out: list[int]) -> None:
    """The off-chip fill and drain engines' busy cycles (the schedule's counters) are transfer times
    each kernel also counts inside its own cycles, so the cycles bound bounds them too."""
    out[Counter.OFFCHIP_FILL_CYCLES] = out[Counter.OFFCHIP_DRAIN_CYCLES] = out[Counter.CYCLES]


def layer_bound(graph, hw) -> list[int]:
    """Coarse bound of the summed counts of a layer's ops on `hw`, under any mappings."""
    return combine(graph_terms(graph), hw)


# --- the tight tier -----------------------------------------------------------------------------
def op_bound(op, hw, mapping=None) -> list[int]:
    """Bound of one op's counts on `hw`: a GEMM under `mapping` (the coarse bound when None), fused
    attention from its real block sizes, other ops from their coarse terms."""
    if isinstance(op, Gemm) and mapping is not None:
        return gemm_bound(op, hw, mapping)
    if isinstance(op, FusedAttention):
        return fused_bound(op, hw)
    if isinstance(op, Recurrence):
        from .recurrence import resident_mappings

        mappings, _ = resident_mappings(op.body, hw)
        total = [0] * n_counters(hw.n_boundaries)
        for body in op.body:
            if isinstance(body, Gemm):
                from dataclasses import replace

                walk = replace(body, batch=body.batch * op.steps, step_barrier=True)
                part = gemm_bound(walk, hw, mappings[body.name])
            else:
                part = [x * op.steps for x in op_bound(body, hw)]
            total = add(total, part)
        return total
    return combine(op_terms(op), hw)


def add(a: list[int], b: list[int]) -> list[int]:
    return [x + y for x, y in zip(a, b)]


def _pieces(full: int, tile: int) -> int:
    return -(-full // tile)


def _fold_sum(full: int, tile: int, unit: int) -> int:
    """Sum over the tiles of pitch `tile` covering [0, full) of cdiv(tile extent, unit)."""
    whole, rest = divmod(full, tile)
    return whole * -(-tile // unit) + (-(-rest // unit) if rest else 0)


def gemm_bound(op: Gemm, hw, mapping) -> list[int]:
    """A GEMM's counts under `mapping`. Level-l tiles lie on a grid of pitch t_l clipped to the
    problem (tiles nest), so sums over steps factor into per-axis sums: exact for MACs, slots, folds,
    array cycles and unit traffic of an unmasked GEMM (a mask only skips steps); every level-l step
    fills at most its A, B and C tiles and drains at most one C tile."""
    arr, eb, batch = hw.mac_array, hw.bytes_per_element, op.batch
    r, c = arr.rows, arr.cols
    m, k, n = op.m, op.k, op.n
    flow = int(mapping.dataflow if mapping.dataflow is not None else
               op.dataflow if op.dataflow is not None else arr.dataflow)
    (tm, tk, tn) = mapping.tiles[0]
    nm, nk, nn = _pieces(m, tm), _pieces(k, tk), _pieces(n, tn)
    if flow == 0:      # output stationary: M on rows, N on columns, K in time
        folds, folds_t = _fold_sum(m, tm, r) * _fold_sum(n, tn, c) * nk, _fold_sum(m, tm, r) * _fold_sum(n, tn, c) * k
        words = (_fold_sum(n, tn, c) * m * k, _fold_sum(m, tm, r) * k * n, m * n * nk)
    elif flow == 1:    # weight stationary: K on rows, N on columns, M in time
        folds, folds_t = _fold_sum(k, tk, r) * _fold_sum(n, tn, c) * nm, _fold_sum(k, tk, r) * _fold_sum(n, tn, c) * m
        words = (_fold_sum(n, tn, c) * m * k, k * n * nm, _fold_sum(k, tk, r) * m * n)
    else:              # input stationary: K on rows, M on columns, N in time
        folds, folds_t = _fold_sum(k, tk, r) * _fold_sum(m, tm, c) * nn, _fold_sum(k, tk, r) * _fold_sum(m, tm, c) * n
        words = (m * k * nn, _fold_sum(m, tm, c) * k * n, _fold_sum(k, tk, r) * m * n)
    chains = batch if op.step_barrier else 1
    out = [0] * n_counters(hw.n_boundaries)
    steps0 = batch * nm * nk * nn
    out[Counter.MACS] = batch * m * k * n
    out[Counter.SLOT_MACS] = batch * folds_t * r * c
    out[Counter.FOLDS] = batch * folds
    out[Counter.TILES] = out[Counter.SKIPPED_TILES] = steps0
    out[Counter.ARRAY_CYCLES] = batch * (folds_t + folds * (2 * r + c)) + chains * (2 * r + c)
    a_w, b_w, c_w = (batch * w * eb for w in words)
    out[Counter.UNIT_READ_A], out[Counter.UNIT_READ_B] = a_w, b_w
    out[Counter.UNIT_READ_C] = out[Counter.UNIT_WRITE_C] = c_w
    unit_bw, boundary_bw = rates(hw)
    cycles = out[Counter.ARRAY_CYCLES] + transfer_time(a_w + b_w + 2 * c_w, unit_bw, 2 * steps0)
    for lv, ((tm_l, tk_l, tn_l), bw) in enumerate(zip(mapping.tiles, boundary_bw)):
        sm, sk, sn = _pieces(m, tm_l), _pieces(k, tk_l), _pieces(n, tn_l)
        base = BOUNDARY_BASE + N_BOUNDARY_COUNTERS * lv
        fills = (batch * m * k * sn * eb, batch * k * n * sm * eb, batch * m * n * sk * eb)
        for which, value in zip((BoundaryCounter.FILL_A, BoundaryCounter.FILL_B, BoundaryCounter.FILL_C), fills):
            out[base + which] = value
        out[base + BoundaryCounter.DRAIN_C] = fills[2]
        steps = batch * sm * sk * sn
        cycles += transfer_time(sum(fills) + fills[2], bw, 2 * steps + chains)
    out[Counter.CYCLES] = cycles
    _engine_cycles(out)
    return out


def fused_bound(op: FusedAttention, hw) -> list[int]:
    """Fused attention from its real block sizes (lowering.flash_block_sizes): at most
    cdiv(n_q, B_r) x cdiv(n_kv, B_c) blocks per batch element, each no larger than a full block."""
    from .kernels.gemm import fold_cycles, fold_shape, pipeline_fill_drain, unit_words
    from .lowering import flash_block_sizes

    arr, eb, batch, d = hw.mac_array, hw.bytes_per_element, op.batch, op.d
    _, br, bc = flash_block_sizes(hw, d)
    br, bc = min(br, op.n_q), min(bc, op.n_kv)
    blocks = batch * _pieces(op.n_q, br) * _pieces(op.n_kv, bc)
    flow, overlap, r, c = int(arr.dataflow), int(arr.fold_overlap), arr.rows, arr.cols
    out = [0] * n_counters(hw.n_boundaries)
    cyc = unit = 0
    for tm, tk, tn in ((br, d, bc), (br, bc, d)):
        folds, t = fold_shape.py_func(flow, r, c, tm, tk, tn)
        out[Counter.SLOT_MACS] += blocks * folds * r * c * t
        out[Counter.FOLDS] += blocks * folds
        cyc += fold_cycles.py_func(flow, overlap, r, c, folds, t)
        unit += sum(unit_words.py_func(flow, r, c, tm, tk, tn, False))
    out[Counter.MACS] = 2 * batch * op.n_q * op.n_kv * d
    out[Counter.TILES] = 2 * blocks
    out[Counter.ARRAY_CYCLES] = blocks * cyc + pipeline_fill_drain.py_func(flow, r, c)
    valid, live = br * bc, br
    lanes, cpo = hw.vector_unit.lanes, hw.vector_unit.cycles_per_op
    vec_cyc = 0
    for kind, parts in ((VecKind.MUL, (valid, 2 * live, live + 2 * live * d)), (VecKind.MAX, (valid, live)),
                        (VecKind.ADD, (valid, valid, 2 * live, live, live * d)), (VecKind.EXP, (valid, 2 * live)),
                        (VecKind.DIV, (live * d,))):
        out[Counter.VEC_OPS + kind] = blocks * sum(parts)
        vec_cyc += sum(-(-x // lanes) for x in parts) * cpo[kind]
    out[Counter.VECTOR_CYCLES] = blocks * vec_cyc
    unit_bytes = blocks * (unit + 32 * live + 10 * live * d + 9 * valid) * eb
    for i in _UNIT:
        out[i] = unit_bytes
    moved = (blocks * (3 * br * d + 4 * br) + batch * (2 * op.n_kv * d + op.n_q * d + 2 * op.n_q)) * eb
    unit_bw, boundary_bw = rates(hw)
    steps = blocks + batch
    cycles = out[Counter.ARRAY_CYCLES] + out[Counter.VECTOR_CYCLES] + transfer_time(unit_bytes, unit_bw, 8 * steps)
    for b, bw in enumerate(boundary_bw):
        for which in BoundaryCounter:
            out[BOUNDARY_BASE + N_BOUNDARY_COUNTERS * b + which] = moved
        cycles += transfer_time(2 * moved, bw, 2 * steps)
    out[Counter.CYCLES] = cycles
    _engine_cycles(out)
    return out


# --- work: the steps the kernels' loops take -----------------------------------------------------
def layer_work(graph) -> int:
    """Coarse bound of the tile steps, chunks and blocks a layer's kernels walk (any mapping)."""
    terms = graph_terms(graph)
    return terms.vol + terms.steps


def op_work(op, hw, mapping=None) -> int:
    """Steps of one op's walk: a GEMM's innermost tiles under `mapping` (each masked one scanning
    its rows), fused attention's blocks, a recurrence's steps; the coarse terms otherwise."""
    if isinstance(op, Gemm) and mapping is not None:
        tm, tk, tn = mapping.tiles[0]
        steps = op.batch * _pieces(op.m, tm) * _pieces(op.k, tk) * _pieces(op.n, tn)
        return steps * (tm if op.mask is not None else 1)
    if isinstance(op, FusedAttention):
        from .lowering import flash_block_sizes

        _, br, bc = flash_block_sizes(hw, op.d)
        br, bc = min(br, op.n_q), min(bc, op.n_kv)
        return op.batch * (1 + _pieces(op.n_q, br) * _pieces(op.n_kv, bc) * br)
    if isinstance(op, Recurrence):
        from dataclasses import replace
        from .recurrence import resident_mappings

        mappings, _ = resident_mappings(op.body, hw)
        return sum(op_work(replace(body, batch=body.batch * op.steps), hw, mappings[body.name])
                   if isinstance(body, Gemm) else op.steps * op_work(body, hw) for body in op.body)
    terms = op_terms(op)
    return terms.vol + terms.steps
