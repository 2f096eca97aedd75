"""A sweep's fast path for layers that are one GEMM (the `gemm` variant, feed-forward projections):
the rows' fixed parts straight from the GEMM's op result, without simulate()'s general machinery
(schedule objects, layer results, sums over one op); the other layers of the same workload run
through simulate()'s own per-layer step.

For a layer whose graph is a single Gemm, count-only, with no pinned mapping and no data-dependent
counts, simulate() runs that op alone (engine.run_gemm, the mapper's own walk), schedules it on
either schedule as its ops one after another (one op: nothing can overlap, simulate._alone) and
multiplies a `repeat` stack's op and schedule alike. So the layer's counts, cycles, compute
cycles, busy cycles and serial cycles are those of the repeated op result itself; this module
builds the row from them with sweep/rows.row_parts, the memo's own row builder, and raises what
simulate() raises (the guard's refusals, a MappingError naming the layer and the hardware).
tests/test_sweep_fastpath.py holds the rows equal to per-point simulate() rows, bit for bit.
"""
from __future__ import annotations

import itertools

from ..checks import describe
from ..bounds import gemm_bound
from ..engine import run_gemm
from ..enums import Counter
from ..errors import MappingError
from ..graph import Gemm
from ..guard import check_workload
from ..lru import Lru
from ..mapeval import op_key, walk_key
from ..mapper import _flow, _space, capacity_key, space_plan, walk_context
from ..mapping import check_gemm_mapping
from ..pins import check_pins
from ..results import OpResult
from ..simulate import _simulate_layer, layer_fields, layer_graph, path_length
from ..variants import REGISTRY
from .capmemo import StagingMemo
from .rows import RowParts, named_parts, op_parts, row_parts


def fast_path(workload):
    """For LayerMemo: None when no layer of `workload` is a single GEMM, else fast(hw, mapper,
    objective) -> the row parts of every layer (the others through simulate's own layer step,
    reused across staging sizes by a StagingMemo of this workload's)."""
    graphs = tuple(layer_graph(spec) for spec in workload.layers)
    single = tuple(SingleGemm(spec, graph) if single_gemm(spec, graph) else None
                   for spec, graph in zip(workload.layers, graphs))
    return _staged(workload, graphs, single) if any(single) else None


def staged_path(workload):
    """For LayerMemo, where fast_path gives None: the row parts of every layer through simulate's
    own layer step, in simulate()'s order, reused across staging sizes (capmemo.py)."""
    graphs = tuple(layer_graph(spec) for spec in workload.layers)
    return _staged(workload, graphs, (None,) * len(graphs))


def _staged(workload, graphs: tuple, single: tuple):
    """fast(hw, mapper, objective) with its StagingMemo and SingleGemm layers (`fast.staging`,
    `fast.single`: tests read them)."""
    staging = StagingMemo()

    def fast(hw, mapper: str, objective: str) -> tuple[RowParts, ...]:
        return layer_parts(workload, graphs, single, hw, mapper, objective, staging)

    fast.staging, fast.single = staging, single
    return fast


def single_gemm(spec, graph) -> bool:
    """Is this layer one Gemm that runs alone, count-only, with no pinned mapping and no counts
    that depend on the data (what _gemm_parts covers)?"""
    ops = graph.ops
    return not (spec.pins or REGISTRY[spec.variant].is_data_dependent(spec) or len(ops) != 1
                or type(ops[0]) is not Gemm or isinstance(ops[0].mask, str))


def layer_parts(workload, graphs: tuple, single: tuple, hw, mapper: str, objective: str,
                staging: StagingMemo | None = None) -> tuple[RowParts, ...]:
    """row_parts of every layer of simulate(workload, hw, mapper=mapper, objective=objective), in
    simulate()'s steps: pins checked, the guard over the whole workload, then each layer in order
    (a single GEMM by its SingleGemm in `single`, any other, None there, by
    simulate._simulate_layer), a MappingError named by the layer and the hardware as simulate()
    names it. `staging` (capmemo.py) reuses the other layers' parts across staging sizes."""
    check_pins(workload, (hw,))
    check_workload(workload, list(graphs), (hw,), False, mapper, objective)
    out = []
    for index, (spec, graph, alone) in enumerate(zip(workload.layers, graphs, single)):
        try:
            if alone is not None:
                out.append(alone.parts(hw, mapper, objective))
            elif staging is None:
                out.append(_layer_parts(workload, index, spec, graph, hw, mapper, objective)[0])
            else:                 # (the lambda is called, if at all, before the loop moves on)
                out.append(staging.parts(index, spec, graph, hw, mapper, objective, lambda: _layer_parts(
                    workload, index, spec, graph, hw, mapper, objective)))
        except MappingError as exc:
            raise MappingError(f"{workload.source}: layers[{index}] ({describe(spec.name)}) on {hw.source}: "
                               f"{exc}") from None
    return tuple(out)


def _layer_parts(workload, index: int, spec, graph, hw, mapper: str, objective: str) -> tuple:
    """(row parts, LayerResult) of a layer through simulate()'s own per-layer step."""
    r = _simulate_layer(workload, index, spec, graph, hw, False, 0, (mapper, objective), hw.schedule, False)
    return row_parts(r, hw), r


def _gemm_parts(spec, graph, hw, mapper: str, objective: str) -> RowParts:
    op = run_gemm(graph.ops[0], hw, None, None, mapper, objective).repeated(spec.repeat)
    return row_parts(_GemmLayer(spec, op, _fields(spec, hw), graph.phase_depth() * spec.repeat, path_length(spec)), hw)


# Row parts kept per single-GEMM layer (a few hundred bytes each): a grid over buffer sizes comes
# back to the same few capacity classes of each array and bandwidth.
GEMM_PARTS = 4096
# point ids whose candidate space, walk context and bound a single-GEMM layer keeps: one per array
# shape and bandwidths, which a grid visits once per buffer size (a walk context holds arrays as
# long as the space: a few)
POINTS = 64


class SingleGemm:
    """One single-GEMM layer of a workload: its row parts under the heuristic mapper, kept per
    (point key, what the level sizes decide: mapper.capacity_key). The point key (_point_id) holds
    every other hardware field the row reads: the mapper keys its plan on (op_key, walk_key,
    capacity_key), the bound is keyed on (op_key, walk_key), the op's dataflow defaults to the
    array's, and row_parts reads the counts, the array shape, the hardware's name, dataflows and
    number format. A point of a new key runs what run_gemm runs count-only (mapper.space_plan, the
    mapping's check, the bound) with the op's keys computed once, past the mapper's plan cache
    (these parts are kept on a finer key), and builds the row parts with rows.op_parts; what raises
    is not kept."""
    __slots__ = ("spec", "graph", "op", "opk", "steps", "kept", "points")

    def __init__(self, spec, graph):
        self.spec, self.graph, self.op = spec, graph, graph.ops[0]
        self.opk = op_key(self.op)
        self.steps = (graph.phase_depth() * spec.repeat, path_length(spec))
        self.kept = Lru(GEMM_PARTS)
        self.points = Lru(POINTS)          # point id -> _AtPoint

    def parts(self, hw, mapper: str, objective: str) -> RowParts:
        if mapper != "heuristic":
            return _gemm_parts(self.spec, self.graph, hw, mapper, objective)
        point = _point_id(hw)
        at = self.points.find(point)
        if at is None:
            at = _AtPoint(self._space(hw))
            self.points.put(point, at)
        capacity = capacity_key(hw, at.space)
        key = (point, capacity)
        hit = self.kept.find(key)
        if hit is None:
            hit = self._new(hw, at, capacity)
            self.kept.put(key, hit)
        return hit

    def _space(self, hw):
        """The op's one-level candidate space on hw (mapper._space), None on several levels."""
        if len(hw.on_chip) != 1:
            return None
        return _space(self.op, hw, _flow(self.op, hw), self.opk)

    def _new(self, hw, at: "_AtPoint", capacity) -> RowParts:
        op, spec = self.op, self.spec
        mapping, counts = space_plan(op, hw, at.space, capacity, self.opk,
                                     None if at.space is None else lambda: at.walker(op, hw, self.opk), cache=False)
        check_gemm_mapping(mapping, (op.m, op.k, op.n), hw)
        if counts is None:         # the mapper did not walk its choice: run_gemm walks it
            return _gemm_parts(spec, self.graph, hw, "heuristic", "cycles")
        if at.bound is None:
            at.bound = gemm_bound(op, hw)
        bound = at.bound
        if spec.repeat != 1:       # OpResult.repeated's product, and its refusal past int64
            result = OpResult.make(op.name, "gemm", "array", op.phase, counts, bound_cycles=bound).repeated(spec.repeat)
            counts, bound = result.counts, result.bound_cycles
        if at.named is None:
            at.named = named_parts(spec.name, spec.variant, _fields(spec, hw), self.steps, hw)
        return op_parts(*at.named, counts.tolist(), bound, hw)


class _AtPoint:
    """What one single-GEMM layer keeps per point id: the op's candidate space there, and once asked
    for, mapper.walk_context, the op's bound (bounds.gemm_bound) and the row's named_parts, which
    read of the hardware only fields the point id holds."""
    __slots__ = ("space", "context", "bound", "named")

    def __init__(self, space):
        self.space, self.context, self.bound, self.named = space, None, None, None

    def walker(self, op, hw, opk: tuple) -> tuple:
        if self.context is None:
            self.context = walk_context(op, hw, self.space, opk)
        return self.context


# point keys -> small ints, so that the parts' keys hash an int rather than nested tuples; an id is
# never given twice (a key dropped and seen again gets a new one: its old entries just go unused)
_POINT_IDS = Lru(GEMM_PARTS)
_NEXT_ID = itertools.count()


def _point_id(hw) -> int:
    """The id of (walk_key, name, number format, default dataflow) of `hw`, kept with the object."""
    hit = hw.__dict__.get("_gemm_point")
    if hit is None:
        key = (walk_key(hw), hw.name, int(hw.number_format), int(hw.mac_array.dataflow))
        hit = _POINT_IDS.find(key)
        if hit is None:
            hit = next(_NEXT_ID)
            _POINT_IDS.put(key, hit)
        object.__setattr__(hw, "_gemm_point", hit)
    return hit


_FIELDS = Lru(4096)


def _fields(spec, hw) -> dict:
    """simulate.layer_fields(spec, hw), which reads of the hardware only its element size; kept per
    (layer, element bytes), read-only by the callers (row_parts reads it)."""
    return _FIELDS.get((spec, hw.bytes_per_element), lambda: layer_fields(spec, hw))


class _GemmLayer:
    """What row_parts reads of a LayerResult, for a layer that is one op run alone."""
    __slots__ = ("layer", "variant", "fields", "counts", "cycles", "compute_cycles", "sequential_steps",
                 "max_path_length", "total", "serial_cycles", "schedule")

    def __init__(self, spec, op, fields: dict, sequential_steps: int, max_path_length):
        c = op.counts
        self.layer, self.variant, self.fields = spec.name, spec.variant, fields
        self.counts, self.cycles, self.total, self.serial_cycles = c, op.cycles, op, op.cycles
        self.compute_cycles = int(c[Counter.ARRAY_CYCLES] + c[Counter.VECTOR_CYCLES])
        self.sequential_steps, self.max_path_length = sequential_steps, max_path_length
        self.schedule = _Busy({"array": int(c[Counter.ARRAY_CYCLES]), "vector": int(c[Counter.VECTOR_CYCLES]),
                               "dram_read": int(c[Counter.OFFCHIP_FILL_CYCLES]),
                               "dram_write": int(c[Counter.OFFCHIP_DRAIN_CYCLES])})


class _Busy:
    __slots__ = ("busy",)

    def __init__(self, busy: dict):
        self.busy = busy
