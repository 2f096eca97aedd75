"""Every problem of the zip, tied, derived and constraints sections, asserted by its key path and text
(expression problems with the caret under the offending part), and per-point errors with the point."""
from __future__ import annotations

import pytest

from simulator import cli
from simulator.sweep.spec import load_sweep
from tests.helpers import hw_dict
from tests.test_sweep_expand import problems, write

GRID = {"mac_array.rows": [2, 4], "mac_array.dataflow": ["weight_stationary", "output_stationary"]}
GRID3 = {**GRID, "mac_array.dataflow": ["weight_stationary", "output_stationary", "input_stationary"]}


def only(path, key) -> str:
    found = problems(path)
    assert key in found, found
    return found[key]


# --- zip ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("zip_value, key, message", [
    ({"mac_array.rows": [2, 4], "mac_array.cols": [4]}, "zip[0].mac_array.cols",
     "has 1 values, but mac_array.rows has 2; the keys of a zip group list one value per row"),
    ([[["mac_array.rows", "mac_array.cols"], [[2, 4], [2, 4]]]], "zip[0]",
     "lists the row [2, 4] more than once (each row makes its own points)"),
    ([[["mac_array.rows", "mac_array.cols"], [[2, 4], [8]]]], "zip[0][1][1]",
     "expected a row of 2 values (one per key: mac_array.rows, mac_array.cols), got 1 values"),
    ([[["mac_array.rows", "mac_array.rows"], [[2, 4]]]], "zip[0]", "lists the key mac_array.rows twice"),
    ([{"mac_array.rows": 4}], "zip[0].mac_array.rows", "expected a non-empty list of values, got 4"),
    ([{"mac_array.rows": [{"a": 1}]}], "zip[0].mac_array.rows",
     "expected numbers, strings or booleans (or lists of them), got a mapping"),
    ([{}], "zip[0]", "expected at least one key, got an empty mapping"),
    ([3], "zip[0]", "expected a mapping of keys to equally long lists of values, or [[keys], [[values], ...]], got 3"),
    ("rows", "zip", "expected a list of groups ({key: [values], ...} or [[keys], [[values], ...]]), got 'rows'"),
    ([{"mac_array.row": [2], "mac_array.cols": [4]}], "zip[0].mac_array.row",
     "not a hardware key: mac_array.row is unknown (did you mean 'mac_array.rows'?)"),
    ([{"mac_array.rows": [8], "vector_unit.lanes": [4]}], "zip[0].mac_array.rows",
     "mac_array.rows is also set by hw_grid.mac_array.rows; a key takes its values from one place"),
])
def test_zip_problems(tmp_path, zip_value, key, message):
    assert only(write(tmp_path, hw_grid=GRID, zip=zip_value), key) == message


# --- tied ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("tied, key, message", [
    ({"mac_array.cols": "mac_array.row"}, "tied.mac_array.cols",
     "follows 'mac_array.row', which is not a key of hw_grid or zip (did you mean 'mac_array.rows'?)"),
    ({"mac_array.cols": "vector_unit.lanes"}, "tied.mac_array.cols",
     "follows vector_unit.lanes, which is not swept (hw_grid or zip); to set it from the base value, use derived:"),
    ({"mac_array.cols": "vector_unit.lanes", "vector_unit.lanes": "mac_array.cols"}, "tied.mac_array.cols",
     "a cycle of tied keys: mac_array.cols -> vector_unit.lanes -> mac_array.cols; one of them must be swept in "
     "hw_grid or zip"),
    ({"mac_array.cols": [2, 4]}, "tied.mac_array.cols",
     "expected the key it follows (a tied key takes that key's value at every point); for a list of values of its "
     "own, zipped with another key's, use zip:"),
    ({"mac_array.cols": 3}, "tied.mac_array.cols", "expected the hw_grid or zip key it follows, got 3"),
    ({"mac_array.rows": "mac_array.dataflow"}, "tied.mac_array.rows",
     "hw_grid lists 2 values for mac_array.rows but 3 for mac_array.dataflow; a tied key listed in hw_grid is "
     "zipped with its leader, value by value"),
    ({"mac_array.rows": "vector_unit.lanes"}, "tied.mac_array.rows",
     "mac_array.rows is listed in hw_grid, so it is zipped with the key it follows, which must be an hw_grid key "
     "that follows no other; vector_unit.lanes is not"),
    ({"mac_array.colz": "mac_array.rows"}, "tied.mac_array.colz",
     "not a hardware key: mac_array.colz is unknown (did you mean 'mac_array.cols'?)"),
    ({"bad key": "mac_array.rows"}, "tied.bad key",
     "expected a dotted key such as mac_array.rows or memories[0].size_bytes"),
])
def test_tied_problems(tmp_path, tied, key, message):
    assert only(write(tmp_path, hw_grid=GRID3, tied=tied), key) == message


def test_tied_to_a_derived_key(tmp_path):
    path = write(tmp_path, hw_grid=GRID, tied={"mac_array.cols": "vector_unit.lanes"},
                 derived={"vector_unit.lanes": "mac_array.rows"})
    assert only(path, "tied.mac_array.cols") == (
        "follows derived.vector_unit.lanes; a tied key follows a key of hw_grid or zip (for a value computed from "
        "other keys, put it under derived:)")


# --- derived and constraints ------------------------------------------------------------------
@pytest.mark.parametrize("derived, key, message", [
    ({"vector_unit.lanes": "mac_array.row * 2"}, "derived.vector_unit.lanes",
     "unknown name 'mac_array.row' (did you mean 'mac_array.rows'?)\n"
     "      mac_array.row * 2\n"
     "      ^^^^^^^^^^^^^"),
    ({"mac_array.cols": "2 * mac_array.dataflow"}, "derived.mac_array.cols",
     "'*' needs numbers on both sides; mac_array.dataflow is a string\n"
     "      2 * mac_array.dataflow\n"
     "          ^^^^^^^^^^^^^^^^^^"),
    ({"mac_array.cols": "vector_unit.lanes", "vector_unit.lanes": "mac_array.cols"}, "derived.mac_array.cols",
     "a cycle between derived keys: mac_array.cols -> vector_unit.lanes -> mac_array.cols"),
    ({"vector_unit.lanes": "vector_unit.lanes * 2"}, "derived.vector_unit.lanes",
     "uses itself (vector_unit.lanes -> vector_unit.lanes); a derived key is computed from other keys"),
    ({"vector_unit.lanes": "area_mm2 * 10"}, "derived.vector_unit.lanes",
     "area_mm2 is known only once the point's hardware is built, after every derived key is set; use it in "
     "constraints\n      area_mm2 * 10\n      ^^^^^^^^"),
    ({"vector_unit.lanes": "mac_array * 2"}, "derived.vector_unit.lanes",
     "mac_array is a whole mapping or list; use one of its values, such as mac_array.rows\n"
     "      mac_array * 2\n      ^^^^^^^^^"),
    ({"vector_unit.lanes": "memories[0] * 2"}, "derived.vector_unit.lanes",
     "memories[0] is a whole mapping; use one of its values (a key such as memories[0]....)\n"
     "      memories[0] * 2\n      ^^^^^^^^^^^"),
    ({"mac_array.cols": "weight_stationary"}, "derived.mac_array.cols",
     "unknown name 'weight_stationary' (a name is a dotted hardware key such as mac_array.rows, or area_mm2; "
     "quote text: 'weight_stationary')\n      weight_stationary\n      ^^^^^^^^^^^^^^^^^"),
    ({"vector_unit.lanes": {"a": 1}}, "derived.vector_unit.lanes",
     "expected an expression (text such as '2 * mac_array.cols'), got a mapping"),
    ({"vector_unit.lane": "4"}, "derived.vector_unit.lane",
     "not a hardware key: vector_unit.lane is unknown (did you mean 'vector_unit.lanes'?)"),
    ({"vector_unit.lanes": "(mac_array.rows"}, "derived.vector_unit.lanes",
     "expected ')' to close the '(' at column 1, got the end of the expression\n"
     "      (mac_array.rows\n                     ^"),
])
def test_derived_problems(tmp_path, derived, key, message):
    assert only(write(tmp_path, hw_grid=GRID, derived=derived), key) == message


def test_a_key_the_base_omits_cannot_be_read(tmp_path):
    base = hw_dict()
    del base["mac_array"]["fold_overlap"]
    path = write(tmp_path, hw_grid=GRID, constraints=["mac_array.fold_overlap == 'serial'"])
    (tmp_path / "hw.yaml").write_text(__import__("yaml").safe_dump({**base, "area": {
        "mm2_per_mac": 0.001, "mm2_per_vector_lane": 0.004, "mm2_per_mib": [2.0]}}))
    assert only(path, "constraints[0]").startswith(
        f"mac_array.fold_overlap is not in the base hardware file ({tmp_path / 'hw.yaml'}); add it there, or sweep "
        f"it, to use it here\n")


@pytest.mark.parametrize("constraints, key, message", [
    (["mac_array.rows * 2"], "constraints[0]",
     "a constraint must be true or false (a comparison such as area_mm2 <= 40); this is a number\n"
     "      mac_array.rows * 2\n      ^^^^^^^^^^^^^^^^^^"),
    (["mac_array.rows >= 2", "mac_array.rows => 2"], "constraints[1]",
     "unexpected character '=>' (did you mean '>='?)\n      mac_array.rows => 2\n                     ^^"),
    (["mac_array.dataflow > 'a'"], "constraints[0]",
     "'>' orders numbers only; mac_array.dataflow is a string\n"
     "      mac_array.dataflow > 'a'\n      ^^^^^^^^^^^^^^^^^^"),
    ([["a"]], "constraints[0]", "expected an expression (text such as '2 * mac_array.cols'), got a list"),
    ({"a": 1}, "constraints", "expected a list of conditions, got a mapping"),
])
def test_constraint_problems(tmp_path, constraints, key, message):
    assert only(write(tmp_path, hw_grid=GRID, constraints=constraints), key) == message


def test_area_in_a_constraint_needs_an_area_section(tmp_path):
    path = write(tmp_path, hw_grid=GRID, constraints=["area_mm2 < 3"], objectives=["cycles"])
    (tmp_path / "hw.yaml").write_text(__import__("yaml").safe_dump(hw_dict()))
    assert only(path, "constraints[0]") == (
        f"area_mm2 needs an `area:` section in the base hardware file ({tmp_path / 'hw.yaml'})\n"
        "      area_mm2 < 3\n      ^^^^^^^^")


def test_every_problem_at_once(tmp_path):
    path = write(tmp_path, hw_grid=GRID, tied={"mac_array.cols": "mac_array.row"},
                 derived={"vector_unit.lanes": "2 *", "clock_hz": "x.y", "memories[0].read_bw_bytes_per_cycle":
                          "vector_unit.lanes * 2"},
                 constraints=["mac_array.rows", "mac_array.rows > 'a'"], mapper="serch")
    found = problems(path)
    assert sorted(found) == ["constraints[0]", "constraints[1]", "derived.clock_hz", "derived.vector_unit.lanes",
                             "mapper", "tied.mac_array.cols"]        # read_bw uses a broken key: not reported twice


# --- errors at some points --------------------------------------------------------------------
def test_division_by_zero_at_some_points_names_them(tmp_path):
    path = write(tmp_path, hw_grid={"mac_array.rows": [2, 4, 6], "mac_array.dataflow": ["weight_stationary",
                                                                                      "output_stationary"]},
                 derived={"vector_unit.lanes": "64 // (mac_array.rows - 4)"})
    assert only(path, "derived.vector_unit.lanes") == (
        "division by zero (64 // 0) at 2 of 6 design points, the first being point 2 (mac_array.rows=4, "
        "mac_array.dataflow=weight_stationary)\n"
        "      64 // (mac_array.rows - 4)\n"
        "         ^^")


def test_error_at_one_point_shows_the_derived_values_before_it(tmp_path):
    path = write(tmp_path, hw_grid={"mac_array.rows": [2, 8]},
                 derived={"mac_array.cols": "mac_array.rows * 8", "vector_unit.lanes": "2 ** mac_array.cols"})
    assert only(path, "derived.vector_unit.lanes") == (
        "the result, 2**64, is outside the int64 range the simulator counts in (|x| < 2**63) at point 1 "
        "(mac_array.rows=8, mac_array.cols=64)\n"
        "      2 ** mac_array.cols\n"
        "        ^^")


def test_constraint_error_at_some_points(tmp_path):
    path = write(tmp_path, hw_grid={"mac_array.rows": [1, 2]}, constraints=["sqrt(mac_array.rows - 2) < 3"])
    assert only(path, "constraints[0]") == (
        "sqrt() of -1 is not defined at point 0 (mac_array.rows=1)\n"
        "      sqrt(mac_array.rows - 2) < 3\n"
        "      ^^^^^^^^^^^^^^^^^^^^^^^^")


def test_constraints_that_leave_nothing(tmp_path):
    path = write(tmp_path, hw_grid=GRID, constraints=["mac_array.rows > 2", "mac_array.rows < 4"])
    assert only(path, "constraints") == ("filter every one of the 4 design points (constraints[0]: 2, "
                                         "constraints[1]: 2); nothing would be evaluated")


def test_a_late_constraint_error_makes_the_point_invalid(tmp_path):
    """An expression over area_mm2 can only run once the point's hardware is built: its errors make
    that point invalid (kind `expression`), with the point's values."""
    from simulator.sweep.run import run_sweep

    path = write(tmp_path, hw_grid={"area.mm2_per_mac": [0.0, 0.001], "area.mm2_per_vector_lane": [0.0],
                                    "area.mm2_per_mib": [[0.0]]}, constraints=["1 / area_mm2 > 0"])
    outcome = run_sweep(load_sweep(path), tmp_path / "out", jobs=1, warn=lambda m: None)
    row = outcome.invalid.iloc[0]
    assert (row["kind"], row["point_id"]) == ("expression", 0)
    assert row["problems"] == ("constraints[0]: division by zero (1 / 0) in '1 / area_mm2 > 0' at point 0 "
                               "(area.mm2_per_mac=0.0, area.mm2_per_vector_lane=0.0, area.mm2_per_mib=0.0)")
    assert list(outcome.results["point_id"].unique()) == [1]


def test_cli_exit_2_and_no_traceback(tmp_path, capsys):
    path = write(tmp_path, hw_grid=GRID, derived={"vector_unit.lanes": "8 / (mac_array.rows - 2)"})
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: 1 problem\n  derived.vector_unit.lanes: division by zero (8 / 0) at 2 of 4 design "
                          f"points, the first being point 0 (mac_array.rows=2, mac_array.dataflow=weight_stationary)\n")
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_validate_checks_a_sweep_file_without_running_it(tmp_path, capsys):
    good = write(tmp_path, hw_grid=GRID, tied={"mac_array.cols": "mac_array.rows"}, constraints=["mac_array.rows > 2"])
    assert cli.main(["validate", str(good)]) == 0
    assert capsys.readouterr().out == (f"{good}: ok (sweep: 4 design points (8 in the product of the listed values, 4 "
                                       f"tied away; constraints filter 2 before simulation))\n")
    bad = write(tmp_path, hw_grid=GRID, derived={"vector_unit.lanes": "8 // (mac_array.rows - 4)"})
    assert cli.main(["validate", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"{bad}: 1 problem\n  derived.vector_unit.lanes: division by zero "
                                              f"(8 // 0) at 2 of 4 design points, the first being point 2 ")
    assert not (tmp_path / "reports").exists()
