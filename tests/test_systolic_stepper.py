"""The array-level fold formulas (kernels/gemm.py) and the GEMM kernel == a brute-force cycle stepper.

docs/conventions/systolic.md §3.4: both fold modes are verified against a test-only reference that
steps the array cycle by cycle (tests/reference_systolic.py), not only against the closed forms.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine import run_gemm
from simulator.enums import Counter, Dataflow, FoldOverlap
from simulator.graph import Gemm
from simulator.kernels.gemm import fold_cycles, fold_shape, pipeline_fill_drain, unit_words
from simulator.mapping import GemmMapping
from tests.helpers import make_hw
from tests.reference_systolic import StepperError, step_gemm

FLOWS = ("output_stationary", "weight_stationary", "input_stationary")
MODES = ("serial", "pipelined")
ELEM_BYTES = 4   # make_hw's default number format is fp32


def _formulas(m, k, n, rows, cols, flow, mode):
    """What kernels/gemm.py says for the whole GEMM as one sub-GEMM (fold set)."""
    df = int(Dataflow[flow.upper()])
    ov = int(FoldOverlap[mode.upper()])
    folds, t = fold_shape(df, rows, cols, m, k, n)
    cycles = fold_cycles(df, ov, rows, cols, folds, t)
    if mode == "pipelined":
        cycles += pipeline_fill_drain(df, rows, cols)
    a, b, c_r, c_w = unit_words(df, rows, cols, m, k, n, False)
    return {"folds": int(folds), "T": int(t), "cycles": int(cycles), "a_reads": int(a), "b_reads": int(b),
            "c_reads": int(c_r), "c_writes": int(c_w)}


def _kernel_counts(m, k, n, rows, cols, flow, mode):
    hw = make_hw(rows=rows, cols=cols, dataflow=flow, fold_overlap=mode)
    counts = run_gemm(Gemm("g", "a", "b", "c", m, k, n), hw, GemmMapping(((m, k, n),), ("mnk",))).counts
    return {key: int(counts[c]) for key, c in (
        ("cycles", Counter.ARRAY_CYCLES), ("folds", Counter.FOLDS), ("macs", Counter.MACS),
        ("slot_macs", Counter.SLOT_MACS), ("a_bytes", Counter.UNIT_READ_A), ("b_bytes", Counter.UNIT_READ_B),
        ("c_read_bytes", Counter.UNIT_READ_C), ("c_write_bytes", Counter.UNIT_WRITE_C))}


def _check_case(m, k, n, rows, cols, flow, mode, seed=0, kernel=True):
    ref = step_gemm(m, k, n, rows, cols, flow, mode == "pipelined", seed=seed)
    where = f"(M,K,N)=({m},{k},{n}) R={rows} C={cols} {flow} {mode}"
    # (a) the stepper really multiplies
    np.testing.assert_array_equal(ref["product"], ref["expected"], err_msg=where)
    assert ref["real_macs"] == m * k * n, where
    # (b)-(d) array-level formulas of kernels/gemm.py
    want = _formulas(m, k, n, rows, cols, flow, mode)
    got = {key: ref[key] for key in want}
    assert got == want, where
    # every PE runs one slot per token of every fold (bubbles only pad short pipelined ws/is streams)
    assert ref["slot_macs"] == want["folds"] * rows * cols * want["T"], where
    assert (ref["pe_events"][:, :, :2].sum(axis=2) == want["folds"] * want["T"]).all(), where
    if ref["bubble_slots"]:
        assert mode == "pipelined" and flow != "output_stationary" and want["T"] < rows, where
    # (e) the whole kernel on a single-tile mapping
    if kernel:
        kern = _kernel_counts(m, k, n, rows, cols, flow, mode)
        assert kern == {"cycles": ref["cycles"], "folds": ref["folds"], "macs": ref["real_macs"],
                        "slot_macs": ref["slot_macs"], "a_bytes": ref["a_reads"] * ELEM_BYTES,
                        "b_bytes": ref["b_reads"] * ELEM_BYTES, "c_read_bytes": ref["c_reads"] * ELEM_BYTES,
                        "c_write_bytes": ref["c_writes"] * ELEM_BYTES}, where


@settings(max_examples=400, deadline=None)
@given(m=st.integers(1, 9), k=st.integers(1, 9), n=st.integers(1, 9), rows=st.integers(1, 4),
       cols=st.integers(1, 4), flow=st.sampled_from(FLOWS), mode=st.sampled_from(MODES),
       seed=st.integers(0, 2**16))
def test_stepper_equals_fold_formulas_and_kernel(m, k, n, rows, cols, flow, mode, seed):
    _check_case(m, k, n, rows, cols, flow, mode, seed)


# Edge cases enumerated exhaustively: unit dims, dims one below / at / one above the array size,
# streams shorter than, equal to and longer than R (pipelined ws/is padding), single and many folds.
_DIMS = (1, 2, 3, 4, 5, 8, 9)
_ARRAYS = ((1, 1), (1, 4), (4, 1), (3, 2), (4, 4))


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("mode", MODES)
def test_stepper_grid(flow, mode):
    for (m, k, n), (rows, cols) in itertools.product(itertools.product(_DIMS, repeat=3), _ARRAYS):
        _check_case(m, k, n, rows, cols, flow, mode, kernel=False)


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("mode", MODES)
def test_kernel_grid_corners(flow, mode):
    for (m, k, n), (rows, cols) in itertools.product(itertools.product((1, 4, 9), repeat=3), _ARRAYS):
        _check_case(m, k, n, rows, cols, flow, mode)


def test_stepper_counts_fold_time_from_movement():
    """Spot values worked out by hand from the movement (not from the formulas)."""
    # os, 2x2 array, one fold: A enters row i at cycle i+k, B column j at j+k; the last MAC is
    # PE(1,1) at k=2: cycle 1+1+2 = 4 -> 5 cycles.
    assert step_gemm(2, 3, 2, 2, 2, "os", False)["cycles"] == 5
    # ws, 2x2, one fold: preload cycles 0-1, A[m] reaches PE(i,j) at 2+m+i+j; last m=2 at PE(1,1): 6.
    assert step_gemm(3, 2, 2, 2, 2, "ws", False)["cycles"] == 7
    # two k-folds in series: the second starts the cycle after the first's last MAC.
    r = step_gemm(3, 4, 2, 2, 2, "ws", False)
    assert r["fold_done"] == [6, 13] and r["preload_start"] == [0, 7] and r["cycles"] == 14
    # pipelined ws with a 1-long stream on 3 rows: each fold's slot is padded to the 3-cycle preload
    r = step_gemm(1, 6, 1, 3, 1, "ws", True)
    assert r["stream_start"] == [3, 6] and r["slot_len"] == [3, 3]
    assert r["bubble_slots"] == 2 * 3 * 2


def test_stepper_catches_a_too_short_pipelined_slot():
    """A controller that streams the next ws fold right after T < R tokens breaks the hardware."""
    step_gemm(2, 8, 2, 4, 2, "ws", True)                 # correct controller: fine
    with pytest.raises(StepperError):
        step_gemm(2, 8, 2, 4, 2, "ws", True, wait_for_preload=False)
    with pytest.raises(StepperError):
        step_gemm(2, 8, 2, 4, 2, "is", True, wait_for_preload=False)


# docs/conventions/systolic.md §8.1 (SCALE-Sim 3.0.0, 32x32, serial folds; printed cycles + 1)
PEER_POINTS = [
    ((512, 64, 512), {"output_stationary": 32256, "weight_stationary": 19392, "input_stationary": 19392}),
    ((512, 768, 768), {"output_stationary": 318720, "weight_stationary": 349056, "input_stationary": 331008}),
    ((1, 768, 768), {"output_stationary": 19920, "weight_stationary": 54720, "input_stationary": 20688}),
]


@pytest.mark.parametrize("dims,want", PEER_POINTS, ids=["qkT", "projection", "matvec"])
def test_kernel_reproduces_peer_reference_points(dims, want):
    m, k, n = dims
    got = {}
    for flow in FLOWS:
        hw = make_hw(rows=32, cols=32, dataflow=flow, fold_overlap="serial", sram_bytes=1 << 26)
        counts = run_gemm(Gemm("g", "a", "b", "c", m, k, n), hw, GemmMapping((dims,), ("mnk",))).counts
        got[flow] = int(counts[Counter.ARRAY_CYCLES])
    assert got == want
