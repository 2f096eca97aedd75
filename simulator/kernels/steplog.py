"""Step logs: what a kernel did at each step of its timing chain, for the schedule (simulator/schedule).

A kernel given a log array (int64, one row per step, width from the functions below) writes one
row per step it times, with the same numbers it adds to its counters: the step's compute
occupancy and busy cycles, the transfers each memory boundary makes when the step begins (bytes
and cycles), and the tile or rows the step touches (so that the schedule can find which step of
a producer a consumer waits for). `nlog[0]` counts the rows written. A zero-row log turns logging
off; the counts never depend on it.
"""
from enum import IntEnum


class GemmLog(IntEnum):
    """One innermost computed step of a GEMM walk (KIND 0), or the close of a timing chain (KIND 1:
    the final drains; a recurrence closes one chain per step)."""
    KIND = 0
    B = 1            # batch element (walk-global: a recurrence's step)
    TOP = 2          # highest level whose step begins here (-1 on a close)
    OCC = 3          # cycles the array is held: array cycles, or longer when level 0's ports starve it
    BUSY = 4         # array cycles (systolic fill, stream, drain)
    TM0 = 5          # the outermost level's tile of this step: [TM0, TM1) x [TK0, TK1) x [TN0, TN1)
    TM1 = 6
    TK0 = 7
    TK1 = 8
    TN0 = 9
    TN1 = 10
    FILL_A = 11      # bytes of A, B, partial sums filled across the off-chip boundary at this step
    FILL_B = 12
    FILL_C = 13
    C_NEW = 14       # bytes of the outermost level's new C tile (0: the C tile did not change)
    OLD_C_B = 15     # the outermost C tile drained across the off-chip boundary here (-1: none)
    OLD_C_M0 = 16
    OLD_C_N0 = 17
    LEVEL_BASE = 18  # then per level l (innermost first): fill cycles, drain cycles, fill bytes, drain bytes


class VecLog(IntEnum):
    """One chunk of a vector program (or, streaming, one pass over one row)."""
    B = 0
    R0 = 1           # rows [R0, R1)
    R1 = 2
    PASS = 3         # the pass streamed (-1: the whole program on chip)
    OCC = 4          # cycles the vector unit is held
    BUSY = 5         # vector cycles counted
    FILL = 6         # bytes filled (the same at every boundary)
    DRAIN = 7        # bytes drained
    LEVEL_BASE = 8   # then per boundary: fill cycles, drain cycles


class FusedLog(IntEnum):
    """One step of fused attention: the init of O, l, m (KIND 0) or a (K/V block, Q block) pair (KIND 1)."""
    KIND = 0
    B = 1
    I0 = 2           # Q rows [I0, I1)
    I1 = 3
    J0 = 4           # K/V rows [J0, J1)
    J1 = 5
    KV = 6           # 1: K_j and V_j are loaded with this step
    OCC_S = 7        # occupancy of S = Q K^T (array), the block softmax (vector), P V (array), the update (vector)
    OCC_SM = 8
    OCC_PV = 9
    OCC_UP = 10
    BUSY_S = 11      # the array or vector cycles of each of the four
    BUSY_SM = 12
    BUSY_PV = 13
    BUSY_UP = 14
    FILL = 15
    DRAIN = 16
    LEVEL_BASE = 17  # then per boundary: fill cycles, drain cycles


class GatherLog(IntEnum):
    """One batch element of a gather: the index fetch, then the rows picked and written out."""
    B = 0
    INDEX = 1        # cycles of the index fetch across the off-chip boundary
    FILL = 2
    DRAIN = 3
    LEVEL_BASE = 4   # then per boundary: fill cycles, drain cycles


GEMM_LEVEL_FIELDS = 4
CHAIN_LEVEL_FIELDS = 2


def gemm_log_width(levels: int) -> int:
    return GemmLog.LEVEL_BASE + GEMM_LEVEL_FIELDS * levels


def vec_log_width(levels: int) -> int:
    return VecLog.LEVEL_BASE + CHAIN_LEVEL_FIELDS * levels


def fused_log_width(levels: int) -> int:
    return FusedLog.LEVEL_BASE + CHAIN_LEVEL_FIELDS * levels


def gather_log_width(levels: int) -> int:
    return GatherLog.LEVEL_BASE + CHAIN_LEVEL_FIELDS * levels
