"""What every layer type provides, and declarative parameter validation.

A variant module defines a frozen dataclass of its parameters (each field's metadata says how to
validate it, via `param`) and a `Variant` that builds the layer's op graph from them.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from ..checks import Checker, join
from ..graph import OpGraph
from ..limits import LAYER_INT_MAX, SEED_MAX


def param(kind: str, default: Any = MISSING, minimum: int | None = None, choices: tuple = (),
          doc: str = ""):
    """A dataclass field for a layer parameter.  kind: int | bool | choice | float | seed."""
    meta = {"kind": kind, "minimum": minimum, "choices": choices, "doc": doc}
    if default is MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def parse_params(cls, chk: Checker, path: str, data: dict, skip: tuple[str, ...] = ()):
    """Validate `data` against the parameter dataclass `cls`; return an instance or None."""
    values = {}
    ok = True
    for f in fields(cls):
        meta = f.metadata
        p = join(path, f.name)
        if f.name not in data:
            if f.default is MISSING:
                chk.add(p, "missing key")
                ok = False
            continue
        raw = data[f.name]
        kind = meta["kind"]
        if kind == "int":
            low = meta["minimum"] if meta["minimum"] is not None else -LAYER_INT_MAX
            v = chk.integer(p, raw, minimum=low, maximum=LAYER_INT_MAX)
        elif kind == "seed":
            v = chk.integer(p, raw, minimum=0 if meta["minimum"] is None else meta["minimum"], maximum=SEED_MAX)
        elif kind == "bool":
            v = chk.boolean(p, raw)
        elif kind == "choice":
            v = chk.choice(p, raw, meta["choices"])
        elif kind == "float":
            v = chk.number(p, raw, minimum=meta["minimum"])
        else:
            raise ValueError(f"unknown parameter kind {kind!r}")
        if v is None:
            ok = False
        else:
            values[f.name] = v
    return cls(**values) if ok else None


def param_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a workload: its variant, validated parameters and batch, and the mappings pinned
    for its GEMM ops (pins.Pin; the workload's `mapping` key).

    `repeat`: the layer stands for a stack of that many identical layers run one after another
    (a model's blocks): every count, cycle and sequential step is multiplied by it.
    """
    name: str
    variant: str
    params: Any
    batch: int = 1
    repeat: int = 1
    pins: tuple = ()


class Variant:
    """Interface of a layer type.  Subclasses set `name` and `params_cls` and implement build()."""
    name: str = ""
    params_cls: type = object

    def is_data_dependent(self, spec: LayerSpec) -> bool:
        """True when what the layer computes decides what it counts (e.g. window positions predicted
        from the data): simulate() then computes its values even in count-only mode."""
        return False

    def check(self, chk: Checker, path: str, params) -> None:
        """Cross-parameter checks (e.g. heads dividing d); add problems to `chk`."""

    def build(self, spec: LayerSpec) -> OpGraph:
        raise NotImplementedError

    def report_fields(self, spec: LayerSpec) -> dict[str, Any]:
        """Values of the report columns n, d, heads, kernel, window and the generation columns
        phase, context, new_tokens, kv_heads; `kv_cache_elements` and `state_elements` (elements
        kept between generation steps, whole batch) become the byte columns. Others stay empty."""
        return {}

    def shape(self, spec: LayerSpec) -> str:
        """The layer's sizes and options in its own parameter names, e.g. 'm=512 k=64 n=512' or
        'n=512 d=512 cell=lstm': required parameters, and the others where they differ from their
        default (a true flag by its name). The `shape` report column."""
        parts = []
        for f in fields(self.params_cls):
            value, kind = getattr(spec.params, f.name), f.metadata["kind"]
            if kind == "seed" or value is None or (f.default is not MISSING and value == f.default):
                continue
            parts.append(f.name if value is True else f"{f.name}={str(value).lower() if kind == 'bool' else value}")
        return " ".join(parts)

    def connectivity(self, spec: LayerSpec):
        """Which input positions each output position reads in one hop (connectivity.py), or None
        for layers without positions."""
        return None

    def max_path_length(self, spec: LayerSpec) -> int | None:
        """Hops between the farthest connected input and output positions, searched over the
        layer's actual connectivity; None when it has no positions or no two connect."""
        conn = self.connectivity(spec)
        if conn is None:
            return None
        from ..connectivity import max_path_length

        return max_path_length(conn)
