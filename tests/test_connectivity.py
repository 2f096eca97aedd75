"""Path length search == a plain set-based search over stacked layers, and the paper's orders."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.connectivity import Chain, Pointwise, Ranges, Taps, max_path_length


def reference(n, reads_for_layer, depth):
    """reads_for_layer(layer, i) -> input positions output i reads; largest first-reach distance."""
    reads = [[set(reads_for_layer(layer, i)) for i in range(n)] for layer in range(depth)]
    best = 0
    for j in range(n):
        reach, first = {j}, {}
        for layer in range(depth):
            reach = {i for i in range(n) if not reads[layer][i].isdisjoint(reach)}
            for i in reach:
                first.setdefault(i, layer + 1)
        best = max([best] + [d for i, d in first.items() if i != j])
    return best or None


@st.composite
def windows(draw):
    n = draw(st.integers(1, 30))
    kind = draw(st.sampled_from(["band", "causal", "causal_band", "random"]))
    idx = np.arange(n)
    if kind == "band":
        w = draw(st.integers(0, n))
        lo, hi = np.clip(idx - w, 0, n), np.clip(idx + w + 1, 0, n)
    elif kind == "causal":
        lo, hi = np.zeros(n, int), idx + 1
    elif kind == "causal_band":
        r = draw(st.integers(1, n + 1))
        lo, hi = np.clip(idx - r + 1, 0, n), idx + 1
    else:
        lo = np.array([draw(st.integers(0, n)) for _ in range(n)])
        hi = np.array([draw(st.integers(int(a), n)) for a in lo])
    return n, lo, hi


@settings(max_examples=150, deadline=None)
@given(case=windows())
def test_ranges_match_reference(case):
    n, lo, hi = case
    want = reference(n, lambda layer, i: range(lo[i], hi[i]), depth=2 * n + 2)
    assert max_path_length(Ranges(lo, hi, n)) == want


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(2, 5), dilation=st.integers(1, 4),
       padding=st.sampled_from(["same", "causal"]), growth=st.sampled_from([1, "k"]))
def test_taps_match_reference(n, k, dilation, padding, growth):
    def offsets(layer):
        d = dilation * (k ** layer if growth == "k" else 1)
        pad = d * (k - 1) // 2 if padding == "same" else d * (k - 1)
        return np.arange(k) * d - pad

    def reads(layer, i):
        return [i + o for o in offsets(layer) if 0 <= i + o < n]

    depth = 4 * n + 4 if growth == 1 else max(2, math.ceil(math.log(4 * n, k)) + 3)
    want = reference(n, reads, depth)
    assert max_path_length(Taps(n, offsets, constant=(growth == 1))) == want


def test_chain_is_n_hops_and_pointwise_has_no_path():
    assert max_path_length(Chain(50)) == 50
    assert max_path_length(Chain(1)) is None
    assert max_path_length(Pointwise(17)) is None


@pytest.mark.parametrize("n", [64, 257, 1024])
def test_paper_orders(n):
    idx = np.arange(n)
    assert max_path_length(Ranges(np.zeros(n, int), np.full(n, n), n)) == 1                 # self-attention
    w = 8
    band = Ranges(np.clip(idx - w, 0, n), np.clip(idx + w + 1, 0, n), n)
    assert max_path_length(band) == math.ceil((n - 1) / w)                                   # O(n/r)
    k = 3
    same = Taps(n, lambda layer: np.arange(k) - (k - 1) // 2)
    assert max_path_length(same) == math.ceil(2 * (n - 1) / (k - 1))                          # O(n/k)
    dilated = Taps(n, lambda layer: (np.arange(k) - (k - 1)) * k ** layer, constant=False)
    assert max_path_length(dilated) == math.ceil(math.log(n, k) - 1e-12)                       # O(log_k n)


def test_cross_attention_is_one_hop():
    assert max_path_length(Ranges(np.zeros(5, int), np.full(5, 9), 9)) == 1
    assert max_path_length(Ranges(np.zeros(5, int), np.zeros(5, int), 9)) is None
