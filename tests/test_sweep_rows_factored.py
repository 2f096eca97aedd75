"""A chunk keeps its rows factored (evaluate.ChunkResult: priced cells plus a table of distinct row
parts); the report builds its columns from that (tables._raw_rows) instead of from each row. Held
here: the columns equal, value and type, what pandas makes of the whole rows (DataFrame(rows), what
the report built before), and the CSV text is the same bytes, on random chunks whose parts mix value
types within a column (ints beyond 2^53 and 2^63, -0.0, NaN, infinities, None, text, bools), hold
parts no row uses, share parts between rows, and overlap (a resumed run's chunks)."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.csvtext import frame_csv
from simulator.sweep.evaluate import ChunkResult
from simulator.sweep.rows import HEAD_LENGTH, MIDDLE_LENGTH, ROW_COLUMNS, TAIL_LENGTH
from simulator.sweep.tables import _raw_rows

ENERGY = ("energy_a_pj", "energy_b_pj")
SPEC = SimpleNamespace(energy_columns=ENERGY)
NAMES = ["point_id", "_case", *ROW_COLUMNS, *ENERGY]

_VALUES = {
    "int": st.integers(-5, 5) | st.sampled_from([2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64 + 3, -2 ** 63]),
    "float": st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1.0]),
    "none": st.none(),
    "text": st.sampled_from(["a", "b,c", 'q"t', ""]),
    "bool": st.booleans(),
}


@st.composite
def column_kinds(draw, n: int):
    """Per column, the value kinds its cells may take (mostly one, sometimes two or three)."""
    names = list(_VALUES)
    return [draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)) for _ in range(n)]


@st.composite
def chunks(draw):
    n_fixed = HEAD_LENGTH + MIDDLE_LENGTH + TAIL_LENGTH
    kinds = draw(column_kinds(n_fixed))
    priced_kinds = draw(column_kinds(2 + len(ENERGY)))

    def value(kind_list):
        return draw(st.sampled_from(kind_list).flatmap(lambda k: _VALUES[k]))

    out, start = [], 0
    for _ in range(draw(st.integers(1, 3))):
        n_points = draw(st.integers(1, 4))
        overlap = draw(st.integers(0, min(start, 2)))       # a resumed chunk may start inside the last
        first = start - overlap
        parts = []
        for _ in range(draw(st.integers(1, 4))):
            fixed = [value(k) for k in kinds]
            parts.append((tuple(fixed[:HEAD_LENGTH]), tuple(fixed[HEAD_LENGTH:HEAD_LENGTH + MIDDLE_LENGTH]),
                          tuple(fixed[HEAD_LENGTH + MIDDLE_LENGTH:])))
        cells = []
        for pid in range(first, first + n_points):
            for case in range(draw(st.integers(0, 2))):
                for _ in range(draw(st.integers(1, 2))):
                    used = draw(st.integers(0, len(parts) - 1))
                    priced = [value(k) for k in priced_kinds]
                    cells.append([pid, case, used, *priced])
        out.append(ChunkResult(first, first + n_points, [], cells, [], [], parts))
        start = first + n_points
    return out


def _whole_rows(chunks_) -> pd.DataFrame:
    """The report's columns as it built them before: pandas typing the whole rows, each point once."""
    rows, covered = [], 0
    for c in sorted(chunks_, key=lambda c: c.start):
        rows.extend(r for r in c.rows if r[0] >= covered)
        covered = max(covered, c.stop)
    return pd.DataFrame(rows, columns=NAMES)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")    # NaN to Int64, refused
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks())
def test_columns_from_factored_rows_equal_pandas_typing_the_whole_rows(chunks_):
    whole = _whole_rows(chunks_)
    factored = _raw_rows(SPEC, chunks_)
    assert sorted(factored) == sorted(NAMES)
    built = pd.DataFrame({c: factored[c] for c in NAMES})
    for name in NAMES:
        pd.testing.assert_series_equal(built[name], whole[name], check_names=False)
    if len(whole):
        assert frame_csv(built) == frame_csv(whole)
    expected = {}
    for name in ("n", "kv_cache_bytes", "state_bytes", "energy_a_pj"):     # where Int64 can hold the values
        try:
            expected[name] = whole[name].astype("Int64")
        except (TypeError, ValueError, OverflowError):
            continue
    typed = _raw_rows(SPEC, chunks_, nullable=tuple(expected))
    for name, column in expected.items():   # made Int64 on the parts' table, as astype on the whole column
        pd.testing.assert_series_equal(typed[name], column, check_names=False)


def test_the_row_of_a_cell_is_its_part_around_its_priced_values():
    """ChunkResult.rows puts each cell's priced values between its part's head, middle and tail,
    where ROW_COLUMNS has seconds and energy_pj."""
    head = tuple(f"h{i}" for i in range(HEAD_LENGTH))
    middle = tuple(f"m{i}" for i in range(MIDDLE_LENGTH))
    tail = tuple(f"t{i}" for i in range(TAIL_LENGTH))
    chunk = ChunkResult(7, 8, [], [[7, 1, 0, "sec", "pj", 1.5, 2.5]], [], [], [(head, middle, tail)])
    row = dict(zip(NAMES, chunk.rows[0]))
    assert (row["point_id"], row["_case"], row["seconds"], row["energy_pj"]) == (7, 1, "sec", "pj")
    assert [row[c] for c in ENERGY] == [1.5, 2.5]
    assert [row[c] for c in ROW_COLUMNS if c not in ("seconds", "energy_pj")] == [*head, *middle, *tail]
