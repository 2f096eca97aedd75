"""The strict YAML loader: duplicate keys rejected, exponent floats, YAML 1.1 booleans kept, clear errors."""
from __future__ import annotations

import pytest

from simulator.errors import ConfigError
from simulator import yaml_io
from simulator.yaml_io import load_file, loads


def problem_text(exc: ConfigError) -> str:
    assert len(exc.problems) == 1
    return exc.problems[0][1]


# --- duplicate keys -------------------------------------------------------------------------------
def test_duplicate_top_level_key_names_key_and_both_lines():
    with pytest.raises(ConfigError) as info:
        loads("name: a\nclock_hz: 1\nname: b\n", "hw.yaml")
    msg = problem_text(info.value)
    assert "duplicate key 'name'" in msg
    assert "line 3" in msg                # where the second one is
    assert "first at line 1" in msg       # where the first one was
    assert str(info.value).startswith("hw.yaml: 1 problem\n")


def test_duplicate_nested_key():
    text = "mac_array:\n  rows: 4\n  cols: 4\n  rows: 8\n"
    with pytest.raises(ConfigError) as info:
        loads(text, "hw.yaml")
    msg = problem_text(info.value)
    assert "duplicate key 'rows'" in msg
    assert "line 4, column 3" in msg and "first at line 2" in msg


def test_duplicate_key_in_flow_mapping():
    with pytest.raises(ConfigError) as info:
        loads("cycles_per_op: {add: 1, mul: 1, add: 2}\n", "hw.yaml")
    assert "duplicate key 'add'" in problem_text(info.value)
    assert "line 1" in problem_text(info.value)


def test_duplicate_key_message_says_why_it_matters():
    with pytest.raises(ConfigError) as info:
        loads("a: 1\na: 2\n")
    assert "YAML would silently keep only the last value" in problem_text(info.value)


def test_same_key_in_different_mappings_is_fine():
    data = loads("- {name: sram, size_bytes: 1}\n- {name: dram, size_bytes: null}\n")
    assert [d["name"] for d in data] == ["sram", "dram"]


def test_merge_key_override_is_not_a_duplicate():
    text = "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  x: 3\n"
    assert loads(text) == {"base": {"x": 1, "y": 2}, "derived": {"x": 3, "y": 2}}


def test_two_merge_keys_in_one_mapping_are_duplicates():
    with pytest.raises(ConfigError) as info:
        loads("a: {<<: {c: 2}, <<: {c: 3}}\n")
    assert "duplicate key '<<'" in problem_text(info.value)


def test_unhashable_key_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        loads("? [1, 2]\n: 3\n", "x.yaml")
    assert "unhashable key [1, 2]" in problem_text(info.value)
    assert "line 1" in problem_text(info.value)


# --- numbers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("1e-3", 1e-3), ("1.0e+9", 1.0e9), ("1e9", 1e9), ("-3e2", -300.0), ("+1e3", 1000.0), ("1E3", 1000.0),
    ("2.5e-12", 2.5e-12), ("1.5", 1.5), ("1.", 1.0), (".5", 0.5), ("-.5", -0.5), (".5e3", 500.0),
    ("1_000.5", 1000.5),
])
def test_exponent_and_decimal_floats(text, value):
    got = loads(f"x: {text}\n")["x"]
    assert isinstance(got, float)
    assert got == value


@pytest.mark.parametrize("text, value", [("10", 10), ("0", 0), ("-3", -3), ("1_000", 1000), ("+7", 7)])
def test_ints_stay_ints(text, value):
    got = loads(f"x: {text}\n")["x"]
    assert type(got) is int
    assert got == value


def test_infinity_and_nan_are_floats():
    data = loads("a: .inf\nb: -.inf\nc: .nan\n")
    assert data["a"] == float("inf") and data["b"] == float("-inf") and data["c"] != data["c"]


@pytest.mark.parametrize("text", ["1e", "e9", "'1e-3'", "._", "1.2.3", "0.5GHz"])
def test_not_numbers_stay_strings(text):
    assert isinstance(loads(f"x: {text}\n")["x"], str)


@pytest.mark.parametrize("text, value", [
    ("yes", True), ("no", False), ("on", True), ("off", False), ("true", True), ("False", False),
])
def test_yes_no_stay_booleans(text, value):
    got = loads(f"x: {text}\n")["x"]
    assert got is value


def test_null_and_strings():
    assert loads("a: null\nb: ~\nc:\nd: sram\n") == {"a": None, "b": None, "c": None, "d": "sram"}


def test_empty_text_is_none():
    assert loads("") is None
    assert loads("# only a comment\n") is None


# --- syntax errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("text, where", [
    ("a: [1, 2\n", "line 2, column 1"),
    ("a: b: c\n", "line 1, column 5"),
    ("\tfoo: 1\n", "line 1, column 1"),
    ("a:\n  b: 1\n c: 2\n", "line 3, column 2"),
])
def test_syntax_error_gives_line_and_column(text, where):
    with pytest.raises(ConfigError) as info:
        loads(text, "bad.yaml")
    exc = info.value
    assert exc.source == "bad.yaml"
    msg = problem_text(exc)
    assert msg.startswith(f"YAML error at {where}: ")
    assert str(exc).startswith("bad.yaml: 1 problem\n  YAML error at ")


def test_python_tags_are_refused():
    with pytest.raises(ConfigError) as info:
        loads("a: !!python/object/apply:os.system ['true']\n")
    assert "could not determine a constructor" in problem_text(info.value)


def test_several_documents_are_refused():
    with pytest.raises(ConfigError) as info:
        loads("a: 1\n---\nb: 2\n", "two.yaml")
    assert "expected a single document" in problem_text(info.value)


# --- files ----------------------------------------------------------------------------------------
def test_load_file_returns_data_and_text(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("x: 1e-3\n")
    data, text = load_file(path)
    assert data == {"x": 1e-3} and text == "x: 1e-3\n"


def test_load_file_error_names_the_file(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("x: 1\nx: 2\n")
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert info.value.source == str(path)
    assert str(info.value).startswith(f"{path}: 1 problem\n")
    assert "duplicate key 'x'" in str(info.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert str(info.value) == f"{path}: 1 problem\n  file not found"


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_file(tmp_path)
    assert str(info.value) == f"{tmp_path}: 1 problem\n  is a directory, expected a YAML file"


def test_binary_file(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00a: 1")
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert problem_text(info.value) == "cannot read: not UTF-8 text (byte 0xff at offset 0); is this a YAML file?"


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.yaml"
    path.write_text("a: 1\n")

    def refuse(name, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(name))

    monkeypatch.setattr(yaml_io.os, "open", refuse)   # chmod 0 does not stop root
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert str(info.value) == f"{path}: 1 problem\n  cannot read: Permission denied"
