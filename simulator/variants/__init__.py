"""Registry of layer types: variant name -> Variant."""
from __future__ import annotations

from . import gemm
from .base import LayerSpec, Variant

REGISTRY: dict[str, Variant] = {v.name: v for v in (gemm.VARIANT,)}


def get(name: str) -> Variant:
    return REGISTRY[name]


__all__ = ["REGISTRY", "get", "LayerSpec", "Variant"]
