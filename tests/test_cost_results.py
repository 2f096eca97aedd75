"""Pricing and result invariants: energy linear in unit costs, bytes per level, additivity."""
from __future__ import annotations

import numpy as np
import pytest

from simulator import cost, load_workload, simulate, to_frame
from simulator.enums import BOUNDARY_BASE, BoundaryCounter, Counter
from simulator.hardware import Hardware
from simulator.results import OpResult
from tests.helpers import hw_dict, make_hw, with_changes

WORKLOAD = {"name": "w", "layers": [{"name": "a", "variant": "gemm", "m": 37, "k": 50, "n": 29, "batch": 2},
                                    {"name": "b", "variant": "gemm", "m": 8, "k": 300, "n": 64}]}


def test_energy_is_linear_in_unit_costs():
    base = hw_dict(levels=[4096, 32768])
    doubled = with_changes(base, {"mac_array.mac_energy_pj": 1.0, "vector_unit.op_energy_pj": 0.5,
                                  **{f"memories[{i}].{k}": base["memories"][i][k] * 2
                                     for i in range(3) for k in ("read_pj_per_byte", "write_pj_per_byte")}})
    wl = load_workload(WORKLOAD)
    e1 = to_frame(simulate(wl, Hardware.from_dict(base)))["energy_pj"]
    e2 = to_frame(simulate(wl, Hardware.from_dict(doubled)))["energy_pj"]
    np.testing.assert_allclose(e2, 2 * e1, rtol=1e-12)


def test_energy_breakdown_sums_to_total_and_prices_each_event():
    hw = make_hw(levels=[4096, 32768])
    (r, _) = simulate(load_workload(WORKLOAD), hw)
    c = r.counts
    parts = cost.energy_breakdown_pj(c, hw)
    assert set(parts) == {"mac", "vector", "l0", "l1", "dram"}
    assert sum(parts.values()) == pytest.approx(float(cost.energy_pj(c, hw)))
    assert parts["mac"] == c[Counter.SLOT_MACS] * hw.mac_array.mac_energy_pj
    reads, writes = cost.level_bytes(c, 3)
    assert parts["dram"] == reads[2] * 50.0 + writes[2] * 60.0


def test_level_bytes_balance():
    """Every byte filled across a boundary is read from the outer level and written to the inner one."""
    hw = make_hw(levels=[4096, 32768])
    (r, _) = simulate(load_workload(WORKLOAD), hw)
    c = r.counts
    reads, writes = cost.level_bytes(c, 3)
    fills = [cost.fills(c, b) for b in range(2)]
    drains = [c[BOUNDARY_BASE + 4 * b + BoundaryCounter.DRAIN_C] for b in range(2)]
    assert reads[2] == fills[1] and writes[2] == drains[1]
    assert reads[1] == fills[0] + drains[1] and writes[1] == drains[0] + fills[1]
    assert writes[0] == c[Counter.UNIT_WRITE_C] + fills[0]


def test_layer_totals_are_sums_of_ops_and_zero_is_neutral():
    hw = make_hw()
    results = simulate(load_workload(WORKLOAD), hw)
    total = sum((op for r in results for op in r.ops), start=OpResult.zero())
    assert np.array_equal(total.counts, results[0].counts + results[1].counts)
    assert (OpResult.zero() + results[0].ops[0]).counts is not None
    assert total.cycles == sum(r.cycles for r in results)
    with pytest.raises(ValueError, match="different memory hierarchies"):
        results[0].ops[0] + simulate(load_workload(WORKLOAD), make_hw(levels=[4096, 32768]))[0].ops[0]


def test_results_are_immutable():
    (r, _) = simulate(load_workload(WORKLOAD), make_hw())
    with pytest.raises(ValueError):
        r.ops[0].counts[0] = 1
    with pytest.raises(AttributeError):
        r.cycles = 3


@pytest.mark.parametrize("flow", ["output_stationary", "weight_stationary", "input_stationary"])
def test_report_invariants(flow):
    hw = make_hw(dataflow=flow, fold_overlap="pipelined", sram_bytes=2048)
    frame = to_frame(simulate(load_workload(WORKLOAD), hw))
    assert (frame["utilization"] <= 1).all() and (frame["utilization"] > 0).all()
    assert (frame["stall_cycles"] == frame["cycles"] - frame["compute_cycles"]).all()
    assert (frame["stall_cycles"] >= 0).all()
    assert (frame["macs"] <= frame["slot_macs"]).all()
    assert (frame["seconds"] == frame["cycles"] / hw.clock_hz).all()
    assert (frame["macs"] == [2 * 37 * 50 * 29, 8 * 300 * 64]).all()
    assert (frame["dram_read_bytes"] >= [4 * 2 * (37 * 50 + 50 * 29), 4 * (8 * 300 + 300 * 64)]).all()


def test_op_frame_has_one_row_per_op_with_mapping():
    frame = to_frame(simulate(load_workload(WORKLOAD), make_hw(sram_bytes=2048)), level="op")
    assert list(frame["op"]) == ["gemm", "gemm"]
    assert frame["mapping"].str.startswith("L0 ").all()
    assert (frame["shape"] == ["2 x (37x50x29)", "8x300x64"]).all()


def test_scalar_prices_equal_the_vectorised_ones():
    hw = make_hw(levels=[4096, 32768])
    for r in simulate(load_workload(WORKLOAD), hw):
        c = r.counts
        reads, writes = cost.level_bytes(c, 3)
        s_reads, s_writes = cost.level_bytes_scalar(c.tolist(), 3)
        assert [int(x) for x in reads] == s_reads and [int(x) for x in writes] == s_writes
        vec = cost.energy_breakdown_pj(c, hw)
        scal = cost.energy_breakdown_scalar(c.tolist(), s_reads, s_writes, hw)
        assert vec.keys() == scal.keys()
        for k in vec:
            assert float(vec[k]) == pytest.approx(scal[k], rel=1e-15)
