"""The layer task graph built with shared GEMM builds (optasks.all_op_tasks) against the same graph
built op by op, every op result through op_tasks on its own: every array of the TaskGraph equal,
on random layers of every variant, small and bundled hardware, overlapped and serial graphs; and
the layer schedules (makespan, busy cycles, spans, counts) equal."""
from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import load_workload
from simulator.schedule import links, optasks, reuse
from simulator.schedule.layer import run_plan, plan_layer
from simulator.schedule.oplog import run_logged
from simulator.simulate import layer_graph

from .helpers import make_hw
from .test_schedule import ALL_VARIANTS, SMALL_HW
from .test_schedule_reserve import bundled_hw  # noqa: F401  (a fixture)


def one_by_one(logs, hw, overlapped):
    return [optasks.op_tasks(log, hw, overlapped) for log in logs]


def assert_same_graph(a, b):
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.shape == y.shape and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def compare(layer: dict, hw, serial: bool, monkeypatch):
    wl = load_workload({"name": "w", "layers": [dict(layer, name="l")]})
    graph = layer_graph(wl.layers[0])
    results, logs = run_logged(graph, hw)
    mode = "serial" if serial else "overlapped"
    shared = links.build_task_graph(graph, logs, hw, serial)
    shared_schedule = run_plan(plan_layer(graph, logs, hw, mode, tasks=True), results, hw, mode, True, graph, logs)
    with monkeypatch.context() as m:
        m.setattr(links, "all_op_tasks", one_by_one)
        alone = links.build_task_graph(graph, logs, hw, serial)
        alone_schedule = run_plan(plan_layer(graph, logs, hw, mode, tasks=True), results, hw, mode, True, graph, logs)
    assert_same_graph(shared, alone)
    for name in ("cycles", "busy", "spans", "fell_back", "compute_cycles"):
        assert getattr(shared_schedule, name) == getattr(alone_schedule, name), name
    assert np.array_equal(shared_schedule.counts, alone_schedule.counts)


@settings(max_examples=40, deadline=None)
@given(ALL_VARIANTS, SMALL_HW, st.booleans())
def test_shared_builds_give_the_same_graph(layer, hw_kwargs, serial):
    with pytest.MonkeyPatch.context() as monkeypatch:
        compare(layer, make_hw(**hw_kwargs), serial, monkeypatch)


@settings(max_examples=10, deadline=None)
@given(ALL_VARIANTS, st.integers(0, 4), st.booleans())
def test_shared_builds_give_the_same_graph_on_bundled_configs(bundled_hw, layer, which, serial):  # noqa: F811
    with pytest.MonkeyPatch.context() as monkeypatch:
        compare(layer, bundled_hw[which], serial, monkeypatch)


def test_attention_projections_are_built_once(monkeypatch):
    """Q, K, V and the output projection are the same GEMM on other tensors: one build for the
    four, each keeping its own tensor names (the graph equality above checks the links)."""
    calls = []
    real = optasks.op_tasks
    reuse.clear()
    monkeypatch.setattr(reuse, "op_tasks", lambda log, hw, overlapped: calls.append(log.op.name) or real(log, hw,
                                                                                                        overlapped))
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16)
    wl = load_workload({"name": "w", "layers": [{"name": "l", "variant": "multi_head_attention", "n": 16, "d": 8,
                                                 "heads": 2}]})
    graph = layer_graph(wl.layers[0])
    _, logs = run_logged(graph, hw)
    per_result = reuse.all_op_tasks(logs, hw, True)
    assert "k_projection" not in calls and "output_projection" not in calls and "q_projection" in calls
    by_name = {log.op.name: tasks for log, tasks in zip(logs, per_result)}
    assert by_name["k_projection"].names == ("X", "W_K", "Kp")
    assert by_name["k_projection"].tab is by_name["q_projection"].tab


def logs_of(layer: dict, hw):
    wl = load_workload({"name": "w", "layers": [dict(layer, name="l")]})
    return run_logged(layer_graph(wl.layers[0]), hw)[1]


def attention_logs(hw, n=40, d=16, heads=2):
    return logs_of({"variant": "multi_head_attention", "n": n, "d": d, "heads": heads}, hw)


def test_a_log_equal_in_the_sampled_rows_only_is_built_again():
    """The memo's key samples the log; a hit is taken only when the whole log is equal."""
    from dataclasses import replace

    reuse.clear()
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 12)
    (log,) = logs_of({"variant": "gemm", "m": 64, "k": 64, "n": 64}, hw)
    assert len(log.rows) > 2 * reuse._SAMPLED_ROWS
    from simulator.kernels.steplog import GemmLog

    (first,) = reuse.all_op_tasks([log], hw, True)
    rows = log.rows.copy()
    rows[1, GemmLog.OCC] += 1              # row 1 is not sampled (the stride is at least 2)
    changed = replace(log, rows=rows)
    assert reuse._key(changed, (1, (True,))) == reuse._key(log, (1, (True,)))
    (got,) = reuse.all_op_tasks([changed], hw, True)
    want = optasks.op_tasks(changed, hw, True)
    assert_same_graph(got, want)
    assert not np.array_equal(got.tab, first.tab)


def test_kept_builds_stay_under_the_bound(monkeypatch):
    reuse.clear()
    monkeypatch.setattr(reuse._KEPT, "max_bytes", 400)          # the bound, in tasks
    for n in (12, 20, 28, 36, 44):
        for rows in (4, 8):
            hw = make_hw(rows=rows, cols=4, sram_bytes=1 << 16)
            reuse.all_op_tasks(attention_logs(hw, n=n), hw, True)
            assert reuse._KEPT.bytes == sum(len(t.tab) for _, t in reuse._KEPT.table.values()) <= 400
    reuse.clear()


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 30), st.lists(st.tuples(st.integers(0, 29), st.integers(0, 50)), max_size=80))
def test_counting_csr_equals_a_stable_sort(n, pairs):
    from simulator.schedule.tasks import csr

    pairs = [(s % max(n, 1), d) for s, d in pairs] if n else []
    src = np.array([s for s, _ in pairs], np.int64)
    dst = np.array([d for _, d in pairs], np.int64)
    ptr, succ = csr(n, src, dst)
    want = [[d for s, d in pairs if s == t] for t in range(n)]      # each source's pairs in listed order
    assert [list(succ[ptr[t]:ptr[t + 1]]) for t in range(n)] == want and ptr[-1] == len(pairs)


def reference_vector_tasks(log, hw, monkeypatch):
    """optasks.op_tasks with the chunks' bytes and links from the numpy reference."""
    from types import SimpleNamespace

    from . import reference_vector_bytes

    def numpy_version(rows, op_rows, marks, roles, widths, heights, eb, tab, with_links):
        out = optasks.OpTasks(tab, np.zeros((0, 2), np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64))
        plan = SimpleNamespace(roles=roles, widths=widths, heights=heights, lo=None, lens=None)
        reference_vector_bytes.vector_bytes(out, rows, marks, plan, SimpleNamespace(rows=op_rows), eb, with_links)
        return out.regions, out.blocks, out.ranges is not None

    with monkeypatch.context() as m:
        m.setattr(optasks, "vector_bytes", numpy_version)
        return optasks.op_tasks(log, hw, True)


@settings(max_examples=40, deadline=None)
@given(ALL_VARIANTS, SMALL_HW)
def test_vector_chunk_bytes_and_links_equal_the_numpy_reference(layer, hw_kwargs):
    from simulator.schedule.vector_bytes import BLOCK_COLS, REGION_COLS

    assert (REGION_COLS, BLOCK_COLS) == (optasks.R.WIDTH, optasks.K.WIDTH)
    hw = make_hw(**hw_kwargs)
    for log in logs_of(layer, hw):
        if log.kind != "vector":
            continue
        with pytest.MonkeyPatch.context() as monkeypatch:
            want = reference_vector_tasks(log, hw, monkeypatch)
        got = optasks.op_tasks(log, hw, True)
        for name in ("tab", "edges", "heads", "tails", "regions", "blocks"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), name
        assert got.names == want.names and (got.ranges is None) == (want.ranges is None)


def numpy_stacked(per_result, group):
    """links._stacked as it was: per op result, slice assignments and shifted edges."""
    from simulator.schedule.tasks import T

    offsets = np.zeros(len(per_result) + 1, np.int64)
    np.cumsum([len(t.tab) for t in per_result], out=offsets[1:])
    tab = np.concatenate([t.tab for t in per_result])
    for i in range(len(per_result)):
        tab[offsets[i]:offsets[i + 1], T.OP] = i
        tab[offsets[i]:offsets[i + 1], T.RES] = group[i]
    return tab, offsets, [t.edges + offsets[i] for i, t in enumerate(per_result)]


def numpy_ordered(tab, edges):
    """order.ordered as it was: an argsort CSR, bincount in-degrees, ranks on a DUR copy."""
    from simulator.schedule.links import upward_rank
    from simulator.schedule.tasks import T

    n = len(tab)
    order = np.argsort(edges[:, 0], kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(edges[:, 0], minlength=n), out=ptr[1:])
    succ = np.ascontiguousarray(edges[order, 1])
    npred = np.bincount(edges[:, 1], minlength=n).astype(np.int64)
    return ptr, succ, npred, upward_rank(np.ascontiguousarray(tab[:, T.DUR]), ptr, succ, npred)


@settings(max_examples=40, deadline=None)
@given(ALL_VARIANTS, SMALL_HW, st.booleans())
def test_stacking_and_ordering_kernels_give_the_former_graph(layer, hw_kwargs, serial):
    same_graph_without_kernels(layer, make_hw(**hw_kwargs), serial, _stacked=numpy_stacked, ordered=numpy_ordered)


def numpy_forwarding(reads, tab, prio):
    """links._forwarding as it was: np.unique, a stable argsort and a lexsort."""
    from simulator.schedule.tasks import csr

    n = len(tab)
    blocks, block_idx = np.unique(reads[:, 0], return_inverse=True)
    block_of = np.full(n, -1, np.int64)
    block_of[blocks] = np.arange(len(blocks))
    parts = np.stack([reads[:, 1], block_idx.astype(np.int64), reads[:, 2], reads[:, 3], reads[:, 4]], axis=1)
    parts = parts[np.argsort(parts[:, 0], kind="stable")]
    part_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(parts[:, 0], minlength=n), out=part_ptr[1:])
    unpin_ptr, unpin = csr(n, parts[:, 4], np.arange(len(parts), dtype=np.int64))
    cons = np.lexsort((prio[parts[:, 0]], parts[:, 1])).astype(np.int64)
    cons_ptr = np.zeros(len(blocks) + 1, np.int64)
    np.cumsum(np.bincount(parts[:, 1], minlength=len(blocks)), out=cons_ptr[1:])
    return parts, part_ptr, unpin_ptr, unpin, blocks.astype(np.int64), block_of, cons_ptr, cons


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.just(n), st.permutations(list(range(n))),
    st.lists(st.tuples(*[st.integers(0, n - 1)] * 2, st.integers(0, 99), st.integers(0, 1), st.integers(0, n - 1)),
             max_size=60))))
def test_forwarding_tables_equal_the_former_numpy_ones(case):
    """Random reads (repeated drains, fills and last uses; ties in priority through one fill read twice)."""
    n, prio, rows = case
    reads = np.array(rows, np.int64).reshape(-1, 5)
    tab = np.zeros((n, 12), np.int64)
    prio = np.array(prio, np.int64)
    got = links._forwarding(reads, tab, prio)
    want = numpy_forwarding(reads, tab, prio)
    for name, x, y in zip(("parts", "part_ptr", "unpin_ptr", "unpin", "blocks", "block_of", "cons_ptr", "cons"),
                          got, want):
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), name


@settings(max_examples=40, deadline=None)
@given(ALL_VARIANTS, SMALL_HW, st.booleans())
def test_forwarding_kernel_gives_the_former_graph(layer, hw_kwargs, serial):
    same_graph_without_kernels(layer, make_hw(**hw_kwargs), serial, _forwarding=numpy_forwarding)


@settings(max_examples=10, deadline=None)
@given(ALL_VARIANTS, st.integers(0, 4), st.booleans())
def test_forwarding_kernel_gives_the_former_graph_on_bundled_configs(bundled_hw, layer, which, serial):  # noqa: F811
    same_graph_without_kernels(layer, bundled_hw[which], serial, _forwarding=numpy_forwarding)


def same_graph_without_kernels(layer, hw, serial, **former):
    """The layer graph equals the one built with the `former` constructions of links.py in place."""
    wl = load_workload({"name": "w", "layers": [dict(layer, name="l")]})
    graph = layer_graph(wl.layers[0])
    _, logs = run_logged(graph, hw)
    new = links.build_task_graph(graph, logs, hw, serial)
    with pytest.MonkeyPatch.context() as m:
        for name, fn in former.items():
            m.setattr(links, name, fn)
        old = links.build_task_graph(graph, logs, hw, serial)
    assert_same_graph(new, old)
