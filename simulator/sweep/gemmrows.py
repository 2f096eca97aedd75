"""A sweep's fast path for workloads whose every layer is one GEMM (the `gemm` variant, feed-forward
projections): the rows' fixed parts straight from the GEMM's op result, without simulate()'s
general machinery (schedule objects, layer results, sums over one op).

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
from ..simulate import layer_fields, layer_graph, path_length
from ..variants import REGISTRY
from .rows import RowParts, row_parts


def fast_path(workload):
    """For LayerMemo: None, or fast(hw, mapper, objective) -> the row parts of every layer."""
    graphs = gemm_only(workload)
    if graphs is None:
        return None
    return lambda hw, mapper, objective: gemm_layer_parts(workload, graphs, hw, mapper, objective)


def gemm_only(workload) -> tuple | None:
    """(graph per layer) when every layer of `workload` is one Gemm the fast path covers, else None."""
    graphs = []
    for spec in workload.layers:
        graph = layer_graph(spec)
        ops = graph.ops
        if (spec.pins or REGISTRY[spec.variant].is_data_dependent(spec) or len(ops) != 1
                or type(ops[0]) is not Gemm or isinstance(ops[0].mask, str)):
            return None
        graphs.append(graph)
    return tuple(graphs)


def gemm_layer_parts(workload, graphs: tuple, hw, mapper: str, objective: str) -> tuple[RowParts, ...]:
    """row_parts of every layer of simulate(workload, hw, mapper=mapper, objective=objective), for a
    workload gemm_only() accepted (its graphs)."""
    check_workload(workload, list(graphs), (hw,), False, mapper, objective)
    out = []
    for index, (spec, graph) in enumerate(zip(workload.layers, graphs)):
        try:
            op = run_gemm(graph.ops[0], hw, None, None, mapper, objective)
        except MappingError as exc:
            raise MappingError(f"{workload.source}: layers[{index}] ({describe(spec.name)}) on {hw.source}: "
                               f"{exc}") from None
        op = op.repeated(spec.repeat)
        layer = _GemmLayer(spec, op, _fields(spec, hw), graph.phase_depth() * spec.repeat, path_length(spec))
        out.append(row_parts(layer, hw))
    return tuple(out)


_FIELDS: dict = {}


def _fields(spec, hw) -> dict:
    """simulate.layer_fields(spec, hw), which reads of the hardware only its element size; kept per
    (layer, element bytes), read-only by the callers (row_parts reads it)."""
    key = (spec, hw.bytes_per_element)
    hit = _FIELDS.get(key)
    if hit is None:
        if len(_FIELDS) >= 4096:
            _FIELDS.clear()
        hit = _FIELDS[key] = layer_fields(spec, hw)
    return hit


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
