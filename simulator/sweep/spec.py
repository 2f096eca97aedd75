"""Sweep files: parse and validate them, and expand their grids (docs/sweeps.md).

A design point is one combination of `hw_grid`, numbered by its index in the canonical product
order (keys in file order, the last key varying fastest, like itertools.product). A case is one
workload file under one combination of the `layer_grid` keys that apply to it. Every problem of
the sweep file is reported at once (checks.Checker); the base hardware and workload files report
their own problems under their own names.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checks import Checker, describe, join
from ..errors import ConfigError
from ..limits import SWEEP_MAX_POINTS, SWEEP_MAX_VARIANTS
from ..hardware import Hardware
from ..variants import REGISTRY
from ..variants.base import param_names
from ..workload import Workload
from .. import yaml_io
from .expansion import Expansion, check_every_point, error_message
from .formulas import SECTIONS, build_expansion
from .grid import check_hw_keys, code_digest, digest, parse_grid

MAPPERS = ("heuristic", "search")
MAPPER_OBJECTIVES = ("cycles", "energy", "edp")
# Objectives are minimised and summed over a workload's layers, so only additive columns qualify.
ADDITIVE_COLUMNS = ("cycles", "compute_cycles", "stall_cycles", "seconds", "energy_pj", "macs", "slot_macs",
                    "vector_ops", "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes",
                    "bound_cycles")
NOT_OBJECTIVES = {
    "utilization": "it is a ratio that is maximised, not an additive cost; minimise cycles instead",
    "sequential_steps": "it does not depend on the hardware",
    "max_path_length": "it does not depend on the hardware",
    "mapping_efficiency": "it is a ratio that is maximised, not an additive cost; minimise cycles instead",
}
DEFAULT_OBJECTIVES = ("cycles", "energy_pj", "area_mm2")
MAX_POINTS = SWEEP_MAX_POINTS
_TOP = ("name", "base_hw", "workloads")
_TOP_OPTIONAL = ("description", "hw_grid", *SECTIONS, "layer_grid", "objectives", "mapper", "mapper_objective",
                 "max_points")


@dataclass(frozen=True)
class Case:
    """One workload variant: workload file `workload_index` under layer-grid combination `grid_id`."""
    index: int                      # position in SweepSpec.cases
    workload_index: int
    grid_id: int
    values: tuple                   # ((layer_grid key, value), ...) for the keys that apply
    workload: Workload | None       # None when the combination is invalid
    problems: tuple = ()            # (key path, message) when invalid


@dataclass(frozen=True)
class SweepSpec:
    name: str
    description: str
    source: str
    sha256: str
    base_hw_path: str
    base_hw: Hardware
    base_data: dict
    workload_paths: tuple[str, ...]
    workloads: tuple[Workload, ...]
    expansion: Expansion
    layer_keys: tuple[str, ...]
    cases: tuple[Case, ...]
    objectives: tuple[str, ...]
    mapper: str
    mapper_objective: str
    energy_columns: tuple[str, ...]   # energy_mac_pj, energy_vector_pj, energy_<level>_pj
    filtered_early: int = 0           # points the constraints on keys filter (known before simulating)
    max_points: int | None = None      # evaluations allowed beyond limits.SWEEP_DEFAULT_MAX_POINTS

    @property
    def n_points(self) -> int:
        """Design points in the grid (ids 0 .. n_points - 1), constraints not applied."""
        return self.expansion.n_points

    @property
    def hw_keys(self) -> tuple[str, ...]:
        """Every hardware key a point sets: hw_grid, zip, tied, then derived keys."""
        return self.expansion.keys

    @property
    def hw_parts(self) -> tuple[tuple, ...]:
        return self.expansion.parts

    @property
    def valid_cases(self) -> tuple[Case, ...]:
        return tuple(c for c in self.cases if c.workload is not None)

    def point_values(self, point_id: int) -> tuple:
        """The values of `hw_keys` at a point."""
        return self.expansion.values(point_id)

    def fingerprint_parts(self) -> dict[str, str]:
        """Hashes of everything that decides the rows (not the objectives, not comments)."""
        from .. import __version__

        return {
            "base hardware": digest(self.base_data),
            "workloads": digest([[w.name, [repr(layer) for layer in w.layers]] for w in self.workloads]),
            **{section: digest(value) for section, value in self.expansion.fingerprint().items()},
            "layer_grid": digest([[c.workload_index, c.grid_id, list(map(list, c.values))] for c in self.cases]),
            "mapper": digest([self.mapper, self.mapper_objective]),
            "simulator version": __version__,
            "simulator code": code_digest(),
        }


# --- loading ---------------------------------------------------------------------------------
def load_sweep(path: str | Path) -> SweepSpec:
    """Load and validate a sweep file; raise ConfigError listing every problem."""
    data, text = yaml_io.load_file(path)
    return sweep_from_dict(data, source=str(path), text=text)


def sweep_from_dict(data: Any, source: str = "<dict>", text: str | None = None) -> SweepSpec:
    chk = Checker(source)
    top = chk.mapping("", data, _TOP, optional=_TOP_OPTIONAL)
    name = _parse_name(chk, top)
    here = Path(source).parent if source != "<dict>" else Path(".")
    base_path = _resolve(chk, "base_hw", top["base_hw"], here) if "base_hw" in top else None
    wl_paths = _workload_paths(chk, top["workloads"], here) if "workloads" in top else None
    mapper, mapper_objective = _parse_mapper(chk, top)
    tied = top.get("tied")
    zipped_in_grid = frozenset(tied) if isinstance(tied, dict) else frozenset()     # zipped with their leader
    hw_grid = parse_grid(chk, "hw_grid", top.get("hw_grid", {}), allow_empty=True, repeats=zipped_in_grid)
    layer_grid = parse_grid(chk, "layer_grid", top.get("layer_grid", {}), allow_empty=True)
    base, workloads = _load_references(chk, base_path, wl_paths)
    if hw_grid is not None and base is not None:
        check_hw_keys(chk, hw_grid, base)
    expansion = build_expansion(chk, top, hw_grid, base)
    if expansion is not None:
        _check_size(chk, expansion.n_points)
    if workloads:
        _check_workload_names(chk, workloads)
        _check_layer_keys(chk, layer_grid, [w for _, w, _ in workloads])
        _check_variants(chk, layer_grid, [w for _, w, _ in workloads])
    max_points = (chk.integer("max_points", top["max_points"], minimum=1, maximum=SWEEP_MAX_POINTS)
                  if "max_points" in top else None)
    energy_columns = _energy_columns(chk, base[0]) if base else None
    objectives = _objectives(chk, top.get("objectives", list(DEFAULT_OBJECTIVES)), energy_columns, base)
    chk.raise_if_any()
    checked = check_every_point(expansion)
    if checked.errors:
        raise ConfigError(source, [(path, error_message(entry, expansion.n_points))
                                   for path, entry in checked.errors.items()])
    filtered_early = sum(checked.filtered.values())
    if filtered_early and filtered_early == expansion.n_points:
        by = ", ".join(f"{p}: {n:,}" for p, n in sorted(checked.filtered.items()))
        raise ConfigError(source, [("constraints", f"filter every one of the {expansion.n_points:,} design points "
                                                   f"({by}); nothing would be evaluated")])
    return SweepSpec(
        name=name, description=top.get("description", ""), source=source,
        sha256=hashlib.sha256(text.encode()).hexdigest() if text is not None else "",
        base_hw_path=str(base_path), base_hw=base[0], base_data=base[0].raw,
        workload_paths=tuple(str(p) for p, _, _ in workloads), workloads=tuple(w for _, w, _ in workloads),
        expansion=expansion, layer_keys=tuple(layer_grid), cases=tuple(_cases(layer_grid, workloads)),
        objectives=tuple(objectives), mapper=mapper, mapper_objective=mapper_objective,
        energy_columns=tuple(energy_columns), filtered_early=filtered_early,
        max_points=max_points)


def _parse_name(chk: Checker, top: dict) -> str | None:
    name = chk.string("name", top["name"]) if "name" in top else None
    if name is not None and not re.fullmatch(r"[\w.+-]+", name):
        chk.add("name", f"expected letters, digits, '_', '-', '.' or '+' only (it names the output folder "
                        f"reports/sweeps/<name>/), got {describe(name)}")
        name = None
    if "description" in top and not isinstance(top["description"], str):
        chk.add("description", f"expected a string, got {describe(top['description'])}")
    return name


def _parse_mapper(chk: Checker, top: dict) -> tuple[str | None, str | None]:
    mapper = chk.choice("mapper", top.get("mapper", "heuristic"), MAPPERS)
    objective = chk.choice("mapper_objective", top.get("mapper_objective", "cycles"), MAPPER_OBJECTIVES)
    if "mapper_objective" in top and mapper == "heuristic":
        chk.add("mapper_objective", "applies only with mapper: search (the heuristic mapper has no objective)")
    return mapper, objective


def _check_size(chk: Checker, n: int) -> None:
    if n > MAX_POINTS:
        chk.add("hw_grid", f"{n:,} design points is more than this tool runs in one sweep ({MAX_POINTS:,}); "
                           f"narrow the grid or split it into several sweep files")


def _resolve(chk: Checker, path: str, value: Any, here: Path) -> Path | None:
    """A file named in the sweep file: relative to the current folder, else to the sweep file's."""
    if chk.string(path, value) is None:
        return None
    try:
        given = Path(value).expanduser()
    except RuntimeError:          # ~user of a user this machine does not know
        chk.add(path, f"cannot expand {describe(value)}: no such user's home folder on this machine")
        return None
    tried = [given] if given.is_absolute() else [given, here / given]
    for candidate in dict.fromkeys(tried):
        if candidate.is_file():
            return candidate
        if candidate.exists() and not candidate.is_dir():
            chk.add(path, f"{describe(value)} is not a regular file (a pipe or a device?); only regular files are read")
            return None
    shown = ", ".join(str(t) for t in dict.fromkeys(tried))
    chk.add(path, f"file not found: {describe(value)} (tried {shown}; relative paths are looked up from the current "
                  f"folder, then from the sweep file's folder)")
    return None


def _workload_paths(chk: Checker, value: Any, here: Path) -> list[Path] | None:
    items = [value] if isinstance(value, str) else chk.sequence("workloads", value, min_len=1,
                                                                  what="workload files")
    paths = [_resolve(chk, "workloads" if isinstance(value, str) else join("workloads", i), v, here)
             for i, v in enumerate(items)]
    seen: dict = {}
    for i, p in enumerate(paths):
        if p is not None and p.resolve() in seen:
            chk.add(join("workloads", i), f"lists {describe(items[i])} twice (also workloads[{seen[p.resolve()]}])")
        elif p is not None:
            seen[p.resolve()] = i
    return paths if paths and None not in paths else None


def _load_references(chk: Checker, base_path, wl_paths):
    """The base hardware and the workloads. Their own problems are reported under their names, after
    the sweep file's problems (the sweep file is what the user is editing)."""
    base = workloads = None
    error = None
    try:
        base = _load_base(base_path) if base_path else None
    except ConfigError as exc:
        error = exc
    try:
        workloads = [_load_workload(p) for p in wl_paths] if wl_paths else None
    except ConfigError as exc:
        error = error or exc
    if error is not None:
        chk.raise_if_any()
        raise error
    return base, workloads


def _load_base(path: Path):
    data, text = yaml_io.load_file(path)
    if isinstance(data, dict) and "layers" in data:
        raise ConfigError(str(path), [("", "this looks like a workload file, but base_hw names a hardware file")])
    hw = Hardware.from_dict(data, source=str(path), text=text)
    return hw, text


def _load_workload(path: Path):
    data, text = yaml_io.load_file(path)
    if isinstance(data, dict) and "mac_array" in data:
        raise ConfigError(str(path), [("", "this looks like a hardware file, but workloads lists workload files")])
    return path, Workload.from_dict(data, source=str(path), text=text), (data, text)


def _check_workload_names(chk: Checker, workloads) -> None:
    seen: dict[str, int] = {}
    for i, (_, w, _) in enumerate(workloads):
        if w.name in seen:
            chk.add(join("workloads", i), f"workload name {describe(w.name)} is also the name of workloads[{seen[w.name]}]; "
                                          f"results are keyed by workload name, so rename one")
        seen.setdefault(w.name, i)


def layer_params(spec) -> tuple[str, ...]:
    return ("batch",) + param_names(REGISTRY[spec.variant].params_cls)


def key_applies(key: str, spec) -> bool:
    """layer_grid key 'param' applies to every layer with that parameter; 'layer.param' to the layers
    of that name."""
    layer, _, param = key.rpartition(".")
    return (not layer or layer == spec.name) and param in layer_params(spec)


def _check_layer_keys(chk: Checker, grid: dict | None, workloads) -> None:
    if not grid:
        return
    layers = [s for w in workloads for s in w.layers]
    params = sorted({p for s in layers for p in layer_params(s)})
    names = sorted({s.name for s in layers})
    for key in grid:
        if any(key_applies(key, s) for s in layers):
            continue
        import difflib

        layer, _, param = key.rpartition(".")
        if layer and layer not in names:
            close = difflib.get_close_matches(layer, names, n=1)
            hint = f" (did you mean '{close[0]}.{param}'?)" if close else f" (layers: {', '.join(names)})"
            chk.add(f"layer_grid.{key}", f"no layer is named {describe(layer)}{hint}")
            continue
        close = difflib.get_close_matches(param, params, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (parameters: {', '.join(params)})"
        where = f"layer {describe(layer)}" if layer else "layer of the workloads"
        chk.add(f"layer_grid.{key}", f"no {where} has a parameter {describe(param)}{hint}")


def _check_variants(chk: Checker, grid: dict | None, workloads) -> None:
    """A layer_grid expands each workload into the product of its keys' values; refuse a product
    above SWEEP_MAX_VARIANTS before expanding it (each variant is a validated workload)."""
    for i, wl in enumerate(workloads):
        keys = [k for k in grid or {} if any(key_applies(k, s) for s in wl.layers)]
        variants = math.prod(len(grid[k]) for k in keys)
        if variants > SWEEP_MAX_VARIANTS:
            chk.add("layer_grid", f"expands workloads[{i}] ({describe(wl.name)}) into {variants:,} variants "
                                  f"({' x '.join(str(len(grid[k])) for k in keys)}), more than {SWEEP_MAX_VARIANTS:,}; "
                                  f"use fewer values")


def _energy_columns(chk: Checker, hw: Hardware) -> list[str]:
    cols = ["energy_mac_pj", "energy_vector_pj"]
    for i, level in enumerate(hw.memories):
        col = f"energy_{level.name}_pj"
        if col in cols:
            chk.add("base_hw", f"memories[{i}] is named {describe(level.name)}, which clashes with the energy breakdown "
                               f"column {col}; rename the level")
        cols.append(col)
    return cols


def _objectives(chk: Checker, value: Any, energy_columns, base) -> list[str]:
    items = chk.sequence("objectives", value, min_len=1, what="report columns to minimise")
    known = list(ADDITIVE_COLUMNS) + list(energy_columns or []) + ["area_mm2"]
    out = []
    for i, item in enumerate(items):
        p = join("objectives", i)
        if isinstance(item, str) and item in NOT_OBJECTIVES:
            chk.add(p, f"{item} cannot be an objective: {NOT_OBJECTIVES[item]}")
        elif chk.choice(p, item, known) is None:
            continue
        elif item in out:
            chk.add(p, f"lists {item} twice")
        else:
            out.append(item)
    if "area_mm2" in out and base is not None and base[0].area is None:
        chk.add("objectives", "area_mm2 needs an `area:` section in the base hardware file "
                              f"({base[0].source}); add one (see README) or drop area_mm2")
    return out


def _cases(layer_grid: dict, workloads) -> list[Case]:
    import itertools

    cases: list[Case] = []
    for wi, (path, wl, (data, text)) in enumerate(workloads):
        keys = [k for k in layer_grid if any(key_applies(k, s) for s in wl.layers)]
        for gid, combo in enumerate(itertools.product(*(layer_grid[k] for k in keys))):
            values = tuple(zip(keys, combo))
            if not values:
                cases.append(Case(len(cases), wi, gid, (), wl))
                continue
            if wl.model is not None:
                cases.append(Case(len(cases), wi, gid, values, None, (
                    ("layer_grid", "this workload builds its layers from a model config (its model: section); "
                                   "layer_grid cannot change them: give one workload file per model setting"),)))
                continue
            variant = _workload_variant(data, wl, values)
            try:
                w = Workload.from_dict(variant, source=str(path), text=text)
                cases.append(Case(len(cases), wi, gid, values, w))
            except ConfigError as exc:
                cases.append(Case(len(cases), wi, gid, values, None, exc.problems))
    return cases


def _workload_variant(data: dict, wl: Workload, values) -> dict:
    out = dict(data)
    out["layers"] = []
    for raw, spec in zip(data["layers"], wl.layers):
        layer = dict(raw)
        for key, value in values:
            if key_applies(key, spec):
                layer[key.rpartition(".")[2]] = value
        out["layers"].append(layer)
    return out


def grid_text(spec: SweepSpec) -> str:
    """'30 design points (150 in the product of the listed values, 120 tied away; constraints filter
    6 before simulation)': the grid as the sweep file expands it, before anything is simulated."""
    exp = spec.expansion
    notes = [f"{exp.combinations:,} in the product of the listed values, {exp.tied_away:,} tied away"] \
        if exp.tied_away else []
    if spec.filtered_early:
        notes.append(f"constraints filter {spec.filtered_early:,} before simulation")
    return f"{spec.n_points:,} design point{'' if spec.n_points == 1 else 's'}" + (f" ({'; '.join(notes)})" if notes else "")
