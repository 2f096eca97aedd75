"""The list scheduler against a brute-force discrete-event simulator (tests/reference_schedule.py),
on random task graphs and on the task graphs of random small layers; hand-worked schedules."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import load_workload, simulate
from simulator.cost import level_bytes
from simulator.lowering import boundary_rates
from simulator.schedule.layer import op_reservations
from simulator.schedule.links import build_task_graph, upward_rank
from simulator.schedule.scheduler import S_FORCED, S_MAKESPAN, list_schedule, list_schedule_ranged, new_outputs
from simulator.schedule.oplog import run_logged
from simulator.schedule.tasks import T, csr, drain_unit
from simulator.simulate import layer_graph

from .helpers import make_hw
from .reference_schedule import from_task_graph, simulate_tasks


def run_package(g: dict, cap_range=None):
    """The package's scheduler on the oracle's plain lists (arrays built here); with `cap_range`
    (int64 [lo, hi)) the ranged scheduler, which narrows it to the capacities its decisions hold for."""
    n = len(g["unit"])
    tab = np.zeros((n, T.WIDTH), np.int64)
    tab[:, T.UNIT], tab[:, T.DUR], tab[:, T.BUSY] = g["unit"], g["dur"], g["busy"]
    tab[:, T.BYTES], tab[:, T.RELEASE], tab[:, T.RES] = g["bytes"], g["release"], g["group"]
    src = np.array([t for t in range(n) for _ in g["succ"][t]], np.int64)
    dst = np.array([s for t in range(n) for s in g["succ"][t]], np.int64)
    succ_ptr, succ = csr(n, src, dst)
    npred = np.bincount(dst, minlength=n).astype(np.int64)
    n_groups = len(g["need"])
    gsrc = np.array([c for c in range(n_groups) for _ in g["producers"][c]], np.int64)
    gdst = np.array([p for c in range(n_groups) for p in g["producers"][c]], np.int64)
    prod_ptr, prod = csr(n_groups, gsrc, gdst)
    parts = np.array(g["parts"], np.int64).reshape(-1, 5)
    order = np.argsort(parts[:, 0], kind="stable")
    assert (order == np.arange(len(parts))).all(), "parts must come sorted by fill task"
    part_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(parts[:, 0], minlength=n), out=part_ptr[1:])
    unpin_ptr, unpin = csr(n, parts[:, 4], np.arange(len(parts), dtype=np.int64))
    blocks = np.array(g["blocks"], np.int64)
    block_of = np.full(n, -1, np.int64)
    block_of[blocks] = np.arange(len(blocks))
    prio = np.array(g["prio"], np.int64)
    cons = np.lexsort((prio[parts[:, 0]], parts[:, 1])).astype(np.int64)
    cons_ptr = np.zeros(len(blocks) + 1, np.int64)
    np.cumsum(np.bincount(parts[:, 1], minlength=len(blocks)), out=cons_ptr[1:])
    start, end, dur, flags, stats = new_outputs(n, len(blocks))
    args = (tab, succ_ptr, succ, npred, prio, g["n_units"], g["capacity"], np.array(g["need"], np.int64),
            prod_ptr, prod, parts, part_ptr, unpin_ptr, unpin, blocks, block_of, cons_ptr, cons,
            float(g["fill_rate"]), g["spill_unit"], start, end, dur, flags, stats)
    if cap_range is None:
        list_schedule(*args)
    else:
        list_schedule_ranged(*args, cap_range)
    return start, end, dur, stats


def assert_same(g: dict):
    ref = simulate_tasks(g)
    start, end, dur, stats = run_package(g)
    n = len(g["unit"])
    assert stats[S_MAKESPAN] == ref["makespan"]
    for t in range(n):
        if t in ref["dur"] or g["unit"][t] < 0:
            assert (start[t], end[t]) == (ref["start"][t], ref["end"][t]), t
    busy = [0] * g["n_units"]
    for t in range(n):
        if g["unit"][t] >= 0:
            busy[g["unit"][t]] += g["busy"][t] if g["unit"][t] < 2 else dur[t]
    busy[g["spill_unit"]] += int(dur[n:].sum())
    assert busy == ref["busy"]
    return ref


# --- random task graphs ---------------------------------------------------------------------------
@st.composite
def task_graphs(draw):
    n = draw(st.integers(2, 24))
    n_units = 4
    n_groups = draw(st.integers(1, 4))
    unit = [draw(st.integers(-1, n_units - 1)) for _ in range(n)]
    dur = [0 if u < 0 else draw(st.integers(0, 12)) for u in unit]
    group = sorted(draw(st.integers(0, n_groups - 1)) for _ in range(n))    # later tasks, later groups
    succ = [[] for _ in range(n)]
    for t in range(n):
        for s in range(t + 1, n):
            if draw(st.integers(0, 4)) == 0:
                succ[t].append(s)
    capacity = draw(st.sampled_from([0, 10, 25]))
    need = [draw(st.integers(0, 12)) for _ in range(n_groups)]
    producers = [[p for p in range(c) if draw(st.booleans())] for c in range(n_groups)]
    # forwardable blocks: a drain (unit 3) read by later fills (unit 2), each read ending at a later task
    blocks, parts = [], []
    release = [0] * n
    byte = [0] * n
    for t in range(n):
        if unit[t] == 3 and capacity and draw(st.booleans()):
            readers = [s for s in range(t + 1, n) if unit[s] == 2]
            if not readers:
                continue
            release[t] = draw(st.integers(1, 8))
            byte[t] = release[t]
            for f in readers[:draw(st.integers(1, 2))]:
                if f not in succ[t]:
                    succ[t].append(f)
                lasts = [x for x in range(f + 1, n)]
                last = lasts[draw(st.integers(0, len(lasts) - 1))] if lasts else f
                if last != f and last not in succ[f]:
                    succ[f].append(last)
                byte[f] += 4
                parts.append((f, len(blocks), 4, draw(st.integers(0, 1)), last))
            blocks.append(t)
    parts.sort(key=lambda p: p[0])
    prio = draw(st.permutations(list(range(n))))
    return {"unit": unit, "dur": dur, "busy": dur, "bytes": byte, "release": release, "group": group,
            "prio": list(prio), "succ": succ, "n_units": n_units, "capacity": capacity, "need": need,
            "producers": producers, "blocks": blocks, "parts": parts, "fill_rate": 2.0, "spill_unit": 3}


@settings(max_examples=300, deadline=None)
@given(task_graphs())
def test_scheduler_equals_brute_force_on_random_task_graphs(g):
    assert_same(g)


# --- random small layers --------------------------------------------------------------------------
LAYERS = st.one_of(
    st.builds(lambda n, d, h, c, f: {"variant": "multi_head_attention", "n": n, "d": d * h, "heads": h, "causal": c,
                                     "fused": f}, st.integers(3, 40), st.integers(2, 8), st.integers(1, 3),
              st.booleans(), st.booleans()),
    st.builds(lambda n, d, c: {"variant": "self_attention", "n": n, "d": d, "causal": c, "fused": True},
              st.integers(3, 48), st.integers(2, 16), st.booleans()),
    st.builds(lambda n, d, cell: {"variant": "recurrent", "n": n, "d": d, "cell": cell}, st.integers(1, 5),
              st.integers(1, 8), st.sampled_from(["rnn", "lstm", "gru"])),
    st.builds(lambda n, d, w: {"variant": "restricted_self_attention", "n": n, "d": d, "window": 2 * w + 1},
              st.integers(4, 40), st.integers(2, 12), st.integers(1, 4)),
    st.builds(lambda t, s, d: {"variant": "global_attention", "target_len": t, "source_len": s, "d": d,
                               "score": "general"}, st.integers(2, 16), st.integers(2, 16), st.integers(2, 12)),
    st.builds(lambda n, d, q: {"variant": "hard_attention", "n": n, "d": d, "queries": q, "sampling": "argmax"},
              st.integers(2, 20), st.integers(2, 12), st.integers(1, 4)),
    st.builds(lambda a, b, d: {"variant": "attention_over_attention", "doc_len": a, "query_len": b, "d": d},
              st.integers(2, 20), st.integers(2, 10), st.integers(2, 10)),
)
SMALL_HW = st.sampled_from([
    dict(rows=4, cols=4, sram_bytes=1 << 12), dict(rows=4, cols=4, sram_bytes=1 << 16),
    dict(rows=3, cols=5, sram_bytes=1 << 11, double_buffered=False), dict(rows=4, cols=4, levels=[1 << 11, 1 << 14]),
    dict(rows=8, cols=4, sram_bytes=3000, dataflow="output_stationary"),
])


def layer_task_graph(layer: dict, hw_kwargs: dict):
    hw = make_hw(**hw_kwargs)
    wl = load_workload({"name": "w", "layers": [dict(layer, name="l")]})
    graph = layer_graph(wl.layers[0])
    results, logs = run_logged(graph, hw)
    tg = build_task_graph(graph, logs, hw, serial=False)
    capacity = int(hw.on_chip[-1].size_bytes)
    return hw, tg, from_task_graph(tg, capacity, op_reservations(tg), boundary_rates(hw)[-1][0],
                                   int(drain_unit(hw.n_boundaries - 1)))


@settings(max_examples=40, deadline=None)
@given(LAYERS, SMALL_HW)
def test_scheduler_equals_brute_force_on_random_layers(layer, hw_kwargs):
    hw, tg, g = layer_task_graph(layer, hw_kwargs)
    assert_same(g)


# --- hand-worked schedules ------------------------------------------------------------------------
def tasks(units, durs, edges, prio=None, n_units=4) -> dict:
    n = len(units)
    succ = [[] for _ in range(n)]
    for a, b in edges:
        succ[a].append(b)
    return {"unit": units, "dur": durs, "busy": durs, "bytes": [0] * n, "release": [0] * n, "group": [0] * n,
            "prio": prio or list(range(n)), "succ": succ, "n_units": n_units, "capacity": 0, "need": [0],
            "producers": [[]], "blocks": [], "parts": [], "fill_rate": 1.0, "spill_unit": 3}


def makespan(g) -> int:
    return int(run_package(g)[3][S_MAKESPAN])


def test_two_independent_tasks_on_two_units_take_the_max():
    assert makespan(tasks([0, 1], [30, 70], [])) == 70


def test_a_chain_takes_the_sum():
    assert makespan(tasks([0, 1, 0], [30, 70, 5], [(0, 1), (1, 2)])) == 105


@pytest.mark.parametrize("a, b, blocks", [(10, 4, 5), (3, 9, 6), (7, 7, 1), (1, 20, 3)])
def test_two_stage_pipeline(a, b, blocks):
    """Stage 1 of block i on the array (a cycles), stage 2 on the vector unit (b), in order:
    a + (B - 1) max(a, b) + b."""
    units = [0, 1] * blocks
    durs = [a, b] * blocks
    edges = [(2 * i, 2 * i + 1) for i in range(blocks)]
    assert makespan(tasks(units, durs, edges)) == a + (blocks - 1) * max(a, b) + b


def producer_consumer(sram_bytes: int, m=64, k=32, n=64):
    """A GEMM producing C (m x n) and a vector op scaling it, on a 16x16 fp32 array."""
    from simulator.graph import Gemm, OpGraph, TensorSpec, VectorOp, VOp, VPass

    ops = (Gemm("gemm", "A", "B", "C", m, k, n),
           VectorOp("scale", (VPass(VOp.SCALE, "Y", ("C",), 2.0),), ("C",), ("Y",), m, n, (), deps=("gemm",)))
    graph = OpGraph(ops, (TensorSpec("A", (1, m, k), "input"), TensorSpec("B", (1, k, n), "input"),
                          TensorSpec("C", (1, m, n), "intermediate"), TensorSpec("Y", (1, m, n), "output")))
    hw = make_hw(rows=16, cols=16, sram_bytes=sram_bytes, dram_bw=4.0)
    from simulator.schedule.layer import schedule_layer

    results, logs = run_logged(graph, hw)
    return results, schedule_layer(graph, results, logs, hw, "overlapped"), hw


def dram_bytes(counts, hw) -> int:
    from simulator.cost import level_bytes

    reads, writes = level_bytes(counts, len(hw.memories))
    return int(reads[-1] + writes[-1])


def serial_dram(results, hw) -> int:
    return dram_bytes(sum((r.counts for r in results), start=np.zeros_like(results[0].counts)), hw)


def test_a_forwarded_producer_output_skips_memory_when_it_fits():
    """Everything fits: C stays on chip for the vector op; its write-back and read-back (2 m n
    elements) disappear from the off-chip traffic, nothing else changes."""
    m, k, n, eb = 64, 32, 64, 4
    results, sched, hw = producer_consumer(1 << 20)
    assert serial_dram(results, hw) == (m * k + k * n + 3 * m * n) * eb     # A, B in; C out and in; Y out
    assert dram_bytes(sched.counts, hw) == (m * k + k * n + m * n) * eb
    assert sched.stats[S_FORCED] == 0


def test_a_producer_output_that_does_not_fit_pays_the_spill_and_refill():
    """A staging level that just holds the two ops' own buffers: C's blocks cannot stay beside the
    vector op's working set, so they go to memory and come back: the serial traffic, byte for byte."""
    from simulator.schedule.scheduler import S_KEPT

    results, sched, hw = producer_consumer(3 * 16 * 16 * 4 * 2)
    assert sched.stats[S_KEPT] == 0
    assert dram_bytes(sched.counts, hw) == serial_dram(results, hw)
    assert sched.cycles <= sum(r.cycles for r in results)


# --- invariants on random layers of every variant and every bundled config -------------------------
def longest_chain(tg, dur) -> int:
    """The longest dependency chain of the tasks' actual durations."""
    return int(upward_rank(dur[:len(tg.tab)], tg.succ_ptr, tg.succ, tg.npred).max())


@pytest.fixture(scope="module")
def bundled():
    from pathlib import Path

    from simulator import load_hardware

    root = Path(__file__).resolve().parent.parent
    return [load_hardware(p) for p in sorted((root / "hw_configs").glob("*.yaml"))]


ALL_VARIANTS = st.one_of(
    LAYERS,
    st.builds(lambda n, d, k: {"variant": "convolutional", "n": n, "d": d, "kernel": k}, st.integers(3, 30),
              st.integers(2, 12), st.integers(1, 4)),
    st.builds(lambda n, d: {"variant": "position_embedding", "n": n, "d": 2 * d}, st.integers(2, 30),
              st.integers(1, 8)),
    st.builds(lambda m, k, n: {"variant": "gemm", "m": m, "k": k, "n": n}, st.integers(1, 80), st.integers(1, 80),
              st.integers(1, 80)),
    st.builds(lambda t, s, d, r: {"variant": "local_attention", "target_len": t, "source_len": s, "d": d,
                                  "window_radius": r, "mode": "local_m"},
              st.integers(2, 16), st.integers(2, 16), st.integers(2, 10), st.integers(1, 3)),
)


@settings(max_examples=25, deadline=None)
@given(ALL_VARIANTS, st.integers(0, 4), st.integers(1, 2))
def test_invariants_on_every_variant_and_bundled_config(bundled, layer, which, batch):
    from simulator.enums import Counter

    hw = bundled[which]
    wl = load_workload({"name": "w", "layers": [dict(layer, name="l", batch=batch)]})
    (over,) = simulate(wl, hw, schedule="overlapped", tasks=True)
    (ser,) = simulate(wl, hw, schedule="serial")
    sched = over.schedule
    busy = sched.busy
    assert max(busy.values()) <= over.cycles <= over.serial_cycles == ser.cycles
    assert over.cycles >= over.compute_cycles >= max(busy["array"], busy["vector"])
    assert busy["array"] == ser.counts[Counter.ARRAY_CYCLES] and busy["vector"] == ser.counts[Counter.VECTOR_CYCLES]
    assert over.cycles >= longest_chain(sched.graph, sched.times[2])
    # traffic never below the compulsory footprint: outputs are written, inputs and weights read
    # (as often as the serial schedule reads them, at the least once where it reads all of them)
    tensors = layer_graph(wl.layers[0]).tensors
    out_bytes = sum(int(np.prod(t.shape)) for t in tensors if t.role == "output") * hw.bytes_per_element
    in_bytes = sum(int(np.prod(t.shape)) for t in tensors if t.role in ("input", "weight")) * hw.bytes_per_element
    reads, writes = (lambda rw: (int(rw[0][-1]), int(rw[1][-1])))(level_bytes(over.counts, len(hw.memories)))
    serial_reads = int(level_bytes(ser.counts, len(hw.memories))[0][-1])
    assert writes >= out_bytes
    assert reads >= min(in_bytes, serial_reads)
    assert (over.counts >= 0).all()
    if sched.stats is not None:
        assert sched.stats[S_FORCED] == 0


# --- the serial task schedule replays every kernel exactly ----------------------------------------
HEAVY = {("long_context", "edge_32x32"), ("long_context", "eyeriss_like")}     # 1-2 million tasks each


def test_serial_task_schedule_replays_the_kernels_on_every_bundled_pair(bundled):
    """Ops chained, each op's windows replayed as tasks: the makespan is the sum of the op cycles
    and every op's span its own cycles (a check of the task builders against the kernels' timing)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for path in sorted((root / "workloads").glob("*.yaml")):
        wl = load_workload(path)
        for hw in bundled:
            if (path.stem, hw.name) in HEAVY:
                continue
            for r in simulate(wl, hw, schedule="serial", tasks=True):
                assert r.cycles == r.serial_cycles == sum(op.cycles for op in r.ops), (path.stem, hw.name, r.layer)
                repeat = r.fields.get("repeat") or 1      # spans are the first copy's of a repeat stack
                assert [b - a for a, b in r.schedule.spans] == [op.cycles // repeat for op in r.ops]


@settings(max_examples=30, deadline=None)
@given(LAYERS, SMALL_HW)
def test_serial_task_schedule_replays_random_layers(layer, hw_kwargs):
    """Also on two-level and single-buffered memories (the kernels' nested windows)."""
    hw = make_hw(**hw_kwargs)
    wl = load_workload({"name": "w", "layers": [dict(layer, name="l")]})
    (r,) = simulate(wl, hw, schedule="serial", tasks=True)
    assert r.cycles == sum(op.cycles for op in r.ops)
    assert [b - a for a, b in r.schedule.spans] == [op.cycles for op in r.ops]
