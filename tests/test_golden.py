"""Every bundled hardware config x every bundled workload against tests/golden (count-only).

Re-baseline only deliberately: `pytest tests/test_golden.py --update-golden`, then review the diff.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from simulator import load_hardware, load_workload, simulate, to_frame
from simulator.report import LAYER_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
HW = sorted((ROOT / "hw_configs").glob("*.yaml"))
WORKLOADS = sorted((ROOT / "workloads").glob("*.yaml"))


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda p: p.stem)
def test_golden(workload, update_golden):
    wl = load_workload(workload)
    frame = to_frame(simulate(wl, [load_hardware(h) for h in HW]))[list(LAYER_COLUMNS)]
    path = GOLDEN / f"{workload.stem}.csv"
    if update_golden:
        frame.to_csv(path, index=False)
        pytest.skip(f"re-baselined {path.name}")
    assert path.exists(), f"no golden file for {workload.name}; run pytest --update-golden and review it"
    want = pd.read_csv(path)
    got = pd.read_csv(pd.io.common.StringIO(frame.to_csv(index=False)))
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want) == len(wl.layers) * len(HW)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
