"""Logged GEMM walks kept across hardware objects (schedule/oplog._KEPT_WALKS): a layer walked on
one hardware object and then on another that differs in level sizes, prices or the array gives,
for every op result, the counts, cycles, mapping text and step log rows of a walk made from
scratch (kept walks cleared, a fresh hardware object); and a sweep over buffer sizes does reuse."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import load_workload
from simulator.hardware import Hardware
from simulator.schedule import oplog
from simulator.schedule.oplog import run_logged
from simulator.simulate import layer_graph

from .helpers import hw_dict, with_changes
from .test_schedule import LAYERS

CHANGES = st.sampled_from([{}, {"memories[0].size_bytes": 1 << 12}, {"memories[0].size_bytes": 3000},
                           {"memories[0].read_pj_per_byte": 9.0, "clock_hz": 2.0e9},
                           {"mac_array.rows": 8}, {"mac_array.dataflow": "output_stationary"},
                           {"memories[0].double_buffered": False}])


def _walked(graph, data: dict):
    ops, logs = run_logged(graph, Hardware.from_dict(data, source="<test>"))
    results = [(r.op, r.kind, r.unit, r.phase, r.counts.tolist(), r.cycles, r.mapping, r.shape, r.bound_cycles)
               for r in ops]
    return results, [(g.kind, g.rows.tolist()) for g in logs]


@settings(max_examples=30, deadline=None)
@given(LAYERS, CHANGES, CHANGES)
def test_kept_walks_equal_fresh_walks(layer, first, second):
    graph = layer_graph(load_workload({"name": "w", "layers": [layer]}).layers[0])
    base = hw_dict(rows=4, cols=4, sram_bytes=1 << 16)
    a, b = with_changes(base, first), with_changes(base, second)
    oplog._KEPT_WALKS.clear()
    _walked(graph, a)
    kept = _walked(graph, b)
    oplog._KEPT_WALKS.clear()
    assert kept == _walked(graph, b)


def test_a_buffer_sweep_reuses_the_walks():
    """Six GEMMs per layer of three shapes (the four projections alike), whole tiles at every size:
    three walks in all."""
    graph = layer_graph(load_workload({"name": "w", "layers": [
        {"variant": "multi_head_attention", "n": 32, "d": 32, "heads": 2}]}).layers[0])
    oplog._KEPT_WALKS.clear()
    hits = []
    find = oplog._KEPT_WALKS.find
    try:
        oplog._KEPT_WALKS.find = lambda key: hits.append(find(key) is not None) or find(key)
        for size in (1 << 16, 1 << 17, 1 << 18):
            run_logged(graph, Hardware.from_dict(hw_dict(sram_bytes=size), source="<test>"))
    finally:
        del oplog._KEPT_WALKS.find
    assert len(hits) == 3 * 6 and hits.count(False) == 3
