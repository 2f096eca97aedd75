"""A data frame as CSV text, the same bytes as pandas' `to_csv(index=False)`, several times faster.

A big sweep's results.csv is millions of rows: pandas formats them in Python, cell by cell. Here
integer columns are formatted by Arrow, floats by `repr` (pandas' own format: the shortest text that
reads back to the same number; NaN as an empty cell), text columns once per distinct value, and the
rows joined by Arrow. Quoting follows the csv module's minimal rule, as pandas does. Without pyarrow,
or for a column type not handled here, pandas writes the frame. tests/test_csvtext.py checks the
bytes against pandas on random frames.
"""
from __future__ import annotations

import numpy as np
import pandas as pd



def _special_characters() -> tuple[str, ...]:
    """The characters that make the csv module quote a field (pandas writes through it; Python
    versions differ on a lone carriage return), found by asking it."""
    import csv
    import io

    found = []
    for ch in [chr(c) for c in range(32)] + [",", '"', "\x7f"]:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(["a" + ch, "b"])
        if buf.getvalue().startswith('"'):
            found.append(ch)
    return tuple(found)


_SPECIAL = _special_characters()
_SPECIAL_PATTERN = "[" + "".join(f"\\x{{{ord(ch):02x}}}" for ch in _SPECIAL) + "]"     # RE2, for Arrow


def frame_csv(frame: pd.DataFrame, header: bool = True) -> str:
    """`frame.to_csv(index=False, header=header)`."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        return frame.to_csv(index=False, header=header)
    if frame.shape[1] < 2 or not len(frame) or not frame.columns.is_unique:
        return frame.to_csv(index=False, header=header)     # the csv module's one-column and empty cases
    cells = [_column_text(frame.iloc[:, i], pa, pc) for i in range(frame.shape[1])]
    if any(c is None for c in cells):
        return frame.to_csv(index=False, header=header)
    rows = pc.binary_join_element_wise(*cells, ",").to_pylist()
    head = ",".join(_quoted(str(c)) for c in frame.columns) + "\n" if header else ""
    return head + "\n".join(rows) + "\n"


def _quoted(text: str) -> str:
    if any(ch in text for ch in _SPECIAL):
        return '"' + text.replace('"', '""') + '"'
    return text


def _float_text(v: float) -> str:
    return "" if v != v else repr(v)


def _column_text(column: pd.Series, pa, pc):
    """The column's cells as an Arrow string array, or None for a type left to pandas."""
    dtype = column.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(dtype):
        return pc.fill_null(pc.cast(pa.array(column, from_pandas=True), pa.string()), "")   # nullable: NA empty
    if isinstance(dtype, pd.StringDtype):               # pandas 3's default for text
        plain = _plain_text(column, pa, pc)
        if plain is not None:
            return plain
        dtype, column = np.dtype(object), column.astype(object)
    if not isinstance(dtype, np.dtype):
        return None                                     # other extension types (nullable, categorical, ...)
    values = column.to_numpy()
    if dtype.kind in "iu":
        return pc.cast(pa.array(values), pa.string())
    if dtype.kind == "f":
        zeros = values == 0
        if zeros.any() and np.signbit(values[zeros]).any():      # factorize would merge -0.0 into 0.0
            return pa.array([_float_text(v) for v in values.tolist()], pa.string())
        codes, uniques = pd.factorize(values, use_na_sentinel=True)   # sweeps repeat values: each once
        return _taken([repr(v) for v in uniques.tolist()], codes, pa)
    if dtype.kind == "b":
        return pa.array(np.where(values, "True", "False").tolist(), pa.string())
    if dtype.kind != "O":
        return None
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        codes, uniques = pd.factorize(values, use_na_sentinel=True)    # text and missing cells only
        return _taken([_quoted(u) for u in uniques], codes, pa)
    return pa.array(["" if _missing(v) else _quoted(str(v)) for v in values.tolist()], pa.string())


def _plain_text(column: pd.Series, pa, pc):
    """A text column's cells as Arrow holds them (missing ones empty) when none needs quoting, the
    common case (names, hashes, paths); else None. No cell becomes a Python object."""
    values = pa.array(column.array)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    if len(values) and pc.any(pc.match_substring_regex(values, _SPECIAL_PATTERN)).as_py():
        return None
    return pc.fill_null(values, "")


def _taken(texts: list, codes: np.ndarray, pa):
    """The cells `texts[code]`, an empty cell for code -1 (missing)."""
    table = pa.array(texts + [""], pa.string())
    return table.take(pa.array(np.where(codes < 0, len(texts), codes)))


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)
