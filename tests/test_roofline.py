"""One roofline (simulator/roofline.py): no layer or op attains more than its roof, on every bundled
workload x preset under both schedules and on random layers with lopsided ports; the bound label
agrees with the measured stalls; every report that says memory- or compute-bound uses it.

The oracle below is written apart from the package: reads cross the off-chip boundary at the slower
of the DRAM read port and the on-chip write port, writes at the slower of the on-chip read port and
the DRAM write port, both at once.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import load_hardware, load_workload, roofline, simulate, to_frame

from .helpers import hw_dict
from .test_schedule import ALL_VARIANTS

ROOT = Path(__file__).resolve().parent.parent
HW = sorted((ROOT / "hw_configs").glob("*.yaml"))
WORKLOADS = sorted((ROOT / "workloads").glob("*.yaml"))


def oracle_transfer(reads: float, writes: float, hw) -> float:
    on_chip, dram = hw.memories[-2], hw.memories[-1]
    fill = min(dram.read_bw_bytes_per_cycle, on_chip.write_bw_bytes_per_cycle)
    drain = min(on_chip.read_bw_bytes_per_cycle, dram.write_bw_bytes_per_cycle)
    return max(reads / fill, writes / drain)


def oracle_label(compute: float, transfer: float) -> str:
    if transfer > 1.05 * compute:
        return "memory"
    return "compute" if compute > 1.05 * transfer else "balanced"


def check_rows(frame, hw_by_name) -> int:
    """Every row: attained <= roof (cycles >= the transfer and the array's work), the label is the
    oracle's, and a memory-bound row stalls at least as long as its transfers outlast its compute."""
    checked = 0
    for rec in frame.to_dict("records"):
        hw = hw_by_name[rec["hw"]]
        reads, writes, cycles = rec["dram_read_bytes"], rec["dram_write_bytes"], rec["cycles"]
        transfer = oracle_transfer(reads, writes, hw)
        peak = hw.mac_array.rows * hw.mac_array.cols
        where = (rec["workload"], rec["layer"], rec.get("op"), rec["hw"])
        assert transfer == pytest.approx(roofline.transfer_cycles(reads, writes, hw), rel=1e-12), where
        assert cycles >= transfer * (1 - 1e-12) and cycles * peak >= rec["macs"], where
        if cycles:
            roof = roofline.roof_macs_per_cycle(rec["macs"], reads, writes, hw)
            assert rec["macs"] / cycles <= roof * (1 + 1e-12), where
            assert roof == pytest.approx(min(peak, rec["macs"] / transfer) if transfer else peak, rel=1e-12)
        label = roofline.bound(rec["compute_cycles"], reads, writes, hw)
        assert label == oracle_label(rec["compute_cycles"], transfer), where
        if label == "memory":
            assert rec["stall_cycles"] >= transfer - rec["compute_cycles"] - 1e-9 > 0, where
        checked += 1
    return checked


@pytest.fixture(scope="module")
def presets():
    return [load_hardware(p) for p in HW]


@pytest.mark.parametrize("schedule", ["overlapped", "serial"])
@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda p: p.stem)
def test_no_bundled_layer_or_op_exceeds_its_roof(workload, schedule, presets):
    results = simulate(load_workload(workload), presets, schedule=schedule)
    by_name = {hw.name: hw for hw in presets}
    assert check_rows(to_frame(results), by_name) == len(results)
    assert check_rows(to_frame(results, level="op"), by_name) >= len(results)


def lopsided(rows, cols, sram_bytes, sram_write, dram_read, dram_write):
    d = hw_dict(rows=rows, cols=cols, sram_bytes=sram_bytes)
    d["memories"][0]["write_bw_bytes_per_cycle"] = sram_write
    d["memories"][1].update(read_bw_bytes_per_cycle=dram_read, write_bw_bytes_per_cycle=dram_write)
    return d


@settings(max_examples=30, deadline=None)
@given(ALL_VARIANTS, st.sampled_from([(4, 4, 1 << 12), (8, 4, 1 << 16), (3, 5, 1 << 14)]),
       st.sampled_from([1.0, 3.0, 64.0]), st.sampled_from([0.5, 2.0, 16.0]), st.sampled_from([0.25, 1.5, 32.0]),
       st.sampled_from(["overlapped", "serial"]))
def test_random_layers_on_lopsided_ports_stay_under_the_roof(layer, shape, sram_write, dram_read, dram_write,
                                                              schedule):
    """The write port slower or faster than the read port, the on-chip write port slower than DRAM."""
    from simulator.hardware import Hardware

    hw = Hardware.from_dict(lopsided(*shape, sram_write, dram_read, dram_write), source="<test>")
    results = simulate(load_workload({"name": "w", "layers": [dict(layer, name="l")]}), hw, schedule=schedule)
    check_rows(to_frame(results), {hw.name: hw})
    check_rows(to_frame(results, level="op"), {hw.name: hw})


def test_the_bound_and_the_roof_on_hand_worked_numbers():
    """Reads 1000 B at a fill rate of min(8, 64) = 8 B/cycle (125 cycles) and writes 300 B at
    min(64, 2) = 2 B/cycle (150 cycles): the ports work at once, so 150 cycles, not 275."""
    from simulator.hardware import Hardware

    hw = Hardware.from_dict(lopsided(4, 4, 1 << 14, 64.0, 8.0, 2.0), source="<test>")
    assert roofline.offchip_rates(hw) == (8.0, 2.0)
    assert roofline.transfer_cycles(1000, 300, hw) == 150
    assert roofline.roof_macs_per_cycle(1500, 1000, 300, hw) == 10         # 1500 MACs / 150 cycles
    assert roofline.roof_macs_per_cycle(10 ** 6, 1000, 300, hw) == 16      # the peak, 4 x 4
    assert roofline.port_intensity(1500, 1000, 300, hw) == 1500 / (150 * 8)
    assert roofline.bound(100, 1000, 300, hw) == "memory"
    assert roofline.bound(150, 1000, 300, hw) == "balanced"
    assert roofline.bound(158, 1000, 300, hw) == "compute"


def test_model_reports_label_rows_with_the_roofline_bound(presets):
    from simulator.models.report import model_frame

    wl = load_workload(ROOT / "workloads" / "llama3_8b_decode.yaml")
    results = simulate(wl, presets)
    frame = model_frame(results, wl.model)
    by_name = {hw.name: hw for hw in presets}
    for rec in frame.to_dict("records"):
        hw = by_name[rec["hw"]]
        transfer = oracle_transfer(rec["dram_read_bytes"], rec["dram_write_bytes"], hw)
        assert rec["bound"] == oracle_label(rec["compute_cycles"], transfer), (rec["layer"], rec["hw"])
