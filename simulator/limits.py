"""Every documented limit of the tool in one place (the README's "Limits" section describes them).

The limits exist so that no input, however large or strange, can make the tool print a wrong
number, hang, or exhaust memory: a value outside them is refused with its key path.

* Hardware fields: each number has a range (`HW_FIELDS`). The ranges are far beyond any real
  design, and chosen so that no valid hardware config can overflow on its own: every product the
  simulator forms from hardware fields alone (array area, tile footprints, prices) stays finite
  and inside int64.
* Layer parameters: integers up to `LAYER_INT_MAX`; seeds up to `SEED_MAX`. Whether a layer's
  counts fit the 64-bit counters depends on the layer and the hardware together: upper_bounds.py
  computes an upper bound of every count before anything runs and guard.py refuses a workload
  whose bound exceeds `COUNT_LIMIT`.
* Files, YAML, messages, sweeps, memory: the constants below.
"""
from __future__ import annotations

import functools
import os
from typing import NamedTuple

# --- counts -----------------------------------------------------------------------------------
# Kernels count in int64, which wraps silently at 2**63. Every count, and every sum of counts the
# reports form (per op, per layer, per workload), must stay below this bound; the factor-2
# headroom also covers the float rounding of transfer times (ceil of a float quotient).
COUNT_LIMIT = 2 ** 62

# --- files and YAML ---------------------------------------------------------------------------
MAX_FILE_BYTES = 4 * 2 ** 20       # configuration files are a few KiB; refuse anything above 4 MiB
MAX_YAML_DEPTH = 64                # nesting of mappings and lists (the bundled files need 4)
MAX_YAML_NODES = 1_000_000         # values in one file, counting each use of an alias in full
MAX_INT_DIGITS = 100               # a longer YAML integer is refused by the key that holds it

# --- messages ---------------------------------------------------------------------------------
MAX_PROBLEMS_SHOWN = 20            # problems listed per file, then "... and N more"
MAX_VALUE_CHARS = 80               # a value quoted in a message is cut to about this many characters
MAX_LINE_CHARS = 2000              # a whole message line (two file paths and a few values), as a last resort

# --- layer parameters -------------------------------------------------------------------------
LAYER_INT_MAX = 2 ** 40            # every integer layer parameter and `batch` (n, d, heads, window, ...)
SEED_MAX = 2 ** 63 - 1             # seeds (numpy's SeedSequence takes non-negative integers)

# --- work -------------------------------------------------------------------------------------
# Tile steps, vector chunks and attention blocks one layer's kernels may walk (a step costs about
# 0.1-0.3 us, so this is about ten minutes): a larger layer is refused before it starts.
MAX_WALK_STEPS = 2 ** 32
# The exact maximum-path-length search of one layer (connectivity.py, about 30 ns a step); above it
# the column is left empty with a note (only dilated convolutions of more than about 4,000
# positions and irregular masks of many thousand).
MAX_PATH_SEARCH_STEPS = 2 ** 32

# --- memory -----------------------------------------------------------------------------------
MEMORY_FRACTION = 0.5              # a run may plan to hold at most this share of physical memory
_FALLBACK_MEMORY = 16 * 2 ** 30    # when the machine does not say


@functools.lru_cache(maxsize=1)
def memory_limit_bytes() -> int:
    """The most memory one layer's run may hold: MEMORY_FRACTION of the machine's memory."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = _FALLBACK_MEMORY
    return int(physical * MEMORY_FRACTION)


# --- sweeps -----------------------------------------------------------------------------------
SWEEP_DEFAULT_MAX_POINTS = 100_000  # design points x workload variants, unless `max_points:` says more
SWEEP_MAX_POINTS = 10_000_000       # the most `max_points:` may allow
SWEEP_MAX_VARIANTS = 10_000         # workload variants one layer_grid may expand into


# --- hardware fields --------------------------------------------------------------------------
class FieldLimit(NamedTuple):
    minimum: float
    maximum: float
    unit: str
    integer: bool = False


MAX_MEMORY_LEVELS = 16             # memories: 2 .. 16 levels (on-chip levels, then off-chip)

# Key paths as in error messages, with [] for any index. Ranges are inclusive.
HW_FIELDS: dict[str, FieldLimit] = {
    "clock_hz": FieldLimit(1.0, 1e12, "Hz"),
    "mac_array.rows": FieldLimit(1, 16384, "PEs", integer=True),
    "mac_array.cols": FieldLimit(1, 16384, "PEs", integer=True),
    "mac_array.mac_energy_pj": FieldLimit(0.0, 1e6, "pJ"),
    "vector_unit.lanes": FieldLimit(1, 1_048_576, "lanes", integer=True),
    "vector_unit.cycles_per_op.*": FieldLimit(1, 65536, "cycles", integer=True),
    "vector_unit.op_energy_pj": FieldLimit(0.0, 1e6, "pJ"),
    "memories[].size_bytes": FieldLimit(1, 2 ** 50, "bytes", integer=True),
    "memories[].read_bw_bytes_per_cycle": FieldLimit(1e-3, 1e12, "bytes/cycle"),
    "memories[].write_bw_bytes_per_cycle": FieldLimit(1e-3, 1e12, "bytes/cycle"),
    "memories[].read_pj_per_byte": FieldLimit(0.0, 1e6, "pJ/byte"),
    "memories[].write_pj_per_byte": FieldLimit(0.0, 1e6, "pJ/byte"),
    "area.mm2_per_mac": FieldLimit(0.0, 1e6, "mm^2"),
    "area.mm2_per_vector_lane": FieldLimit(0.0, 1e6, "mm^2"),
    "area.mm2_per_mib[]": FieldLimit(0.0, 1e6, "mm^2"),
}
