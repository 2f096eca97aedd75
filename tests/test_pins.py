"""Pinned mappings (a workload layer's `mapping` key, simulator/pins.py) and the workload's
`mapper` / `objective` keys.

* Through a pinned whole-extent mapping on a big SRAM, compute cycles equal SCALE-Sim 3.0.0's printed
  cycles + 1 at its nine reference points, and the serial-fold closed form (written here) over a
  grid of attention GEMMs; on small ones also the cycle-by-cycle stepper (tests/reference_systolic.py).
* Pins are honoured whatever the mapper; bad pins are refused with their key paths, at load time
  when the workload alone decides, before running when the hardware does (CLI: exit 2).
* Precedence: simulate()'s mapper / objective arguments, else the workload's keys, else the defaults.
"""
from __future__ import annotations

import itertools

import pytest

from simulator import cli, load_hardware, load_workload, search, simulate, to_frame
from simulator.errors import ConfigError, MappingError
from simulator.graph import Gemm
from simulator.mapper import default_gemm_mapping
from simulator.pins import PinnedMappingError
from simulator.simulate import layer_graph
from tests.helpers import make_hw
from tests.reference_systolic import step_gemm

FLOWS = ("output_stationary", "weight_stationary", "input_stationary")

# SCALE-Sim 3.0.0 on a 32 x 32 array, serial folds: its printed cycle count + 1 (it prints the index
# of the last cycle, counted from 0). QK^T at n = 512, d_k = 64; a BERT-base projection; a recurrent
# matrix-vector product.
SCALE_SIM = {
    (512, 64, 512): {"output_stationary": 32256, "weight_stationary": 19392, "input_stationary": 19392},
    (512, 768, 768): {"output_stationary": 318720, "weight_stationary": 349056, "input_stationary": 331008},
    (1, 768, 768): {"output_stationary": 19920, "weight_stationary": 54720, "input_stationary": 20688},
}


def serial_fold_cycles(m, k, n, rows, cols, flow):
    """Serial folds, every one paying its own fill and drain (written from the fold table, apart from
    the package): folds x (stream + fill + drain)."""
    def cdiv(a, b):
        return -(-a // b)

    if flow == "output_stationary":
        return cdiv(m, rows) * cdiv(n, cols) * (k + rows + cols - 2)
    if flow == "weight_stationary":
        return cdiv(k, rows) * cdiv(n, cols) * (m + 2 * rows + cols - 2)
    return cdiv(k, rows) * cdiv(m, cols) * (n + 2 * rows + cols - 2)


def pinned_gemms(shapes) -> dict:
    return {"name": "pinned", "layers": [
        {"name": f"g{i}", "variant": "gemm", "m": m, "k": k, "n": n,
         "mapping": {"tiles": [[m, k, n]], "loop_orders": ["mnk"]}} for i, (m, k, n) in enumerate(shapes)]}


@pytest.mark.parametrize("flow", FLOWS)
def test_pinned_whole_extent_reproduces_scale_sim(flow):
    hw = make_hw(rows=32, cols=32, dataflow=flow, fold_overlap="serial", number_format="int8", sram_bytes=1 << 24)
    frame = to_frame(simulate(load_workload(pinned_gemms(SCALE_SIM)), hw), level="op")
    assert list(frame["mapping"]) == [f"L0 {m}x{k}x{n} mnk" for m, k, n in SCALE_SIM]
    assert list(frame["compute_cycles"]) == [SCALE_SIM[dims][flow] for dims in SCALE_SIM]


def attention_gemms():
    """QK^T (n, d_k, n), AV (n, n, d_k) and projections (n, d, d) at n in 64..512, d in 64..768."""
    shapes = set()
    for n, d in itertools.product((64, 128, 200, 512), (64, 256, 768)):
        shapes |= {(n, 64, n), (n, n, 64), (n, d, d)}
    return sorted(shapes)


@pytest.mark.parametrize("rows,cols", [(32, 32), (128, 128), (12, 14)])
def test_pinned_whole_extent_equals_serial_fold_closed_form(rows, cols):
    shapes = attention_gemms()
    wl = load_workload(pinned_gemms(shapes))
    for flow in FLOWS:
        hw = make_hw(rows=rows, cols=cols, dataflow=flow, fold_overlap="serial", number_format="int8",
                     sram_bytes=1 << 24)
        got = list(to_frame(simulate(wl, hw), level="op")["compute_cycles"])
        assert got == [serial_fold_cycles(*s, rows, cols, flow) for s in shapes], flow


@pytest.mark.parametrize("flow", FLOWS)
def test_pinned_whole_extent_equals_the_cycle_stepper(flow):
    """Attention shapes scaled down (n = 12, d_k = 4, d = 10) on a 4 x 3 array, both fold modes."""
    shapes = [(12, 4, 12), (12, 12, 4), (12, 10, 10), (1, 10, 10)]
    wl = load_workload(pinned_gemms(shapes))
    for mode in ("serial", "pipelined"):
        hw = make_hw(rows=4, cols=3, dataflow=flow, fold_overlap=mode, sram_bytes=1 << 20)
        got = list(to_frame(simulate(wl, hw), level="op")["compute_cycles"])
        want = [step_gemm(m, k, n, 4, 3, flow, mode == "pipelined")["cycles"] for m, k, n in shapes]
        assert got == want, mode


# --- pins are honoured ----------------------------------------------------------------------------
ATTN = {"name": "attn", "variant": "multi_head_attention", "n": 24, "d": 16, "heads": 2, "causal": True}


def test_keyed_pins_apply_to_their_ops_whatever_the_mapper():
    hw = make_hw(rows=4, cols=4, sram_bytes=1 << 16)
    pin = {"scores": {"tiles": [[8, 8, 24]], "loop_orders": ["nmk"]},
           "output_projection": {"tiles": [[24, 16, 4]], "loop_orders": ["kmn"]}}
    wl = load_workload({"name": "w", "layers": [dict(ATTN, mapping=pin)]})
    for mapper in ("heuristic", "search"):
        frame = to_frame(simulate(wl, hw, mapper=mapper), level="op").set_index("op")
        assert frame.loc["scores", "mapping"] == "L0 8x8x24 nmk"
        assert frame.loc["output_projection", "mapping"] == "L0 24x16x4 kmn"
    free = to_frame(simulate(load_workload({"name": "w", "layers": [ATTN]}), hw), level="op").set_index("op")
    assert free.loc["q_projection", "mapping"] == frame.loc["q_projection", "mapping"]   # not pinned


def test_pinned_dataflow_on_a_reconfigurable_array():
    hw = make_hw(rows=4, cols=4, dataflow=["weight_stationary", "output_stationary"], sram_bytes=1 << 16)
    wl = load_workload({"name": "w", "layers": [{"variant": "gemm", "m": 8, "k": 8, "n": 8, "mapping": {
        "tiles": [[8, 8, 8]], "loop_orders": ["mnk"], "dataflow": "output_stationary"}}]})
    frame = to_frame(simulate(wl, hw), level="op")
    assert frame["mapping"][0] == "L0 8x8x8 mnk; output_stationary"
    assert frame["compute_cycles"][0] == serial_fold_cycles(8, 8, 8, 4, 4, "output_stationary")


# --- refused at load time ---------------------------------------------------------------------------
def problems_of(layers) -> dict:
    with pytest.raises(ConfigError) as info:
        load_workload({"name": "w", "layers": layers})
    return dict(info.value.problems)


def test_load_time_problems_have_key_paths():
    recurrent = {"variant": "recurrent", "n": 4, "d": 8}
    problems = problems_of([
        dict(ATTN, mapping={"score": {"tiles": [[8, 8, 8]], "loop_orders": ["mnk"]},
                            "softmax": {"tiles": [[8, 8, 8]], "loop_orders": ["mnk"]},
                            "context": {"tiles": [[8, 8, 8], [24, 24]], "loop_orders": ["mnk", "xyz"]}}),
        dict(ATTN, name="whole", mapping={"tiles": [[8, 8, 8]], "loop_orders": ["mnk"]}),
        {"variant": "gemm", "m": 16, "k": 8, "n": 8,
         "mapping": {"tiles": [[4, 8, 8], [6, 8, 40]], "loop_orders": ["mnk"], "dataflow": "os"}},
        dict(recurrent, mapping={"recurrence.wh": {"tiles": [[1, 8, 8]], "loop_orders": ["mnk"]}}),
        {"variant": "gemm", "m": 4, "k": 4, "n": 4, "mapping": [[4, 4, 4]]},
    ])
    assert "did you mean 'scores'" in problems["layers[0].mapping.score"]
    assert "not a GEMM" in problems["layers[0].mapping.softmax"]
    assert "expected [tm, tk, tn]" in problems["layers[0].mapping.context.tiles[1]"]
    assert "'xyz'" in problems["layers[0].mapping.context.loop_orders[1]"]
    assert "6 GEMM ops" in problems["layers[1].mapping"] and "key the mapping by op name" in problems["layers[1].mapping"]
    assert "multiple of the inner level's 4" in problems["layers[2].mapping.tiles[1]"]
    assert "expected one loop order per tile level (2" in problems["layers[2].mapping.loop_orders"]
    assert "weight_stationary" in problems["layers[2].mapping.dataflow"]
    assert "inside a recurrence" in problems["layers[3].mapping.recurrence.wh"]
    assert "expected a mapping" in problems["layers[4].mapping"]


def test_tile_larger_than_the_op_is_refused_at_load_time():
    problems = problems_of([{"variant": "gemm", "m": 16, "k": 8, "n": 8,
                             "mapping": {"tiles": [[16, 9, 8]], "loop_orders": ["mnk"]}}])
    assert problems == {"layers[0].mapping.tiles[0]": "tile k=9 exceeds the op's K=8"}


# --- refused before running, against the hardware ------------------------------------------------------
def test_hardware_problems_name_the_key_path_and_the_hardware():
    wl = load_workload({"name": "w", "layers": [
        {"name": "big", "variant": "gemm", "m": 64, "k": 64, "n": 64,
         "mapping": {"tiles": [[64, 64, 64]], "loop_orders": ["mnk"]}},
        dict(ATTN, mapping={"scores": {"tiles": [[8, 8, 24], [24, 8, 24]], "loop_orders": ["mnk", "mnk"]},
                            "context": {"tiles": [[8, 8, 8]], "loop_orders": ["mnk"], "dataflow": "input_stationary"}})]})
    hw = make_hw(rows=4, cols=4, sram_bytes=2 * 4000 * 4)
    hw = type(hw)(**{**hw.__dict__, "source": "hw_configs/tiny.yaml"})
    with pytest.raises(PinnedMappingError) as info:
        simulate(wl, hw)
    problems = dict(info.value.problems)
    assert set(problems) == {"layers[0].mapping.tiles[0]", "layers[1].mapping.scores.tiles",
                             "layers[1].mapping.context.dataflow"}
    assert "needs 49152 bytes, 16000 usable" in problems["layers[0].mapping.tiles[0]"]
    assert "2 tile levels" in problems["layers[1].mapping.scores.tiles"]
    assert "input_stationary is not one the array supports" in problems["layers[1].mapping.context.dataflow"]
    assert all("on hardware hw_configs/tiny.yaml" in m for m in problems.values())
    assert isinstance(info.value, MappingError)         # a sweep reports the point as invalid


def test_cli_exits_2_with_the_key_path(capsys, tmp_path):
    path = tmp_path / "pinned.yaml"
    path.write_text("name: p\nlayers:\n  - name: qk\n    variant: gemm\n    m: 512\n    k: 64\n    n: 512\n"
                    "    mapping: {tiles: [[512, 64, 512]], loop_orders: [mnk]}\n")
    code = cli.main(["run", str(path), "--hw", "hw_configs/edge_32x32.yaml"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"{path}: 1 problem" in err
    assert "layers[0].mapping.tiles[0]: L0 (sram): tile (512, 64, 512) needs 327680 bytes, 262144 usable" in err
    assert "hw_configs/edge_32x32.yaml" in err


# --- mapper and objective: keys and precedence ----------------------------------------------------------
def test_workload_mapper_keys_and_precedence():
    hw = make_hw(rows=4, cols=4, dataflow=["weight_stationary", "output_stationary"], sram_bytes=1 << 16)
    layers = [{"name": "g", "variant": "gemm", "m": 1, "k": 64, "n": 96}]
    keyed = load_workload({"name": "w", "mapper": "search", "objective": "energy", "layers": layers})
    plain = load_workload({"name": "w", "layers": layers})
    assert (keyed.mapper, keyed.objective, plain.mapper, plain.objective) == ("search", "energy", None, None)
    op = next(op for op in layer_graph(plain.layers[0]).ops)
    searched = search.search_gemm_mapping(op, hw, "energy").describe()
    heuristic = to_frame(simulate(plain, hw), level="op")["mapping"][0]
    assert searched != heuristic                                      # the two mappers differ here
    assert to_frame(simulate(keyed, hw), level="op")["mapping"][0] == searched        # the workload's keys
    assert to_frame(simulate(keyed, hw, mapper="heuristic"), level="op")["mapping"][0] == heuristic   # argument wins
    assert to_frame(simulate(plain, hw, mapper="search", objective="energy"), level="op")["mapping"][0] == searched


def test_objective_without_the_search_is_refused():
    with pytest.raises(ConfigError) as info:
        load_workload({"name": "w", "mapper": "heuristic", "objective": "edp", "layers": [ATTN]})
    assert "applies only with mapper: search" in dict(info.value.problems)["objective"]
    with pytest.raises(ConfigError) as info:
        load_workload({"name": "w", "mapper": "fastest", "layers": [ATTN]})
    assert "expected one of heuristic, search" in dict(info.value.problems)["mapper"]


def csv_mapping(text: str) -> str:
    import io

    import pandas as pd

    return pd.read_csv(io.StringIO(text))["mapping"][0]


def test_cli_mapper_flags(capsys, tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("name: w\nmapper: search\nobjective: energy\nlayers:\n"
                    "  - {name: g, variant: gemm, m: 512, k: 768, n: 768}\n")
    hw = "hw_configs/edge_32x32.yaml"
    runs = {}
    for flags in ((), ("--mapper", "heuristic"), ("--mapper", "search", "--objective", "energy"),
                  ("--objective", "cycles")):
        code = cli.main(["run", str(path), "--hw", hw, "--ops", "--format", "csv", *flags])
        out = capsys.readouterr().out
        assert code == 0
        runs[flags] = csv_mapping(out)
    edge = load_hardware(hw)
    op = Gemm("g", "A", "B", "C", 512, 768, 768)
    by_energy = search.search_gemm_mapping(op, edge, "energy").describe()
    assert runs[()] == runs[("--mapper", "search", "--objective", "energy")] == by_energy      # the keys
    assert runs[("--mapper", "heuristic")] == default_gemm_mapping(op, edge).describe() != by_energy
    assert runs[("--objective", "cycles")] == search.search_gemm_mapping(op, edge, "cycles").describe()
    assert cli.main(["run", str(path), "--mapper", "heuristic", "--objective", "energy"]) == 2
    assert "--objective applies only with --mapper search" in capsys.readouterr().err
