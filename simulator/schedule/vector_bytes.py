"""Staging bytes and block links of a vector program's chunks, in one kernel (optasks._vector_tasks).

Each chunk's fill reserves the rows it loads (and the column vectors, once per batch element: with
the batch element's first chunk), its compute the temporaries and outputs it places; outputs
return when drained, the rest when the compute ends. Outside recurrences, also what each chunk
reads (regions: fill task, slot, batch, rows, columns, bytes -1 = the valid columns of each row,
counter operand 0, last use) and writes back (blocks: drain task, slot, batch, rows, columns).
"""
import numpy as np
from numba import njit

from ..kernels.steplog import VecLog
from ..kernels.vector import SlotRole
from .tasks import T

_B, _R0, _R1 = int(VecLog.B), int(VecLog.R0), int(VecLog.R1)
_INPUT, _OUTPUT, _INPUT_OUTPUT = int(SlotRole.INPUT), int(SlotRole.OUTPUT), int(SlotRole.INPUT_OUTPUT)
REGION_COLS, BLOCK_COLS = 10, 7      # optasks.R.WIDTH, optasks.K.WIDTH


@njit(cache=True)
def vector_bytes(rows, op_rows, marks, roles, widths, heights, eb, tab, with_links):
    """Add each chunk's staging bytes to `tab` (ALLOC, RELEASE); return (regions, blocks, linked):
    linked is False (and the tables empty) without links or when an output is a column vector."""
    fill, drain, comp_first, comp_last = marks[0], marks[1], marks[2], marks[3]
    n_slots = roles.shape[0]
    col_bytes = in_w = placed_w = out_w = 0
    col_out = False
    for s in range(n_slots):
        is_in = roles[s] == _INPUT or roles[s] == _INPUT_OUTPUT
        is_out = roles[s] == _OUTPUT or roles[s] == _INPUT_OUTPUT
        if heights[s] > 1:
            in_w += widths[s] if is_in else 0
            placed_w += 0 if is_in else widths[s]
            out_w += widths[s] if is_out else 0
        else:
            col_bytes += widths[s]
            col_out = col_out or is_out
    col_bytes *= eb
    n = rows.shape[0]
    for w in range(n):
        comp = comp_first[w] if comp_first[w] >= 0 else fill[w]
        holder = fill[w] if fill[w] >= 0 else comp
        if holder < 0:
            continue
        n_rows = rows[w, _R1] - rows[w, _R0]
        first, last = rows[w, _R0] == 0, rows[w, _R1] == op_rows
        loads = n_rows * in_w * eb + (col_bytes if first else 0)
        placed = n_rows * placed_w * eb
        outputs = n_rows * out_w * eb
        tab[holder, T.ALLOC] += loads
        tab[comp, T.ALLOC] += placed
        tab[drain[w] if drain[w] >= 0 else comp, T.RELEASE] += outputs
        rest = loads + placed - outputs - (col_bytes if first and not last else 0) + (col_bytes if last and not first else 0)
        tab[comp_last[w] if comp_last[w] >= 0 else comp, T.RELEASE] += rest
    if not with_links or col_out:
        return np.zeros((0, REGION_COLS), np.int64), np.zeros((0, BLOCK_COLS), np.int64), False
    return _regions(rows, fill, comp_last, roles, widths, heights), _blocks(rows, drain, roles, widths), True


@njit(cache=True)
def _regions(rows, fill, comp_last, roles, widths, heights):
    """Per input slot (in slot order), per chunk that fills: a row slot's rows; a column vector's
    single row, with the batch element's first chunk only."""
    n = rows.shape[0]
    out = np.zeros((n * roles.shape[0], REGION_COLS), np.int64)
    m = 0
    for s in range(roles.shape[0]):
        if roles[s] != _INPUT and roles[s] != _INPUT_OUTPUT:
            continue
        row_slot = heights[s] > 1
        for w in range(n):
            if fill[w] < 0 or not (row_slot or rows[w, _R0] == 0):
                continue
            r = out[m]
            r[0], r[1], r[2] = fill[w], s, rows[w, _B]
            r[3], r[4] = (rows[w, _R0], rows[w, _R1]) if row_slot else (0, 1)
            r[5], r[6], r[7], r[8], r[9] = 0, widths[s], -1, 0, comp_last[w]
            m += 1
    return out[:m]


@njit(cache=True)
def _blocks(rows, drain, roles, widths):
    n = rows.shape[0]
    out = np.zeros((n * roles.shape[0], BLOCK_COLS), np.int64)
    m = 0
    for s in range(roles.shape[0]):
        if roles[s] != _OUTPUT and roles[s] != _INPUT_OUTPUT:
            continue
        for w in range(n):
            if drain[w] < 0:
                continue
            r = out[m]
            r[0], r[1], r[2], r[3], r[4], r[5], r[6] = drain[w], s, rows[w, _B], rows[w, _R0], rows[w, _R1], 0, widths[s]
            m += 1
    return out[:m]
