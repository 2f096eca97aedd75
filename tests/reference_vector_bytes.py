"""The staging bytes and links of a vector program's chunks as numpy array operations: how
simulator/schedule/optasks.py computed them before schedule/vector_bytes.py's kernel, kept here as
the reference that kernel is tested against (tests/test_schedule_build.py)."""
from __future__ import annotations

import numpy as np

from simulator.kernels.steplog import VecLog
from simulator.kernels.vector import SlotRole
from simulator.schedule.optasks import _NO_BLOCKS, _NO_REGIONS, OpTasks
from simulator.schedule.tasks import T


def vector_bytes(out: OpTasks, rows, marks, plan, op, eb: int, with_links: bool) -> None:
    """Staging bytes of each chunk: the fill reserves the rows it loads (and the column vectors,
    once per batch element), the compute the temporaries and outputs; outputs return when drained,
    the rest when the compute ends. Outside recurrences, also what each chunk reads and writes."""
    roles, widths, heights = plan.roles, plan.widths, plan.heights
    row_slot = heights > 1
    is_in = (roles == SlotRole.INPUT) | (roles == SlotRole.INPUT_OUTPUT)
    is_out = (roles == SlotRole.OUTPUT) | (roles == SlotRole.INPUT_OUTPUT)
    n_rows = rows[:, VecLog.R1] - rows[:, VecLog.R0]
    first = rows[:, VecLog.R0] == 0
    last = rows[:, VecLog.R1] == op.rows
    col_bytes = int(widths[~row_slot].sum()) * eb
    loads = n_rows * int(widths[row_slot & is_in].sum()) * eb + np.where(first, col_bytes, 0)
    placed = n_rows * int(widths[row_slot & ~is_in].sum()) * eb
    outputs = n_rows * int(widths[row_slot & is_out].sum()) * eb
    fill, drain, comp_first, comp_last = marks
    comp = np.where(comp_first >= 0, comp_first, fill)
    holder = np.where(fill >= 0, fill, comp)
    drainer = np.where(drain >= 0, drain, comp)
    ender = np.where(comp_last >= 0, comp_last, comp)
    ok = holder >= 0
    tab = out.tab
    np.add.at(tab[:, T.ALLOC], holder[ok], loads[ok])
    np.add.at(tab[:, T.ALLOC], comp[ok], placed[ok])
    np.add.at(tab[:, T.RELEASE], drainer[ok], outputs[ok])
    rest = loads + placed - outputs - np.where(first & ~last, col_bytes, 0) + np.where(last & ~first, col_bytes, 0)
    np.add.at(tab[:, T.RELEASE], ender[ok], rest[ok])
    if not with_links or (~row_slot & is_out).any():
        return
    out.ranges = (plan.lo, plan.lens)
    b, r0, r1 = rows[:, VecLog.B], rows[:, VecLog.R0], rows[:, VecLog.R1]
    parts = []
    for s in np.flatnonzero(is_in):
        w = np.flatnonzero((fill >= 0) & (row_slot[s] | first))
        lo, hi = (r0[w], r1[w]) if row_slot[s] else (np.zeros(len(w), np.int64), np.ones(len(w), np.int64))
        parts.append(np.stack([fill[w], np.full(len(w), s), b[w], lo, hi, np.zeros(len(w), np.int64),
                               np.full(len(w), widths[s]), np.full(len(w), -1), np.zeros(len(w), np.int64),
                               comp_last[w]], axis=1))
    out.regions = np.concatenate(parts) if parts else _NO_REGIONS
    blocks = []
    for s in np.flatnonzero(is_out):
        w = np.flatnonzero(drain >= 0)
        blocks.append(np.stack([drain[w], np.full(len(w), s), b[w], r0[w], r1[w], np.zeros(len(w), np.int64),
                                np.full(len(w), widths[s])], axis=1))
    out.blocks = np.concatenate(blocks) if blocks else _NO_BLOCKS
