"""`attnsim table`: measure Table 1 and its hardware extensions, write CSV, Markdown and figures."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import __version__
from ..fileio import write_atomic
from ..report import display_path
from ..sidework import SideWork, can_fork, quiet_child
from . import extensions, figures, generation
from .markdown import reference_point, render_markdown
from .runs import shared_runs
from .settings import TableSettings
from .table1 import measure_table

FILES = ("table1.csv, table1.md, crossover.csv, heads.csv, memory.csv, roofline.csv, generation.csv, "
         "generation_sweep.csv and 7 figures")


def provenance(hw) -> dict:
    return {"hw": hw.name, "hw_file": display_path(hw.source), "hw_sha256": hw.sha256,
            "simulator_version": __version__}


def make_table1(hw, out_dir: Path, settings: TableSettings | None = None) -> dict[str, pd.DataFrame]:
    """Run every measurement and write the report files into `out_dir`. Returns the frames."""
    with shared_runs():                  # sections that simulate the same layer share the run
        return _make_table1(hw, out_dir, settings or TableSettings())


def _make_table1(hw, out_dir: Path, s: TableSettings) -> dict[str, pd.DataFrame]:
    out_dir = Path(out_dir)
    with _SidePart(hw, out_dir, s) as side:      # the crossover and memory sweeps: in a second process
        table, measurements = measure_table(hw, s.table1)
        roof, roof_meta = extensions.roofline_points(measurements, hw)
        frames = {"table1": table,
                  "heads": extensions.heads_question(hw, s.heads_arrays, s.heads_n, s.heads_d),
                  "roofline": roof}
        frames["generation_sweep"] = generation.measure_sweep(hw, s.generation)
        frames["generation"] = generation.summary(frames["generation_sweep"], s.generation)
        figures.heads(frames["heads"], s.heads_n, s.heads_d, out_dir / "heads.png")
        figures.complexity(measurements, hw.name, s.table1, out_dir / "complexity.png")
        figures.roofline(roof, roof_meta, hw.name, reference_point(s), out_dir / "roofline.png")
        for metric, name in (("cycles_per_token", "generation_cycles"), ("dram_bytes_per_token", "generation_bytes")):
            figures.generation(frames["generation_sweep"], frames["generation"], hw.name, metric,
                               out_dir / f"{name}.png")
        frames.update(side.result())
    prov = provenance(hw)
    # No timestamp: the same code and hardware give byte-identical files, so re-running the main
    # job on a checkout leaves it clean (the simulator version and the config's sha256 say what made it).
    for name in FRAME_ORDER:
        write_atomic(out_dir / f"{name}.csv", frames[name].assign(**prov).to_csv(index=False))
    frames = {name: frames[name] for name in FRAME_ORDER}
    write_atomic(out_dir / "table1.md", render_markdown(frames, roof_meta, prov, s))
    return frames


FRAME_ORDER = ("table1", "crossover", "heads", "memory", "roofline", "generation_sweep", "generation")


def _side_part(hw, out_dir: Path, s: TableSettings) -> dict[str, pd.DataFrame]:
    """Sections that need nothing from the others, about half the work: the crossover sweeps (long
    recurrences and attention up to n = 16384) and the memory sweep, with their figures."""
    sweeps = extensions.crossover_sweeps(hw, s.crossover_d, s.crossover_n)
    frames = {"crossover": extensions.crossover_table(sweeps),
              "memory": extensions.memory_sweep(hw, s.memory_n, s.memory_d)}
    figures.crossover(sweeps, frames["crossover"], hw.name, out_dir / "crossover.png")
    figures.memory(frames["memory"], hw.name, out_dir / "memory.png")
    return frames


class _SidePart(SideWork):
    """_side_part in a forked process while this one measures the other sections (the machine's
    second core: about half of the warm run), or here, afterwards (sidework.py)."""

    def __init__(self, hw, out_dir: Path, s: TableSettings):
        super().__init__(_side_part, hw, out_dir, s, fork_ok=lambda: _can_fork())


_can_fork = can_fork          # module attributes: tests run the table without the fork
_quiet_child = quiet_child


def summary_text(frames, settings: TableSettings | None = None) -> str:
    """What the command prints, at most 120 characters wide: the paper's columns, the hardware
    columns and the generation section (every column is in the CSV files and table1.md)."""
    from ..terminal import Col, field, fixed, joules, render_columns, share, si

    s = settings or TableSettings()
    name = field("layer_type", header="layer type", shrink=1)
    exps = [field(f"{v}_exponent", fixed(2), f"{v} exp") for v in ("n", "d", "k", "r")]
    paper = [name, field("paper_complexity", header="paper"), *exps,
             field("paper_sequential_ops", header="paper seq"), field("sequential_ops", header="seq ops"),
             field("paper_path_length", header="paper path"), field("path_length", header="path")]
    hardware = [name, field("macs", si, "MACs"), field("cycles", si), field("serial_cycles", si, "serial"),
                field("overlap_speedup", fixed(2), "overlap"), field("utilization", fixed(3), "util"),
                Col("DRAM", lambda r: r["dram_bytes"], lambda v: si(v, "B")), field("energy_pj", joules, "energy"),
                field("array_share", share, "array"), field("vector_share", share, "vector"),
                field("stall_share", share, "stall")]
    b0, b1 = s.generation.batches[0], s.generation.batches[-1]
    gen = [field("name", header="layer", shrink=1), *(field(f"{m}_exponent", fixed(2), f"{h} exp") for m, h in
                   (("macs", "MACs"), ("dram_bytes", "bytes"), ("cycles", "cycles"))),
           field("state_bytes_per_sequence", lambda v: si(v, "B"), "state/seq"),
           field(f"memory_bound_from_n_batch_{b0}", header=f"memory-bound at batch {b0}", shrink=1),
           field(f"memory_bound_from_n_batch_{b1}", header=f"at batch {b1}", shrink=1)]

    def table(frame, cols):
        return render_columns(frame.astype(object).to_dict("records"), cols)

    return (table(frames["table1"], paper) + "\n" + table(frames["table1"], hardware) + "\n"
            + "Generation (per new token at context n):\n" + table(frames["generation"], gen))
