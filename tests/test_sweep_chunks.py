"""How a sweep's pending points are cut into chunks (sweep/store.py): every pending point exactly
once, boundaries at multiples of the chunk size, the size a multiple of the grid's inner period."""
import math

from hypothesis import given, settings, strategies as st

from simulator.sweep.store import auto_chunk_size, inner_periods, pending_ranges


@st.composite
def done_and_size(draw):
    n = draw(st.integers(0, 300))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=10)))
    done = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2) if cuts[i] < cuts[i + 1]]
    return n, done, draw(st.integers(1, 40))


@settings(max_examples=300, deadline=None)
@given(done_and_size())
def test_pending_ranges_cover_the_rest_once_cut_at_multiples(case):
    n, done, size = case
    ranges = pending_ranges(n, done, size)
    covered = [p for a, b in ranges for p in range(a, b)]
    saved = {p for a, b in done for p in range(a, b)}
    assert covered == [p for p in range(n) if p not in saved]          # each once, in order
    for a, b in ranges:
        assert 0 < b - a <= size and (b - 1) // size == a // size      # inside one aligned block


def test_inner_periods_are_the_products_from_the_fastest_axis():
    assert inner_periods([11, 11, 7, 3]) == (3, 21, 231, 2541)
    assert inner_periods([]) == ()


@given(st.floats(0, 1), st.integers(1, 10**6), st.integers(1, 8),
       st.lists(st.integers(1, 12), min_size=1, max_size=5))
def test_chunk_size_is_a_fitting_multiple_of_the_largest_inner_period(per_point, pending, workers, lengths):
    periods = inner_periods(lengths)
    size = auto_chunk_size(per_point, pending, workers, periods=periods)
    plain = auto_chunk_size(per_point, pending, workers)
    fitting = [p for p in periods if 2 <= p <= plain]
    assert 1 <= size <= plain <= 1000 and plain <= max(1, math.ceil(pending / (16 * workers)))
    if fitting:
        assert size % max(fitting) == 0 and size > plain - max(fitting)
    else:
        assert size == plain
