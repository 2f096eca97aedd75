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
from operator import itemgetter

from ..cost import energy_breakdown_scalar, level_bytes_scalar
from ..enums import Counter
from ..report import (BOUND_COLUMNS, GENERATION_COLUMNS, LAYER_COLUMNS, SCHEDULE_COLUMNS, bound_columns,
                      mapping_efficiency, schedule_record)
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
    head, tail = named_parts(r.layer, r.variant, r.fields, (r.sequential_steps, r.max_path_length), hw)
    return RowParts((*head, *_HEAD_OF(rec)), _MIDDLE_OF(rec),
                    (*tail, *bound_columns(r.total).values(), *schedule_record(r).values()),
                    r.cycles, counts, reads, writes)


def named_parts(layer: str, variant: str, fields: dict, steps: tuple, hw) -> tuple[tuple, tuple]:
    """A row's values before its counts (the layer, the hardware's names, the layer's fields) and
    those between utilization and the bound (`steps`: sequential_steps, max_path_length; the
    generation fields): what no count enters."""
    return ((layer, variant, hw.name, hw.dataflow_name, *(fields.get(c) for c in _FIELD_COLUMNS), hw.format_name),
            (*steps, *(fields.get(c) for c in GENERATION_COLUMNS)))


def op_parts(head: tuple, tail: tuple, counts: list, bound_cycles: int, hw) -> RowParts:
    """row_parts of a layer that is one op run alone (sweep/gemmrows.py), from the op's counts as a
    list and its bound, without a LayerResult: the layer's cycles, compute and busy cycles are the
    op's own counters (what simulate() gives such a layer on either schedule). `head`, `tail`: the
    layer's named_parts. The equality tests of the sweep hold the rows equal to simulate()'s."""
    cycles = counts[_CYCLES]
    array, vector = counts[_ARRAY_CYCLES], counts[_VECTOR_CYCLES]
    reads, writes = level_bytes_scalar(counts, len(hw.memories))
    rec = count_columns(counts, reads, writes, cycles, array + vector, hw)
    return RowParts((*head, *_HEAD_OF(rec)), _MIDDLE_OF(rec),
                    (*tail, bound_cycles, mapping_efficiency(bound_cycles, cycles), cycles, array, vector,
                     counts[_FILL_CYCLES], counts[_DRAIN_CYCLES]), cycles, counts, reads, writes)


_HEAD_OF, _MIDDLE_OF = itemgetter(*_HEAD), itemgetter(*_MIDDLE)
_CYCLES, _ARRAY_CYCLES, _VECTOR_CYCLES = int(Counter.CYCLES), int(Counter.ARRAY_CYCLES), int(Counter.VECTOR_CYCLES)
_FILL_CYCLES, _DRAIN_CYCLES = int(Counter.OFFCHIP_FILL_CYCLES), int(Counter.OFFCHIP_DRAIN_CYCLES)


# op_parts writes the bound and schedule columns in this order
assert BOUND_COLUMNS == ("bound_cycles", "mapping_efficiency") and SCHEDULE_COLUMNS == (
    "serial_cycles", "array_busy_cycles", "vector_busy_cycles", "dram_read_busy_cycles", "dram_write_busy_cycles")


def priced_row(pid: int, case_index: int, parts: RowParts, hw) -> list:
    """[pid, case, *ROW_COLUMNS, *energy breakdown] of a layer on the point's hardware `hw`."""
    return full_row(priced_cells(pid, case_index, 0, parts, hw), (parts.head, parts.middle, parts.tail))


def priced_cells(pid: int, case_index: int, index: int, parts: RowParts, hw) -> list:
    """What of priced_row(pid, case_index, parts, hw) is not in `parts`' head, middle and tail, with
    the parts' `index` in their chunk's table: [pid, case, index, seconds, energy_pj, *breakdown]."""
    breakdown = energy_breakdown_scalar(parts.counts, parts.reads, parts.writes, hw)
    return [pid, case_index, index, parts.cycles / hw.clock_hz, sum(breakdown.values()),
            *(float(v) for v in breakdown.values())]


def full_row(cells, part) -> list:
    """The row of priced_cells `cells` whose parts' (head, middle, tail) are `part`: priced_row's."""
    head, middle, tail = part
    return [cells[0], cells[1], *head, cells[3], *middle, cells[4], *tail, *cells[5:]]


# a row's parts split where the priced values go: head | seconds | middle | energy_pj | tail
HEAD_LENGTH = ROW_COLUMNS.index("seconds")
MIDDLE_LENGTH = ROW_COLUMNS.index("energy_pj") - HEAD_LENGTH - 1
TAIL_LENGTH = len(ROW_COLUMNS) - HEAD_LENGTH - MIDDLE_LENGTH - 2
PRICED_COLUMNS = ("seconds", "energy_pj")
PART_COLUMNS = tuple(c for c in ROW_COLUMNS if c not in PRICED_COLUMNS)


def layer_row(pid: int, case_index: int, r, hw) -> list:
    """[pid, case, *ROW_COLUMNS, *energy breakdown] of one LayerResult: the values of
    report.layer_record (a test holds them equal), with the layer's ops summed once."""
    return priced_row(pid, case_index, row_parts(r, hw), hw)
