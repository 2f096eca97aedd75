"""The checks simulate() makes before the first layer runs: memory, work and counts, located.

For every layer and hardware config: the memory the run would hold (masks, kernel scratch, and
in functional or data-dependent runs every tensor) must stay under limits.memory_limit_bytes();
the steps its walks take, per layer and for the workload, under limits.MAX_WALK_STEPS; and the
upper bound of every count (upper_bounds.py), of every report column summed from counts and of their
sums over the workload under limits.COUNT_LIMIT. A workload that fits on the worst hardware the
field limits admit is passed at once (cached). A failure is a LimitError that
names the workload file, the layer's key path (the parameter that makes the number grow fastest)
and, where a hardware field is the cause, that field and its file. Op graphs build in
microseconds whatever their size (masks are deferred), so nothing large is allocated first.
"""
from __future__ import annotations

import functools
from dataclasses import fields, replace

from . import upper_bounds as bounds
from .checks import describe
from .cost import level_bytes_scalar
from .enums import (BOUNDARY_BASE, N_BOUNDARY_COUNTERS, N_VEC_KINDS, VEC_KIND_NAMES, BoundaryCounter, Counter,
                    n_counters)
from .errors import LimitError, MappingError, SizeError
from .graph import FusedAttention, Gemm, RowRanges, VectorOp
from .limits import COUNT_LIMIT, MAX_WALK_STEPS, memory_limit_bytes
from .variants import REGISTRY

# Functional runs hold every tensor (float32, plus a float64 copy of GEMM operands for int8), and
# their error columns a float64 reference of every tensor with one op's float64 temporaries.
_BYTES_PER_ELEMENT_HELD = 4 * 3 + 8 * 2
_MASK_BYTES_PER_ROW = 24          # lo, hi and lengths, int64
_VECTOR_BYTES_PER_ROW = 40        # prefix sums (3) and per-row ranges (2) of a vector walk, int64


def check_workload(workload, graphs, configs, functional: bool, mapper: str, objective: str) -> None:
    """Refuse (LimitError) any layer x config whose memory, work or counts could pass the limits."""
    if _fits_any_hardware(workload, graphs, functional):
        return
    memory_limit = memory_limit_bytes()
    held = []
    for index, (spec, graph) in enumerate(zip(workload.layers, graphs)):
        data = functional or REGISTRY[spec.variant].is_data_dependent(spec)
        held.append(_held_bytes(graph, data))
        if held[-1] > memory_limit:
            _Layer(workload, index, spec, graph, None, None).refuse_memory(
                held[-1], memory_limit, data, functional, lambda g, data=data: _held_bytes(g, data))
    for hw in configs:
        total, work = [0] * n_counters(hw.n_boundaries), 0
        layers = [_Layer(workload, index, spec, graph, hw, (mapper, objective))
                  for index, (spec, graph) in enumerate(zip(workload.layers, graphs))]
        for layer in layers:
            bound, steps = layer.bound(held[layer.index], memory_limit)
            total, work = bounds.add(total, bound), work + steps
        if work > MAX_WALK_STEPS:         # coarse steps assume one-element tiles: count the real ones
            work = sum(layer._tight(need_counts=False)[2] for layer in layers)
        excess = first_excess(total, hw)
        if excess is not None:
            what, value = excess
            _refuse_workload(workload, f"total {what} on {hw.source} could reach {_over(value)}, more than "
                                       f"{COUNT_LIMIT:.4g} (2^62, what 64-bit counts hold with headroom)")
        if work > MAX_WALK_STEPS:
            _refuse_workload(workload, f"simulation on {hw.source} would walk about {work:.3g} tile steps, chunks "
                                       f"and blocks in all, more than {MAX_WALK_STEPS:.3g} (2^32, about ten minutes)")


def _refuse_workload(workload, what: str) -> None:
    raise LimitError(workload.source, [("layers", f"the workload's {what}: its layers add up; split the workload "
                                                  f"or use smaller sizes")])


def _fits_any_hardware(workload, graphs, functional: bool) -> bool:
    """True when the workload fits every limit on the worst hardware limits.HW_FIELDS admits (the
    coarse bounds grow with array size, element bytes, cycles per op and levels, and shrink with
    lanes and bandwidths): then no config needs checking. Cached per workload: a sweep checks the
    same workload on every design point, so this is the common case and costs a lookup."""
    key = (id(workload), functional)
    hit = _FITS.get(key)
    if hit is not None and hit[0] is workload and len(hit[1]) == len(graphs) and \
            all(a is b for a, b in zip(hit[1], graphs)):
        return hit[2]
    worst = _worst_hardware()
    total, work = [0] * n_counters(worst.n_boundaries), 0
    fits = True
    for spec, graph in zip(workload.layers, graphs):
        data = functional or REGISTRY[spec.variant].is_data_dependent(spec)
        held = _held_bytes(graph, data) + _gemm_grid_bytes(graph, len(worst.on_chip))
        fits = fits and held <= memory_limit_bytes()
        total = bounds.add(total, _repeated(bounds.layer_bound(graph, worst), spec.repeat))
        work += bounds.layer_work(graph)
    fits = fits and work <= MAX_WALK_STEPS and first_excess(total, worst) is None
    _FITS[key] = (workload, tuple(graphs), fits)
    if len(_FITS) > 4096:
        _FITS.pop(next(iter(_FITS)))
    return fits


_FITS: dict = {}


def _repeated(bound: list[int], times: int) -> list[int]:
    """The counts of a `repeat` stack: the layer's run `times` times (its walks are done once)."""
    return bound if times == 1 else [x * times for x in bound]


@functools.lru_cache(maxsize=1)
def _worst_hardware():
    """The valid hardware on which every coarse bound is largest (limits.HW_FIELDS)."""
    from .enums import VEC_KIND_NAMES as kinds
    from .hardware import Hardware
    from .limits import HW_FIELDS, MAX_MEMORY_LEVELS

    def most(key):
        return int(HW_FIELDS[key].maximum)

    slow = HW_FIELDS["memories[].read_bw_bytes_per_cycle"].minimum
    level = {"read_bw_bytes_per_cycle": slow, "write_bw_bytes_per_cycle": slow, "read_pj_per_byte": 0,
             "write_pj_per_byte": 0}
    memories = [dict(level, name=f"l{i}", size_bytes=most("memories[].size_bytes"), double_buffered=False)
                for i in range(MAX_MEMORY_LEVELS - 1)] + [dict(level, name="off", size_bytes=None)]
    return Hardware.from_dict({
        "name": "worst", "clock_hz": 1.0, "number_format": "fp32",
        "mac_array": {"rows": most("mac_array.rows"), "cols": most("mac_array.cols"), "dataflow": "output_stationary",
                      "mac_energy_pj": 0},
        "vector_unit": {"lanes": 1, "cycles_per_op": {k: most("vector_unit.cycles_per_op.*") for k in kinds},
                        "op_energy_pj": 0},
        "memories": memories})


class _Layer:
    """One layer on one hardware config: its bounds, and its refusals (located)."""

    def __init__(self, workload, index, spec, graph, hw, mapper):
        self.workload, self.index, self.spec, self.graph, self.hw, self.mapper = \
            workload, index, spec, graph, hw, mapper

    def bound(self, held: int, memory_limit: int) -> tuple[list[int], int]:
        """The coarse count and work bounds when counts, work and tile grids fit; else the tight
        tier decides (the GEMMs' real mappings, which the run then reuses), refusing what does not
        fit."""
        hw, graph, times = self.hw, self.graph, self.spec.repeat
        coarse, coarse_work = _repeated(bounds.layer_bound(graph, hw), times), bounds.layer_work(graph)
        counts_ok = first_excess(coarse, hw) is None
        if counts_ok and coarse_work <= MAX_WALK_STEPS and \
                held + _gemm_grid_bytes(graph, len(hw.on_chip)) <= memory_limit:
            return coarse, coarse_work
        if not counts_ok:
            # A GEMM's MACs and the ops that are not GEMMs are bounded alike in both tiers: when they
            # overflow, refuse before any GEMM is mapped (the mapper walks candidates; at absurd
            # sizes, for hours).
            rest = [0] * n_counters(hw.n_boundaries)
            for op in graph.ops:
                if not isinstance(op, Gemm):
                    rest = bounds.add(rest, bounds.op_bound(op, hw))
                elif op.batch * op.m * op.k * op.n * times > COUNT_LIMIT:
                    self.refuse_counts(("MACs", op.batch * op.m * op.k * op.n * times))
            excess = first_excess(_repeated(rest, times), hw)
            if excess is not None:
                self.refuse_counts(excess)
        tight, grid, work = self._tight(need_counts=not counts_ok)
        tight = _repeated(tight, times)
        if held + grid > memory_limit:
            levels = len(hw.on_chip)
            self.refuse_memory(held + grid, memory_limit, False, False,
                               lambda g: _held_bytes(g, False) + _gemm_grid_bytes(g, levels))
        if work > MAX_WALK_STEPS:
            self.refuse_work(work)
        if counts_ok:
            return coarse, work
        excess = first_excess(tight, hw)
        if excess is not None:
            self.refuse_counts(excess)
        return tight, work

    def _tight(self, need_counts: bool) -> tuple[list[int], int, int]:
        """The ops' tight bounds summed (when `need_counts`), the largest tile grid of a GEMM walk
        and the steps of all walks, GEMMs under the mappings they will run with."""
        hw = self.hw
        total = [0] * n_counters(hw.n_boundaries)
        grid = _gemm_grid_bytes(self.graph, len(hw.on_chip), top=False)    # recurrence bodies: small
        work = 0
        least = 0           # steps any mapping walks: at least one per batch element of every GEMM
        for op in self.graph.ops:
            mapping = None
            if isinstance(op, Gemm) and not isinstance(op.mask, str):
                vol = op.batch * op.m * op.k * op.n * self.spec.repeat
                if vol > COUNT_LIMIT:
                    self.refuse_counts(("MACs", vol))
                least += op.batch
                if least > MAX_WALK_STEPS:      # refused before the mapper walks a single candidate
                    self.refuse_work(least)
                mapping = self._mapping(op)
                grid = max(grid, sum(-(-op.m // tm) * -(-op.n // tn) for tm, _, tn in mapping.tiles))
            elif isinstance(op, Gemm):
                grid = max(grid, _gemm_grid_bytes(self.graph, len(hw.on_chip), only=op))
            work += bounds.op_work(op, hw, mapping)
            if need_counts:
                total = bounds.add(total, bounds.op_bound(op, hw, mapping))
        return total, grid, work

    def _mapping(self, op):
        """The mapping `op` will run with (planned and memoised by the engine, so not planned twice)."""
        from .engine import _planned_gemm

        pinned = next((p.mapping for p in self.spec.pins if p.op == op.name), None)
        if pinned is not None:       # checked against this hardware before the guard runs (pins.py)
            return pinned
        try:
            return _planned_gemm(op, self.hw, *self.mapper)[0]
        except (MappingError, SizeError) as exc:
            raise LimitError(self.workload.source, [(f"layers[{self.index}]", (
                f"layer {describe(self.spec.name)} ({self.spec.variant}) on {self.hw.source}: {exc}"))]) from None

    def refuse_counts(self, excess) -> None:
        what, value = excess
        hw = self.hw
        path, growth = _growth(self.index, self.spec, lambda g: max(bounds.layer_bound(g, hw)))
        cause = ""
        if "cycles" in what:
            causes = cycle_causes(bounds.graph_terms(self.graph), hw)
            unit = {"vector-unit cycles": "vector_unit.", "MAC-array cycles": "mac_array."}.get(what)
            key, _ = ([c for c in causes if c[0].startswith(unit)] if unit else causes)[0]
            cause = f"; on this hardware most of them come from {key} = {describe(_hw_value(hw, key))} in {hw.source}"
        self._refuse(path, f"its {what} on {hw.source} could reach {_over(value)}, more than {COUNT_LIMIT:.4g} "
                           f"(2^62, what 64-bit counts hold with headroom){growth}{cause}; use smaller sizes")

    def refuse_work(self, steps: int) -> None:
        hw = self.hw
        path, growth = _growth(self.index, self.spec, bounds.layer_work)
        self._refuse(path, f"its simulation on {hw.source} would walk about {steps:.3g} tile steps, chunks and "
                           f"blocks, more than {MAX_WALK_STEPS:.3g} (2^32, about ten minutes){growth}; use smaller "
                           f"sizes")

    def refuse_memory(self, need, limit, data, functional, measure) -> None:
        path, growth = _growth(self.index, self.spec, measure)
        if functional:
            what, advice = "a functional run", "run it count-only (without --functional) or with smaller sizes"
        elif data:
            what, advice = "this layer (its windows depend on its values, so they are computed)", "use smaller sizes"
        else:
            what, advice = "a count-only run", "use smaller sizes"
        self._refuse(path, f"{what} needs about {need / 2 ** 30:.1f} GiB, more than half of this machine's memory "
                           f"({limit / 2 ** 30:.1f} GiB){growth}; {advice}")

    def _refuse(self, path: str, message: str) -> None:
        raise LimitError(self.workload.source, [(path, f"layer {describe(self.spec.name)} ({self.spec.variant}): "
                                                       f"{message}")])


def first_excess(bound: list[int], hw) -> tuple[str, int] | None:
    """The first count, or report column summed from counts, whose bound passes COUNT_LIMIT."""
    if sum(bound) <= COUNT_LIMIT:       # every column is a sum of some of the counts
        return None
    for i, value in enumerate(bound):
        if value > COUNT_LIMIT:
            return counter_name(i, hw), value
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


# --- refusals -------------------------------------------------------------------------------
def _growth(index, spec, measure) -> tuple[str, str]:
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


def _over(value: int) -> str:
    """A number above COUNT_LIMIT, with enough digits to show that it is above."""
    for digits in (4, 8, 12, 19):
        text = f"{value:.{digits}g}"
        if float(text) > COUNT_LIMIT or digits == 19:
            return text


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


def cycle_causes(terms, hw) -> list[tuple[str, int]]:
    """The coarse cycle bound's parts, each named by the hardware key that scales it (largest
    first): which knob makes a layer's cycles too many."""
    bound = bounds.combine(terms, hw)
    parts = [("mac_array.rows", bound[Counter.ARRAY_CYCLES])]
    lanes, cpo = hw.vector_unit.lanes, hw.vector_unit.cycles_per_op
    for k in range(N_VEC_KINDS):
        parts.append((f"vector_unit.cycles_per_op.{VEC_KIND_NAMES[k]}",
                      (terms.vec_ops[k] // lanes + 1 + terms.vec_terms[k]) * cpo[k] if terms.vec_ops[k] else 0))
    unit_bw, boundary_bw = bounds.rates(hw)
    steps = terms.vol + terms.steps + terms.chains
    parts.append(("memories[0].read_bw_bytes_per_cycle",
                  bounds.transfer_time(4 * bound[Counter.UNIT_READ_A], unit_bw, 4 * steps)))
    for b, bw in enumerate(boundary_bw):
        slow = min((hw.memories[b].write_bw_bytes_per_cycle, f"memories[{b}].write_bw_bytes_per_cycle"),
                   (hw.memories[b].read_bw_bytes_per_cycle, f"memories[{b}].read_bw_bytes_per_cycle"),
                   (hw.memories[b + 1].read_bw_bytes_per_cycle, f"memories[{b + 1}].read_bw_bytes_per_cycle"),
                   (hw.memories[b + 1].write_bw_bytes_per_cycle, f"memories[{b + 1}].write_bw_bytes_per_cycle"))
        parts.append((slow[1], bounds.transfer_time(4 * bound[BOUNDARY_BASE + N_BOUNDARY_COUNTERS * b], bw, 4 * steps)))
    return sorted(parts, key=lambda p: -p[1])


def counter_name(index: int, hw) -> str:
    """What counter `index` counts, in words, for messages."""
    words = {Counter.MACS: "MACs", Counter.SLOT_MACS: "issued MAC slots", Counter.FOLDS: "array folds",
             Counter.TILES: "tile steps", Counter.SKIPPED_TILES: "skipped tile steps",
             Counter.ARRAY_CYCLES: "MAC-array cycles", Counter.VECTOR_CYCLES: "vector-unit cycles",
             Counter.CYCLES: "cycles", Counter.GATHER_ELEMS: "gathered elements",
             Counter.UNIT_READ_A: "bytes the compute units read", Counter.UNIT_READ_B: "bytes the compute units read",
             Counter.UNIT_READ_C: "partial-sum bytes read", Counter.UNIT_WRITE_C: "bytes the compute units write"}
    if index in words:
        return words[index]
    if index < BOUNDARY_BASE:
        return f"{VEC_KIND_NAMES[index - Counter.VEC_OPS]} operations of the vector unit"
    b, which = divmod(index - BOUNDARY_BASE, N_BOUNDARY_COUNTERS)
    inner, outer = hw.memories[b].name, hw.memories[b + 1].name
    return (f"bytes moved from {outer} to {inner}" if which != BoundaryCounter.DRAIN_C
            else f"bytes written back from {inner} to {outer}")
