"""attnsim: a hardware-aware simulator and cost model for attention layers.

Public API: load_hardware, load_workload, simulate, to_frame.

The names are imported on first use (PEP 562): `attnsim --help` and `attnsim validate` never load
pandas or Numba, which cost most of a second to import.
"""
import sys
import types

__version__ = "0.1.0"

__all__ = ["load_hardware", "load_workload", "simulate", "to_frame", "__version__"]

_HOMES = {"load_hardware": "hardware", "load_workload": "workload", "simulate": "simulate", "to_frame": "report"}


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The package keeps `simulate` the function: importing the submodule simulator/simulate.py
    (the import system then sets it as an attribute of the package) must not shadow it."""

    def __setattr__(self, name, value):
        if name in _HOMES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
