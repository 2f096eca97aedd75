"""Workload YAML validation (workload.py, variants/base.py): every problem by its key path and text."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from simulator import load_workload
from simulator.checks import Checker
from simulator.errors import ConfigError
from simulator.variants import REGISTRY
from simulator.variants.base import param, param_names, parse_params
from simulator.variants.gemm import GemmParams
from simulator.workload import Workload

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = sorted((ROOT / "workloads").glob("*.yaml"))
VARIANTS = ", ".join(sorted(REGISTRY))
NUM_BOOL = "(a boolean: YAML reads unquoted yes/no/on/off/true/false as booleans)"
TEXT_BOOL = ("(a boolean: YAML reads unquoted yes/no/on/off/true/false as booleans, "
             "so quote the word if you mean text)")
GEMM_KEYS = "variant, name, batch, repeat, m, k, n, mapping"


def gemm(**changes) -> dict:
    layer = {"name": "g", "variant": "gemm", "m": 8, "k": 4, "n": 6}
    layer.update(changes)
    return {k: v for k, v in layer.items() if v is not _DROP}


_DROP = object()


def wl(*layers, **top) -> dict:
    data = {"name": "w", "layers": list(layers) if layers else [gemm()]}
    data.update(top)
    return {k: v for k, v in data.items() if v is not _DROP}


def problems(data) -> list[str]:
    with pytest.raises(ConfigError) as info:
        Workload.from_dict(copy.deepcopy(data), source="wl.yaml")
    assert info.value.source == "wl.yaml"
    return [f"{path}: {msg}" if path else msg for path, msg in info.value.problems]


# --- valid workloads ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", WORKLOADS, ids=lambda p: p.stem)
def test_bundled_workloads_load(path):
    w = load_workload(path)
    assert w.name == path.stem and w.layers
    assert w.source == str(path) and len(w.sha256) == 64
    assert all(spec.variant in REGISTRY for spec in w.layers)


def test_valid_gemm_layer():
    w = Workload.from_dict(wl(gemm(batch=3), gemm(name=_DROP, m=1, k=1, n=1)), source="wl.yaml")
    assert w.name == "w" and w.description == ""
    first, second = w.layers
    assert (first.name, first.variant, first.batch) == ("g", "gemm", 3)
    assert first.params == GemmParams(m=8, k=4, n=6)
    assert (second.name, second.batch) == ("layer1", 1)      # default name and batch


def test_description_is_kept():
    assert Workload.from_dict(wl(description="two GEMMs")).description == "two GEMMs"


def test_load_workload_accepts_a_dict():
    assert load_workload(wl()).source == "<dict>"


def test_integral_float_and_exponent_sizes(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("name: w\nlayers:\n  - {variant: gemm, m: 1e3, k: 64.0, n: 2}\n")
    assert load_workload(path).layers[0].params == GemmParams(m=1000, k=64, n=2)


# --- the file's top level -------------------------------------------------------------------------
@pytest.mark.parametrize("data, message", [
    (None, "the file is empty; expected a mapping with the keys name, layers"),
    ([gemm()], "expected a mapping with the keys name, layers at the top level, got a list"),
    ("gemm", "expected a mapping with the keys name, layers at the top level, got 'gemm'"),
])
def test_top_level_not_a_mapping(data, message):
    assert problems(data) == [message]


@pytest.mark.parametrize("changes, line", [
    ({"name": _DROP}, "name: missing key"),
    ({"layers": _DROP}, "layers: missing key"),
    ({"name": ""}, "name: expected a non-empty string, got ''"),
    ({"name": 12}, "name: expected a non-empty string, got 12"),
    ({"name": False}, f"name: expected a non-empty string, got False {TEXT_BOOL}"),
    ({"description": 4}, "description: expected a string, got 4"),
    ({"descripton": "x"}, "descripton: unknown key (did you mean 'description'?)"),
    ({"desc": "x"}, "desc: unknown key (allowed keys: name, layers, description, mapper, objective)"),
    ({"layer": [gemm()]}, "layer: unknown key (did you mean 'layers'?)"),
    ({"layers": []}, "layers: expected a non-empty list of layers, got an empty list"),
    ({"layers": None}, "layers: expected a list of layers, got null"),
    ({"layers": {"g": gemm()}}, "layers: expected a list of layers, got a mapping"),
    ({"layers": "gemm"}, "layers: expected a list of layers, got 'gemm'"),
])
def test_top_level_keys(changes, line):
    data = wl(**changes)
    expected = [line]
    if "layer" in changes:
        data.pop("layers")
        expected.append("layers: missing key")
    assert problems(data) == expected


# --- one layer ------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer, message", [
    ("gemm", "expected a mapping with a 'variant' key, got 'gemm'"),
    (None, "expected a mapping with a 'variant' key, got null"),
    ([1, 2], "expected a mapping with a 'variant' key, got a list"),
    (7, "expected a mapping with a 'variant' key, got 7"),
])
def test_layer_not_a_mapping(layer, message):
    assert problems(wl(layer)) == [f"layers[0]: {message}"]


def test_missing_variant():
    assert problems(wl(gemm(variant=_DROP))) == [f"layers[0].variant: missing key (the layer type: one of {VARIANTS})"]


@pytest.mark.parametrize("value, message", [
    ("gemmm", f"expected one of {VARIANTS}; got 'gemmm' (did you mean 'gemm'?)"),
    ("GEMM", f"expected one of {VARIANTS}; got 'GEMM' (did you mean 'gemm'?)"),
    ("zzz_unrelated_layer", f"expected one of {VARIANTS}; got 'zzz_unrelated_layer'"),
    (None, f"expected one of {VARIANTS}; got null"),
    (True, f"expected one of {VARIANTS}; got True {TEXT_BOOL}"),
    (3, f"expected one of {VARIANTS}; got 3"),
])
def test_unknown_variant(value, message):
    assert problems(wl(gemm(variant=value))) == [f"layers[0].variant: {message}"]


@pytest.mark.parametrize("key", ["m", "k", "n"])
def test_missing_gemm_param(key):
    assert problems(wl(gemm(**{key: _DROP}))) == [f"layers[0].{key}: missing key"]


def test_all_gemm_params_missing():
    assert problems(wl({"variant": "gemm"})) == ["layers[0].m: missing key", "layers[0].k: missing key",
                                                "layers[0].n: missing key"]


@pytest.mark.parametrize("key, message", [
    ("mm", "unknown key (did you mean 'm'?)"),
    ("bathc", "unknown key (did you mean 'batch'?)"),
    ("heads", f"unknown key (allowed keys: {GEMM_KEYS})"),
    ("sequence_length", f"unknown key (allowed keys: {GEMM_KEYS})"),
])
def test_unknown_gemm_key(key, message):
    assert problems(wl(gemm(**{key: 2}))) == [f"layers[0].{key}: {message}"]


@pytest.mark.parametrize("key, value, message", [
    ("m", 0, "expected an integer in [1, 2^40], got 0"),
    ("k", -1, "expected an integer in [1, 2^40], got -1"),
    ("n", 2.5, "expected an integer in [1, 2^40], got 2.5"),
    ("m", "512", "expected an integer in [1, 2^40], got '512'"),
    ("m", True, f"expected an integer in [1, 2^40], got True {NUM_BOOL}"),
    ("k", None, "expected an integer in [1, 2^40], got null"),
    ("n", [4], "expected an integer in [1, 2^40], got a list"),
    ("batch", 0, "expected an integer in [1, 2^40], got 0"),
    ("batch", -2, "expected an integer in [1, 2^40], got -2"),
    ("batch", "2", "expected an integer in [1, 2^40], got '2'"),
    ("batch", False, f"expected an integer in [1, 2^40], got False {NUM_BOOL}"),
    ("name", "", "expected a non-empty string, got ''"),
    ("name", 3, "expected a non-empty string, got 3"),
    ("name", None, "expected a non-empty string, got null"),
])
def test_wrong_layer_values(key, value, message):
    assert problems(wl(gemm(**{key: value}))) == [f"layers[0].{key}: {message}"]


def test_every_problem_of_one_layer():
    assert problems(wl(gemm(m=0, k="x", n=_DROP, batch=0, name="", extra=1))) == [
        f"layers[0].extra: unknown key (allowed keys: {GEMM_KEYS})",
        "layers[0].name: expected a non-empty string, got ''",
        "layers[0].batch: expected an integer in [1, 2^40], got 0",
        "layers[0].m: expected an integer in [1, 2^40], got 0",
        "layers[0].k: expected an integer in [1, 2^40], got 'x'",
        "layers[0].n: missing key",
    ]


# --- layer names ----------------------------------------------------------------------------------
def test_duplicate_layer_names():
    assert problems(wl(gemm(name="a"), gemm(name="b"), gemm(name="a"))) == [
        "layers[2].name: duplicate layer name 'a'; also used by layers[0]"]


def test_duplicate_of_a_default_name_says_so():
    assert problems(wl(gemm(name="layer1"), gemm(name=_DROP))) == [
        "layers[1].name: duplicate layer name 'layer1' (the default name of this unnamed layer; give it a name); "
        "also used by layers[0]"]


def test_three_equal_names_each_point_at_the_first():
    assert problems(wl(gemm(), gemm(), gemm())) == [
        "layers[1].name: duplicate layer name 'g'; also used by layers[0]",
        "layers[2].name: duplicate layer name 'g'; also used by layers[0]"]


# --- everything at once ---------------------------------------------------------------------------
def test_several_problems_listed_together(tmp_path):
    data = {"name": "w", "extra": 1, "layers": [gemm(m=0, batch=0), gemm(name="h", variant="gem"), "x",
                                                gemm(name="g", n=_DROP)]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        load_workload(path)
    assert str(info.value) == "\n".join([
        f"{path}: 6 problems",
        "  extra: unknown key (allowed keys: name, layers, description, mapper, objective)",
        "  layers[0].batch: expected an integer in [1, 2^40], got 0",
        "  layers[0].m: expected an integer in [1, 2^40], got 0",
        f"  layers[1].variant: expected one of {VARIANTS}; got 'gem' (did you mean 'gemm'?)",
        "  layers[2]: expected a mapping with a 'variant' key, got 'x'",
        "  layers[3].n: missing key",
    ])


def test_yaml_errors_name_the_workload_file(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("name: w\nlayers:\n  - {variant: gemm, m: 1, k: 2, n: 3, m: 4}\n")
    with pytest.raises(ConfigError) as info:
        load_workload(path)
    assert str(info.value).startswith(f"{path}: 1 problem\n  YAML error at line 3")
    assert "duplicate key 'm'" in str(info.value)


# --- variants/base.py: declarative parameter parsing ----------------------------------------------
@dataclass(frozen=True)
class _AllKinds:
    size: int = param("int", minimum=1)
    causal: bool = param("bool", default=False)
    mode: str = param("choice", default="dense", choices=("dense", "sparse"))
    scale: float = param("float", default=1.0, minimum=0.0)
    seed: int = param("seed", default=0)


def _parse(data: dict):
    chk = Checker("p.yaml")
    params = parse_params(_AllKinds, chk, "layers[0]", data)
    return params, [f"{p}: {m}" for p, m in chk.problems]


def test_param_names():
    assert param_names(GemmParams) == ("m", "k", "n")
    assert param_names(_AllKinds) == ("size", "causal", "mode", "scale", "seed")


def test_parse_params_defaults_and_values():
    assert _parse({"size": 3}) == (_AllKinds(size=3), [])
    got, errs = _parse({"size": 3, "causal": True, "mode": "sparse", "scale": 1e-3, "seed": 7})
    assert errs == [] and got == _AllKinds(3, True, "sparse", 1e-3, 7)
    assert isinstance(_parse({"size": 3, "scale": 2})[0].scale, float)


@pytest.mark.parametrize("data, line", [
    ({}, "layers[0].size: missing key"),
    ({"size": 0}, "layers[0].size: expected an integer in [1, 2^40], got 0"),
    ({"size": 1, "causal": "yes"}, "layers[0].causal: expected true or false, got 'yes'"),
    ({"size": 1, "causal": 1}, "layers[0].causal: expected true or false, got 1"),
    ({"size": 1, "mode": "Sparse"}, "layers[0].mode: expected one of dense, sparse; got 'Sparse' (did you mean 'sparse'?)"),
    ({"size": 1, "mode": "block"}, "layers[0].mode: expected one of dense, sparse; got 'block'"),
    ({"size": 1, "scale": -0.5}, "layers[0].scale: expected a number >= 0, got -0.5"),
    ({"size": 1, "scale": "big"}, "layers[0].scale: expected a number >= 0, got 'big'"),
    ({"size": 1, "scale": True}, f"layers[0].scale: expected a number >= 0, got True {NUM_BOOL}"),
    ({"size": 1, "seed": -1}, "layers[0].seed: expected an integer in [0, 2^63-1], got -1"),
    ({"size": 1, "seed": 1.5}, "layers[0].seed: expected an integer in [0, 2^63-1], got 1.5"),
])
def test_parse_params_problems(data, line):
    params, errs = _parse(data)
    assert params is None
    assert errs == [line]


def test_parse_params_collects_every_problem():
    params, errs = _parse({"size": 0, "causal": "no", "mode": 3, "scale": None, "seed": "x"})
    assert params is None and len(errs) == 5
