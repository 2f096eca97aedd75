"""Vector-unit kernel: softmax counts == spec SM(m), outputs == numpy, chunked traffic and timing."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import analytic
from simulator.engine import run_vector
from simulator.enums import BOUNDARY_BASE, BoundaryCounter, Counter, VecKind
from simulator.graph import RowRanges, VectorOp, VOp, VPass, softmax_passes
from tests.helpers import make_hw


def softmax_op(rows, cols, batch=1, ranges=None):
    passes, widths = softmax_passes("S", "P", "sm")
    return VectorOp("softmax", passes, ("S",), ("P",), rows, cols, widths, batch=batch, ranges=ranges)


def reference_softmax(s, lo, hi):
    out = np.zeros_like(s, dtype=np.float64)
    for b in range(s.shape[0]):
        for i in range(s.shape[1]):
            if hi[i] > lo[i]:
                row = s[b, i, lo[i]:hi[i]].astype(np.float64)
                e = np.exp(row - row.max())
                out[b, i, lo[i]:hi[i]] = e / e.sum()
    return out


@st.composite
def ragged(draw):
    rows = draw(st.integers(1, 30))
    cols = draw(st.integers(1, 40))
    lo = np.array([draw(st.integers(0, cols)) for _ in range(rows)])
    hi = np.array([draw(st.integers(int(x), cols)) for x in lo])
    return rows, cols, lo, hi


@settings(max_examples=80, deadline=None)
@given(case=ragged(), batch=st.integers(1, 3), lanes=st.integers(1, 9), sram=st.sampled_from([64, 512, 4096, 1 << 20]))
def test_softmax_counts_equal_spec(case, batch, lanes, sram):
    rows, cols, lo, hi = case
    hw = make_hw(rows=1, cols=1, lanes=lanes, sram_bytes=sram)
    counts = run_vector(softmax_op(rows, cols, batch, RowRanges.from_arrays(lo, hi)), hw).counts
    want = {k: v * batch for k, v in analytic.softmax_ops(hi - lo).items()}
    got = {name: int(counts[Counter.VEC_OPS + VecKind[name.upper()]]) for name in want}
    assert got == want
    for other in ("MUL", "TANH", "SIGMOID", "SIN", "COS", "RSQRT"):
        assert counts[Counter.VEC_OPS + VecKind[other]] == 0


def test_softmax_of_full_rows_matches_spec_table():
    """n rows of length n: SM(n) per row = cmp n-1, sub n, exp n, add n-1, div n
    (docs/conventions/counting.md §1.4)."""
    n = 37
    hw = make_hw(lanes=8)
    counts = run_vector(softmax_op(n, n), hw).counts
    assert counts[Counter.VEC_OPS + VecKind.MAX] == n * (n - 1)
    assert counts[Counter.VEC_OPS + VecKind.EXP] == n * n
    assert counts[Counter.VEC_OPS + VecKind.ADD] == n * n + n * (n - 1)
    assert counts[Counter.VEC_OPS + VecKind.DIV] == n * n


@settings(max_examples=40, deadline=None)
@given(case=ragged(), batch=st.integers(1, 2), sram=st.sampled_from([64, 512, 1 << 20]))
def test_softmax_functional_matches_numpy_and_rows_sum_to_one(case, batch, sram):
    rows, cols, lo, hi = case
    hw = make_hw(rows=1, cols=1, lanes=4, sram_bytes=sram)
    rng = np.random.default_rng(rows * 1000 + cols)
    s = (rng.standard_normal((batch, rows, cols)) * 4).astype(np.float32)
    store = {"S": s}
    functional = run_vector(softmax_op(rows, cols, batch, RowRanges.from_arrays(lo, hi)), hw, store=store)
    ref = reference_softmax(s, lo, hi)
    # fp32 exp, sum of `cols` terms and a division: a few ulps per term times the row length
    np.testing.assert_allclose(store["P"], ref, rtol=0, atol=8 * cols * 2.0 ** -24 + 1e-7)
    sums = store["P"].astype(np.float64).sum(axis=2)
    nonempty = (hi - lo) > 0
    np.testing.assert_allclose(sums[:, nonempty], 1.0, atol=cols * 2.0 ** -22)
    assert np.all(store["P"][:, ~nonempty] == 0)          # fully masked rows give zeros
    assert np.all(store["P"] >= 0)
    count_only = run_vector(softmax_op(rows, cols, batch, RowRanges.from_arrays(lo, hi)), hw)
    assert np.array_equal(functional.counts, count_only.counts)


def test_large_logits_do_not_overflow():
    hw = make_hw()
    s = np.array([[[1000.0, 999.0, -1000.0]]], np.float32)
    store = {"S": s}
    run_vector(softmax_op(1, 3), hw, store=store)
    assert np.all(np.isfinite(store["P"]))
    np.testing.assert_allclose(store["P"][0, 0], reference_softmax(s, [0], [3])[0, 0], atol=1e-6)


def _chunk_reference(lens, rows_per_chunk, batch, program_ops, eb, lanes, cpo, fill_bw, drain_bw, widths_in,
                     widths_out, unit_bw):
    """Replays the chunk chain of docs/architecture.md for a one-level hierarchy."""
    chunks = []
    for _ in range(batch):
        for r0 in range(0, len(lens), rows_per_chunk):
            sl = lens[r0:r0 + rows_per_chunk]
            valid, nonempty = int(sum(sl)), int(sum(1 for x in sl if x > 0))
            compute = rd = wr = 0
            for kind, reduction, n_src_wide, dst_wide in program_ops:
                ops = valid - nonempty if reduction else (valid if dst_wide else nonempty)
                compute += -(-ops // lanes) * cpo[kind]
                rd += (valid if reduction else n_src_wide(valid, nonempty)) * eb
                wr += (nonempty if reduction else ops) * eb
            busy = max(compute, math.ceil(rd / unit_bw) if rd else 0, math.ceil(wr / unit_bw) if wr else 0)
            fill = sum(valid if w > 1 else nonempty for w in widths_in) * eb
            drain = sum(valid if w > 1 else nonempty for w in widths_out) * eb
            chunks.append((math.ceil(fill / fill_bw) if fill else 0, busy, math.ceil(drain / drain_bw) if drain else 0))
    total = chunks[0][0]
    for i, (_, busy, _) in enumerate(chunks):
        nxt = chunks[i + 1][0] if i + 1 < len(chunks) else 0
        prev_drain = chunks[i - 1][2] if i > 0 else 0
        total += max(busy, nxt, prev_drain)
    return total + chunks[-1][2]


@pytest.mark.parametrize("sram", [512, 2048, 1 << 20])
def test_softmax_chunk_timing_and_traffic(sram):
    rows, cols, batch = 13, 11, 2
    lo = np.zeros(rows, np.int64)
    hi = np.array([(i * 7) % (cols + 1) for i in range(rows)])
    hw = make_hw(lanes=3, sram_bytes=sram, dram_bw=5.0, sram_bw=9.0)
    op = softmax_op(rows, cols, batch, RowRanges.from_arrays(lo, hi))
    counts = run_vector(op, hw).counts
    lens = list(hi - lo)
    eb = 4
    row_bytes = (cols + 1 + cols + cols + 1 + cols) * eb      # S, max, shifted, exp, sum, P
    rows_per_chunk = min(rows, (sram // 2) // row_bytes)
    assert rows_per_chunk > 0
    cpo = hw.vector_unit.cycles_per_op
    wide = lambda v, ne: v      # noqa: E731
    program = [(VecKind.MAX, True, wide, False), (VecKind.ADD, False, lambda v, ne: v + ne, True),
               (VecKind.EXP, False, wide, True), (VecKind.ADD, True, wide, False),
               (VecKind.DIV, False, lambda v, ne: v + ne, True)]
    want = _chunk_reference(lens, rows_per_chunk, batch, program, eb, 3, cpo, 5.0, 5.0, [cols], [cols], 9.0)
    assert counts[Counter.CYCLES] == want
    valid = int(sum(lens)) * batch
    assert counts[BOUNDARY_BASE + BoundaryCounter.FILL_A] == valid * eb
    assert counts[BOUNDARY_BASE + BoundaryCounter.DRAIN_C] == valid * eb


def test_rows_too_long_stream_every_pass_through_dram():
    rows, cols = 3, 100
    hw = make_hw(rows=1, cols=1, lanes=4, sram_bytes=256)      # 128 usable bytes < one 100-element row
    counts = run_vector(softmax_op(rows, cols), hw).counts
    n = rows * cols
    # passes: rowmax reads S; sub reads S and max; exp reads shifted; rowsum reads exp; div reads exp and sum
    fills = (n + (n + rows) + n + n + (n + rows)) * 4
    drains = (rows + n + n + rows + n) * 4
    assert counts[BOUNDARY_BASE + BoundaryCounter.FILL_A] == fills
    assert counts[BOUNDARY_BASE + BoundaryCounter.DRAIN_C] == drains
    assert counts[Counter.VEC_OPS + VecKind.EXP] == n


@pytest.mark.parametrize("opcode,fn", [
    (VOp.TANH, np.tanh), (VOp.SIGMOID, lambda x: 1 / (1 + np.exp(-x))), (VOp.SIN, np.sin), (VOp.COS, np.cos),
    (VOp.EXP, np.exp), (VOp.RSQRT, lambda x: 1 / np.sqrt(x))])
def test_unary_passes(opcode, fn):
    hw = make_hw(lanes=5)
    rng = np.random.default_rng(opcode)
    x = (rng.random((2, 7, 9)) + 0.1).astype(np.float32)
    op = VectorOp("u", (VPass(opcode, "y", ("x",)),), ("x",), ("y",), 7, 9, (), batch=2)
    store = {"x": x}
    counts = run_vector(op, hw, store=store).counts
    np.testing.assert_allclose(store["y"], fn(x.astype(np.float64)), rtol=4e-6)
    kind = VOp.KIND[opcode]
    assert counts[Counter.VEC_OPS + kind] == 2 * 7 * 9
    assert counts[Counter.VECTOR_CYCLES] > 0


@pytest.mark.parametrize("opcode,fn", [(VOp.ADD, np.add), (VOp.SUB, np.subtract), (VOp.MUL, np.multiply),
                                       (VOp.DIV, np.divide), (VOp.MAX, np.maximum)])
def test_binary_passes_with_row_broadcast(opcode, fn):
    hw = make_hw(lanes=5)
    rng = np.random.default_rng(opcode)
    x = (rng.random((1, 6, 8)) + 0.5).astype(np.float32)
    r = (rng.random((1, 6, 1)) + 0.5).astype(np.float32)
    op = VectorOp("b", (VPass(opcode, "y", ("x", "r")),), ("x", "r"), ("y",), 6, 8, (("r", 1),))
    store = {"x": x, "r": r}
    counts = run_vector(op, hw, store=store).counts
    np.testing.assert_allclose(store["y"], fn(x, r), rtol=1e-6)
    assert counts[Counter.VEC_OPS + VOp.KIND[opcode]] == 48
    assert counts[Counter.UNIT_READ_A] == (48 + 6) * 4


def test_scale_and_add_const():
    hw = make_hw()
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    op = VectorOp("s", (VPass(VOp.SCALE, "t", ("x",), 0.5), VPass(VOp.ADD_CONST, "y", ("t",), -1.0)),
                  ("x",), ("y",), 3, 4, ())
    store = {"x": x}
    counts = run_vector(op, hw, store=store).counts
    np.testing.assert_allclose(store["y"], x * 0.5 - 1.0)
    assert counts[Counter.VEC_OPS + VecKind.MUL] == 12 and counts[Counter.VEC_OPS + VecKind.ADD] == 12


def test_argmax_picks_the_first_maximum_of_each_valid_range():
    hw = make_hw(lanes=3)
    x = np.array([[[1, 5, 5, 2], [7, 7, 7, 7], [0, 1, 2, 3]]], np.float32)
    ranges = RowRanges.from_arrays([1, 0, 2], [4, 4, 2])          # last row empty
    op = VectorOp("am", (VPass(VOp.ARGMAX, "i", ("x",)),), ("x",), ("i",), 3, 4, (("i", 1),), ranges=ranges)
    store = {"x": x}
    counts = run_vector(op, hw, store=store).counts
    assert store["i"][0, :, 0].tolist() == [1, 0, 0]
    assert counts[Counter.VEC_OPS + VecKind.MAX] == 2 + 3


@settings(max_examples=40, deadline=None)
@given(case=ragged(), seed=st.integers(0, 2 ** 16))
def test_sampling_replays_numpy_inverse_cdf_exactly(case, seed):
    rows, cols, lo, hi = case
    rng = np.random.default_rng(seed)
    p = rng.random((1, rows, cols)).astype(np.float32)
    p[0, 0, :] = 0.0 if rows > 1 else p[0, 0, :]                   # a zero-probability row too
    u = rng.random((1, rows, 1)).astype(np.float32)
    hw = make_hw(lanes=4)
    op = VectorOp("s", (VPass(VOp.SAMPLE, "idx", ("p", "u")),), ("p", "u"), ("idx",), rows, cols,
                  (("u", 1), ("idx", 1)), ranges=RowRanges.from_arrays(lo, hi))
    store = {"p": p, "u": u}
    counts = run_vector(op, hw, store=store).counts
    for i in range(rows):
        n = hi[i] - lo[i]
        if n == 0:
            continue
        c = np.cumsum(p[0, i, lo[i]:hi[i]].astype(np.float64))
        want = min(int(np.searchsorted(c, np.float64(u[0, i, 0]) * c[-1], side="right")), n - 1)
        assert store["idx"][0, i, 0] == lo[i] + want
    lens = hi - lo
    assert counts[Counter.VEC_OPS + VecKind.ADD] == int(sum(x - 1 for x in lens if x > 0))
    assert counts[Counter.VEC_OPS + VecKind.MUL] == int(sum(1 for x in lens if x > 0))
    assert counts[Counter.VEC_OPS + VecKind.MAX] == int(sum(math.ceil(math.log2(x)) for x in lens if x > 0))


def test_column_vectors_broadcast_down_rows_and_are_filled_once_per_batch_element():
    hw = make_hw(lanes=2, sram_bytes=1 << 16)
    x = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    f = np.array([[[1.0, 10.0, 100.0]], [[2.0, 20.0, 200.0]]], np.float32)
    op = VectorOp("c", (VPass(VOp.MUL, "y", ("x", "f")),), ("x", "f"), ("y",), 5, 3, (), batch=2,
                  col_vectors=("f",))
    store = {"x": x, "f": f}
    counts = run_vector(op, hw, store=store).counts
    np.testing.assert_array_equal(store["y"], x * f)
    assert counts[BOUNDARY_BASE + BoundaryCounter.FILL_A] == (2 * 5 * 3 + 2 * 3) * 4
    assert counts[Counter.VEC_OPS + VecKind.MUL] == 30
