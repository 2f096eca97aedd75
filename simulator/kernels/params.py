"""Array layouts that cross from lowering.py into the kernels.  Nothing else is passed in."""
from enum import IntEnum

import numpy as np


class GemmParam(IntEnum):
    """int64 plan of one GEMM: C[b] (M x N) += A[b] (M x K) @ B[b] (K x N), b < BATCH."""
    BATCH = 0
    M = 1
    K = 2
    N = 3
    ROWS = 4            # MAC-array rows
    COLS = 5            # MAC-array columns
    DATAFLOW = 6        # Dataflow
    FOLD_OVERLAP = 7    # FoldOverlap
    ELEM_BYTES = 8
    LEVELS = 9          # on-chip memory levels (= transfer boundaries)
    MASK_AXIS = 10      # MaskAxis
    SHARED_B = 11       # 1: B tiles may stay resident from one batch element to the next (weights)
    STEP_BARRIER = 12   # 1: batch elements are dependent steps: each one's timing chain is closed
    LEVEL_BASE = 13     # then LEVEL_FIELDS per on-chip level, innermost first


class LevelParam(IntEnum):
    TM = 0
    TK = 1
    TN = 2
    ORDER = 3           # index into LOOP_ORDERS
    DOUBLE_BUFFERED = 4


LEVEL_FIELDS = len(LevelParam)


class GemmRate(IntEnum):
    """float64 rates of one GEMM plan (bytes per cycle)."""
    UNIT_READ_BW = 0     # compute unit <- innermost level
    UNIT_WRITE_BW = 1
    BOUNDARY_BASE = 2    # then FILL_BW, DRAIN_BW per boundary, innermost first


class MaskAxis(IntEnum):
    NONE = 0
    N = 1    # row i of C only needs columns [lo_i, hi_i)        (scores Q K^T)
    K = 2    # row i of C only reduces over k in [lo_i, hi_i)     (probabilities x values)


# Loop orders, outermost first, as dimension indices (0 = m, 1 = k, 2 = n).
LOOP_ORDERS = ("mkn", "mnk", "kmn", "knm", "nmk", "nkm")
LOOP_ORDER_TABLE = np.array([["mkn".index(c) for c in o] for o in LOOP_ORDERS],
                            dtype=np.int64)


def gemm_param_size(levels: int) -> int:
    return GemmParam.LEVEL_BASE + LEVEL_FIELDS * levels


def gemm_rate_size(levels: int) -> int:
    return GemmRate.BOUNDARY_BASE + 2 * levels
