"""simulate(): every layer of a workload on one or more hardware configs."""
from __future__ import annotations

import functools
import warnings
from dataclasses import replace
from typing import Iterable

import numpy as np

from . import numerics
from .checks import describe
from .connectivity import SearchTooLarge
from .engine import run_graph
from .errors import MappingError
from .graph import OpGraph, VectorOp
from .guard import check_workload
from .hardware import Hardware
from .limits import SEED_MAX
from .results import LayerResult, frozen_arrays, read_only
from .variants import REGISTRY
from .workload import Workload


def simulate(workload: Workload, hw: Hardware | Iterable[Hardware], functional: bool = False,
             seed: int = 0, mapper: str | None = None, objective: str | None = None, schedule: str | None = None,
             tasks: bool = False) -> tuple[LayerResult, ...]:
    """Simulate each layer of `workload` on each hardware config (count-only unless `functional`).

    `mapper` chooses every GEMM's tiling: "heuristic" (the default mapping, mapper.py) or "search"
    (the best candidate by `objective`: cycles, energy or edp). Precedence: an argument given here,
    else the workload's own `mapper` / `objective` keys, else "heuristic" / "cycles". A GEMM whose
    layer pins a mapping (the workload's `mapping` key, pins.py) runs with it whatever the mapper;
    pinned mappings that cannot run on a config raise pins.PinnedMappingError before anything runs.

    `schedule` ("overlapped" or "serial"; None: each config's `schedule` key) decides how a
    layer's ops share the units (docs/architecture.md, "Schedule"); `tasks` keeps every task's
    place in the schedule (result.schedule), which traces and Gantt charts draw.

    Functional mode draws inputs and weights (standard normal unless a layer says otherwise) from
    numpy's PCG64 seeded with (seed, layer index), rounds them to the number format, and computes
    every output on the modeled array.  Counts are identical in both modes.
    """
    from .enums import SCHEDULE_NAMES
    from .mapper import MAPPERS, OBJECTIVES
    from .pins import check_pins

    mapper = mapper if mapper is not None else (workload.mapper or "heuristic")
    objective = objective if objective is not None else (workload.objective or "cycles")
    if mapper not in MAPPERS or objective not in OBJECTIVES:
        raise ValueError(f"mapper must be one of {MAPPERS} and objective one of {OBJECTIVES}; "
                         f"got {mapper!r}, {objective!r}")
    if schedule is not None and schedule not in SCHEDULE_NAMES:
        raise ValueError(f"schedule must be one of {SCHEDULE_NAMES} or None; got {schedule!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed must be an integer in [0, {SEED_MAX}], got {seed!r}")
    configs = (hw,) if isinstance(hw, Hardware) else tuple(hw)
    check_pins(workload, configs)
    graphs = [layer_graph(spec) for spec in workload.layers]
    # memory and every count bounded before anything runs (guard.py); refusals name the layer's key
    check_workload(workload, graphs, configs, functional, mapper, objective)
    results = []
    for config in configs:
        for index, (spec, graph) in enumerate(zip(workload.layers, graphs)):
            try:
                results.append(_simulate_layer(workload, index, spec, graph, config, functional, seed,
                                               (mapper, objective), schedule or config.schedule, tasks))
            except MappingError as exc:
                raise MappingError(f"{workload.source}: layers[{index}] ({describe(spec.name)}) on {config.source}: "
                                   f"{exc}") from None
    return tuple(results)


def _simulate_layer(workload, index, spec, graph: OpGraph, hw, functional, seed, mapper, mode, tasks) -> LayerResult:
    variant = REGISTRY[spec.variant]
    # A data-dependent layer computes its values in both modes: its counts depend on them.
    data_dependent = variant.is_data_dependent(spec)
    store = draw_inputs(graph, hw, seed, index) if functional or data_dependent else None
    inputs = {t.name: store[t.name] for t in graph.tensors if t.role in ("input", "weight")} if functional else None
    pins = {p.op: p.mapping for p in spec.pins}
    ops, schedule = _run_scheduled(graph, hw, store, mapper, mode, tasks, pins)
    if spec.repeat > 1:            # a stack of identical layers, one after another
        ops = tuple(op.repeated(spec.repeat) for op in ops)
        schedule = schedule.repeated(spec.repeat)
    outputs = ({t.name: store[t.name].reshape(t.shape) for t in graph.tensors if t.role == "output"}
               if functional else None)
    return LayerResult(
        workload=workload.name, layer=spec.name, variant=spec.variant, hw=hw, fields=layer_fields(spec, hw),
        ops=ops, cycles=schedule.cycles, sequential_steps=graph.phase_depth() * spec.repeat,
        max_path_length=path_length(spec),
        workload_file=workload.source, workload_sha256=workload.sha256, seed=seed if functional or data_dependent else None,
        inputs=frozen_arrays(inputs) if functional else None,
        outputs=frozen_arrays(outputs) if functional else None, schedule=schedule,
        tensors=read_only(store) if functional else None, graph=graph if functional else None)


def _run_scheduled(graph: OpGraph, hw, store, mapper, mode: str, tasks: bool, pins: dict):
    """The op results of a layer and its schedule. The serial schedule needs only the counters;
    an overlapped one (or any kept task by task) the kernels' step logs, logged by the same walk
    when the run is count-only. A count-only layer's schedule plan is kept with the hardware
    object's other plans (engine._memo), so evaluating it again only reruns the scheduler."""
    from .engine import _memo
    from .schedule.layer import plan_layer, run_plan, serial_schedule
    from .schedule.oplog import logs_for, run_logged, step_rows

    if mode == "serial" and not tasks:
        ops, _ = run_graph(graph, hw, store, mapper, pins=pins)
        return ops, serial_schedule(ops, hw)
    if not tasks and _alone(graph):
        # one GEMM or vector program: the overlapped schedule is the serial one (schedule.layer._alone),
        # so no step log is needed, and a GEMM's counts come from the mapper's own walk
        ops, _ = run_graph(graph, hw, store, mapper, pins=pins)
        return ops, replace(serial_schedule(ops, hw), mode=mode)
    plans = _memo(hw).setdefault("schedules", {})
    # graphs are cached per layer (layer_graph); pinned mappings change the plan
    key = (id(graph), mapper, mode, tuple(sorted(pins.items())))
    if store is None and not tasks and key in plans and plans[key][0] is graph:
        ops, _ = run_graph(graph, hw, None, mapper, pins=pins)
        return ops, run_plan(plans[key][1], ops, hw, mode)
    rows = 0 if tasks else step_rows(graph, hw, mapper, pins)
    if rows > OVERLAP_STEP_BUDGET:
        ops, _ = run_graph(graph, hw, store, mapper, pins=pins)     # (a layer alone returned above)
        return ops, replace(serial_schedule(ops, hw), fell_back=True,
                            note=f"{rows:,} kernel steps, over the overlapped schedule's budget of "
                                 f"{OVERLAP_STEP_BUDGET:,}")
    if store is None:
        ops, logs = run_logged(graph, hw, mapper, pins)
    else:
        ops, _ = run_graph(graph, hw, store, mapper, pins=pins)
        logs = logs_for(graph, hw, mapper, store, pins)
    plan = plan_layer(graph, logs, hw, mode, tasks)
    if store is None and not tasks and (plan.graph is None or len(plan.graph.tab) <= _PLAN_TASKS_KEPT):
        while len(plans) >= _PLANS_KEPT:
            plans.pop(next(iter(plans)))          # the oldest goes first
        plans[key] = (graph, plan)
    return ops, run_plan(plan, ops, hw, mode, tasks, graph, logs)


def _alone(graph: OpGraph) -> bool:
    """One GEMM or vector program and nothing else that works (schedule.layer._alone, before logs)."""
    from .graph import Gemm, Layout

    working = [op for op in graph.ops if not isinstance(op, Layout)]
    return len(working) == 1 and isinstance(working[0], (Gemm, VectorOp))


# The overlapped schedule makes tasks of every step its kernels log, at about 30 us and 1.5 kB of
# memory each on the 2-core development machine: a layer with more steps than this (recurrences of
# thousands of steps whose weights are re-read every step on a small buffer: an LSTM of 4,096 steps
# and d = 512 on edge_32x32 has 4.2 million) runs on the serial schedule instead, and says so. Every
# bundled workload on every bundled config stays under it (the most: 0.5 million).
OVERLAP_STEP_BUDGET = 1 << 20

# Schedule plans kept per hardware object: a sweep or a table evaluates many layers once each, a
# loop the same few many times; big task graphs (long recurrences) are not worth their memory.
_PLANS_KEPT = 32
_PLAN_TASKS_KEPT = 100_000


def layer_fields(spec, hw) -> dict:
    """The report columns a layer fills: the variant's fields, batch and repeat, and the elements it
    keeps between generation steps as bytes in the hardware's format (for the whole stack)."""
    fields = dict(REGISTRY[spec.variant].report_fields(spec))
    fields["shape"] = REGISTRY[spec.variant].shape(spec)
    fields["batch"] = spec.batch
    fields["repeat"] = spec.repeat
    for kind in ("kv_cache", "state"):
        elements = fields.pop(f"{kind}_elements", None)
        if elements is not None:
            fields[f"{kind}_bytes"] = elements * hw.bytes_per_element * spec.repeat
    return fields


@functools.lru_cache(maxsize=4096)
def layer_graph(spec) -> OpGraph:
    """A layer's op graph; built once per distinct layer (sweeps evaluate the same layer many times)."""
    return REGISTRY[spec.variant].build(spec)


class PathLengthSkipped(UserWarning):
    """max_path_length was left empty because its exact search would take too long."""


@functools.lru_cache(maxsize=4096)
def path_length(spec) -> int | None:
    try:
        return REGISTRY[spec.variant].max_path_length(spec)
    except SearchTooLarge as exc:
        warnings.warn(PathLengthSkipped(
            f"layer {describe(spec.name)} ({spec.variant}): max_path_length is left empty: its exact search would "
            f"take {exc}, more than 2^32 (limits.MAX_PATH_SEARCH_STEPS)"), stacklevel=2)
        return None


def draw_inputs(graph: OpGraph, hw, seed: int, layer_index: int) -> dict[str, np.ndarray]:
    """Inputs and weights of a layer, drawn in graph order and stored in the number format."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(layer_index,)))
    store = {}
    for t in graph.tensors:
        if t.role in ("input", "weight"):
            values = t.init(rng, t.shape) if t.init is not None else rng.standard_normal(t.shape)
            store[t.name] = numerics.store(values, hw.number_format)
    return store
