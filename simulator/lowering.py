"""The only place where ops, mappings and hardware become the int64/float64 arrays kernels take.

Kernels count in int64, which wraps silently. simulate() bounds every count of a workload before
anything runs (guard.py, upper_bounds.py); the checks here are a last line for direct callers of the
engine: an op's MAC count, the product every other count of the op grows from.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SizeError
from .limits import COUNT_LIMIT
from .kernels.params import LEVEL_FIELDS, LOOP_ORDERS, GemmParam, LevelParam, MaskAxis, gemm_param_size
from .mapping import GemmMapping


# lower_gemm lists the plan's fields in this order; the layout must agree (checked at import).
_GEMM_FIELDS = (GemmParam.BATCH, GemmParam.M, GemmParam.K, GemmParam.N, GemmParam.ROWS, GemmParam.COLS,
                GemmParam.DATAFLOW, GemmParam.FOLD_OVERLAP, GemmParam.ELEM_BYTES, GemmParam.LEVELS,
                GemmParam.MASK_AXIS, GemmParam.SHARED_B, GemmParam.STEP_BARRIER)
_LEVEL_FIELDS = (LevelParam.TM, LevelParam.TK, LevelParam.TN, LevelParam.ORDER, LevelParam.DOUBLE_BUFFERED)
assert tuple(_GEMM_FIELDS) == tuple(range(GemmParam.LEVEL_BASE)) and tuple(_LEVEL_FIELDS) == tuple(range(LEVEL_FIELDS))
_EMPTY_I64 = np.zeros(0, np.int64)
_EMPTY_I64.setflags(write=False)      # like mask arrays: one compiled kernel signature for both


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view (kernels take every range array read-only: one compiled signature)."""
    view = a.view()
    view.setflags(write=False)
    return view


@dataclass(frozen=True, eq=False)
class GemmPlan:
    """Arrays for one GEMM walk."""
    ip: np.ndarray       # int64, GemmParam layout
    rates: np.ndarray    # float64, GemmRate layout
    lo: np.ndarray       # int64 per-row mask ranges (empty when unmasked)
    hi: np.ndarray


def boundary_rates(hw) -> list[tuple[float, float]]:
    """(fill, drain) bytes/cycle for each boundary: the slower of the two levels' ports."""
    mems = hw.memories
    return [(min(mems[i + 1].read_bw_bytes_per_cycle, mems[i].write_bw_bytes_per_cycle),
             min(mems[i].read_bw_bytes_per_cycle, mems[i + 1].write_bw_bytes_per_cycle))
            for i in range(len(mems) - 1)]


def chunk_rates(hw) -> np.ndarray:
    """float64 rates of a chunk chain (vector and fused kernels): the innermost level's read and
    write bandwidth, then (fill, drain) bandwidth per boundary."""
    rates = np.zeros(2 + 2 * len(hw.on_chip), np.float64)
    rates[0] = hw.on_chip[0].read_bw_bytes_per_cycle
    rates[1] = hw.on_chip[0].write_bw_bytes_per_cycle
    for i, (fill, drain) in enumerate(boundary_rates(hw)):
        rates[2 + 2 * i] = fill
        rates[3 + 2 * i] = drain
    return rates


def check_int64(what: str, *factors: int) -> None:
    """Refuse a count whose value would not fit comfortably in int64."""
    product = 1
    for f in factors:
        product *= int(f)
    if product > COUNT_LIMIT:
        raise SizeError(f"{what} = {' x '.join(str(int(f)) for f in factors)} = {product} overflows the "
                        f"simulator's 64-bit counters (limit {COUNT_LIMIT}); use smaller sizes")


def lower_gemm(op, mapping: GemmMapping, hw) -> GemmPlan:
    """Plan arrays of a Gemm op under `mapping` on `hw`."""
    arr = hw.mac_array
    eb = hw.bytes_per_element
    levels = hw.on_chip
    check_int64("batch x M x K x N (MACs)", op.batch, op.m, op.k, op.n)

    flow = mapping.dataflow if mapping.dataflow is not None else op.dataflow
    mask_axis = MaskAxis.NONE if op.mask is None else MaskAxis[op.mask_axis.upper()]
    # Built as a Python list in _GEMM_FIELDS order and converted once: element-wise numpy stores
    # through IntEnum indices cost more than the whole walk of a small GEMM.
    fields = [op.batch, op.m, op.k, op.n, arr.rows, arr.cols, int(flow if flow is not None else arr.dataflow),
              int(arr.fold_overlap), eb, len(levels), int(mask_axis), int(op.shared_b),
              int(getattr(op, "step_barrier", False))]
    for (tm, tk, tn), order, level in zip(mapping.tiles, mapping.orders, levels):
        fields += [tm, tk, tn, LOOP_ORDERS.index(order), int(level.double_buffered)]
    ip = np.array(fields, np.int64)
    assert ip.shape[0] == gemm_param_size(len(levels))
    rates = np.array([levels[0].read_bw_bytes_per_cycle, levels[0].write_bw_bytes_per_cycle,
                      *(bw for pair in boundary_rates(hw) for bw in pair)], np.float64)
    if op.mask is None:
        return GemmPlan(ip, rates, _EMPTY_I64, _EMPTY_I64)
    return GemmPlan(ip, rates, op.mask.lo, op.mask.hi)


@dataclass(frozen=True, eq=False)
class VectorPlan:
    """Arrays for one vector-program walk; `slots` names the tensor of each slot index."""
    ip: np.ndarray
    table: np.ndarray
    consts: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    roles: np.ndarray
    cpo: np.ndarray
    rates: np.ndarray
    lo: np.ndarray
    lens: np.ndarray
    slots: tuple[str, ...]


def lower_vector(op, hw) -> VectorPlan:
    """Plan arrays of a VectorOp on `hw`: pass table, slot shapes and roles, chunking."""
    from .graph import VOp
    from .kernels.vector import PassField, SlotRole, VecParam

    slots: list[str] = []
    for p in op.passes:
        for name in (p.dst, *p.src):
            if name not in slots:
                slots.append(name)
    widths = np.array([op.width(s) for s in slots], np.int64)
    heights = np.array([op.height(s) for s in slots], np.int64)
    roles = np.zeros(len(slots), np.int64)
    for i, s in enumerate(slots):
        is_in, is_out = s in op.inputs, s in op.outputs
        roles[i] = (SlotRole.INPUT_OUTPUT if is_in and is_out else SlotRole.INPUT if is_in
                    else SlotRole.OUTPUT if is_out else SlotRole.TEMP)
    table = np.full((len(op.passes), PassField.SIZE), -1, np.int64)
    consts = np.zeros(len(op.passes), np.float64)
    for i, p in enumerate(op.passes):
        table[i, PassField.OPCODE] = p.opcode
        table[i, PassField.KIND] = int(VOp.KIND[p.opcode])
        table[i, PassField.DST] = slots.index(p.dst)
        table[i, PassField.SRC1] = slots.index(p.src[0])
        table[i, PassField.SRC2] = slots.index(p.src[1]) if len(p.src) > 1 else -1
        consts[i] = p.const
    eb = hw.bytes_per_element
    check_int64("vector elements", op.batch, op.rows, op.cols)
    per_row = int(widths[heights > 1].sum()) * eb
    fixed = int(widths[heights == 1].sum()) * eb
    usable = hw.on_chip[0].usable_bytes - fixed
    chunk = min(op.rows, usable // per_row) if per_row and usable > 0 else (op.rows if usable > 0 else 0)
    ip = np.zeros(VecParam.SIZE, np.int64)
    ip[VecParam.BATCH] = op.batch
    ip[VecParam.ROWS] = op.rows
    ip[VecParam.COLS] = op.cols
    ip[VecParam.LANES] = hw.vector_unit.lanes
    ip[VecParam.ELEM_BYTES] = eb
    ip[VecParam.LEVELS] = len(hw.on_chip)
    ip[VecParam.DOUBLE_BUFFERED] = int(hw.on_chip[0].double_buffered)
    ip[VecParam.CHUNK_ROWS] = chunk
    rates = chunk_rates(hw)
    if op.ranges is None:
        lo = np.zeros(op.rows, np.int64)
        lens = np.full(op.rows, op.cols, np.int64)
    else:
        lo, lens = op.ranges.lo, op.ranges.lengths
    lo, lens = _readonly(lo), _readonly(lens)      # like every mask range: one kernel signature
    cpo = np.asarray(hw.vector_unit.cycles_per_op, np.int64)
    return VectorPlan(ip, table, consts, widths, heights, roles, cpo, rates, lo, lens, tuple(slots))


def flash_block_sizes(hw, d: int) -> tuple[int, int, int]:
    """(M, B_r, B_c): on-chip elements M of the innermost level's usable space and Algorithm 1's
    block sizes B_c = ceil(M / 4d), B_r = min(ceil(M / 4d), d)
    (docs/conventions/counting.md §3.2)."""
    m_elems = hw.on_chip[0].usable_bytes // hw.bytes_per_element
    bc = -(-m_elems // (4 * d))
    return m_elems, min(bc, d), bc


def lower_fused(op, hw):
    """(ip, rates, cpo, lo, hi) arrays of a FusedAttention op."""
    from .kernels.fused import FusedParam

    arr = hw.mac_array
    _, br, bc = flash_block_sizes(hw, op.d)
    check_int64("fused attention MACs", op.batch, op.n_q, op.n_kv, op.d, 4)
    ip = np.zeros(FusedParam.SIZE, np.int64)
    ip[FusedParam.BATCH] = op.batch
    ip[FusedParam.N_Q] = op.n_q
    ip[FusedParam.N_KV] = op.n_kv
    ip[FusedParam.D] = op.d
    ip[FusedParam.B_R] = min(br, op.n_q)
    ip[FusedParam.B_C] = min(bc, op.n_kv)
    ip[FusedParam.ROWS] = arr.rows
    ip[FusedParam.COLS] = arr.cols
    ip[FusedParam.DATAFLOW] = int(arr.dataflow)
    ip[FusedParam.FOLD_OVERLAP] = int(arr.fold_overlap)
    ip[FusedParam.ELEM_BYTES] = hw.bytes_per_element
    ip[FusedParam.LEVELS] = len(hw.on_chip)
    ip[FusedParam.LANES] = hw.vector_unit.lanes
    ip[FusedParam.DOUBLE_BUFFERED] = int(hw.on_chip[0].double_buffered)
    ip[FusedParam.MASKED] = int(op.mask is not None)
    rates = chunk_rates(hw)
    cpo = np.asarray(hw.vector_unit.cycles_per_op, np.int64)
    lo = op.mask.lo if op.mask is not None else _EMPTY_I64
    hi = op.mask.hi if op.mask is not None else _EMPTY_I64
    return ip, rates, cpo, lo, hi
