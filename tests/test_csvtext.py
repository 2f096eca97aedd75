"""csvtext.frame_csv against pandas' own to_csv, byte for byte, on random frames."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.csvtext import frame_csv

pytest.importorskip("pyarrow")

FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e16, 1e15, 9999999999999998.0, 1e-4, 1e-5, 0.1 + 0.2, 2.0 ** 53, 5e-324, 1e22])
TEXT = st.text(alphabet=st.sampled_from(list("ab ,\"\n\r;'x\t\u00e9\u4e2d")), max_size=6)
ODD = st.one_of(st.none(), st.just(np.nan), st.integers(-10 ** 20, 10 ** 20), FLOATS, st.booleans(), TEXT)


def columns(n: int):
    ints = st.lists(st.integers(-2 ** 63, 2 ** 63 - 1), min_size=n, max_size=n).map(lambda v: np.array(v, np.int64))
    uints = st.lists(st.integers(0, 2 ** 64 - 1), min_size=n, max_size=n).map(lambda v: np.array(v, np.uint64))
    floats = st.lists(FLOATS, min_size=n, max_size=n).map(lambda v: np.array(v, np.float64))
    bools = st.lists(st.booleans(), min_size=n, max_size=n).map(lambda v: np.array(v, bool))
    texts = st.lists(st.one_of(st.none(), TEXT), min_size=n, max_size=n).map(lambda v: np.array(v, object))
    mixed = st.lists(ODD, min_size=n, max_size=n).map(lambda v: np.array(v + [object()], object)[:-1])
    nullable = st.lists(st.one_of(st.none(), st.integers(-2 ** 63, 2 ** 63 - 1)), min_size=n, max_size=n).map(
        lambda v: pd.array(v, dtype="Int64"))
    typed_text = st.tuples(st.lists(st.one_of(st.none(), TEXT), min_size=n, max_size=n),
                           st.sampled_from(["string", "str"])).map(lambda a: pd.array(a[0], dtype=a[1]))
    return st.one_of(ints, uints, floats, bools, texts, mixed, nullable, typed_text)


@st.composite
def frames(draw):
    n = draw(st.integers(0, 8))
    width = draw(st.integers(1, 6))
    names = draw(st.lists(TEXT, min_size=width, max_size=width, unique=True))
    return pd.DataFrame({name: draw(columns(n)) for name in names})


@settings(max_examples=300, deadline=None)
@given(frames(), st.booleans())
def test_same_bytes_as_pandas(frame, header):
    assert frame_csv(frame, header) == frame.to_csv(index=False, header=header)


def test_a_results_like_frame():
    rng = np.random.default_rng(1)
    n = 2000
    frame = pd.DataFrame({"point_id": np.arange(n), "cycles": rng.integers(0, 2 ** 62, n),
                          "seconds": rng.standard_normal(n) * 10.0 ** rng.integers(-12, 12, n),
                          "energy_pj": np.where(rng.random(n) < 0.1, np.nan, rng.random(n) * 1e9),
                          "layer": rng.choice(["qk", "proj", "a,b", 'say "hi"'], n),
                          "window": np.array([None if i % 3 else i for i in range(n)], object),
                          "fell_back": rng.random(n) < 0.5})
    assert frame_csv(frame) == frame.to_csv(index=False)
    assert frame_csv(frame, header=False) == frame.to_csv(index=False, header=False)
