"""attnsim: a hardware-aware simulator and cost model for attention layers.

Public API: load_hardware, load_workload, simulate, to_frame.
"""
__version__ = "0.1.0"

from .hardware import load_hardware  # noqa: E402
from .report import to_frame  # noqa: E402
from .simulate import simulate  # noqa: E402
from .workload import load_workload  # noqa: E402

__all__ = ["load_hardware", "load_workload", "simulate", "to_frame", "__version__"]
