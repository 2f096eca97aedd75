"""The sweep file's `zip` section: groups of keys whose values go together, one row per level.

Accepted forms (docs/sweeps.md):

    zip:                                   # a list of groups
      - mac_array.rows: [8, 16, 32]        # by columns: the i-th values of each key form row i
        mac_array.cols: [8, 32, 32]
      - [[memories[0].size_bytes, memories[0].read_bw_bytes_per_cycle], [[131072, 64], [524288, 128]]]
    zip: [[mac_array.rows, mac_array.cols], [[8, 8], [16, 32]]]      # one group by rows, unwrapped
"""
from __future__ import annotations

import json
from typing import Any

from ..checks import Checker, describe, join
from .grid import KEY, is_value


def parse_zip(chk: Checker, value: Any) -> list[tuple[tuple, tuple]] | None:
    """[(keys, rows), ...] per group, or None when something is wrong (reported)."""
    if isinstance(value, dict) or _row_form(value):
        value = [value]
    if not isinstance(value, list) or not value:
        got = "an empty list" if value == [] else describe(value)
        chk.add("zip", f"expected a list of groups ({{key: [values], ...}} or [[keys], [[values], ...]]), got {got}")
        return None
    groups = [_group(chk, join("zip", i), g) for i, g in enumerate(value)]
    return None if None in groups else groups


def _row_form(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], list) and bool(value[0])
            and all(isinstance(k, str) for k in value[0]) and isinstance(value[1], list))


def _group(chk: Checker, path: str, group: Any):
    if isinstance(group, dict):
        return _columns(chk, path, group)
    if _row_form(group):
        return _rows(chk, path, group[0], group[1])
    chk.add(path, f"expected a mapping of keys to equally long lists of values, or [[keys], [[values], ...]], "
                  f"got {describe(group)}")
    return None


def _columns(chk: Checker, path: str, group: dict):
    before = len(chk.problems)
    if not group:
        chk.add(path, "expected at least one key, got an empty mapping")
    for key, column in group.items():
        _check_key(chk, path, key)
        if not isinstance(column, list) or not column:
            chk.add(f"{path}.{key}", f"expected a non-empty list of values, got {describe(column)}")
        elif not all(is_value(v) for v in column):
            chk.add(f"{path}.{key}", "expected numbers, strings or booleans (or lists of them), got "
                                     f"{describe(next(v for v in column if not is_value(v)))}")
    if len(chk.problems) > before:
        return None
    keys = list(group)
    lengths = {k: len(v) for k, v in group.items()}
    for key in keys[1:]:
        if lengths[key] != lengths[keys[0]]:
            chk.add(f"{path}.{key}", f"has {lengths[key]} values, but {keys[0]} has {lengths[keys[0]]}; the keys of a "
                                     f"zip group list one value per row")
            return None
    return _distinct_rows(chk, path, tuple(keys), [tuple(row) for row in zip(*group.values())])


def _rows(chk: Checker, path: str, keys: list, rows: Any):
    before = len(chk.problems)
    for key in keys:
        _check_key(chk, path, key)
    if len(set(keys)) < len(keys):
        chk.add(path, f"lists the key {next(k for k in keys if keys.count(k) > 1)} twice")
    if not isinstance(rows, list) or not rows:
        chk.add(path, f"expected a non-empty list of rows after the keys, got {describe(rows)}")
        return None
    for r, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(keys):
            got = f"{len(row)} values" if isinstance(row, list) else describe(row)
            chk.add(join(join(path, 1), r), f"expected a row of {len(keys)} values (one per key: "
                                            f"{', '.join(keys)}), got {got}")
        elif not all(is_value(v) for v in row):
            chk.add(join(join(path, 1), r), "expected numbers, strings or booleans (or lists of them), got "
                                            f"{describe(next(v for v in row if not is_value(v)))}")
    if len(chk.problems) > before:
        return None
    return _distinct_rows(chk, path, tuple(keys), [tuple(row) for row in rows])


def _check_key(chk: Checker, path: str, key: Any) -> None:
    if not isinstance(key, str) or not KEY.match(key):
        chk.add(join(path, str(key)), "expected a dotted key such as mac_array.rows or memories[0].size_bytes")


def _distinct_rows(chk: Checker, path: str, keys: tuple, rows: list[tuple]):
    texts = [json.dumps(row, sort_keys=True) for row in rows]
    dupes = sorted({t for t in texts if texts.count(t) > 1})
    if dupes:
        chk.add(path, f"lists the row {', '.join(dupes)} more than once (each row makes its own points)")
        return None
    return keys, tuple(rows)
