"""Integer enums shared by Python and Numba code.

Strings are for people (YAML keys, DataFrame columns); these members index arrays inside kernels.
"""
from enum import IntEnum


class NumberFormat(IntEnum):
    FP32 = 0
    FP16 = 1
    BF16 = 2
    INT8 = 3


FORMAT_NAMES = ("fp32", "fp16", "bf16", "int8")
FORMAT_BYTES = (4, 2, 2, 1)


class Dataflow(IntEnum):
    OUTPUT_STATIONARY = 0
    WEIGHT_STATIONARY = 1
    INPUT_STATIONARY = 2


DATAFLOW_NAMES = ("output_stationary", "weight_stationary", "input_stationary")


class Schedule(IntEnum):
    """How a layer's ops share the units: tasks overlapped by the list scheduler, or one op after another."""
    OVERLAPPED = 0
    SERIAL = 1


SCHEDULE_NAMES = ("overlapped", "serial")

# How GEMMs are tiled (mapper.py, search.py) and what the search minimises; here so that reading a
# workload file never imports the mappers (and Numba).
MAPPER_NAMES = ("heuristic", "search")
OBJECTIVE_NAMES = ("cycles", "energy", "edp")


class FoldOverlap(IntEnum):
    SERIAL = 0
    PIPELINED = 1


FOLD_OVERLAP_NAMES = ("serial", "pipelined")


class VecKind(IntEnum):
    """Vector-unit operation kinds; each has a cycles_per_op entry in the hardware YAML."""
    ADD = 0      # also subtraction
    MUL = 1
    MAX = 2      # also comparisons
    EXP = 3
    DIV = 4
    TANH = 5
    SIGMOID = 6
    SIN = 7
    COS = 8
    RSQRT = 9


VEC_KIND_NAMES = ("add", "mul", "max", "exp", "div", "tanh", "sigmoid", "sin", "cos", "rsqrt")
N_VEC_KINDS = len(VEC_KIND_NAMES)


class Operand(IntEnum):
    A = 0   # streamed input of a GEMM / first input of a vector pass
    B = 1   # second GEMM operand (weights, keys, values)
    C = 2   # output (and partial sums)


class Counter(IntEnum):
    """Integer events a kernel counts for one op.  Bytes unless the name says otherwise.

    Per memory boundary b (between on-chip level b and level b+1; the last boundary is the
    off-chip one) four more counters follow at BOUNDARY_BASE + 4*b + BoundaryCounter.
    """
    MACS = 0            # useful multiply-accumulates the math requires
    SLOT_MACS = 1       # MAC slots the array issued (padding and masked products included)
    FOLDS = 2           # array folds executed
    TILES = 3           # innermost tile steps computed
    SKIPPED_TILES = 4   # innermost tile steps skipped because a mask left them empty
    ARRAY_CYCLES = 5    # MAC-array busy cycles (systolic fill, stream and drain)
    VECTOR_CYCLES = 6   # vector-unit busy cycles
    CYCLES = 7          # op latency including stalls
    GATHER_ELEMS = 8    # elements moved by gathers (hard attention)
    UNIT_READ_A = 9     # compute unit <- innermost memory
    UNIT_READ_B = 10
    UNIT_READ_C = 11    # partial-sum reads
    UNIT_WRITE_C = 12
    VEC_OPS = 13        # first of N_VEC_KINDS per-kind vector operation counts
    # Busy cycles of the off-chip boundary's two transfer engines (the sum of every transfer's
    # ceil(bytes / bandwidth) as the kernel times it): what the serial schedule reports as
    # dram_read_busy_cycles and dram_write_busy_cycles.
    OFFCHIP_FILL_CYCLES = VEC_OPS + N_VEC_KINDS
    OFFCHIP_DRAIN_CYCLES = VEC_OPS + N_VEC_KINDS + 1


BOUNDARY_BASE = Counter.OFFCHIP_DRAIN_CYCLES + 1


class BoundaryCounter(IntEnum):
    FILL_A = 0    # bytes moved inward (outer level read, inner level written)
    FILL_B = 1
    FILL_C = 2    # partial sums brought back in
    DRAIN_C = 3   # bytes moved outward (inner level read, outer level written)


N_BOUNDARY_COUNTERS = 4


def n_counters(n_boundaries: int) -> int:
    return BOUNDARY_BASE + N_BOUNDARY_COUNTERS * n_boundaries
