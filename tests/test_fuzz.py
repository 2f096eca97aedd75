"""Property-based fuzzing of the CLI with mutated bundled files (tests/fuzzing.py says what must
hold). Bounded here (a fixed number of examples; the CI profile fixes the seed);
benchmarks/fuzz_long.py runs the same properties with thousands of examples."""
from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzzing

HW_DATA = {p.name: yaml.safe_load(p.read_text()) for p in fuzzing.HW_FILES}
EXAMPLES = {"hardware": 80, "workload": 80, "sweep": 10}
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated_hardware(draw):
    name = draw(st.sampled_from(sorted(HW_DATA)))
    text, what = draw(fuzzing.mutations(HW_DATA[name]))
    return text, f"{name}: {what}"


def hardware_property(case):
    text, what = case
    fuzzing.run_mutated_hardware(text, what)


def workload_property(case):
    text, what = case
    fuzzing.run_mutated_workload(text, what)


def sweep_property(case):
    mutate = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        text, what = mutate(fuzzing.small_sweep(folder))
        fuzzing.run_mutated_sweep(text, folder, what)


@settings(max_examples=EXAMPLES["hardware"], **SETTINGS)
@given(mutated_hardware())
def test_fuzzed_hardware(case):
    hardware_property(case)


@st.composite
def mutated_workload(draw):
    """One small layer of every variant, or a bundled workload file."""
    name = draw(st.sampled_from(["small", "small", *sorted(fuzzing.BUNDLED_WORKLOADS)]))
    data = fuzzing.SMALL_WORKLOAD if name == "small" else fuzzing.BUNDLED_WORKLOADS[name]
    text, what = draw(fuzzing.mutations(data))
    return text, f"{name}: {what}"


def sweep_mutation(data):
    """A mutation of the small two-point sweep, or of the bundled sweeps/quick.yaml."""
    bundled = data.draw(st.sampled_from([True, False, False, False]))      # the bundled one takes seconds
    return lambda small: data.draw(fuzzing.mutations(fuzzing.bundled_sweep() if bundled else small))


@settings(max_examples=EXAMPLES["workload"], **SETTINGS)
@given(mutated_workload())
def test_fuzzed_workload(case):
    workload_property(case)


@settings(max_examples=EXAMPLES["sweep"], **SETTINGS)
@given(st.data())
def test_fuzzed_sweep(data):
    sweep_property(sweep_mutation(data))


def test_the_unmutated_files_run(tmp_path):
    """The baseline every mutation departs from is itself valid (else every example would be a
    refusal and the test would prove little)."""
    for data in HW_DATA.values():
        code, _, err = fuzzing.run(["run", fuzzing.SMOKE, "--hw", _dump(tmp_path / "hw.yaml", data)])
        assert code == 0, err
    code, out, err = fuzzing.run(["run", _dump(tmp_path / "wl.yaml", fuzzing.SMALL_WORKLOAD), "--format", "csv"])
    assert code == 0, err
    fuzzing.check_report(pd.read_csv(io.StringIO(out)))
    assert len(pd.read_csv(io.StringIO(out))) == len(fuzzing.SMALL_WORKLOAD["layers"])
    code, _, err = fuzzing.run(["sweep", _dump(tmp_path / "s.yaml", fuzzing.small_sweep(tmp_path)), "--out",
                                tmp_path / "out", "--jobs", "1", "--quiet"])
    assert code == 0 and err == "", err


def _dump(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("text", [
    "a: " + fuzzing.DEEP,
    "name: x\nlayers:\n  - {variant: gemm, m: " + fuzzing.HUGE_INT + ", k: 1, n: 1}\n",
    "name: x\nlayers:\n  - {variant: convolutional, n: 10000000000, d: 64, kernel: 3}\n",
    "\x00\x01binary",
])
def test_no_traceback_as_a_real_process(tmp_path, text):
    """End to end as `python -m simulator`: exit status 2, a message naming the file, no traceback."""
    path = tmp_path / "hostile.yaml"
    path.write_text(text, errors="surrogateescape")
    res = subprocess.run([sys.executable, "-m", "simulator", "run", str(path)], capture_output=True, text=True,
                         timeout=120, cwd=fuzzing.ROOT)
    assert res.returncode == 2 and res.stdout == ""
    assert str(path) in res.stderr and "Traceback" not in res.stderr, res.stderr
