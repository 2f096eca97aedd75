"""A Workload from a model config: the `model:` form of a workload file and `attnsim run --model`.

```yaml
name: llama3_8b_decode            # optional (default: the config's file name and the phase)
model: {config: ../models/llama3_8b_shaped.json, phase: decode, context: 4096, batch: 1, tokens: 1}
```
A relative `config` path is read from the workload file's folder.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..checks import Checker, describe, join
from ..errors import ConfigError
from .block import ModelRun, block_layers, model_run
from .config import load_model_config

_MODEL_KEYS = ("config", "phase")
_MODEL_OPTIONAL = ("context", "tokens", "batch")


def model_workload(run: ModelRun, name: str | None = None, description: str = "", source: str | None = None,
                   sha256: str | None = None):
    """The Workload of one step of `run`'s block stack (layers validated like any workload's)."""
    from ..workload import Workload, parse_layer

    chk = Checker(source or run.shape.source)
    layers = []
    for i, item in enumerate(block_layers(run)):
        spec = parse_layer(chk, join("model", f"layers[{i}]"), item, default_name=f"layer{i}")
        if spec is not None:
            layers.append(spec)
    chk.raise_if_any()
    name = name or f"{run.shape.name}_{run.phase}"
    return Workload(name, tuple(layers), description, source or run.shape.source,
                    sha256 if sha256 is not None else run.shape.sha256, model=run)


def workload_from_model_section(data: dict, source: str, text: str | None):
    """Workload.from_dict for a mapping with a `model:` section."""
    chk = Checker(source)
    if "layers" in data:
        chk.add("layers", "a workload either lists layers or builds them from a model: section, not both")
    top = chk.mapping("", data, ("model",), optional=("name", "description", "layers"))
    name = chk.string("name", top["name"]) if "name" in top else None
    section = chk.mapping("model", top.get("model"), _MODEL_KEYS, optional=_MODEL_OPTIONAL)
    config = chk.string("model.config", section["config"]) if "config" in section else None
    if not isinstance(top.get("description", ""), str):
        chk.add("description", f"expected a string, got {describe(top['description'])}")
    chk.raise_if_any()
    path = Path(config)
    if not path.is_absolute() and source not in ("<dict>", ""):
        path = Path(source).parent / path
    try:
        shape = load_model_config(path)
    except ConfigError as exc:
        for p, m in exc.problems:
            chk.add("model.config", f"{path}: {p}: {m}" if p else f"{path}: {m}")
        chk.raise_if_any()
    run = model_run(chk, "model", shape, section.get("phase"), section.get("context"), section.get("tokens"),
                    section.get("batch"))
    chk.raise_if_any()
    digest = hashlib.sha256(((text or "") + shape.sha256).encode()).hexdigest() if text is not None else ""
    return model_workload(run, name, top.get("description", ""), source, digest)
