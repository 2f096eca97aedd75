"""Registry of layer types: variant name -> Variant.

Every module of this package that defines `VARIANT` (a Variant) is registered under its name.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import LayerSpec, Variant


def _discover() -> dict[str, Variant]:
    found: dict[str, Variant] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        variant = getattr(module, "VARIANT", None)
        if variant is None:
            continue
        if variant.name in found:
            raise RuntimeError(f"variant {variant.name!r} is defined twice (second in {module.__name__})")
        found[variant.name] = variant
    return found


REGISTRY: dict[str, Variant] = _discover()


def get(name: str) -> Variant:
    return REGISTRY[name]


__all__ = ["REGISTRY", "get", "LayerSpec", "Variant"]
