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

from ..checks import describe
from ..engine import run_gemm
from ..enums import Counter
from ..errors import MappingError
from ..graph import Gemm
from ..guard import check_workload
from ..lru import Lru
from ..pins import check_pins
from ..simulate import _simulate_layer, layer_fields, layer_graph, path_length
from ..variants import REGISTRY
from .capmemo import StagingMemo
from .rows import RowParts, row_parts


def fast_path(workload):
    """For LayerMemo: None when no layer of `workload` is a single GEMM, else fast(hw, mapper,
    objective) -> the row parts of every layer (the others through simulate's own layer step,
    reused across staging sizes by a StagingMemo of this workload's)."""
    graphs = tuple(layer_graph(spec) for spec in workload.layers)
    single = tuple(single_gemm(spec, graph) for spec, graph in zip(workload.layers, graphs))
    return _staged(workload, graphs, single) if any(single) else None


def staged_path(workload):
    """For LayerMemo, where fast_path gives None: the row parts of every layer through simulate's
    own layer step, in simulate()'s order, reused across staging sizes (capmemo.py)."""
    graphs = tuple(layer_graph(spec) for spec in workload.layers)
    return _staged(workload, graphs, (False,) * len(graphs))


def _staged(workload, graphs: tuple, single: tuple):
    """fast(hw, mapper, objective) with its StagingMemo (`fast.staging`: tests read its counters)."""
    staging = StagingMemo()

    def fast(hw, mapper: str, objective: str) -> tuple[RowParts, ...]:
        return layer_parts(workload, graphs, single, hw, mapper, objective, staging)

    fast.staging = staging
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
    (a single GEMM by _gemm_parts, any other by simulate._simulate_layer), a MappingError named by
    the layer and the hardware as simulate() names it. `staging` (capmemo.py) reuses the other
    layers' parts across staging sizes."""
    check_pins(workload, (hw,))
    check_workload(workload, list(graphs), (hw,), False, mapper, objective)
    out = []
    for index, (spec, graph, alone) in enumerate(zip(workload.layers, graphs, single)):
        try:
            if alone:
                out.append(_gemm_parts(spec, graph, hw, mapper, objective))
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
