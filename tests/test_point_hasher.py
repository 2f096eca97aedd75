"""grid.PointHasher: the templated hash equals point_hash of the point's whole dict, whatever the
swept keys and values (new keys, nested values, floats, text needing escapes, key order)."""
from pathlib import Path

import yaml
from hypothesis import given, settings, strategies as st

from simulator.sweep.grid import PointHasher, apply_values, point_hash, split_key

ROOT = Path(__file__).resolve().parent.parent
BASE = yaml.safe_load((ROOT / "hw_configs" / "default.yaml").read_text())

KEYS = ["mac_array.rows", "mac_array.cols", "memories[0].size_bytes", "memories[1].read_bw_bytes_per_cycle",
        "mac_array.dataflow", "clock_ghz", "new_key", "mac_array.new_nested", "memories[0].name", "area"]
scalars = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.none(), st.text(max_size=8))
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=4), scalars, max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(KEYS), min_size=1, max_size=5, unique=True), st.data())
def test_templated_hash_equals_the_whole_dicts(keys, data):
    parts = tuple(split_key(k) for k in keys)
    hasher = PointHasher(BASE, parts)
    assert hasher.pieces is not None            # no key here lies inside another
    for _ in range(3):
        point = [data.draw(values) for _ in keys]
        whole = apply_values(BASE, parts, point)
        assert hasher(point, whole) == point_hash(whole)


def test_a_key_inside_another_falls_back_to_the_whole_dict():
    parts = (split_key("mac_array"), split_key("mac_array.rows"))
    hasher = PointHasher(BASE, parts)
    assert hasher.pieces is None
    point = [{"rows": 8, "cols": 8}, 16]
    whole = apply_values(BASE, parts, point)
    assert hasher(point, whole) == point_hash(whole)


def test_values_that_look_like_the_markers_do_not_confuse_it():
    parts = (split_key("mac_array.dataflow"), split_key("new_key"))
    hasher = PointHasher(BASE, parts)
    point = ["\0attnsim-slot-1\0", "\0attnsim-slot-0\0"]
    whole = apply_values(BASE, parts, point)
    assert hasher.pieces is not None and hasher(point, whole) == point_hash(whole)


def test_value_objects_that_come_back_hash_as_their_dicts():
    """The hasher keeps each scalar value's text per object: the grid's own values come back at
    many points. Equal values of other types or signs (0.0 and -0.0, 1 and True) and lists changed
    in place between points still hash as their whole dicts."""
    parts = (split_key("clock_ghz"), split_key("new_key"))
    hasher = PointHasher(BASE, parts)
    listed = [1, 2]
    grid = [0.0, -0.0, 1, True, 1.0, "1", None, listed]
    for _ in range(2):
        for a in grid:
            for b in grid:
                whole = apply_values(BASE, parts, [a, b])
                assert hasher([a, b], whole) == point_hash(whole)
        listed.append(3)
