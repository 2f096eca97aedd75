"""A sweep's result rows: what a layer's row holds apart from prices, and its pricing per point.

Within a row only `seconds` (the clock), `energy_pj` and the energy breakdown (the energy prices)
depend on price-only hardware fields (sweep/memo.py); everything else is fixed by the layer's
counts and the keyed fields (name, dataflows, number format, array shape). RowParts keeps the
fixed values of a memoised layer once (results.count_columns); priced_row() prices them for a
point with the formulas of results.price_with_breakdown, so the numbers are the same to the last
bit (a test holds them equal to report.layer_record).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..cost import energy_breakdown_scalar, level_bytes_scalar
from ..enums import Counter
from ..report import BOUND_COLUMNS, GENERATION_COLUMNS, LAYER_COLUMNS, SCHEDULE_COLUMNS, bound_columns, schedule_record
from ..results import COUNT_HEAD, COUNT_MIDDLE, count_columns

# Per-row columns a worker fills: the layer-level contract (less `workload`, which the case gives)
# and the energy breakdown; sweep/report.py adds the point and case columns and provenance.
ROW_COLUMNS = tuple(c for c in LAYER_COLUMNS if c != "workload") + SCHEDULE_COLUMNS
_FIELD_COLUMNS = ("n", "d", "heads", "kernel", "window", "batch")
_HEAD, _MIDDLE = COUNT_HEAD, COUNT_MIDDLE
_ROW_ORDER = ("layer", "variant", "hw", "dataflow", *_FIELD_COLUMNS, "dtype", *_HEAD, "seconds", *_MIDDLE,
              "energy_pj", "sequential_steps", "max_path_length", *GENERATION_COLUMNS, *BOUND_COLUMNS,
              *SCHEDULE_COLUMNS)


@dataclass(frozen=True)
class RowParts:
    """One layer's row less its priced values, and what pricing reads."""
    head: tuple       # layer .. stall_cycles
    middle: tuple     # dram_read_bytes .. utilization
    tail: tuple       # sequential_steps .. the schedule columns
    cycles: int
    counts: list      # the layer's counts as plain ints, and its bytes per memory level
    reads: list
    writes: list


def row_parts(r, hw) -> RowParts:
    """The fixed parts of LayerResult `r`'s row on `hw` (or on any hardware of the same count key)."""
    counts = r.counts.tolist()
    reads, writes = level_bytes_scalar(counts, len(hw.memories))
    rec = count_columns(counts, reads, writes, r.cycles, r.compute_cycles, hw)
    head = (r.layer, r.variant, hw.name, hw.dataflow_name, *(r.fields.get(c) for c in _FIELD_COLUMNS),
            hw.format_name, *(rec[c] for c in _HEAD))
    tail = (r.sequential_steps, r.max_path_length, *(r.fields.get(c) for c in GENERATION_COLUMNS),
            *bound_columns(r.total).values(), *schedule_record(r).values())
    return RowParts(head, tuple(rec[c] for c in _MIDDLE), tail, r.cycles, counts, reads, writes)


def op_parts(layer: tuple, fields: dict, hw_names: tuple, steps: tuple, counts: list, bound_cycles: int,
             hw) -> RowParts:
    """row_parts of a layer that is one op run alone (sweep/gemmrows.py), from the op's counts as a
    list, without a LayerResult: its cycles, compute and busy cycles are the op's own counters and
    its bound the op's (what simulate() gives such a layer on either schedule). `layer`: (name,
    variant); `hw_names`: (hw.name, hw.dataflow_name, hw.format_name); `steps`: (sequential_steps,
    max_path_length). A test holds the parts equal to row_parts'."""
    cycles = counts[Counter.CYCLES]
    array, vector = counts[Counter.ARRAY_CYCLES], counts[Counter.VECTOR_CYCLES]
    reads, writes = level_bytes_scalar(counts, len(hw.memories))
    rec = count_columns(counts, reads, writes, cycles, array + vector, hw)
    head = (*layer, *hw_names[:2], *(fields.get(c) for c in _FIELD_COLUMNS), hw_names[2], *(rec[c] for c in _HEAD))
    tail = (*steps, *(fields.get(c) for c in GENERATION_COLUMNS), bound_cycles,
            bound_cycles / cycles if cycles > 0 else None, cycles, array, vector,
            counts[Counter.OFFCHIP_FILL_CYCLES], counts[Counter.OFFCHIP_DRAIN_CYCLES])
    return RowParts(head, tuple(rec[c] for c in _MIDDLE), tail, cycles, counts, reads, writes)


# op_parts writes the bound and schedule columns in this order
assert BOUND_COLUMNS == ("bound_cycles", "mapping_efficiency") and SCHEDULE_COLUMNS == (
    "serial_cycles", "array_busy_cycles", "vector_busy_cycles", "dram_read_busy_cycles", "dram_write_busy_cycles")


def priced_row(pid: int, case_index: int, parts: RowParts, hw) -> list:
    """[pid, case, *ROW_COLUMNS, *energy breakdown] of a layer on the point's hardware `hw`."""
    breakdown = energy_breakdown_scalar(parts.counts, parts.reads, parts.writes, hw)
    return [pid, case_index, *parts.head, parts.cycles / hw.clock_hz, *parts.middle, sum(breakdown.values()),
            *parts.tail, *(float(v) for v in breakdown.values())]


def layer_row(pid: int, case_index: int, r, hw) -> list:
    """[pid, case, *ROW_COLUMNS, *energy breakdown] of one LayerResult: the values of
    report.layer_record (a test holds them equal), with the layer's ops summed once."""
    return priced_row(pid, case_index, row_parts(r, hw), hw)
