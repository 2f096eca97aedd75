"""Hardware YAML validation: every rule of hardware.py / checks.py asserted by its key path and text.

Each case changes one thing in a valid dict (tests.helpers.hw_dict: a 4x4 fp32 array, one 1 MiB
double-buffered on-chip level `l0`, then `dram`) and expects exactly one problem line.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from simulator import load_hardware
from simulator.enums import Dataflow, FoldOverlap, NumberFormat
from simulator.errors import ConfigError
from simulator.hardware import Hardware
from tests.helpers import DELETE, VEC_KINDS, hw_dict, with_changes

ROOT = Path(__file__).resolve().parent.parent
PRESETS = sorted((ROOT / "hw_configs").glob("*.yaml"))

NUM_BOOL = "(a boolean: YAML reads unquoted yes/no/on/off/true/false as booleans)"
TEXT_BOOL = ("(a boolean: YAML reads unquoted yes/no/on/off/true/false as booleans, "
             "so quote the word if you mean text)")
DATAFLOWS = "output_stationary, weight_stationary, input_stationary"
TOP_KEYS = "name, clock_hz, number_format, mac_array, vector_unit, memories"
LEVEL_KEYS = ("name, read_bw_bytes_per_cycle, write_bw_bytes_per_cycle, read_pj_per_byte, write_pj_per_byte, "
              "size_bytes, double_buffered")


def problems(changes: dict | None = None, **kwargs) -> list[str]:
    """The problem lines ("path: message") of hw_dict(**kwargs) with `changes` applied."""
    data = with_changes(hw_dict(**kwargs), changes or {})
    with pytest.raises(ConfigError) as info:
        Hardware.from_dict(data, source="hw.yaml")
    assert info.value.source == "hw.yaml"
    return [f"{path}: {msg}" if path else msg for path, msg in info.value.problems]


def loads_ok(changes: dict | None = None, **kwargs) -> Hardware:
    return Hardware.from_dict(with_changes(hw_dict(**kwargs), changes or {}), source="hw.yaml")


# --- the presets ----------------------------------------------------------------------------------
def test_there_are_presets():
    assert {p.stem for p in PRESETS} >= {"default", "edge_32x32"}


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_preset_loads(path):
    hw = load_hardware(path)
    assert hw.name == path.stem
    assert hw.source == str(path)
    assert len(hw.sha256) == 64
    assert hw.memories[-1].size_bytes is None
    assert all(level.size_bytes >= 1 for level in hw.on_chip)
    assert hw.clock_hz > 0 and hw.mac_array.rows >= 1 and hw.mac_array.cols >= 1
    assert len(hw.vector_unit.cycles_per_op) == len(VEC_KINDS)


def test_edge_preset_values():
    hw = load_hardware(ROOT / "hw_configs" / "edge_32x32.yaml")
    assert hw.clock_hz == 1.0e9 and isinstance(hw.clock_hz, float)
    assert hw.number_format == NumberFormat.INT8 and hw.bytes_per_element == 1
    assert (hw.mac_array.rows, hw.mac_array.cols) == (32, 32)
    assert hw.mac_array.dataflow == Dataflow.WEIGHT_STATIONARY
    assert [m.name for m in hw.memories] == ["sram", "dram"]
    assert hw.memories[0].double_buffered and not hw.memories[1].double_buffered
    assert hw.memories[0].usable_bytes == 524288 // 2


def test_helper_dict_is_valid_and_defaults_apply():
    hw = loads_ok({"mac_array.fold_overlap": DELETE, "memories[0].double_buffered": DELETE})
    assert hw.mac_array.fold_overlap == FoldOverlap.SERIAL
    assert hw.memories[0].double_buffered is True
    assert hw.memories[1].double_buffered is False


# --- missing keys ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["name", "clock_hz", "number_format", "mac_array", "vector_unit", "memories",
                                 "mac_array.rows", "mac_array.cols", "mac_array.dataflow",
                                 "mac_array.mac_energy_pj", "vector_unit.lanes", "vector_unit.cycles_per_op",
                                 "vector_unit.op_energy_pj", "memories[0].name",
                                 "memories[0].read_bw_bytes_per_cycle", "memories[0].write_bw_bytes_per_cycle",
                                 "memories[1].read_pj_per_byte", "memories[1].write_pj_per_byte"])
def test_missing_key(key):
    assert problems({key: DELETE}) == [f"{key}: missing key"]


@pytest.mark.parametrize("kind", VEC_KINDS)
def test_missing_cycles_per_op_kind(kind):
    key = f"vector_unit.cycles_per_op.{kind}"
    assert problems({key: DELETE}) == [f"{key}: missing key"]


def test_missing_size_on_chip():
    assert problems({"memories[0].size_bytes": DELETE}) == [
        "memories[0].size_bytes: missing key (the capacity of this on-chip level in bytes)"]


def test_missing_size_off_chip_says_to_write_null():
    assert problems({"memories[1].size_bytes": DELETE}) == [
        "memories[1].size_bytes: missing key (write size_bytes: null: the last level is off-chip and unbounded)"]


def test_every_missing_key_of_a_level_at_once():
    assert problems({"memories[0]": {}}) == [
        "memories[0].name: missing key",
        "memories[0].read_bw_bytes_per_cycle: missing key",
        "memories[0].write_bw_bytes_per_cycle: missing key",
        "memories[0].read_pj_per_byte: missing key",
        "memories[0].write_pj_per_byte: missing key",
        "memories[0].size_bytes: missing key (the capacity of this on-chip level in bytes)",
    ]


# --- unknown keys, at every level -----------------------------------------------------------------
@pytest.mark.parametrize("key, message", [
    ("nmae", "unknown key (did you mean 'name'?)"),
    ("clock", "unknown key (did you mean 'clock_hz'?)"),
    ("frequency_hz", f"unknown key (allowed keys: {TOP_KEYS}, description, area, schedule)"),
    ("mac_array.rowz", "unknown key (did you mean 'rows'?)"),
    ("mac_array.data_flow", "unknown key (did you mean 'dataflow'?)"),
    ("mac_array.pe_count", "unknown key (allowed keys: rows, cols, dataflow, mac_energy_pj, fold_overlap)"),
    ("vector_unit.lane", "unknown key (did you mean 'lanes'?)"),
    ("vector_unit.cycles_per_op.log", f"unknown key (allowed keys: {', '.join(VEC_KINDS)})"),
    ("vector_unit.cycles_per_op.tan", "unknown key (did you mean 'tanh'?)"),
    ("memories[0].sise_bytes", "unknown key (did you mean 'size_bytes'?)"),
    ("memories[0].double_bufered", "unknown key (did you mean 'double_buffered'?)"),
    ("memories[1].latency", f"unknown key (allowed keys: {LEVEL_KEYS})"),
])
def test_unknown_key(key, message):
    assert problems({key: 1}) == [f"{key}: {message}"]


def test_misspelt_key_reports_unknown_and_missing():
    got = problems({"memories[0].sise_bytes": 1024, "memories[0].size_bytes": DELETE})
    assert got == ["memories[0].sise_bytes: unknown key (did you mean 'size_bytes'?)",
                   "memories[0].size_bytes: missing key (the capacity of this on-chip level in bytes)"]


# --- the file's top level -------------------------------------------------------------------------
@pytest.mark.parametrize("data, message", [
    (None, f"the file is empty; expected a mapping with the keys {TOP_KEYS}"),
    ([1, 2], f"expected a mapping with the keys {TOP_KEYS} at the top level, got a list"),
    ("hello", f"expected a mapping with the keys {TOP_KEYS} at the top level, got 'hello'"),
])
def test_top_level_not_a_mapping(data, message):
    with pytest.raises(ConfigError) as info:
        Hardware.from_dict(data, source="hw.yaml")
    assert str(info.value) == f"hw.yaml: 1 problem\n  {message}"


@pytest.mark.parametrize("key, value, message", [
    ("name", "", "expected a non-empty string, got ''"),
    ("name", "   ", "expected a non-empty string, got '   '"),
    ("name", 3, "expected a non-empty string, got 3"),
    ("name", True, f"expected a non-empty string, got True {TEXT_BOOL}"),
    ("name", None, "expected a non-empty string, got null"),
    ("description", 3, "expected a string, got 3"),
    ("description", False, f"expected a string, got False {NUM_BOOL}"),
    ("clock_hz", "1GHz", "expected a number in [1, 1e+12], got '1GHz'"),
    ("clock_hz", True, f"expected a number in [1, 1e+12], got True {NUM_BOOL}"),
    ("clock_hz", 0, "expected a number in [1, 1e+12], got 0"),
    ("clock_hz", -1.0e9, "expected a number in [1, 1e+12], got -1000000000.0"),
    ("clock_hz", float("nan"), "expected a number in [1, 1e+12], got nan"),
    ("clock_hz", float("inf"), "expected a number in [1, 1e+12], got inf"),
    ("clock_hz", None, "expected a number in [1, 1e+12], got null"),
    ("number_format", "fp64", "expected one of fp32, fp16, bf16, int8; got 'fp64' (did you mean 'fp16'?)"),
    ("number_format", "FP32", "expected one of fp32, fp16, bf16, int8; got 'FP32' (did you mean 'fp32'?)"),
    ("number_format", "int4", "expected one of fp32, fp16, bf16, int8; got 'int4' (did you mean 'int8'?)"),
    ("number_format", "double", "expected one of fp32, fp16, bf16, int8; got 'double'"),
    ("number_format", 8, "expected one of fp32, fp16, bf16, int8; got 8"),
    ("mac_array", 3, "expected a mapping, got 3"),
    ("mac_array", None, "expected a mapping, got null"),
    ("mac_array", [4, 4], "expected a mapping, got a list"),
    ("vector_unit", [], "expected a mapping, got a list"),
    ("vector_unit", "simd", "expected a mapping, got 'simd'"),
])
def test_top_level_values(key, value, message):
    assert problems({key: value}) == [f"{key}: {message}"]


def test_exponent_clock_from_yaml(tmp_path):
    text = Path(ROOT / "hw_configs" / "edge_32x32.yaml").read_text().replace("clock_hz: 1.0e+9", "clock_hz: 1e9")
    assert "clock_hz: 1e9" in text
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    assert load_hardware(path).clock_hz == 1e9


# --- mac_array ------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, value, message", [
    ("rows", 0, "expected an integer in [1, 16384], got 0"),
    ("rows", -4, "expected an integer in [1, 16384], got -4"),
    ("rows", 4.5, "expected an integer in [1, 16384], got 4.5"),
    ("rows", "4", "expected an integer in [1, 16384], got '4'"),
    ("rows", True, f"expected an integer in [1, 16384], got True {NUM_BOOL}"),
    ("rows", None, "expected an integer in [1, 16384], got null"),
    ("cols", 0, "expected an integer in [1, 16384], got 0"),
    ("cols", False, f"expected an integer in [1, 16384], got False {NUM_BOOL}"),
    ("dataflow", "os", f"expected one of {DATAFLOWS}; got 'os'"),
    ("dataflow", "weight-stationary", f"expected one of {DATAFLOWS}; got 'weight-stationary' "
                                      "(did you mean 'weight_stationary'?)"),
    ("dataflow", "Output_Stationary", f"expected one of {DATAFLOWS}; got 'Output_Stationary' "
                                      "(did you mean 'output_stationary'?)"),
    ("dataflow", False, f"expected one of {DATAFLOWS}; got False {TEXT_BOOL}"),
    ("dataflow", None, f"expected one of {DATAFLOWS}; got null"),
    ("fold_overlap", "pipeline", "expected one of serial, pipelined; got 'pipeline' (did you mean 'pipelined'?)"),
    ("fold_overlap", True, f"expected one of serial, pipelined; got True {TEXT_BOOL}"),
    ("fold_overlap", None, "expected one of serial, pipelined; got null"),
    ("mac_energy_pj", -1, "expected a number in [0, 1e+06], got -1"),
    ("mac_energy_pj", "0.2pJ", "expected a number in [0, 1e+06], got '0.2pJ'"),
    ("mac_energy_pj", True, f"expected a number in [0, 1e+06], got True {NUM_BOOL}"),
])
def test_mac_array_values(key, value, message):
    assert problems({f"mac_array.{key}": value}) == [f"mac_array.{key}: {message}"]


def test_dataflow_no_from_yaml_is_a_boolean(tmp_path):
    path = tmp_path / "edge.yaml"
    path.write_text((ROOT / "hw_configs" / "edge_32x32.yaml").read_text()
                    .replace("dataflow: weight_stationary", "dataflow: no"))
    with pytest.raises(ConfigError) as info:
        load_hardware(path)
    assert str(info.value) == (f"{path}: 1 problem\n"
                               f"  mac_array.dataflow: expected one of {DATAFLOWS}; got False {TEXT_BOOL}")


def test_integral_float_is_an_integer():
    hw = loads_ok({"mac_array.rows": 8.0, "memories[0].size_bytes": 1.5e6})
    assert hw.mac_array.rows == 8 and type(hw.mac_array.rows) is int
    assert hw.memories[0].size_bytes == 1_500_000 and type(hw.memories[0].size_bytes) is int


def test_zero_energy_is_allowed():
    assert loads_ok({"mac_array.mac_energy_pj": 0, "memories[1].read_pj_per_byte": 0}).mac_array.mac_energy_pj == 0.0


# --- vector_unit ----------------------------------------------------------------------------------
@pytest.mark.parametrize("key, value, message", [
    ("lanes", 0, "expected an integer in [1, 2^20], got 0"),
    ("lanes", "many", "expected an integer in [1, 2^20], got 'many'"),
    ("lanes", True, f"expected an integer in [1, 2^20], got True {NUM_BOOL}"),
    ("op_energy_pj", -0.1, "expected a number in [0, 1e+06], got -0.1"),
    ("op_energy_pj", [1], "expected a number in [0, 1e+06], got a list"),
    ("cycles_per_op", 4, "expected a mapping, got 4"),
    ("cycles_per_op", ["add", "mul"], "expected a mapping, got a list"),
    ("cycles_per_op.exp", 0, "expected an integer in [1, 65536], got 0"),
    ("cycles_per_op.div", 2.5, "expected an integer in [1, 65536], got 2.5"),
    ("cycles_per_op.add", True, f"expected an integer in [1, 65536], got True {NUM_BOOL}"),
    ("cycles_per_op.rsqrt", None, "expected an integer in [1, 65536], got null"),
])
def test_vector_unit_values(key, value, message):
    assert problems({f"vector_unit.{key}": value}) == [f"vector_unit.{key}: {message}"]


# --- memories: the list ---------------------------------------------------------------------------
MEM_LIST = "memory levels (on-chip levels innermost first, the off-chip level last)"


@pytest.mark.parametrize("value, message", [
    ({}, f"expected a list of {MEM_LIST}, got a mapping"),
    (None, f"expected a list of {MEM_LIST}, got null"),
    ("sram, dram", f"expected a list of {MEM_LIST}, got 'sram, dram'"),
    ([], f"expected a list of at least 2 {MEM_LIST}, got 0"),
])
def test_memories_not_a_list_or_empty(value, message):
    assert problems({"memories": value}) == [f"memories: {message}"]


def test_fewer_than_two_memories():
    only_dram = hw_dict()["memories"][1]
    assert problems({"memories": [only_dram]}) == [f"memories: expected a list of at least 2 {MEM_LIST}, got 1"]


def test_memory_level_not_a_mapping():
    assert problems({"memories[0]": "sram"}) == ["memories[0]: expected a mapping, got 'sram'"]


def test_duplicate_level_names():
    assert problems({"memories[1].name": "l0"}, levels=[4096, 8192]) == [
        "memories[1].name: duplicate level name 'l0' (also memories[0])"]


def test_duplicate_name_of_off_chip_level():
    assert problems({"memories[1].name": "l0"}) == ["memories[1].name: duplicate level name 'l0' (also memories[0])"]


def test_outer_level_smaller_than_inner():
    assert problems(levels=[4096, 1024]) == [
        "memories[1].size_bytes: expected at least 4096, the size of memories[0] ('l0'): levels go innermost "
        "first, so an outer level cannot be smaller than the one inside it; got 1024"]


def test_equal_sized_levels_are_allowed():
    assert [m.size_bytes for m in loads_ok(levels=[4096, 4096]).memories] == [4096, 4096, None]


def test_three_on_chip_levels_each_checked_against_the_one_inside():
    got = problems(levels=[8192, 4096, 2048])
    assert got == [
        "memories[1].size_bytes: expected at least 8192, the size of memories[0] ('l0'): levels go innermost "
        "first, so an outer level cannot be smaller than the one inside it; got 4096",
        "memories[2].size_bytes: expected at least 4096, the size of memories[1] ('l1'): levels go innermost "
        "first, so an outer level cannot be smaller than the one inside it; got 2048",
    ]


# --- memories: one level --------------------------------------------------------------------------
@pytest.mark.parametrize("key, value, message", [
    ("memories[0].name", "", "expected a non-empty string, got ''"),
    ("memories[0].name", 7, "expected a non-empty string, got 7"),
    ("memories[0].size_bytes", None,
     "expected an integer >= 1 (only the last, off-chip level may be null), got null"),
    ("memories[0].size_bytes", 0, "expected an integer in [1, 2^50], got 0"),
    ("memories[0].size_bytes", -5, "expected an integer in [1, 2^50], got -5"),
    ("memories[0].size_bytes", 1.5, "expected an integer in [1, 2^50], got 1.5"),
    ("memories[0].size_bytes", "1MiB", "expected an integer in [1, 2^50], got '1MiB'"),
    ("memories[0].size_bytes", True, f"expected an integer in [1, 2^50], got True {NUM_BOOL}"),
    ("memories[1].size_bytes", 1 << 30, "expected null (the last level is off-chip and unbounded), got 1073741824"),
    ("memories[1].size_bytes", 0, "expected null (the last level is off-chip and unbounded), got 0"),
    ("memories[0].read_bw_bytes_per_cycle", 0, "expected a number in [0.001, 1e+12], got 0"),
    ("memories[0].read_bw_bytes_per_cycle", -1, "expected a number in [0.001, 1e+12], got -1"),
    ("memories[0].write_bw_bytes_per_cycle", -64.0, "expected a number in [0.001, 1e+12], got -64.0"),
    ("memories[1].read_bw_bytes_per_cycle", -16, "expected a number in [0.001, 1e+12], got -16"),
    ("memories[1].write_bw_bytes_per_cycle", True, f"expected a number in [0.001, 1e+12], got True {NUM_BOOL}"),
    ("memories[1].read_bw_bytes_per_cycle", "16 GB/s", "expected a number in [0.001, 1e+12], got '16 GB/s'"),
    ("memories[0].read_pj_per_byte", -1, "expected a number in [0, 1e+06], got -1"),
    ("memories[1].write_pj_per_byte", -0.5, "expected a number in [0, 1e+06], got -0.5"),
    ("memories[1].write_pj_per_byte", None, "expected a number in [0, 1e+06], got null"),
    ("memories[0].double_buffered", "yes", "expected true or false, got 'yes'"),
    ("memories[0].double_buffered", 1, "expected true or false, got 1"),
    ("memories[0].double_buffered", None, "expected true or false, got null"),
    ("memories[1].double_buffered", True, "applies to on-chip levels only; remove it from the off-chip level"),
    ("memories[1].double_buffered", "no", "applies to on-chip levels only; remove it from the off-chip level"),
])
def test_level_values(key, value, message):
    assert problems({key: value}) == [f"{key}: {message}"]


def test_off_chip_double_buffered_false_is_accepted():
    assert loads_ok({"memories[1].double_buffered": False}).memories[1].double_buffered is False


def test_off_chip_level_in_first_place():
    """Listing dram before sram: each level is judged by its place in the list."""
    sram, dram = hw_dict()["memories"]
    got = problems({"memories": [dram, sram]})
    assert got == ["memories[0].size_bytes: expected an integer >= 1 (only the last, off-chip level may be null), "
                   "got null",
                   "memories[1].size_bytes: expected null (the last level is off-chip and unbounded), got 1048576",
                   "memories[1].double_buffered: applies to on-chip levels only; remove it from the off-chip level"]


# --- the array must fit -------------------------------------------------------------------------
TILE = "too small for one 4x4 array tile of each operand (A, B and C): needs at least"


def test_buffer_too_small_double_buffered():
    # 3 operands x 4 x 4 x 4 B (fp32) = 192 B per working set, twice that when double-buffered
    assert problems(sram_bytes=383) == [
        f"memories[0].size_bytes: {TILE} 384 bytes = 3 operands x 4 x 4 elements x 4 B (fp32) "
        "x 2 for double buffering; got 383"]
    assert loads_ok(sram_bytes=384).memories[0].usable_bytes == 192


def test_buffer_too_small_single_buffered():
    assert problems(sram_bytes=191, double_buffered=False) == [
        f"memories[0].size_bytes: {TILE} 192 bytes = 3 operands x 4 x 4 elements x 4 B (fp32); got 191"]
    assert loads_ok(sram_bytes=192, double_buffered=False).memories[0].usable_bytes == 192


def test_buffer_fit_uses_the_number_format():
    assert problems(sram_bytes=90, number_format="int8") == [
        f"memories[0].size_bytes: {TILE} 96 bytes = 3 operands x 4 x 4 elements x 1 B (int8) "
        "x 2 for double buffering; got 90"]
    assert loads_ok(sram_bytes=96, number_format="int8").bytes_per_element == 1


def test_buffer_fit_checked_at_every_on_chip_level():
    got = problems(levels=[100, 150], rows=2, cols=8, number_format="bf16")
    need = "too small for one 2x8 array tile of each operand (A, B and C): needs at least 192 bytes = " \
           "3 operands x 2 x 8 elements x 2 B (bf16) x 2 for double buffering"
    assert got == [f"memories[0].size_bytes: {need}; got 100", f"memories[1].size_bytes: {need}; got 150"]


def test_no_fit_check_while_the_array_itself_is_invalid():
    """A broken rows value is the one problem; no follow-on fit complaint."""
    assert problems({"mac_array.rows": 0}, sram_bytes=100) == ["mac_array.rows: expected an integer in [1, 16384], got 0"]


# --- everything at once ---------------------------------------------------------------------------
def test_several_problems_listed_together(tmp_path):
    data = with_changes(hw_dict(), {
        "mac_array.dataflow": "os",
        "memories[0].sise_bytes": 1024,
        "memories[0].size_bytes": DELETE,
        "clock_hz": True,
        "vector_unit.cycles_per_op.exp": DELETE,
        "vector_unit.cycles_per_op.log": 3,
        "memories[1].size_bytes": 1 << 30,
        "memories[1].read_bw_bytes_per_cycle": -8,
    })
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        load_hardware(path)
    lines = str(info.value).splitlines()
    assert lines[0] == f"{path}: 8 problems"
    assert sorted(lines[1:]) == sorted("  " + line for line in [
        f"clock_hz: expected a number in [1, 1e+12], got True {NUM_BOOL}",
        f"mac_array.dataflow: expected one of {DATAFLOWS}; got 'os'",
        "vector_unit.cycles_per_op.log: unknown key (allowed keys: " + ", ".join(VEC_KINDS) + ")",
        "vector_unit.cycles_per_op.exp: missing key",
        "memories[0].sise_bytes: unknown key (did you mean 'size_bytes'?)",
        "memories[0].size_bytes: missing key (the capacity of this on-chip level in bytes)",
        "memories[1].size_bytes: expected null (the last level is off-chip and unbounded), got 1073741824",
        "memories[1].read_bw_bytes_per_cycle: expected a number in [0.001, 1e+12], got -8",
    ])
    assert len(info.value.problems) == 8


def test_one_problem_header_is_singular():
    with pytest.raises(ConfigError) as info:
        Hardware.from_dict(with_changes(hw_dict(), {"mac_array.rows": 0}), source="hw.yaml")
    assert str(info.value).splitlines()[0] == "hw.yaml: 1 problem"


def test_design_doc_example(tmp_path):
    """The example of docs/architecture.md#input-errors; a misspelt key also leaves the real key
    missing."""
    path = tmp_path / "edge.yaml"
    text = (ROOT / "hw_configs" / "edge_32x32.yaml").read_text()
    text = text.replace("dataflow: weight_stationary", "dataflow: os")
    text = text.replace("{name: dram, size_bytes: null", "{name: dram, sise_bytes: null")
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_hardware(path)
    assert str(info.value) == (
        f"{path}: 3 problems\n"
        f"  mac_array.dataflow: expected one of {DATAFLOWS}; got 'os'\n"
        "  memories[1].sise_bytes: unknown key (did you mean 'size_bytes'?)\n"
        "  memories[1].size_bytes: missing key (write size_bytes: null: the last level is off-chip and unbounded)")


# --- area section and reconfigurable dataflows -----------------------------------------------------
AREA = {"mm2_per_mac": 0.002, "mm2_per_vector_lane": 0.01, "mm2_per_mib": [4.0]}


def test_area_is_priced_per_mac_lane_and_mib():
    hw = loads_ok({"area": dict(AREA)}, rows=8, cols=4, lanes=16, sram_bytes=1 << 20)
    assert hw.area_mm2 == pytest.approx(32 * 0.002 + 16 * 0.01 + 1.0 * 4.0)
    assert loads_ok().area_mm2 is None


def test_area_problems():
    assert problems({"area": {"mm2_per_mac": -1, "mm2_per_vector_lane": True, "mm2_per_mib": [1.0, 2.0]}}) == [
        "area.mm2_per_mac: expected a number in [0, 1e+06], got -1",
        "area.mm2_per_vector_lane: expected a number in [0, 1e+06], got True (a boolean: YAML reads unquoted "
        "yes/no/on/off/true/false as booleans)",
        "area.mm2_per_mib: expected one price per on-chip level (1), innermost first; got 2",
    ]
    assert problems({"area": {"mm2_per_mac": 1, "mm2_per_mib": [1.0]}}) == ["area.mm2_per_vector_lane: missing key"]


def test_dataflow_list_for_a_reconfigurable_array():
    hw = loads_ok({"mac_array.dataflow": ["output_stationary", "input_stationary"]})
    assert [int(f) for f in hw.mac_array.dataflows] == [0, 2] and int(hw.mac_array.dataflow) == 0
    assert hw.dataflow_name == "output_stationary|input_stationary"
    assert problems({"mac_array.dataflow": ["output_stationary", "os"]}) == [
        f"mac_array.dataflow[1]: expected one of {DATAFLOWS}; got 'os'"]
    assert problems({"mac_array.dataflow": ["output_stationary", "output_stationary"]}) == [
        "mac_array.dataflow: lists a dataflow twice: output_stationary, output_stationary"]
    assert problems({"mac_array.dataflow": []}) == [
        f"mac_array.dataflow: expected one of {DATAFLOWS}, or a non-empty list of them; got []"]
