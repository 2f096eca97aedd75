"""Report invariants on every bundled workload x every bundled hardware config, at the layer and
the op level: counts non-negative and finite, cycles >= every unit's busy cycles, utilization <= 1,
energy finite, and the guard's count bounds above what was counted."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from simulator import upper_bounds as bounds, load_hardware, load_workload, simulate, to_frame
from simulator.enums import Counter
from simulator.simulate import layer_graph

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "hw_configs").glob("*.yaml"))
WORKLOADS = sorted((ROOT / "workloads").glob("*.yaml"))
COUNT_COLUMNS = ("macs", "slot_macs", "vector_ops", "cycles", "compute_cycles", "stall_cycles",
                 "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes")


@pytest.fixture(scope="module")
def results():
    configs = [load_hardware(p) for p in CONFIGS]
    return {wl.stem: simulate(load_workload(wl), configs) for wl in WORKLOADS}


@pytest.mark.parametrize("workload", [p.stem for p in WORKLOADS])
def test_report_invariants(results, workload):
    for level in ("layer", "op"):
        frame = to_frame(results[workload], level=level)
        for col in COUNT_COLUMNS:
            assert (frame[col].to_numpy(dtype=np.int64) >= 0).all(), (level, col)
        for col in ("seconds", "utilization", "energy_pj"):
            values = frame[col].to_numpy(dtype=float)
            assert all(math.isfinite(v) and v >= 0 for v in values), (level, col)
        assert (frame["cycles"] >= frame["compute_cycles"]).all(), level
        assert (frame["stall_cycles"] == frame["cycles"] - frame["compute_cycles"]).all(), level
        assert (frame["utilization"] <= 1.0).all(), level
        assert (frame["slot_macs"] >= frame["macs"]).all(), level


@pytest.mark.parametrize("workload", [p.stem for p in WORKLOADS])
def test_cycles_cover_every_unit_and_bounds_cover_the_counts(results, workload):
    for r in results[workload]:
        counts = r.counts
        assert r.cycles >= counts[Counter.ARRAY_CYCLES] and r.cycles >= counts[Counter.VECTOR_CYCLES], r.layer
        for op in r.ops:
            assert op.cycles >= op.count(Counter.ARRAY_CYCLES) and op.cycles >= op.count(Counter.VECTOR_CYCLES)
        spec = next(s for s in load_workload(ROOT / "workloads" / f"{workload}.yaml").layers if s.name == r.layer)
        bound = bounds.layer_bound(layer_graph(spec), r.hw)          # one copy of a `repeat` stack
        assert all(b * spec.repeat >= int(c) for b, c in zip(bound, counts)), r.layer
