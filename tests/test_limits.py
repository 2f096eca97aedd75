"""One test (at least) per class of hostile input of issue 11, each asserting the message and its
key path: no count can wrap, no price can be infinite, big numbers and hostile files are refused
cleanly, size refusals come early and say where, resources stay bounded, loose ends are tied."""
from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import sys

from simulator import guard, limits
from simulator.errors import ConfigError, LimitError
from simulator.hardware import Hardware, load_hardware
from simulator.simulate import layer_graph
from simulator.workload import load_workload
from tests.fuzzing import run

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = yaml.safe_load((ROOT / "hw_configs" / "default.yaml").read_text())
SMOKE = ROOT / "workloads" / "gemm_smoke.yaml"


def hw_file(tmp_path: Path, changes: dict, name: str = "hw.yaml") -> Path:
    data = copy.deepcopy(DEFAULT)
    for path, value in changes.items():
        target = data
        parts = path.split(".")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(parts[-1]) if parts[-1].isdigit() else parts[-1]] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def wl_file(tmp_path: Path, *layers: str, name: str = "wl.yaml") -> Path:
    path = tmp_path / name
    path.write_text("name: t\nlayers:\n" + "".join(f"  - {layer}\n" for layer in layers))
    return path


def refused(argv) -> str:
    code, out, err = run(argv)
    assert code == 2 and out == "" and "Traceback" not in err, err
    return err


# --- 1. no count wraps, outside the GEMM products too ----------------------------------------------
def test_absurd_cycles_per_op_is_refused_by_its_key(tmp_path):
    hw = hw_file(tmp_path, {"vector_unit.cycles_per_op.exp": 2 ** 44})
    err = refused(["run", SMOKE, "--hw", hw])
    assert err == (f"{hw}: 1 problem\n  vector_unit.cycles_per_op.exp: expected an integer in [1, 65536], "
                   f"got 17592186044416\n")


def test_absurd_bandwidth_is_refused_by_its_key(tmp_path):
    hw = hw_file(tmp_path, {"memories.1.read_bw_bytes_per_cycle": 1e-300})
    err = refused(["run", SMOKE, "--hw", hw])
    assert err == (f"{hw}: 1 problem\n  memories[1].read_bw_bytes_per_cycle: expected a number in [0.001, 1e+12], "
                   f"got 1e-300\n")


def test_vector_cycles_that_would_wrap_are_refused_with_layer_and_both_keys(tmp_path):
    hw = hw_file(tmp_path, {"vector_unit.cycles_per_op.exp": 65536, "vector_unit.lanes": 1})
    wl = wl_file(tmp_path, "{name: attn, variant: self_attention, n: 8388608, d: 1}")
    started = time.perf_counter()
    err = refused(["run", wl, "--hw", hw])
    assert time.perf_counter() - started < 10            # refused before anything runs
    assert err.startswith(f"{wl}: 1 problem\n  layers[0].n: layer 'attn' (self_attention): its vector-unit "
                          f"cycles on {hw} could reach ")
    assert "more than 4.612e+18 (2^62, what 64-bit counts hold with headroom)" in err
    assert "it grows with layers[0].n = 8388608" in err
    assert f"most of them come from vector_unit.cycles_per_op.exp = 65536 in {hw}" in err


def test_a_workload_whose_layers_add_up_past_the_counters_is_refused(tmp_path):
    hw = hw_file(tmp_path, {"vector_unit.cycles_per_op.exp": 65536, "vector_unit.lanes": 1})
    layer = "{{name: a{i}, variant: self_attention, n: 2097152, d: 1}}"
    wl = wl_file(tmp_path, *(layer.format(i=i) for i in range(40)))
    err = refused(["run", wl, "--hw", hw])
    assert err.startswith(f"{wl}: 1 problem\n  layers: the workload's total vector-unit cycles on {hw} could reach ")
    assert "its layers add up; split the workload or use smaller sizes" in err


def test_big_but_countable_layers_are_not_refused():
    """The tight tier keeps the coarse one honest: a 128K-token attention layer with d = 4096 on a
    256 x 256 array counts about 2^48 MACs; its coarse slot bound (any tiling) would pass 2^62."""
    hw = load_hardware(ROOT / "hw_configs" / "tpu_v1.yaml")
    wl = load_workload({"name": "long", "layers": [{"variant": "self_attention", "n": 131072, "d": 4096,
                                                     "causal": True}]})
    graphs = [layer_graph(s) for s in wl.layers]
    from simulator import upper_bounds as bounds

    assert guard.first_excess(bounds.layer_bound(graphs[0], hw), hw) is not None       # coarse: too big
    guard.check_workload(wl, graphs, [hw], False, "heuristic", "cycles")               # tight: fine


# --- 2. prices are finite ------------------------------------------------------------------------------
def test_absurd_energy_price_is_refused(tmp_path):
    hw = hw_file(tmp_path, {"mac_array.mac_energy_pj": 1e308})
    assert refused(["run", SMOKE, "--hw", hw]) == (
        f"{hw}: 1 problem\n  mac_array.mac_energy_pj: expected a number in [0, 1e+06], got 1e+308\n")


def test_the_largest_prices_on_the_largest_counts_stay_finite():
    worst_energy = limits.COUNT_LIMIT * 64 * max(f.maximum for k, f in limits.HW_FIELDS.items() if "pj" in k)
    assert worst_energy < 1e300
    area = 16384 * 16384 * limits.HW_FIELDS["area.mm2_per_mac"].maximum + 2 ** 50 / 2 ** 20 * 1e6 * 64
    assert area < 1e300


# --- 3. big or strange numbers are key-path errors ---------------------------------------------------
def test_integer_of_thousands_of_digits(tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_text((ROOT / "hw_configs" / "default.yaml").read_text().replace("rows: 64", "rows: " + "7" * 5000))
    assert refused(["validate", path]) == (f"{path}: 1 problem\n  mac_array.rows: expected an integer in "
                                           f"[1, 16384], got a 5000-digit integer (77777777777777777777...)\n")


def test_long_integer_where_a_float_belongs(tmp_path):
    for digits, shown in ((400, "a 400-digit integer (33333333333333333333...)"),
                          (90, "a 90-digit integer (33333333333333333333...)")):
        path = tmp_path / "hw.yaml"
        path.write_text((ROOT / "hw_configs" / "default.yaml").read_text()
                        .replace("clock_hz: 1.0e+9", "clock_hz: " + "3" * digits))
        assert refused(["validate", path]) == f"{path}: 1 problem\n  clock_hz: expected a number in [1, 1e+12], " \
                                              f"got {shown}\n"


def test_two_to_the_seventy_blames_its_own_key(tmp_path):
    hw = hw_file(tmp_path, {"mac_array.rows": 2 ** 70})
    assert refused(["validate", hw]) == (f"{hw}: 1 problem\n  mac_array.rows: expected an integer in [1, 16384], "
                                         f"got 1180591620717411303424\n")
    wl = wl_file(tmp_path, "{name: g, variant: gemm, m: 1180591620717411303424, k: 4, n: 4}")
    assert refused(["run", wl]) == (f"{wl}: 1 problem\n  layers[0].m: expected an integer in [1, 2^40], "
                                    f"got 1180591620717411303424\n")


def test_two_to_the_seventy_in_a_sweep_layer_grid_does_not_wedge_it(tmp_path):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "s", "base_hw": str(ROOT / "hw_configs" / "default.yaml"), "workloads": [str(SMOKE)],
        "hw_grid": {"mac_array.rows": [16, 32]}, "layer_grid": {"qk.m": [64, 2 ** 70]}}))
    out = tmp_path / "out"
    for _ in range(2):                      # the second run does not resume into anything
        code, _, err = run(["sweep", sweep, "--out", out, "--jobs", "1"])     # --quiet would hide the warning
        assert code == 0 and "Traceback" not in err
        assert "1 layer_grid combination is invalid" in err
        assert "layers[0].m: expected an integer in [1, 2^40], got 1180591620717411303424" in err
        assert not (out / ".partial").exists()


# --- 4. hostile files ------------------------------------------------------------------------------
def test_yaml_nested_ten_thousand_deep(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert refused(["validate", path]) == (f"{path}: 1 problem\n  YAML error at line 1, column 67: nested more "
                                           f"than 64 levels deep (mappings and lists)\n")


def test_a_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    started = time.perf_counter()
    assert refused(["run", fifo]) == (f"{fifo}: 1 problem\n  is a named pipe (FIFO), not a regular file; only "
                                      f"regular files are read\n")
    assert time.perf_counter() - started < 5


def test_an_endless_device_is_refused():
    assert refused(["validate", "/dev/zero"]) == ("/dev/zero: 1 problem\n  is a character device, not a regular "
                                                  "file; only regular files are read\n")


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as fh:
        fh.truncate(5 * 2 ** 20)
    assert refused(["validate", path]) == (f"{path}: 1 problem\n  is 5.00 MiB; configuration files are limited to "
                                           f"4 MiB (is this the right file?)\n")


def test_aliases_cannot_multiply_a_file(tmp_path):
    text = "a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 8))
    path = tmp_path / "laughs.yaml"
    path.write_text(text)
    assert "more than 1,000,000 values (each use of an alias counts its whole value)" in refused(["validate", path])


def test_unknown_user_in_a_sweep_path(tmp_path):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({"name": "s", "base_hw": "~no_such_user_attnsim/hw.yaml",
                                     "workloads": [str(SMOKE)]}))
    assert refused(["sweep", sweep, "--out", tmp_path / "out"]) == (
        f"{sweep}: 1 problem\n  base_hw: cannot expand '~no_such_user_attnsim/hw.yaml': no such user's home folder "
        f"on this machine\n")


# --- 5. size refusals are early and located ----------------------------------------------------------
def test_count_only_convolution_of_ten_billion_positions(tmp_path):
    wl = wl_file(tmp_path, "{name: c, variant: convolutional, n: 10000000000, d: 64, kernel: 3}")
    started = time.perf_counter()
    err = refused(["run", wl])
    assert time.perf_counter() - started < 10
    assert err.startswith(f"{wl}: 1 problem\n  layers[0].n: layer 'c' (convolutional): a count-only run needs "
                          f"about 223.5 GiB, more than half of this machine's memory")
    # one GEMM row per output position of every sequence: the mask grows with the batch as much
    assert err.endswith("it grows with layers[0].n = 10000000000, layers[0].batch = 1; use smaller sizes\n")


def test_huge_hard_attention_is_refused_at_once(tmp_path):
    wl = wl_file(tmp_path, "{name: h, variant: hard_attention, n: 100000000, d: 1000000, queries: 100000000}")
    started = time.perf_counter()
    err = refused(["run", wl])
    assert time.perf_counter() - started < 10
    assert err.startswith(f"{wl}: 1 problem\n  layers[0].d: layer 'h' (hard_attention): its MACs on ")


def test_walks_that_would_take_hours_are_refused(tmp_path):
    wl = wl_file(tmp_path, "{name: g, variant: gemm, m: 24, k: 16, n: 20, batch: 1099511627776}")
    err = refused(["run", wl])
    assert err.startswith(f"{wl}: 1 problem\n  layers[0].batch: layer 'g' (gemm): its simulation on ")
    assert "would walk about 1.1e+12 tile steps, chunks and blocks, more than 4.29e+09 (2^32" in err


def test_layers_that_add_up_to_hours_are_refused(tmp_path):
    # 1,000 layers of 2^23 steps each: every layer alone is far under the limit, their sum over it.
    # (The mapper walks the first layer's whole-extent seed, one step per batch element, before the
    # guard can sum: 2^23 steps take about a second where 20 layers of 2^28 took most of a minute.)
    layer = "{{name: g{i}, variant: gemm, m: 24, k: 16, n: 20, batch: 8388608}}"
    wl = wl_file(tmp_path, *(layer.format(i=i) for i in range(1000)))
    err = refused(["run", wl])
    assert err.startswith(f"{wl}: 1 problem\n  layers: the workload's simulation on ")
    assert "would walk about 8.39e+09 tile steps, chunks and blocks in all, more than 4.29e+09 (2^32" in err
    assert err.endswith("its layers add up; split the workload or use smaller sizes\n")


def test_refusals_come_before_the_first_layer_runs(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(sys.modules["simulator.simulate"], "run_graph", lambda *a, **k: ran.append(a) or ((), 0))
    wl = wl_file(tmp_path, "{name: small, variant: gemm, m: 8, k: 8, n: 8}",
                 "{name: big, variant: gemm, m: 1099511627776, k: 1099511627776, n: 1099511627776}")
    err = refused(["run", wl])
    assert ran == [] and "layers[1]." in err and "layer 'big' (gemm): its MACs" in err


def test_every_refusal_names_the_file_and_the_layer(tmp_path):
    """The size errors that named neither file nor layer nor key now all do."""
    cases = ["{name: x, variant: gemm, m: 4194304, k: 4194304, n: 4194304, batch: 4}",
             "{name: x, variant: self_attention, n: 1073741824, d: 64, fused: true}",
             "{name: x, variant: recurrent, n: 1099511627776, d: 8}",
             "{name: x, variant: position_embedding, n: 1099511627776, d: 8}",
             "{name: x, variant: local_attention, target_len: 1073741824, source_len: 1073741824, d: 8, "
             "window_radius: 2, score: concat, mode: local_m}"]
    for layer in cases:
        wl = wl_file(tmp_path, layer)
        err = refused(["run", wl])
        assert err.startswith(f"{wl}: 1 problem\n  layers[0].") and "layer 'x' (" in err, err


def test_functional_memory_refusal_is_located(tmp_path):
    wl = wl_file(tmp_path, "{name: g, variant: gemm, m: 1000000, k: 100000, n: 100000}")
    err = refused(["run", wl, "--functional"])
    assert err.startswith(f"{wl}: 1 problem\n  layers[0].")
    assert "layer 'g' (gemm): a functional run needs about " in err and "without --functional" in err


# --- 6. bounded resources --------------------------------------------------------------------------
def million_point_sweep(tmp_path, **extra) -> Path:
    sweep = tmp_path / "million.yaml"
    values = list(range(1, 101))
    sweep.write_text(yaml.safe_dump({
        "name": "million", "base_hw": str(ROOT / "hw_configs" / "default.yaml"), "workloads": [str(SMOKE)],
        "hw_grid": {"mac_array.rows": values, "mac_array.cols": values, "vector_unit.lanes": values}, **extra}))
    return sweep


def test_a_million_point_sweep_needs_max_points(tmp_path):
    sweep = million_point_sweep(tmp_path)
    assert refused(["sweep", sweep, "--out", tmp_path / "out"]) == (
        f"{sweep}: 1 problem\n  hw_grid: 1,000,000 design points x 1 workload variant = 1,000,000 evaluations, more "
        f"than 100,000, the most a sweep runs unasked: add `max_points: 1000000` to the sweep file (or pass "
        f"--max-points 1000000) to run it\n")
    assert not (tmp_path / "out").exists()
    err = refused(["sweep", million_point_sweep(tmp_path, max_points=500_000), "--out", tmp_path / "out"])
    assert "max_points: 1,000,000 design points x 1 workload variant = 1,000,000 evaluations, more than max_points " \
           "allows (500,000)" in err


def test_max_points_lets_a_big_sweep_through(tmp_path):
    from simulator.sweep.run import check_size
    from simulator.sweep.spec import load_sweep

    check_size(load_sweep(million_point_sweep(tmp_path, max_points=1_000_000)))
    check_size(load_sweep(million_point_sweep(tmp_path)), max_points=1_000_000)


def test_a_huge_value_is_quoted_short(tmp_path):
    hw = hw_file(tmp_path, {"number_format": "x" * 3_000_000})
    err = refused(["validate", hw])
    assert len(err) < 1000
    assert "number_format: expected one of fp32, fp16, bf16, int8; got 'xxxx" in err
    assert "... (3,000,000 characters)" in err


def test_many_unknown_keys_print_twenty_problems(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("".join(f"k{i}: 1\n" for i in range(20_000)))
    code, out, err = run(["run", SMOKE, "--hw", path])
    assert code == 2
    lines = err.splitlines()
    assert lines[0] == f"{path}: 20,006 problems"
    assert len(lines) == 22 and lines[-1] == "  ... and 19,986 more"
    assert lines[1] == "  k0: unknown key (allowed keys: name, clock_hz, number_format, mac_array, vector_unit, " \
                       "memories, description, area, schedule)"


def test_jobs_are_capped_at_the_cpus(tmp_path):
    from tests.fuzzing import small_sweep

    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump(small_sweep(tmp_path)))
    code, _, err = run(["sweep", sweep, "--out", tmp_path / "out", "--jobs", "4096"])
    cpus = len(os.sched_getaffinity(0))
    assert code == 0
    assert f"attnsim: note: --jobs 4096 is more than the {cpus} CPU{'s' if cpus != 1 else ''} this machine gives " \
           f"it; using {cpus}" in err


# --- 7. loose ends ---------------------------------------------------------------------------------
def test_stale_temporary_files_of_a_killed_write_are_removed(tmp_path):
    out = tmp_path / "report.csv"
    stale = tmp_path / ".report.csv.999999999.abc123.tmp"       # a pid that cannot be running
    stale.write_text("half a report")
    code, _, err = run(["run", SMOKE, "--out", out])
    assert code == 0 and out.exists() and not stale.exists()
    assert f"attnsim: note: removed {stale}, a temporary file an interrupted earlier write left behind" in err


def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    import signal

    from simulator import fileio

    monkeypatch.setattr(fileio.os, "fsync", lambda fd: os.kill(os.getpid(), signal.SIGTERM))
    out = tmp_path / "report.csv"
    code, _, err = run(["run", SMOKE, "--out", out])
    assert code == 143 and err.endswith("attnsim: terminated\n")
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is not None        # the previous handler is back


def test_limits_table_is_what_the_readme_says():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Limits", 1)[1].split("\n## ", 1)[0]
    for key, limit in limits.HW_FIELDS.items():
        assert f"`{key}`" in section, key
    for text in ("2^62", "2^40", "4 MiB", "64 levels", "20 problems", "80 characters", "100,000", "2^32"):
        assert text in section, text


def test_hardware_limits_admit_every_preset():
    for path in sorted((ROOT / "hw_configs").glob("*.yaml")):
        assert isinstance(load_hardware(path), Hardware)
    with pytest.raises(ConfigError):
        Hardware.from_dict({**DEFAULT, "clock_hz": 1e13})
    assert issubclass(LimitError, ConfigError)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), kernel=st.integers(1, 90), dilation=st.integers(1, 5),
       padding=st.sampled_from(["same", "causal", "valid"]), stack=st.sampled_from(["constant", "exponential"]))
def test_taps_beyond_the_sequence_change_no_path_length(n, kernel, dilation, padding, stack):
    """Convolution taps farther than the sequence are no longer enumerated (a kernel of 2^31 taps
    allocated 16 GB): the searched path length is the one all the taps give."""
    from simulator.connectivity import Taps, max_path_length
    from simulator.variants.convolutional import layer_offsets, output_length

    if padding == "valid" and output_length(n, kernel, dilation, padding) < 1:
        return
    constant = stack == "constant" or kernel == 1
    every = Taps(n, layer_offsets(kernel, dilation, padding, stack), constant=constant)
    inside = Taps(n, layer_offsets(kernel, dilation, padding, stack, n), constant=constant)
    assert max_path_length(inside) == max_path_length(every)


def test_a_recurrence_of_a_million_steps_has_its_path_length_at_once():
    from simulator.connectivity import Chain, max_path_length

    started = time.perf_counter()
    assert max_path_length(Chain(1_000_000)) == 1_000_000
    assert max_path_length(Chain(1)) is None and max_path_length(Chain(2)) == 2
    assert time.perf_counter() - started < 5


def test_a_repeat_stack_that_would_wrap_is_refused_before_anything_runs(tmp_path):
    """`repeat` multiplies every count of its layer: the guard bounds the stack, not one copy."""
    wl = wl_file(tmp_path, "{name: g, variant: gemm, m: 1048576, k: 1048576, n: 1048576, repeat: 16}")
    started = time.perf_counter()
    err = refused(["run", wl])
    assert time.perf_counter() - started < 10
    assert err.startswith(f"{wl}: 1 problem\n  layers[0].")
    assert "layer 'g' (gemm): its MACs on " in err and "could reach 1.845e+19" in err
