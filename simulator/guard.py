"""The checks simulate() makes before the first layer runs: memory and counts, located.

For every layer and hardware config: the memory the run would hold (masks, kernel scratch, and
in functional or data-dependent runs every tensor) must stay under limits.memory_limit_bytes(),
and the upper bound of every count (bounds.py), of every report column summed from counts and of
their sums over the workload must stay under limits.COUNT_LIMIT. A failure is a LimitError that
names the workload file, the layer's key path (the parameter that makes the number grow fastest)
and, where a hardware field is the cause, that field and its file. Op graphs build in
microseconds whatever their size (masks are deferred), so nothing large is allocated first.
"""
from __future__ import annotations

from dataclasses import fields, replace

from . import bounds
from .checks import describe
from .cost import level_bytes_scalar
from .enums import Counter, n_counters
from .errors import LimitError
from .graph import FusedAttention, Gemm, RowRanges, VectorOp
from .limits import COUNT_LIMIT, memory_limit_bytes
from .variants import REGISTRY

_BYTES_PER_ELEMENT_HELD = 4 * 3   # functional runs: float32 tensors, plus float64 copies of GEMM operands
_MASK_BYTES_PER_ROW = 24          # lo, hi and lengths, int64
_VECTOR_BYTES_PER_ROW = 40        # prefix sums (3) and per-row ranges (2) of a vector walk, int64


def check_workload(workload, graphs, configs, functional: bool, mapper: str, objective: str) -> None:
    """Refuse (LimitError) any layer x config whose memory or counts could pass the limits."""
    memory_limit = memory_limit_bytes()
    held = []
    for index, (spec, graph) in enumerate(zip(workload.layers, graphs)):
        data = functional or REGISTRY[spec.variant].is_data_dependent(spec)
        held.append(_held_bytes(graph, data))
        if held[-1] > memory_limit:
            _refuse_memory(workload, index, spec, held[-1], memory_limit, data, functional,
                           lambda g, data=data: _held_bytes(g, data))
    for hw in configs:
        total = [0] * n_counters(hw.n_boundaries)
        for index, (spec, graph) in enumerate(zip(workload.layers, graphs)):
            bound = _layer_bound(workload, index, spec, graph, hw, (mapper, objective), held[index], memory_limit)
            total = bounds.add(total, bound)
        excess = first_excess(total, hw)
        if excess is not None:
            what, value = excess
            raise LimitError(workload.source, [("layers", (
                f"the workload's total {what} on {hw.source} could reach {value:.3g}, more than {COUNT_LIMIT:.3g} "
                f"(2^62, what 64-bit counts hold with headroom): its layers add up; split the workload or use "
                f"smaller sizes"))])


def _layer_bound(workload, index, spec, graph, hw, mapper, held: int, memory_limit: int) -> list[int]:
    """The coarse bound when it fits, else the tight one (refusing when that does not fit either)."""
    coarse = bounds.layer_bound(graph, hw)
    if first_excess(coarse, hw) is None and held + _gemm_grid_bytes(graph, len(hw.on_chip)) <= memory_limit:
        return coarse
    tight, scratch = _tight_layer_bound(workload, index, spec, graph, hw, mapper)
    if held + scratch > memory_limit:
        levels = len(hw.on_chip)
        _refuse_memory(workload, index, spec, held + scratch, memory_limit, False, False,
                       lambda g: _held_bytes(g, False) + _gemm_grid_bytes(g, levels))
    excess = first_excess(tight, hw)
    if excess is not None:
        _refuse_counts(workload, index, spec, hw, excess, graph)
    return tight


def _tight_layer_bound(workload, index, spec, graph, hw, mapper) -> tuple[list[int], int]:
    """Sum of the ops' tight bounds (GEMMs under the mappings they will run with), and the largest
    tile-grid scratch of a GEMM walk."""
    from .mapper import choose_gemm_mapping

    total = [0] * n_counters(hw.n_boundaries)
    grid = _gemm_grid_bytes(graph, len(hw.on_chip), top=False)      # recurrence bodies: small, coarse
    for op in graph.ops:
        if isinstance(op, Gemm) and not isinstance(op.mask, str):
            vol = op.batch * op.m * op.k * op.n
            if vol > COUNT_LIMIT:
                _refuse_counts(workload, index, spec, hw, ("MACs", vol), graph)
            mapping = choose_gemm_mapping(op, hw, *mapper)
            part = bounds.gemm_bound(op, hw, mapping)
            grid = max(grid, sum(-(-op.m // tm) * -(-op.n // tn) for tm, _, tn in mapping.tiles))
        else:
            if isinstance(op, Gemm):
                grid = max(grid, _gemm_grid_bytes(graph, len(hw.on_chip), only=op))
            part = bounds.op_bound(op, hw)
        total = bounds.add(total, part)
    return total, grid


def first_excess(bound: list[int], hw) -> tuple[str, int] | None:
    """The first count, or report column summed from counts, whose bound passes COUNT_LIMIT."""
    if sum(bound) <= COUNT_LIMIT:       # every column is a sum of some of the counts
        return None
    for i, value in enumerate(bound):
        if value > COUNT_LIMIT:
            return bounds.counter_name(i, hw), value
    compute = bound[Counter.ARRAY_CYCLES] + bound[Counter.VECTOR_CYCLES]
    if compute > COUNT_LIMIT:
        return "compute cycles", compute
    reads, writes = level_bytes_scalar(bound, len(hw.memories))
    for name, values in (("bytes read", reads), ("bytes written", writes)):
        if sum(values[:-1]) > COUNT_LIMIT:
            return f"on-chip {name}", sum(values[:-1])
        if values[-1] > COUNT_LIMIT:
            return f"off-chip {name}", values[-1]
    return None


# --- memory -------------------------------------------------------------------------------------
def _held_bytes(graph, data: bool) -> int:
    """Memory a run of the layer holds apart from GEMM tile grids: its masks, the largest vector or
    fused-attention scratch and, when its values are computed, every tensor."""
    return bounds.per_graph(graph, f"held {data}", lambda g: _count_held_bytes(g, data))


def _count_held_bytes(graph, data: bool) -> int:
    masks = {}
    scratch = 0
    for op in _flat_ops(graph.ops):
        for ranges in (getattr(op, "mask", None), getattr(op, "ranges", None)):
            if isinstance(ranges, RowRanges):
                masks[id(ranges)] = ranges.rows
        if isinstance(op, VectorOp):
            scratch = max(scratch, _VECTOR_BYTES_PER_ROW * (op.rows + 1))
        elif isinstance(op, FusedAttention):
            scratch = max(scratch, 8 * op.n_q)
    held = _MASK_BYTES_PER_ROW * sum(masks.values()) + scratch
    return held + functional_bytes(graph) if data else held


def _flat_ops(ops):
    for op in ops:
        yield op
        yield from _flat_ops(getattr(op, "body", ()))


def functional_bytes(graph) -> int:
    """Bytes a functional run of `graph` holds at its peak (all tensors, vector temporaries)."""
    total = 0
    for t in graph.tensors:
        size = 1
        for s in t.shape:
            size *= s
        total += size
    temps = max((op.batch * op.rows * sum(w for _, w in op.widths) for op in graph.ops
                 if isinstance(op, VectorOp)), default=0)
    return (total + temps) * _BYTES_PER_ELEMENT_HELD


def _gemm_grid_bytes(graph, levels: int, top: bool = True, only=None) -> int:
    """The largest output-tile grid a GEMM walk allocates (one byte per output tile per level),
    for tiles of a single element: an upper bound under any mapping. `top`: include the layer's own
    GEMMs (else only recurrence bodies); `only`: just that op."""
    if only is not None:
        return levels * only.m * only.n
    def largest(g):
        return max((op.m * op.n for op in _flat_ops(g.ops) if isinstance(op, Gemm) and (top or op not in g.ops)),
                   default=0)
    return levels * bounds.per_graph(graph, f"grid {top}", largest)


# --- refusals -----------------------------------------------------------------------------------
def _refuse_counts(workload, index, spec, hw, excess, graph) -> None:
    what, value = excess
    path, growth = _growth(workload, index, spec, lambda g: max(bounds.layer_bound(g, hw)))
    cause = ""
    if "cycles" in what:
        key, _ = bounds.cycle_causes(bounds.graph_terms(graph), hw)[0]
        cause = f"; on this hardware most of them come from {key} = {describe(_hw_value(hw, key))} in {hw.source}"
    raise LimitError(workload.source, [(path, (
        f"layer {describe(spec.name)} ({spec.variant}): its {what} on {hw.source} could reach {value:.3g}, more than "
        f"{COUNT_LIMIT:.3g} (2^62, what 64-bit counts hold with headroom){growth}{cause}; use smaller sizes"))])


def _refuse_memory(workload, index, spec, need, limit, data, functional, measure) -> None:
    path, growth = _growth(workload, index, spec, measure)
    if functional:
        what, advice = "a functional run", "run it count-only (without --functional) or with smaller sizes"
    elif data:
        what, advice = "this layer (its windows depend on its values, so they are computed)", "use smaller sizes"
    else:
        what, advice = "a count-only run", "use smaller sizes"
    raise LimitError(workload.source, [(path, (
        f"layer {describe(spec.name)} ({spec.variant}): {what} needs about {need / 2 ** 30:.1f} GiB, more than "
        f"half of this machine's memory ({limit / 2 ** 30:.1f} GiB){growth}; {advice}"))])


def _growth(workload, index, spec, measure) -> tuple[str, str]:
    """The key path of the layer parameter whose doubling grows `measure` the most, and a clause
    listing every parameter that grows it (rebuilding a graph costs microseconds)."""
    base_path = f"layers[{index}]"
    try:
        base = measure(REGISTRY[spec.variant].build(spec))
    except Exception:          # noqa: BLE001 - a message helper must never hide the refusal
        return base_path, ""
    found = []
    for name, value, doubled in _doubled_specs(spec):
        try:
            grown = measure(REGISTRY[spec.variant].build(doubled))
        except Exception:      # noqa: BLE001 - an invalid combination: skip that parameter
            continue
        if grown > base * 1.2:
            found.append((grown / max(base, 1), name, value))
    if not found:
        return base_path, ""
    found.sort(key=lambda f: (-f[0], -f[2], f[1]))     # fastest growth, then the largest value
    names = ", ".join(f"{base_path}.{name} = {describe(value)}" for _, name, value in found)
    return f"{base_path}.{found[0][1]}", f"; it grows with {names}"


def _doubled_specs(spec):
    yield "batch", spec.batch, replace(spec, batch=2 * spec.batch)
    for f in fields(spec.params):
        value = getattr(spec.params, f.name)
        if f.metadata.get("kind") == "int" and isinstance(value, int) and value > 0:
            yield f.name, value, replace(spec, params=replace(spec.params, **{f.name: 2 * value}))


def _hw_value(hw, key: str):
    from .sweep.grid import split_key

    cur = hw.raw
    try:
        for part in split_key(key):
            cur = cur[part]
    except (KeyError, IndexError, TypeError):
        return "?"
    return cur
