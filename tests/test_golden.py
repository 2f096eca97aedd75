"""Every bundled hardware config x every bundled workload against tests/golden (count-only).

tests/golden/serial/ holds the serial schedule (ops one after another): its contract columns are
the numbers the simulator gave before the overlapped schedule existed, so the serial schedule
reproduces them exactly. tests/golden/ holds the default (overlapped) schedule.

Re-baseline only deliberately: `pytest tests/test_golden.py --update-golden` rewrites both, then
review the diff.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from simulator import load_hardware, load_workload, simulate, to_frame
from simulator.report import LAYER_COLUMNS, SCHEDULE_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
HW = sorted((ROOT / "hw_configs").glob("*.yaml"))
WORKLOADS = sorted((ROOT / "workloads").glob("*.yaml"))
COLUMNS = list(LAYER_COLUMNS) + list(SCHEDULE_COLUMNS)


@pytest.fixture(scope="module")
def configs():
    return [load_hardware(h) for h in HW]


def _check(frame: pd.DataFrame, path: Path, rows: int, update: bool) -> None:
    if update:
        path.parent.mkdir(exist_ok=True)
        frame.to_csv(path, index=False)
        pytest.skip(f"re-baselined {path.name}")
    assert path.exists(), f"no golden file {path}; run pytest --update-golden and review it"
    want = pd.read_csv(path)
    got = pd.read_csv(pd.io.common.StringIO(frame.to_csv(index=False)))[list(want.columns)]
    assert len(got) == len(want) == rows
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda p: p.stem)
def test_serial_schedule_reproduces_the_golden_counts(workload, configs, update_golden):
    wl = load_workload(workload)
    frame = to_frame(simulate(wl, configs, schedule="serial"))[COLUMNS]
    assert (frame["cycles"] == frame["serial_cycles"]).all()
    _check(frame, GOLDEN / "serial" / f"{workload.stem}.csv", len(wl.layers) * len(HW), update_golden)


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda p: p.stem)
def test_golden(workload, configs, update_golden):
    wl = load_workload(workload)
    frame = to_frame(simulate(wl, configs))[COLUMNS]
    _check(frame, GOLDEN / f"{workload.stem}.csv", len(wl.layers) * len(HW), update_golden)
