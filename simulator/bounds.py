"""Lower bounds on an op's cycles on a hardware config: the `bound_cycles` report column.

bound_cycles = max(compute bound, off-chip traffic bound), with ceil(x / y) written [x / y]:

* GEMM (R x C array, fill-and-drain f = R + C - 2 for os and 2R + C - 2 for ws and is): the
  compute bound is the array cycles of the whole op as one tile, the fewest any tiling can take
  under the configured fold mode, per batch element
    serial     os: [M/R][N/C](K + f)   ws: [K/R][N/C](M + f)   is: [K/R][M/C](N + f)
    pipelined  os: [M/R][N/C] K        ws: [K/R][N/C] max(M, R)   is: [K/R][M/C] max(N, R)
  times the batch, plus f once (pipelined; once per batch element for dependent steps). Under a
  mask (tiles the mask leaves empty are skipped) it is [useful MACs / (R C)] plus f once per batch
  element (serial) or once (pipelined). On an array with several dataflows, the smallest.
  The traffic bound is the compulsory off-chip traffic: every input word the op needs read once
  and every output word written once, over the off-chip boundary's fill and drain rates:
  max([reads / fill rate], [writes / drain rate]) (fills and drains use separate ports and overlap).
  Under a mask only the rows, columns and entries the mask leaves count.
* Vector op: sum over passes and operation kinds of [ops / lanes] x cycles_per_op[kind] (the
  whole op as one chunk), and its inputs read once and outputs written once.
* Gather: traffic only (indices and picked rows read, rows written).
* Fused attention: the compute bounds of its two products plus the vector work every block does
  at least (scale, shift and exp per valid score; the output update per valid row), and Q, K, V
  read once and O written once.
* Recurrence: each body GEMM as one GEMM over all steps (dependent: its fill and drain per step),
  weights read once; each body vector op `steps` times.
* Layouts: 0.

The mapping search uses tighter per-candidate bounds (kernels/bounds.py); these are per op and
independent of any mapping. Rates are the transfer rates the kernels use (lowering.boundary_rates).
"""
from __future__ import annotations

import functools
import math
from dataclasses import replace

import numpy as np

from .enums import Dataflow, FoldOverlap, VecKind
from .graph import FusedAttention, Gather, Gemm, Layout, Recurrence, VectorOp, VOp
from .lowering import boundary_rates


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def transfer(nbytes: int, bytes_per_cycle: float) -> int:
    return int(math.ceil(nbytes / bytes_per_cycle)) if nbytes else 0


def traffic_bound(fill_bytes: int, drain_bytes: int, hw) -> int:
    fill_bw, drain_bw = boundary_rates(hw)[-1]
    return max(transfer(fill_bytes, fill_bw), transfer(drain_bytes, drain_bw))


def fill_drain(flow: Dataflow, rows: int, cols: int) -> int:
    return rows + cols - 2 if flow == Dataflow.OUTPUT_STATIONARY else 2 * rows + cols - 2


@functools.lru_cache(maxsize=4096)
def mask_stats(mask) -> tuple[int, int, int]:
    """(valid entries, rows with a non-empty range, positions of the masked axis some row covers)."""
    lengths = mask.hi - mask.lo
    live = lengths > 0
    if not live.any():
        return 0, 0, 0
    span = int(mask.hi[live].max()) + 1
    edges = np.zeros(span + 1, np.int64)
    np.add.at(edges, mask.lo[live], 1)
    np.add.at(edges, mask.hi[live], -1)
    covered = int((np.cumsum(edges) > 0).sum())
    return int(lengths[live].sum()), int(live.sum()), covered


def gemm_compute_bound(op: Gemm, hw, flow: Dataflow, with_fill_drain: bool = True) -> int:
    """Fewest array cycles any tiling of `op` takes on `flow` (module docstring)."""
    arr = hw.mac_array
    R, C = arr.rows, arr.cols
    f = fill_drain(flow, R, C)
    pipelined = arr.fold_overlap == FoldOverlap.PIPELINED
    barrier = bool(getattr(op, "step_barrier", False))
    once = (op.batch if barrier else 1) if with_fill_drain else 0
    if op.mask is not None:
        useful = op.useful_macs
        if useful == 0:
            return 0
        return cdiv(useful, R * C) + (once if pipelined else op.batch * f)
    M, K, N = op.m, op.k, op.n
    if flow == Dataflow.OUTPUT_STATIONARY:
        spatial, t = cdiv(M, R) * cdiv(N, C), K
    elif flow == Dataflow.WEIGHT_STATIONARY:
        spatial, t = cdiv(K, R) * cdiv(N, C), M
    else:
        spatial, t = cdiv(K, R) * cdiv(M, C), N
    if pipelined:
        return op.batch * spatial * (t if flow == Dataflow.OUTPUT_STATIONARY else max(t, R)) + once * f
    return op.batch * spatial * (t + f)


def gemm_compulsory_words(op: Gemm) -> tuple[int, int]:
    """(words read, words written) every mapping of `op` moves across the off-chip boundary at least."""
    shared = 1 if op.shared_b else op.batch
    if op.mask is None:
        return op.batch * op.m * op.k + shared * op.k * op.n, op.batch * op.m * op.n
    valid, live_rows, covered = mask_stats(op.mask)
    if op.mask_axis == "n":       # rows of A with any key, B columns some row reads, the valid scores
        return op.batch * live_rows * op.k + shared * op.k * covered, op.batch * valid
    # on k: the valid probabilities, rows of B (values) some row reads, output rows with any key
    return op.batch * valid + shared * covered * op.n, op.batch * live_rows * op.n


def gemm_traffic_bound(op: Gemm, hw) -> int:
    reads, writes = gemm_compulsory_words(op)
    eb = hw.bytes_per_element
    return traffic_bound(reads * eb, writes * eb, hw)


def gemm_bound(op: Gemm, hw) -> int:
    flows = (op.dataflow,) if op.dataflow is not None else hw.mac_array.dataflows
    return max(min(gemm_compute_bound(op, hw, flow) for flow in flows), gemm_traffic_bound(op, hw))


@functools.lru_cache(maxsize=4096)
def vector_pass_ops(op: VectorOp) -> tuple[tuple[int, int], ...]:
    """(kind, operations) of every pass over the whole op, as the vector kernel counts them (cached per
    op object: graphs are cached per layer, and this does not depend on the hardware)."""
    if op.ranges is None:
        lengths = np.full(op.rows, op.cols, np.int64)
    else:
        lengths = np.asarray(op.ranges.lengths, np.int64)
    live = lengths > 0
    valid = op.batch * int(lengths.sum())
    nonempty = op.batch * int(live.sum())
    log2sum = op.batch * int(sum(int(x - 1).bit_length() for x in lengths[live]))
    out = []
    for p in op.passes:
        if p.opcode == VOp.SAMPLE:       # prefix sum, one multiply, a binary search per row
            out += [(VecKind.ADD, valid - nonempty), (VecKind.MUL, nonempty), (VecKind.MAX, log2sum)]
        elif p.opcode in (VOp.RMAX, VOp.RSUM, VOp.ARGMAX):
            out.append((VOp.KIND[p.opcode], valid - nonempty))
        else:
            out.append((VOp.KIND[p.opcode], valid if op.width(p.dst) > 1 else nonempty))
    return tuple(out)


def vector_traffic_bytes(op: VectorOp, eb: int) -> tuple[int, int]:
    """Bytes of the op's inputs (read once) and outputs (written once)."""
    if op.ranges is None:
        valid, nonempty = op.batch * op.rows * op.cols, op.batch * op.rows
    else:
        valid, nonempty = op.batch * op.ranges.valid(), op.batch * int((op.ranges.lengths > 0).sum())

    def elems(name):
        if op.height(name) == 1:
            return op.batch * op.width(name)
        return valid if op.width(name) > 1 else nonempty

    return sum(elems(t) for t in op.inputs) * eb, sum(elems(t) for t in op.outputs) * eb


def vector_compute_bound(op: VectorOp, hw) -> int:
    """The vector unit's cycles with the whole op in one chunk: the fewest any chunking takes."""
    lanes, cpo = hw.vector_unit.lanes, hw.vector_unit.cycles_per_op
    return sum(cdiv(ops, lanes) * cpo[kind] for kind, ops in vector_pass_ops(op))


def vector_bound(op: VectorOp, hw) -> int:
    return max(vector_compute_bound(op, hw), traffic_bound(*vector_traffic_bytes(op, hw.bytes_per_element), hw))


def gather_bound(op: Gather, hw) -> int:
    eb = hw.bytes_per_element
    return traffic_bound(op.batch * op.rows * (1 + op.width) * eb, op.batch * op.rows * op.width * eb, hw)


def fused_bound(op: FusedAttention, hw) -> int:
    scores = Gemm("s", "q", "k", "s", op.n_q, op.d, op.n_kv, batch=op.batch, mask=op.mask, mask_axis="n")
    context = Gemm("o", "p", "v", "o", op.n_q, op.n_kv, op.d, batch=op.batch, mask=op.mask, mask_axis="k")
    flow = hw.mac_array.dataflow
    array = gemm_compute_bound(scores, hw, flow) + gemm_compute_bound(context, hw, flow, with_fill_drain=False)
    if op.mask is None:
        valid, live, covered = op.n_q * op.n_kv, op.n_q, op.n_kv
    else:
        valid, live, covered = mask_stats(op.mask)
    valid, live = op.batch * valid, op.batch * live
    lanes, cpo = hw.vector_unit.lanes, hw.vector_unit.cycles_per_op
    vector = (cdiv(valid, lanes) * (cpo[VecKind.MUL] + cpo[VecKind.ADD] + cpo[VecKind.EXP])
              + cdiv(live * (1 + 2 * op.d), lanes) * cpo[VecKind.MUL]
              + cdiv(live * op.d, lanes) * (cpo[VecKind.ADD] + cpo[VecKind.DIV]))
    eb = hw.bytes_per_element
    reads = (live * op.d + 2 * op.batch * covered * op.d) * eb
    return max(array + vector, traffic_bound(reads, live * op.d * eb, hw))


def recurrence_bounds(op: Recurrence, hw) -> dict[str, int]:
    """Bound of each body op over all steps, keyed like its result ('rec.op')."""
    out = {}
    for body in op.body:
        if isinstance(body, Gemm):
            steps = replace(body, batch=body.batch * op.steps, shared_b=True, step_barrier=True)
            out[f"{op.name}.{body.name}"] = gemm_bound(steps, hw)
        elif isinstance(body, VectorOp):
            out[f"{op.name}.{body.name}"] = op.steps * vector_bound(body, hw)
    return out


def op_bound(op, hw) -> int:
    """bound_cycles of one (non-recurrence) graph op."""
    if isinstance(op, Gemm):
        return gemm_bound(op, hw)
    if isinstance(op, VectorOp):
        return vector_bound(op, hw)
    if isinstance(op, Gather):
        return gather_bound(op, hw)
    if isinstance(op, FusedAttention):
        return fused_bound(op, hw)
    if isinstance(op, Layout):
        return 0
    raise TypeError(f"no bound for op type {type(op).__name__}")
