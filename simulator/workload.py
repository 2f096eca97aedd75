"""Workloads: a named list of layers, each a variant with validated parameters."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import yaml_io
from .checks import Checker, describe, join
from .pins import parse_pins
from .limits import LAYER_INT_MAX
from .variants import REGISTRY
from .variants.base import LayerSpec, param_names, parse_params

_COMMON = ("name", "variant", "batch", "repeat")
MAX_REPEAT = 1_000_000     # a stack of layers; far above any model's depth, far below int64 trouble


@dataclass(frozen=True)
class Workload:
    name: str
    layers: tuple[LayerSpec, ...]
    description: str = ""
    source: str = "<dict>"
    sha256: str = ""
    model: Any = None          # models.block.ModelRun when the layers were built from a model config
    mapper: str | None = None        # `mapper:` key (simulate() and --mapper override it)
    objective: str | None = None     # `objective:` key, for the search mapper

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>", text: str | None = None) -> "Workload":
        if isinstance(data, dict) and "model" in data:
            from .models.workload import workload_from_model_section

            return workload_from_model_section(data, source, text)
        chk = Checker(source)
        top = chk.mapping("", data, ("name", "layers"), optional=("description", "mapper", "objective"))
        name = chk.string("name", top["name"]) if "name" in top else None
        if "description" in top and not isinstance(top["description"], str):
            chk.add("description", f"expected a string, got {describe(top['description'])}")
        layers = []
        seen: dict[str, int] = {}
        items = chk.sequence("layers", top["layers"], min_len=1, what="layers") if "layers" in top else []
        for i, item in enumerate(items):
            spec = parse_layer(chk, join("layers", i), item, default_name=f"layer{i}")
            if spec is None:
                continue
            if spec.name in seen:
                implicit = "" if "name" in item else " (the default name of this unnamed layer; give it a name)"
                chk.add(join(join("layers", i), "name"),
                        f"duplicate layer name {describe(spec.name)}{implicit}; also used by layers[{seen[spec.name]}]")
            seen.setdefault(spec.name, i)
            layers.append(spec)
        mapper, objective = _parse_mapper(chk, top)
        chk.raise_if_any()
        digest = hashlib.sha256(text.encode()).hexdigest() if text is not None else ""
        return cls(name, tuple(layers), top.get("description", ""), source, digest, mapper=mapper, objective=objective)


def parse_layer(chk: Checker, path: str, item: Any, default_name: str) -> LayerSpec | None:
    """Validate one layer mapping; problems go to `chk`."""
    start = chk.count
    if not isinstance(item, dict):
        chk.add(path, f"expected a mapping with a 'variant' key, got {describe(item)}")
        return None
    if "variant" not in item:
        chk.add(join(path, "variant"), f"missing key (the layer type: one of {', '.join(sorted(REGISTRY))})")
        return None
    vname = chk.choice(join(path, "variant"), item["variant"], sorted(REGISTRY))
    if vname is None:
        return None
    variant = REGISTRY[vname]
    allowed = _COMMON + param_names(variant.params_cls) + ("mapping",)
    chk.mapping(path, item, ("variant",), optional=tuple(k for k in allowed if k != "variant"))
    layer_name = chk.string(join(path, "name"), item["name"]) if "name" in item else default_name
    batch = chk.integer(join(path, "batch"), item.get("batch", 1), minimum=1, maximum=LAYER_INT_MAX)
    repeat = chk.integer(join(path, "repeat"), item.get("repeat", 1), minimum=1, maximum=MAX_REPEAT)
    params = parse_params(variant.params_cls, chk, path, {k: v for k, v in item.items() if k in allowed})
    if params is not None:
        variant.check(chk, path, params)
    if chk.count > start:
        return None
    spec = LayerSpec(layer_name, vname, params, batch, repeat)
    if "mapping" in item:
        pins = parse_pins(chk, join(path, "mapping"), item["mapping"], spec)
        if len(chk.problems) > start:
            return None
        spec = replace(spec, pins=pins)
    return spec


def _parse_mapper(chk: Checker, top: dict) -> tuple[str | None, str | None]:
    """The workload's own mapper and objective keys (None when absent)."""
    from .enums import MAPPER_NAMES as MAPPERS, OBJECTIVE_NAMES as OBJECTIVES

    mapper = chk.choice("mapper", top["mapper"], MAPPERS) if "mapper" in top else None
    objective = chk.choice("objective", top["objective"], OBJECTIVES) if "objective" in top else None
    if objective is not None and mapper == "heuristic":
        chk.add("objective", "applies only with mapper: search (the heuristic mapper always minimises cycles)")
    return mapper, objective


def load_workload(source: str | Path | dict) -> Workload:
    """Load a workload from a YAML path or an already-parsed dict; raise ConfigError on problems."""
    if isinstance(source, dict):
        return Workload.from_dict(source)
    data, text = yaml_io.load_file(source)
    return Workload.from_dict(data, source=str(source), text=text)
