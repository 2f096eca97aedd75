"""restricted_self_attention, convolutional, position_embedding: outputs, counts, structure, validation."""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulator import cli, load_workload, simulate, to_frame
from simulator.analytic import local as closed
from simulator.enums import BOUNDARY_BASE, BoundaryCounter, Counter, VecKind
from simulator.errors import ConfigError
from tests.helpers import make_hw
from tests.reference_local import (band_mask, band_size_by_enumeration, conv1d, conv1d_direct,
                                   conv_valid_taps_by_enumeration, full_attention, hops_by_bfs, hops_by_layered_bfs,
                                   position_embedding, restricted_attention, sinusoidal_pe)

U32 = 2.0 ** -24
KINDS = ("add", "mul", "max", "exp", "div", "tanh", "sigmoid", "sin", "cos", "rsqrt")


def run(layers, hw, functional=False, seed=0):
    return simulate(load_workload({"name": "t", "layers": layers}), hw, functional=functional, seed=seed)


def one(layer, hw=None, functional=False, seed=0):
    (r,) = run([layer], hw or make_hw(rows=4, cols=4, sram_bytes=4096), functional, seed)
    return r


def vec_ops(counts) -> dict[str, int]:
    """Non-zero vector-op counts by kind."""
    out = {k: int(counts[Counter.VEC_OPS + VecKind[k.upper()]]) for k in KINDS}
    return {k: v for k, v in out.items() if v}


def dram(counts, hw, which) -> int:
    b = len(hw.memories) - 2
    return int(counts[BOUNDARY_BASE + 4 * b + which])


def tolerance(*reductions):
    """fp32 GEMM chains: about 1e-5 sqrt(reduction length) relative (docs/conventions/counting.md §1.6),
    plus a few ulps."""
    return 1e-5 * math.sqrt(sum(reductions)) + 4 * U32


def rel_err(got, ref):
    return float(np.max(np.abs(np.asarray(got, np.float64) - ref)) / max(np.max(np.abs(ref)), 1e-30))


# =================================================================================================
# restricted_self_attention
# =================================================================================================
RSA = "restricted_self_attention"


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n,d,window,batch", [
    (13, 7, 1, 1),          # r = 1: each query sees itself only
    (13, 7, 5, 2),          # narrow band, clipped at both ends
    (11, 5, 11, 1),         # n <= r < 2n - 1: still clipped (centred)
    (9, 6, 17, 1),          # r = 2n - 1: full attention
    (7, 3, 31, 1),          # r > 2n - 1
])
def test_restricted_matches_dense_masked_reference_and_closed_forms(n, d, window, batch, causal):
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)        # 3x5: none of the sizes divides the array
    r = one({"variant": RSA, "n": n, "d": d, "window": window, "causal": causal, "batch": batch}, hw,
            functional=True, seed=3)
    x = r.inputs["X"].astype(np.float64)
    ref = restricted_attention(x, window, causal)
    # scores reduce over d, P V over at most the window; relative to max |ref|
    # (docs/conventions/counting.md §1.6)
    assert rel_err(r.outputs["Y"], ref) <= tolerance(d, min(n, window))
    band = closed.restricted_band(n, window, causal)
    assert band == band_size_by_enumeration(n, window, causal)
    assert r.macs == closed.restricted_macs(n, d, window, causal, batch) == 2 * band * d * batch
    assert vec_ops(r.counts) == {k: v for k, v in closed.restricted_softmax_ops(n, window, causal, batch).items() if v}
    assert r.sequential_steps == 3
    assert _without_shape(r.fields) == {"n": n, "d": d, "heads": 1, "window": window, "batch": batch, "repeat": 1}


def test_restricted_band_closed_forms_over_a_grid():
    """docs/conventions/layers.md §4.2 closed forms vs enumeration, both sides of every branch (w = n-1,
    r = n)."""
    for n in range(1, 23):
        for window in range(1, 2 * n + 4):
            assert closed.restricted_band(n, window, True) == band_size_by_enumeration(n, window, True)
            if window % 2:
                assert closed.restricted_band(n, window, False) == band_size_by_enumeration(n, window, False)
    # r >= n is not full attention unless r >= 2n - 1 (docs/conventions/layers.md §4.5)
    for n in (5, 12, 31):
        for window in range(n if n % 2 else n + 1, 2 * n - 1, 2):
            assert closed.restricted_band(n, window, False) < n * n
        assert closed.restricted_band(n, 2 * n - 1, False) == n * n


def test_restricted_spec_golden_value():
    """docs/conventions/counting.md §2.4 worked value: n = d = 512, r = 65 (w = 32): 2 d 32,224 =
    32,997,376 MACs."""
    assert closed.restricted_band(512, 65) == 32_224
    r = one({"variant": RSA, "n": 512, "d": 512, "window": 65}, make_hw(rows=32, cols=32, sram_bytes=1 << 20))
    assert r.macs == 32_997_376


@pytest.mark.parametrize("n", [6, 9, 14])
def test_restricted_window_clipped_between_n_and_2n(n):
    """n <= r < 2n - 1: macs < 2 n^2 d; r >= 2n - 1: exactly full attention."""
    d, hw = 5, make_hw(rows=4, cols=4, sram_bytes=4096)
    r_odd = n if n % 2 else n + 1
    clipped = one({"variant": RSA, "n": n, "d": d, "window": r_odd}, hw)
    assert clipped.macs < 2 * n * n * d
    assert clipped.macs == closed.restricted_macs(n, d, r_odd)
    for window in (2 * n - 1, 2 * n + 1, 4 * n + 1):
        full = one({"variant": RSA, "n": n, "d": d, "window": window}, hw)
        assert full.macs == 2 * n * n * d


@pytest.mark.parametrize("n,d", [(9, 4), (16, 7)])
def test_restricted_wide_window_equals_self_attention(n, d):
    """r >= 2n - 1 covers every key: the same outputs and counts as self_attention on the same X."""
    hw = make_hw(rows=4, cols=4, sram_bytes=4096)
    wide = one({"variant": RSA, "n": n, "d": d, "window": 2 * n - 1}, hw, functional=True, seed=9)
    full = one({"variant": "self_attention", "n": n, "d": d}, hw, functional=True, seed=9)
    assert np.array_equal(wide.inputs["X"], full.inputs["X"])
    ref = full_attention(wide.inputs["X"])
    assert rel_err(wide.outputs["Y"], ref) <= tolerance(d, n)
    assert np.allclose(wide.outputs["Y"], full.outputs["Y"], rtol=0, atol=tolerance(d, n) * np.abs(ref).max())
    assert wide.macs == full.macs == 2 * n * n * d
    assert vec_ops(wide.counts) == vec_ops(full.counts)


def test_restricted_banded_scores_issue_only_the_band_tiles():
    hw = make_hw(rows=4, cols=4, sram_bytes=2048)
    n, d = 256, 8
    banded = one({"variant": RSA, "n": n, "d": d, "window": 5}, hw)
    dense = one({"variant": "self_attention", "n": n, "d": d}, hw)
    for name in ("scores", "context"):
        b = {o.op: o for o in banded.ops}[name]
        full = {o.op: o for o in dense.ops}[name]
        assert b.counts[Counter.SKIPPED_TILES] > 0
        assert full.counts[Counter.SKIPPED_TILES] == 0
        assert b.counts[Counter.SLOT_MACS] * 8 < full.counts[Counter.SLOT_MACS]
        assert b.counts[Counter.SLOT_MACS] >= b.counts[Counter.MACS]
    assert banded.macs == closed.restricted_macs(n, d, 5)


def test_restricted_path_length_from_connectivity():
    """Centred: ceil((n-1)/w); causal: ceil((n-1)/(r-1)) (docs/conventions/layers.md §4.3); r = 1
    connects nothing."""
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16)
    for n in (2, 7, 16, 33, 50):
        for window in (3, 5, 9, 15):
            w = (window - 1) // 2
            got = one({"variant": RSA, "n": n, "d": 2, "window": window}, hw).max_path_length
            assert got == math.ceil((n - 1) / w) == hops_by_bfs(band_mask(n, window, False))
        for window in (2, 3, 4, 8):
            got = one({"variant": RSA, "n": n, "d": 2, "window": window, "causal": True}, hw).max_path_length
            assert got == math.ceil((n - 1) / (window - 1)) == hops_by_bfs(band_mask(n, window, True))
        assert one({"variant": RSA, "n": n, "d": 2, "window": 1}, hw).max_path_length is None
        assert one({"variant": RSA, "n": n, "d": 2, "window": 2 * n - 1}, hw).max_path_length == 1


def test_restricted_sequential_steps_do_not_depend_on_sizes():
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16)
    steps = {one({"variant": RSA, "n": n, "d": d, "window": w, "causal": c, "batch": b}, hw).sequential_steps
             for n, d, w in ((8, 4, 3), (40, 8, 9), (100, 2, 1)) for c in (False, True) for b in (1, 3)}
    assert steps == {3}


# =================================================================================================
# convolutional
# =================================================================================================
CONV = "convolutional"

CONV_CASES = [
    # n, d, kernel, dilation, padding
    (13, 5, 3, 1, "same"),
    (13, 5, 3, 1, "causal"),
    (13, 5, 3, 1, "valid"),
    (11, 6, 1, 1, "same"),          # k = 1: a position-wise linear map
    (11, 6, 1, 3, "valid"),
    (9, 4, 4, 1, "same"),           # even k, same: left pad floor((k-1)/2) = 1
    (10, 3, 2, 3, "same"),          # even k, dilated: taps t-1 and t+2
    (6, 4, 9, 1, "same"),           # k > n
    (6, 4, 9, 1, "causal"),
    (7, 3, 3, 2, "same"),           # dilation 2
    (14, 3, 4, 3, "causal"),        # dilation 3
    (14, 3, 3, 3, "valid"),
    (5, 4, 3, 3, "same"),           # dilation (k-1) >= n
    (5, 4, 3, 4, "causal"),
    (1, 3, 2, 3, "same"),           # no tap of the single output reaches the sequence: a zero row
]


@pytest.mark.parametrize("n,d,kernel,dilation,padding", CONV_CASES)
def test_conv_matches_reference_and_closed_forms(n, d, kernel, dilation, padding):
    hw = make_hw(rows=3, cols=5, sram_bytes=4096)
    batch = 2
    layer = {"variant": CONV, "n": n, "d": d, "kernel": kernel, "dilation": dilation, "padding": padding,
             "batch": batch}
    r = one(layer, hw, functional=True, seed=4)
    x, w = r.inputs["X"].astype(np.float64), r.inputs["W"][0].astype(np.float64)
    ref = conv1d(x, w, kernel, dilation, padding)
    assert np.allclose(ref, conv1d_direct(x, w, kernel, dilation, padding), rtol=1e-12, atol=1e-12)
    n_out = n - dilation * (kernel - 1) if padding == "valid" else n
    assert r.outputs["Y"].shape == (batch, n_out, d)
    # one reduction of at most k d products per output (docs/conventions/counting.md §1.6 applied to
    # the im2col GEMM)
    scale = max(np.abs(ref).max(), 1.0)
    assert np.max(np.abs(r.outputs["Y"] - ref)) <= tolerance(kernel * d) * scale
    taps = conv_valid_taps_by_enumeration(n, kernel, dilation, padding)
    assert closed.conv_valid_taps(n, kernel, dilation, padding) == taps
    assert r.macs == closed.conv_macs(n, d, kernel, dilation, padding, batch) == batch * d * d * taps
    assert r.counts[Counter.SLOT_MACS] >= r.macs
    assert r.sequential_steps == 1
    assert vec_ops(r.counts) == {}
    # a streaming (causal or valid) convolution keeps the last dilation (k - 1) inputs per sequence
    state = {} if padding == "same" else {"state_bytes": batch * dilation * (kernel - 1) * d * 4}
    assert _without_shape(r.fields) == {"n": n, "d": d, "kernel": kernel, "batch": batch, "repeat": 1, **state}


def test_conv_closed_forms_over_a_grid():
    """General sum == enumeration; the special cases of docs/conventions/layers.md §3.2 == the general
    sum where they apply."""
    d = 3
    for n in range(1, 19):
        for kernel in range(1, 8):
            for dilation in (1, 2, 3):
                for padding in ("same", "causal", "valid"):
                    if padding == "valid" and n - dilation * (kernel - 1) < 1:
                        continue
                    taps = closed.conv_valid_taps(n, kernel, dilation, padding)
                    assert taps == conv_valid_taps_by_enumeration(n, kernel, dilation, padding)
                    assert taps <= closed.conv_slot_taps_dense(n, kernel, dilation, padding)
                    macs = closed.conv_macs(n, d, kernel, dilation, padding)
                    if padding == "causal" and dilation == 1 and n >= kernel:
                        assert macs == closed.conv_macs_causal_contiguous(n, d, kernel)
                    if padding == "causal" and dilation * (kernel - 1) <= n:
                        assert macs == closed.conv_macs_causal(n, d, kernel, dilation)
                    if padding == "same" and kernel % 2 and dilation * (kernel - 1) // 2 <= n:
                        assert macs == closed.conv_macs_same_odd(n, d, kernel, dilation)
                    if padding == "valid":
                        assert macs == d * d * kernel * (n - dilation * (kernel - 1))   # every tap valid
                        if dilation == 1:
                            assert macs == closed.conv_macs_valid_contiguous(n, d, kernel)


def test_conv_spec_golden_value_and_simulated_counts():
    """docs/conventions/counting.md §2.4: n = d = 512, k = 3 conv row k n d^2 = 402,653,184 slots;
    useful (same) = that minus 2 d^2."""
    assert closed.conv_slot_taps_dense(512, 3) * 512 * 512 == 402_653_184
    r = one({"variant": CONV, "n": 512, "d": 512, "kernel": 3}, make_hw(rows=32, cols=32, sram_bytes=1 << 20))
    assert r.macs == 402_653_184 - 2 * 512 * 512 == closed.conv_macs_same_odd(512, 512, 3, 1)
    causal = one({"variant": CONV, "n": 512, "d": 64, "kernel": 5, "padding": "causal"},
                 make_hw(rows=16, cols=16, sram_bytes=1 << 18))
    assert causal.macs == closed.conv_macs_causal_contiguous(512, 64, 5) == 64 * 64 * (5 * 512 - 10)


def test_conv_im2col_reads_the_input_about_k_times():
    """A is counted as the im2col tiles the DMA gathers: DRAM reads of A >= (k-1) times X's size."""
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 14)
    n, d, kernel = 64, 8, 5
    r = one({"variant": CONV, "n": n, "d": d, "kernel": kernel}, hw)
    a_reads = dram(r.counts, hw, BoundaryCounter.FILL_A)
    assert a_reads >= (kernel - 1) * n * d * 4
    assert dram(r.counts, hw, BoundaryCounter.FILL_B) >= kernel * d * d * 4      # W read at least once


def test_conv_padding_products_are_slots_not_macs():
    hw = make_hw(rows=4, cols=4, sram_bytes=4096)
    r = one({"variant": CONV, "n": 8, "d": 4, "kernel": 7, "padding": "same"}, hw)
    assert r.macs == closed.conv_macs(8, 4, 7) < 7 * 8 * 16
    assert r.counts[Counter.SLOT_MACS] >= 7 * 8 * 16 - 16 * 16     # padded products are issued


def _min_layers_dilated(n: int, k: int) -> int:
    """Smallest L with k^L >= n (ceil(log_k n), computed in integers)."""
    layers, reach = 0, 1
    while reach < n:
        reach *= k
        layers += 1
    return layers


def test_conv_path_length_from_connectivity():
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16)

    def path(**kw):
        return one({"variant": CONV, "d": 2, **kw}, hw).max_path_length

    for n in (2, 9, 17, 40):
        for k in (3, 5, 7):
            assert path(n=n, kernel=k) == math.ceil(2 * (n - 1) / (k - 1))                 # O(n/k), centred
        for k in (2, 3, 4, 6):
            assert path(n=n, kernel=k, padding="causal") == math.ceil((n - 1) / (k - 1))   # O(n/k), causal
            if n > k:
                assert path(n=n, kernel=k, padding="valid") == math.ceil((n - 1) / (k - 1))
            assert path(n=n, kernel=k, padding="causal", stack_dilation="exponential") == _min_layers_dilated(n, k)
        assert path(n=n, kernel=1) is None                                                 # position-wise
        assert path(n=n, kernel=1, stack_dilation="exponential") is None
    assert path(n=20, kernel=2, padding="causal", stack_dilation="exponential") == 5        # ceil(log_2 20)
    assert path(n=81, kernel=3, padding="causal", stack_dilation="exponential") == 4
    assert path(n=82, kernel=3, padding="causal", stack_dilation="exponential") == 5
    # dilated and exponential stacks against a layered BFS over the taps
    # (docs/conventions/layers.md §3.3)
    for n, k, dilation, padding, stacking in ((23, 3, 2, "same", "constant"), (30, 4, 3, "causal", "constant"),
                                              (40, 3, 1, "same", "exponential"), (37, 2, 2, "causal", "exponential"),
                                              (29, 4, 1, "same", "exponential"), (26, 3, 2, "valid", "exponential")):
        def offsets(layer, k=k, dilation=dilation, padding=padding, stacking=stacking):
            dil = dilation * k ** layer if stacking == "exponential" else dilation
            pad = {"same": dil * (k - 1) // 2, "causal": dil * (k - 1), "valid": 0}[padding]
            return [j * dil - pad for j in range(k)]
        got = path(n=n, kernel=k, dilation=dilation, padding=padding, stack_dilation=stacking)
        assert got == hops_by_layered_bfs(n, offsets, n), (n, k, dilation, padding, stacking)
    # exponential stacking reaches far faster than constant dilation
    assert path(n=200, kernel=3, stack_dilation="exponential") < path(n=200, kernel=3) / 10


def test_conv_structure_does_not_depend_on_sizes():
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16)
    steps = {one({"variant": CONV, "n": n, "d": d, "kernel": k, "padding": p, "batch": b}, hw).sequential_steps
             for n, d, k in ((8, 4, 3), (30, 2, 7), (5, 3, 1)) for p in ("same", "causal") for b in (1, 2)}
    assert steps == {1}
    # stack_dilation changes nothing but the path length
    a = one({"variant": CONV, "n": 30, "d": 4, "kernel": 3}, hw)
    b = one({"variant": CONV, "n": 30, "d": 4, "kernel": 3, "stack_dilation": "exponential"}, hw)
    assert np.array_equal(a.counts, b.counts) and a.max_path_length != b.max_path_length


# =================================================================================================
# position_embedding
# =================================================================================================
PE = "position_embedding"


def pe_tolerance(n, y_max):
    """docs/conventions/layers.md §5.3: atol = 3e-7 n_max for fp32 PE, plus the rounding of X + PE."""
    return 3e-7 * n + 4 * U32 * y_max


@pytest.mark.parametrize("mode", ["computed", "table"])
@pytest.mark.parametrize("n,d,batch", [(13, 6, 2), (7, 2, 1), (31, 10, 3)])
def test_pe_matches_reference_and_closed_forms(n, d, batch, mode):
    hw = make_hw(rows=3, cols=5, sram_bytes=4096, lanes=3)
    r = one({"variant": PE, "n": n, "d": d, "mode": mode, "batch": batch}, hw, functional=True, seed=2)
    ref = position_embedding(r.inputs["X"])
    assert np.max(np.abs(r.outputs["Y"] - ref)) <= pe_tolerance(n, np.abs(ref).max())
    assert r.macs == 0 and r.counts[Counter.SLOT_MACS] == 0
    assert vec_ops(r.counts) == closed.position_embedding_ops(n, d, mode, batch)
    assert r.max_path_length is None
    assert r.sequential_steps == (3 if mode == "computed" else 1)
    assert _without_shape(r.fields) == {"n": n, "d": d, "batch": batch, "repeat": 1}
    if mode == "table":
        assert np.allclose(r.inputs["PE"][0], sinusoidal_pe(n, d), rtol=0, atol=U32)


def test_pe_spec_op_counts():
    """docs/conventions/layers.md §5.2 for n = d = 512: d/2 exps, d/2 + n d/2 multiplies, n d/2 sin and
    cos, n d adds."""
    r = one({"variant": PE, "n": 512, "d": 512}, make_hw(sram_bytes=1 << 16, lanes=16))
    assert vec_ops(r.counts) == {"exp": 256, "mul": 256 + 512 * 256, "sin": 512 * 256, "cos": 512 * 256,
                                 "add": 512 * 512}
    t = one({"variant": PE, "n": 512, "d": 512, "mode": "table"}, make_hw(sram_bytes=1 << 16, lanes=16))
    assert vec_ops(t.counts) == {"add": 512 * 512}


def test_pe_error_stays_within_the_position_scaled_tolerance_for_long_sequences():
    """docs/conventions/layers.md §5.3: the fp32 error grows with the position; 3e-7 n_max covers
    it."""
    n, d = 3000, 16
    r = one({"variant": PE, "n": n, "d": d}, make_hw(sram_bytes=1 << 16, lanes=8), functional=True, seed=1)
    x = r.inputs["X"].astype(np.float64)
    err = np.abs((r.outputs["Y"] - x) - sinusoidal_pe(n, d))[0]
    assert err.max() <= pe_tolerance(n, np.abs(x).max() + 1)
    assert err[: n // 10].max() < err.max()           # early positions are more accurate


def test_pe_table_is_read_again_for_every_batch_element():
    hw = make_hw(sram_bytes=1 << 16)
    n, d = 20, 8
    for mode in ("computed", "table"):
        reads = []
        for batch in (1, 3):
            r = one({"variant": PE, "n": n, "d": d, "mode": mode, "batch": batch}, hw)
            add = {o.op: o for o in r.ops}["add"]
            assert dram(add.counts, hw, BoundaryCounter.FILL_A) == 2 * batch * n * d * 4   # X and PE
            assert dram(add.counts, hw, BoundaryCounter.DRAIN_C) == batch * n * d * 4      # Y
            reads.append(dram(r.counts, hw, BoundaryCounter.FILL_A))
        assert reads[1] - reads[0] == 2 * 2 * n * d * 4
    computed = one({"variant": PE, "n": n, "d": d}, hw)
    table = one({"variant": PE, "n": n, "d": d, "mode": "table"}, hw)
    assert computed.cycles > table.cycles
    assert vec_ops(computed.counts)["add"] == vec_ops(table.counts)["add"]


def test_pe_structure_does_not_depend_on_sizes():
    hw = make_hw(sram_bytes=1 << 16)
    for mode, want in (("computed", 3), ("table", 1)):
        got = {(r.sequential_steps, r.max_path_length)
               for r in (one({"variant": PE, "n": n, "d": d, "mode": mode, "batch": b}, hw)
                         for n, d, b in ((1, 2, 1), (17, 8, 2), (64, 4, 1)))}
        assert got == {(want, None)}


# =================================================================================================
# shared: count-only == functional, report columns, validation
# =================================================================================================
def test_count_only_equals_functional_counts():
    hw = make_hw(rows=3, cols=5, sram_bytes=2048)
    layers = [
        {"name": "rsa", "variant": RSA, "n": 19, "d": 6, "window": 7, "batch": 2},
        {"name": "rsa_c", "variant": RSA, "n": 19, "d": 6, "window": 4, "causal": True},
        {"name": "conv", "variant": CONV, "n": 19, "d": 6, "kernel": 4, "dilation": 2, "batch": 2},
        {"name": "conv_v", "variant": CONV, "n": 19, "d": 6, "kernel": 3, "padding": "valid"},
        {"name": "pe", "variant": PE, "n": 19, "d": 6, "batch": 2},
        {"name": "pe_t", "variant": PE, "n": 19, "d": 6, "mode": "table"},
    ]
    for a, b in zip(run(layers, hw), run(layers, hw, functional=True)):
        assert np.array_equal(a.counts, b.counts), a.layer
        assert a.cycles == b.cycles


def test_report_columns_that_do_not_apply_stay_empty():
    hw = make_hw(sram_bytes=1 << 16)
    rs = run([{"name": "a", "variant": RSA, "n": 9, "d": 4, "window": 3},
              {"name": "c", "variant": CONV, "n": 9, "d": 4, "kernel": 3},
              {"name": "p", "variant": PE, "n": 9, "d": 4}], hw)
    frame = to_frame(rs).set_index("layer")
    assert frame.loc["a", ["n", "d", "heads", "window"]].tolist() == [9, 4, 1, 3]
    assert frame.loc["a", ["kernel"]].isna().all()
    assert frame.loc["c", ["n", "d", "kernel"]].tolist() == [9, 4, 3]
    assert frame.loc["c", ["heads", "window"]].isna().all()
    assert frame.loc["p", ["heads", "kernel", "window", "max_path_length"]].isna().all()


@pytest.mark.parametrize("layer,message", [
    ({"variant": RSA, "n": 8, "d": 4, "window": 4},
     "layers[0].window: expected an odd neighbourhood size (the paper's r = 2w+1, centred on the query); got 4. "
     "An even r has no centre: use 3 or 5, or set causal: true for a window ending at the query"),
    ({"variant": RSA, "n": 8, "d": 4, "window": 0}, "layers[0].window: expected an integer in [1, 2^40], got 0"),
    ({"variant": RSA, "n": 8, "d": 4}, "layers[0].window: missing key"),
    ({"variant": RSA, "n": 8, "d": 4, "window": 3, "fused": True}, "layers[0].fused: unknown key"),
    ({"variant": CONV, "n": 5, "d": 4, "kernel": 4, "dilation": 2, "padding": "valid"},
     "layers[0].kernel: valid padding leaves n - dilation*(kernel-1) = 5 - 2*(4-1) = -1 output positions; "
     "need at least 1 (use a smaller kernel or dilation, or padding: same or causal)"),
    ({"variant": CONV, "n": 5, "d": 4, "kernel": 0}, "layers[0].kernel: expected an integer in [1, 2^40], got 0"),
    ({"variant": CONV, "n": 5, "d": 4, "kernel": 3, "dilation": 0},
     "layers[0].dilation: expected an integer in [1, 2^40], got 0"),
    ({"variant": CONV, "n": 5, "d": 4, "kernel": 3, "padding": "Causal"},
     "layers[0].padding: expected one of same, causal, valid; got 'Causal' (did you mean 'causal'?)"),
    ({"variant": CONV, "n": 5, "d": 4, "kernel": 3, "stack_dilation": "log"},
     "layers[0].stack_dilation: expected one of constant, exponential; got 'log'"),
    ({"variant": PE, "n": 5, "d": 7},
     "layers[0].d: expected an even width: the paper's PE(pos, 2i) = sin(pos/10000^(2i/d)) and "
     "PE(pos, 2i+1) = cos(pos/10000^(2i/d)) fill channels in pairs, so an odd d leaves the last channel "
     "undefined; got 7"),
    ({"variant": PE, "n": 5, "d": 8, "mode": "cached"},
     "layers[0].mode: expected one of computed, table; got 'cached'"),
    ({"variant": PE, "n": 0, "d": 8}, "layers[0].n: expected an integer in [1, 2^40], got 0"),
])
def test_bad_parameters(layer, message):
    with pytest.raises(ConfigError) as exc:
        load_workload({"name": "t", "layers": [layer]})
    assert message in str(exc.value)


def test_even_window_is_fine_when_causal_and_valid_length_one_is_fine():
    even = one({"variant": RSA, "n": 8, "d": 2, "window": 4, "causal": True})
    assert even.macs == closed.restricted_macs(8, 2, 4, True) == 2 * 2 * (8 * 4 - 6)
    r = one({"variant": CONV, "n": 7, "d": 2, "kernel": 4, "dilation": 2, "padding": "valid"})
    assert r.macs == 4 * 4 * 1


def test_cli_validate_lists_every_local_problem(tmp_path, capsys):
    path = tmp_path / "bad_local.yaml"
    path.write_text("name: bad\nlayers:\n"
                    "  - {variant: restricted_self_attention, n: 8, d: 4, window: 6}\n"
                    "  - {variant: convolutional, n: 3, d: 4, kernel: 3, dilation: 2, padding: valid}\n"
                    "  - {variant: position_embedding, n: 8, d: 5}\n")
    assert cli.main(["validate", str(path)]) == 2
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    for key in ("layers[0].window", "layers[1].kernel", "layers[2].d"):
        assert key in err


def _without_shape(fields) -> dict:
    """The layer's report fields but the `shape` text (its format is tested in test_terminal.py),
    which must still name n."""
    assert f"n={fields['n']}" in fields["shape"]
    return {k: v for k, v in fields.items() if k != "shape"}
