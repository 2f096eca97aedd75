"""Small hardware and workload builders for tests (tests never read hw_configs/ for unit checks)."""
from __future__ import annotations

import copy

from simulator.hardware import Hardware

VEC_KINDS = ("add", "mul", "max", "exp", "div", "tanh", "sigmoid", "sin", "cos", "rsqrt")


def hw_dict(rows=4, cols=4, dataflow="weight_stationary", fold_overlap="serial", number_format="fp32",
            sram_bytes=1 << 20, levels=None, lanes=4, dram_bw=8.0, sram_bw=64.0, double_buffered=True):
    """A small, valid hardware dict; `levels` (list of on-chip sizes, innermost first) adds levels."""
    sizes = levels if levels is not None else [sram_bytes]
    memories = [{"name": f"l{i}", "size_bytes": size, "read_bw_bytes_per_cycle": sram_bw * (0.5 ** i),
                 "write_bw_bytes_per_cycle": sram_bw * (0.5 ** i), "read_pj_per_byte": 1.0 + i,
                 "write_pj_per_byte": 1.5 + i, "double_buffered": double_buffered}
                for i, size in enumerate(sizes)]
    memories.append({"name": "dram", "size_bytes": None, "read_bw_bytes_per_cycle": dram_bw,
                     "write_bw_bytes_per_cycle": dram_bw, "read_pj_per_byte": 50.0, "write_pj_per_byte": 60.0})
    return {
        "name": "test_hw", "clock_hz": 1.0e9, "number_format": number_format,
        "mac_array": {"rows": rows, "cols": cols, "dataflow": dataflow, "fold_overlap": fold_overlap,
                      "mac_energy_pj": 0.5},
        "vector_unit": {"lanes": lanes, "cycles_per_op": {k: 1 + i % 4 for i, k in enumerate(VEC_KINDS)},
                        "op_energy_pj": 0.25},
        "memories": memories,
    }


def make_hw(**kwargs) -> Hardware:
    return Hardware.from_dict(hw_dict(**kwargs), source="<test>")


def with_changes(d: dict, changes: dict) -> dict:
    """Copy of dict `d` with dotted-path changes, e.g. {"mac_array.rows": 0, "memories[0].name": "x"}."""
    out = copy.deepcopy(d)
    for path, value in changes.items():
        target = out
        parts = _split(path)
        for part in parts[:-1]:
            target = target[part]
        if value is _DELETE:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value
    return out


class _Delete:
    def __repr__(self):
        return "DELETE"


_DELETE = _Delete()
DELETE = _DELETE


def _split(path: str):
    parts = []
    for chunk in path.split("."):
        while "[" in chunk:
            head, rest = chunk.split("[", 1)
            if head:
                parts.append(head)
            idx, chunk = rest.split("]", 1)
            parts.append(int(idx))
        if chunk:
            parts.append(chunk)
    return parts
