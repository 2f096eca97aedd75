"""A sweep worker's memo of layer evaluations across on-chip sizes (a grid over buffer sizes).

The worker memo (memo.py) keys on every count-relevant field, the level sizes included, so a grid
over buffer sizes never hits it. Yet with the heuristic mapper the sizes reach a layer's row only
through decisions:
* each op's plan: a GEMM's mapping (which candidates fit), a vector program's chunk of rows (what
  fits the innermost level), fused attention's block sizes (from the innermost level's elements,
  clipped to the sequence lengths as the kernel and its step log clip them). These
  are made for the point (cheap: the mapper keeps its walks per op and array) and enter the key;
* given the plans, the op results (counts, step logs) read no size (the walks read the array, the
  bandwidths and double buffering), and neither do the row builder (rows.py) nor the layer fields;
* the overlapped schedule reads the staging (outermost on-chip) level's size twice: forwarding's
  limit, half of it (the task graph holds for a window of limits, links.py), and the list
  scheduler's capacity, which it only ever compares with bytes in use (scheduler.py narrows the
  range of capacities every comparison would answer alike). The schedule carries the intersection
  as LayerSchedule.staging_window; a serial schedule reads no size.
So an entry, keyed on (layer, memo.size_free_key, mapper, op plans), holds the row parts and the
staging sizes [lo, hi) they hold for; a point whose staging size is inside reuses them. Anything
not covered (pinned mappings, data-dependent counts, recurrences, the search mapper, an op type
not listed below, a plan that raised, a schedule without a window) is evaluated in full, as is
every point no entry covers. tests/test_sweep_fastpath.py holds the rows equal to per-point
simulate() rows, over grids whose sizes straddle the decisions' thresholds.
"""
from __future__ import annotations

from ..engine import _planned_gemm
from ..graph import FusedAttention, Gather, Gemm, Layout, VectorOp
from ..kernels.vector import VecParam
from ..lowering import flash_block_sizes
from ..lru import Lru
from ..schedule.oplog import _vector_plan
from ..variants import REGISTRY
from .memo import size_free_key

KEYS_KEPT = 2048          # (layer, hardware less sizes, plans) keys per worker (a few KB of row parts each)
WINDOWS_PER_KEY = 4       # staging windows kept per key, the newest


class StagingMemo:
    """Row parts of layers per (layer key, size-free hardware, op plans), each with the staging
    sizes it holds for (module docstring). hits / misses / uncovered count lookups."""

    def __init__(self, keys: int = KEYS_KEPT):
        self.table = Lru(keys)
        self.hits = self.misses = self.uncovered = 0

    def parts(self, layer_key, spec, graph, hw, mapper: str, objective: str, evaluate):
        """The row parts of the layer (`evaluate()` -> (row parts, its LayerResult) computes them)."""
        plans = _op_plans(spec, graph, hw, mapper, objective)
        if plans is None:
            self.uncovered += 1
            return evaluate()[0]
        key = (layer_key, size_free_key(hw), mapper, objective, plans)
        size = hw.on_chip[-1].size_bytes
        entries = self.table.find(key) or ()
        for lo, hi, parts in entries:
            if lo <= size < hi:
                self.hits += 1
                return parts
        self.misses += 1
        parts, result = evaluate()
        window = result.schedule.staging_window if result.schedule is not None else None
        if window is not None and window[0] <= size < window[1]:
            self.table.put(key, (*entries[1 - WINDOWS_PER_KEY:], (window[0], window[1], parts)))
        return parts


def _op_plans(spec, graph, hw, mapper: str, objective: str) -> tuple | None:
    """Per op of the layer, what of its plan the on-chip sizes decide; None when the layer is not
    covered (module docstring) or a plan raised (the full evaluation raises it as simulate() does)."""
    if mapper != "heuristic" or spec.pins or not hw.on_chip or REGISTRY[spec.variant].is_data_dependent(spec):
        return None
    out = []
    try:
        for op in graph.ops:
            kind = type(op)
            if kind is Gemm and not isinstance(op.mask, str):
                out.append(_planned_gemm(op, hw, mapper, objective)[0])
            elif kind is VectorOp:
                out.append(int(_vector_plan(op, hw).ip[VecParam.CHUNK_ROWS]))
            elif kind is FusedAttention:      # the block sizes as lower_fused and the step log clip them
                _, rows, cols = flash_block_sizes(hw, op.d)
                out.append((min(rows, op.n_q), min(cols, op.n_kv)))
            elif kind is Layout or kind is Gather:
                out.append(None)
            else:
                return None
    except Exception:             # noqa: BLE001 - evaluated in full, which raises it with the layer's name
        return None
    return tuple(out)
