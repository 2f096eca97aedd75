"""Running a Recurrence op: `steps` dependent repetitions of a small body of ops.

Each body GEMM is one walk over all steps (batch element t of the walk is step t), so buffer
contents persist from step to step: a weight whose tiles fit stays on chip. The recurrence mapper
gives every body GEMM the tile that holds its whole weight when all the body's working sets fit
the innermost level together; otherwise GEMMs get their default mapping and weights are re-read
every step. Vector and layout ops run once per step. Functional runs call every kernel once per
step (the state of step t feeds step t+1); count-only runs walk all steps in one call per GEMM and
count one step of each vector op `steps` times (their counts do not depend on data). A test
asserts both give identical counts.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import numerics
from .bounds import recurrence_bounds
from .graph import Gemm, Layout, Recurrence, VectorOp
from .lowering import check_int64, lower_gemm, lower_vector
from .mapper import default_gemm_mapping
from .mapping import GemmMapping, check_gemm_mapping, footprint_bytes
from .results import OpResult


def resident_mappings(body, hw) -> tuple[dict, bool]:
    """Mapping per body GEMM, and whether weights stay resident across steps."""
    gemms = [op for op in body if isinstance(op, Gemm)]
    eb = hw.bytes_per_element
    whole = {op.name: GemmMapping(tuple((op.m, op.k, op.n) for _ in hw.on_chip), tuple("mnk" for _ in hw.on_chip))
             for op in gemms}
    vector_bytes = 0
    for op in body:
        if isinstance(op, VectorOp):
            plan = lower_vector(op, hw)
            rows = max(1, int(plan.ip[7]))
            vector_bytes = max(vector_bytes, rows * int(plan.widths.sum()) * eb)
    need = sum(footprint_bytes((op.m, op.k, op.n), eb) for op in gemms) + vector_bytes
    if all(need <= level.usable_bytes for level in hw.on_chip):
        return whole, True
    return {op.name: default_gemm_mapping(op, hw) for op in gemms}, False


def run_recurrence(op: Recurrence, hw, store: dict | None = None, logs: dict | None = None) -> tuple[OpResult, ...]:
    """Counts of every body op over all steps, one OpResult per body op (named 'rec.op').

    Count-only runs fill `logs` (body op name -> (rows array, row counter)) with the step logs of
    the body ops: every step of a body GEMM, one step of a vector op (every step is the same)."""
    from .engine import NO_LOG, new_gemm_state, run_layout, run_vector, zero_counts
    from .kernels.gemm import gemm_walk

    logs = {} if logs is None else logs

    mappings, resident = resident_mappings(op.body, hw)
    plans, states, outs = {}, {}, {}
    for body_op in op.body:
        outs[body_op.name] = zero_counts(hw)
        if isinstance(body_op, Gemm):
            check_gemm_mapping(mappings[body_op.name], (body_op.m, body_op.k, body_op.n), hw)
            check_int64("recurrent MACs", op.steps, body_op.batch, body_op.m, body_op.k, body_op.n)
            plan = lower_gemm(replace(body_op, shared_b=resident, step_barrier=True), mappings[body_op.name], hw)
            plans[body_op.name] = plan
            states[body_op.name] = new_gemm_state(hw)

    if store is None:
        for body_op in op.body:
            out = outs[body_op.name]
            if isinstance(body_op, Gemm):
                plan = plans[body_op.name]
                ip = plan.ip.copy()
                ip[0] = body_op.batch * op.steps          # GemmParam.BATCH: all steps in one walk
                rows, nlog = logs.get(body_op.name, (NO_LOG, np.zeros(1, np.int64)))
                gemm_walk(ip, plan.rates, plan.lo, plan.hi, out, states[body_op.name], 0, True, rows, nlog,
                          NO_LOG, np.zeros(1, np.int64))
            elif isinstance(body_op, VectorOp):
                outs[body_op.name] = run_vector(body_op, hw, log=logs.get(body_op.name)).counts * op.steps
    else:
        for t in range(op.steps):
            op.before(store, t)
            last = t == op.steps - 1
            for body_op in op.body:
                if isinstance(body_op, Gemm):
                    _gemm_step(body_op, plans[body_op.name], mappings[body_op.name], states[body_op.name],
                               outs[body_op.name], store, t, last, hw)
                elif isinstance(body_op, VectorOp):
                    outs[body_op.name] = outs[body_op.name] + run_vector(body_op, hw, store).counts
                elif isinstance(body_op, Layout):
                    run_layout(body_op, hw, store)
            op.after(store, t)

    bounds = recurrence_bounds(op, hw)
    results = []
    for body_op in op.body:
        if isinstance(body_op, Layout):
            continue
        kind = "gemm" if isinstance(body_op, Gemm) else "vector"
        mapping = mappings[body_op.name].describe() if isinstance(body_op, Gemm) else ""
        if isinstance(body_op, Gemm):
            mapping += "; weights resident across steps" if resident else "; weights re-read every step"
        name = f"{op.name}.{body_op.name}"
        results.append(OpResult.make(name, kind, body_op.unit, op.phase, outs[body_op.name], mapping,
                                     f"{op.steps} steps x {_shape(body_op)}", bounds[name]))
    return tuple(results)


def _gemm_step(op: Gemm, plan, mapping, state, out, store, t, last, hw) -> None:
    """Step t of a body GEMM: one walk call that continues the buffer state of step t-1."""
    from .engine import NO_LOG, gemm_run_bound
    from .kernels.gemm import gemm_walk

    runs, nrun = np.zeros((gemm_run_bound(op, mapping), 7), np.int64), np.zeros(1, np.int64)
    gemm_walk(plan.ip, plan.rates, plan.lo, plan.hi, out, state, t * op.batch, last, NO_LOG, np.zeros(1, np.int64),
              runs, nrun)
    a = store[op.a].reshape(op.batch, op.m, op.k)
    b = store[op.b].reshape(-1, op.k, op.n)
    c = numerics.gemm_output(a, b, runs[:nrun[0]], (op.batch, op.m, op.n), hw.number_format)
    store[op.c] = numerics.store(c, hw.number_format)


def _shape(op) -> str:
    if isinstance(op, Gemm):
        return f"({op.m}x{op.k}x{op.n})"
    return f"{op.rows}x{op.cols}"
