"""Grid expansion with zip groups, tied and derived keys and constraints, against brute force.

Oracle: `brute_force` below enumerates the full cartesian product of every listed key's distinct
values (each zip column and each tied key as if it were swept on its own), keeps the combinations
that are rows of every zip group and where every tied key equals its leader, and adds the derived
keys with Python functions written here. Which points are filtered, invalid or evaluated comes from
closed forms written here too (area = MACs x price + lanes x price + MiB x price; a double-buffered
fp32 level is too small when size / 2 < 3 x rows x cols x 4 bytes).
"""
from __future__ import annotations

import dataclasses
import itertools

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from simulator import cli
from simulator.errors import ConfigError
from simulator.sweep.evaluate import EvalContext, evaluate_chunk
from simulator.sweep.spec import load_sweep
from tests.test_sweep_spec import AREA, WORKLOAD, base_hw

DATAFLOWS = ["weight_stationary", "output_stationary", "input_stationary"]


def write(folder, **sections):
    (folder / "hw.yaml").write_text(yaml.safe_dump(base_hw()))
    (folder / "wl.yaml").write_text(yaml.safe_dump(WORKLOAD, sort_keys=False))
    sweep = {"name": "t", "base_hw": str(folder / "hw.yaml"), "workloads": [str(folder / "wl.yaml")], **sections}
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def problems(path) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    assert info.value.source == str(path)
    return dict(info.value.problems)


# --- the oracle -------------------------------------------------------------------------------
def brute_force(hw_grid: dict, zips=(), tied=None, derived=None):
    """(the kept points as dicts, the size of the untied product)."""
    tied, derived = tied or {}, derived or {}

    def root(key):
        while key in tied:
            key = tied[key]
        return key

    columns = dict(hw_grid)
    for group in zips:
        columns.update({k: list(dict.fromkeys(v)) for k, v in group.items()})
    for key in tied:
        columns[key] = columns[root(key)]
    rows_of = [set(zip(*g.values())) for g in zips]
    product = list(itertools.product(*columns.values()))
    kept = []
    for combo in product:
        point = dict(zip(columns, combo))
        if any(tuple(point[k] for k in g) not in rows for g, rows in zip(zips, rows_of)):
            continue
        if any(point[k] != point[root(k)] for k in tied):
            continue
        for key, fn in derived.items():
            point[key] = fn(point)
        kept.append(point)
    return kept, len(product)


def area(p) -> float:
    return (p["mac_array.rows"] * p.get("mac_array.cols", 4) * AREA["mm2_per_mac"]
            + p.get("vector_unit.lanes", 4) * AREA["mm2_per_vector_lane"]
            + p.get("memories[0].size_bytes", 1 << 20) / 2 ** 20 * AREA["mm2_per_mib"][0])


def fits(p) -> bool:
    return p.get("memories[0].size_bytes", 1 << 20) // 2 >= 3 * p["mac_array.rows"] * p.get("mac_array.cols", 4) * 4


def expected_fate(p, early, late):
    """('filtered', constraint index) / ('invalid',) / ('evaluated',) as the docs order the checks."""
    for i, ok in early:
        if not ok(p):
            return ("filtered", i)
    if not fits(p):
        return ("invalid",)
    for i, ok in late:
        if not ok(p):
            return ("filtered", i)
    return ("evaluated",)


def check_against_brute_force(path, kept, combinations, early=(), late=()):
    if early and all(expected_fate(p, early, [])[0] == "filtered" for p in kept):
        assert problems(path)["constraints"].startswith(f"filter every one of the {len(kept)} design points (")
        return
    spec = load_sweep(path)
    exp = spec.expansion
    got = [dict(zip(spec.hw_keys, spec.point_values(pid))) for pid in range(spec.n_points)]
    assert spec.n_points == len(kept)
    assert exp.combinations == combinations and exp.tied_away == combinations - len(kept)
    assert sorted(map(repr, (sorted(p.items()) for p in got))) == sorted(map(repr, (sorted(p.items()) for p in kept)))
    fates = [expected_fate(p, early, late) for p in got]
    assert spec.filtered_early == sum(f[0] == "filtered" and f[1] in dict(early) for f in fates)
    chunk = evaluate_chunk(dataclasses.replace(EvalContext.from_spec(spec), cases=()), 0, spec.n_points)
    assert [[pid, f[1]] for pid, f in enumerate(fates) if f[0] == "filtered"] == chunk.filtered
    assert [pid for pid, f in enumerate(fates) if f[0] == "invalid"] == [r[0] for r in chunk.invalid]
    assert [pid for pid, f in enumerate(fates) if f[0] == "evaluated"] == [p[0] for p in chunk.points]
    assert [p[2] for p in chunk.points] == pytest.approx([area(got[p[0]]) for p in chunk.points])


def subset(values):
    return st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True)


PROPERTY = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# --- expansion against brute force ------------------------------------------------------------
@PROPERTY
@given(rows=subset([1, 2, 4, 8]), dataflows=subset(DATAFLOWS), sizes=subset([1024, 4096, 65536]),
       max_area=st.sampled_from([0.02, 0.05, 0.2, 10.0]), per_mac=st.sampled_from([1, 4, 64]))
def test_tied_derived_and_constrained_grid(tmp_path, rows, dataflows, sizes, max_area, per_mac):
    """The issue's square-array sweep, shrunk: cols tied to rows, lanes and read bandwidth derived."""
    grid = {"mac_array.rows": rows, "mac_array.dataflow": dataflows, "memories[0].size_bytes": sizes}
    path = write(tmp_path, hw_grid=grid, tied={"mac_array.cols": "mac_array.rows"},
                 derived={"vector_unit.lanes": "mac_array.cols",
                          "memories[0].read_bw_bytes_per_cycle": "2 * mac_array.cols",
                          "memories[0].write_bw_bytes_per_cycle": "max(8, mac_array.cols * 4) / 2"},
                 constraints=[f"area_mm2 <= {max_area}",
                              f"memories[0].size_bytes >= {per_mac} * mac_array.rows * mac_array.cols"])
    kept, combinations = brute_force(grid, tied={"mac_array.cols": "mac_array.rows"}, derived={
        "vector_unit.lanes": lambda p: p["mac_array.cols"],
        "memories[0].read_bw_bytes_per_cycle": lambda p: 2 * p["mac_array.cols"],
        "memories[0].write_bw_bytes_per_cycle": lambda p: max(8, p["mac_array.cols"] * 4) / 2})
    early = [(1, lambda p: p["memories[0].size_bytes"] >= per_mac * p["mac_array.rows"] * p["mac_array.cols"])]
    check_against_brute_force(path, kept, combinations, early, [(0, lambda p: area(p) <= max_area)])


@PROPERTY
@given(shapes=st.lists(st.tuples(st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2, 4, 8])), min_size=1,
                       max_size=6, unique=True),
       sizes=subset([1024, 4096, 65536]), dataflows=subset(DATAFLOWS))
def test_zip_group_with_a_tied_follower_and_a_constraint(tmp_path, shapes, sizes, dataflows):
    zipped = {"mac_array.rows": [r for r, _ in shapes], "mac_array.cols": [c for _, c in shapes]}
    grid = {"memories[0].size_bytes": sizes, "mac_array.dataflow": dataflows}
    tied = {"vector_unit.lanes": "mac_array.cols"}
    path = write(tmp_path, hw_grid=grid, zip=[zipped], tied=tied,
                 derived={"memories[0].write_bw_bytes_per_cycle": "mac_array.rows + vector_unit.lanes"},
                 constraints=["mac_array.rows <= mac_array.cols or memories[0].size_bytes > 4096"])
    kept, combinations = brute_force(grid, [zipped], tied, {
        "memories[0].write_bw_bytes_per_cycle": lambda p: p["mac_array.rows"] + p["vector_unit.lanes"]})
    early = [(0, lambda p: p["mac_array.rows"] <= p["mac_array.cols"] or p["memories[0].size_bytes"] > 4096)]
    check_against_brute_force(path, kept, combinations, early)


@PROPERTY
@given(pairs=st.lists(st.tuples(st.sampled_from([2, 4, 8]), st.sampled_from(DATAFLOWS)), min_size=1, max_size=5,
                      unique=True),
       pairs2=st.lists(st.tuples(st.sampled_from([4096, 65536]), st.sampled_from([8.0, 16.0])), min_size=1,
                       max_size=4, unique=True))
def test_two_zip_groups_and_a_chain_of_tied_keys(tmp_path, pairs, pairs2):
    zips = [{"mac_array.rows": [r for r, _ in pairs], "mac_array.dataflow": [d for _, d in pairs]},
            {"memories[0].size_bytes": [s for s, _ in pairs2], "memories[1].read_bw_bytes_per_cycle": [b for _, b in
                                                                                                      pairs2]}]
    tied = {"mac_array.cols": "mac_array.rows", "vector_unit.lanes": "mac_array.cols"}
    path = write(tmp_path, zip=zips, tied=tied)
    kept, combinations = brute_force({}, zips, tied)
    check_against_brute_force(path, kept, combinations)


@PROPERTY
@given(sizes=st.lists(st.sampled_from([1, 2, 4, 8, 16]), min_size=1, max_size=4, unique=True),
       data=st.data(), dataflows=subset(DATAFLOWS))
def test_a_tied_key_listed_in_hw_grid_is_zipped_with_its_leader(tmp_path, sizes, data, dataflows):
    cols = data.draw(st.lists(st.sampled_from([1, 2, 4, 8, 16]), min_size=len(sizes), max_size=len(sizes)))
    grid = {"mac_array.rows": sizes, "mac_array.dataflow": dataflows, "mac_array.cols": cols}
    path = write(tmp_path, hw_grid=grid, tied={"mac_array.cols": "mac_array.rows"})
    kept, combinations = brute_force({k: v for k, v in grid.items() if k != "mac_array.cols"},
                                     [{"mac_array.rows": sizes, "mac_array.cols": cols}])
    check_against_brute_force(path, kept, combinations)


def test_point_ids_take_hw_grid_keys_then_zip_groups_the_last_fastest(tmp_path):
    path = write(tmp_path, hw_grid={"mac_array.rows": [2, 4]}, tied={"vector_unit.lanes": "mac_array.cols"},
                 zip=[{"mac_array.cols": [2, 8, 4], "mac_array.dataflow": DATAFLOWS}])
    spec = load_sweep(path)
    assert spec.hw_keys == ("mac_array.rows", "mac_array.cols", "mac_array.dataflow", "vector_unit.lanes")
    assert [spec.point_values(i) for i in range(spec.n_points)] == [
        (2, 2, DATAFLOWS[0], 2), (2, 8, DATAFLOWS[1], 8), (2, 4, DATAFLOWS[2], 4),
        (4, 2, DATAFLOWS[0], 2), (4, 8, DATAFLOWS[1], 8), (4, 4, DATAFLOWS[2], 4)]


@pytest.mark.parametrize("form", [
    {"zip": [{"mac_array.rows": [2, 4], "mac_array.cols": [4, 8]}]},
    {"zip": {"mac_array.rows": [2, 4], "mac_array.cols": [4, 8]}},
    {"zip": [[["mac_array.rows", "mac_array.cols"], [[2, 4], [4, 8]]]]},
    {"zip": [["mac_array.rows", "mac_array.cols"], [[2, 4], [4, 8]]]},          # the form, unwrapped
])
def test_every_zip_form_means_the_same(tmp_path, form):
    spec = load_sweep(write(tmp_path, **form))
    assert spec.hw_keys == ("mac_array.rows", "mac_array.cols")
    assert [spec.point_values(i) for i in range(spec.n_points)] == [(2, 4), (4, 8)]
    assert spec.expansion.combinations == 4 and spec.expansion.tied_away == 2


def test_derived_keys_run_after_the_keys_they_use_whatever_the_file_order(tmp_path):
    spec = load_sweep(write(tmp_path, hw_grid={"mac_array.rows": [2, 4]}, derived={
        "memories[0].read_bw_bytes_per_cycle": "vector_unit.lanes * 4", "vector_unit.lanes": "mac_array.rows * 2",
        "mac_array.cols": "2 ** mac_array.rows // 2", "clock_hz": "1.0e9 + memories[0].read_bw_bytes_per_cycle"}))
    assert spec.hw_keys[1:] == ("memories[0].read_bw_bytes_per_cycle", "vector_unit.lanes", "mac_array.cols",
                                "clock_hz")                          # columns keep the file's order
    assert spec.point_values(1) == (4, 32, 8, 8, 1.0e9 + 32)


def test_names_read_the_base_hardware_and_indexes_into_swept_lists(tmp_path):
    spec = load_sweep(write(tmp_path, hw_grid={"area.mm2_per_mib": [[1.0], [3.0]]}, derived={
        "area.mm2_per_vector_lane": "area.mm2_per_mib[0] / 100 + mac_array.mac_energy_pj",
        "memories[1].write_bw_bytes_per_cycle": "memories[1].read_bw_bytes_per_cycle * 2"}))
    assert [spec.point_values(i) for i in range(2)] == [([1.0], 0.51, 16.0), ([3.0], 0.53, 16.0)]


def test_cli_prints_the_expansion_and_times_apart(tmp_path, capsys):
    path = write(tmp_path, hw_grid={"mac_array.rows": [2, 4, 8], "memories[0].size_bytes": [1024, 4096, 65536]},
                 tied={"mac_array.cols": "mac_array.rows"}, constraints=["area_mm2 < 0.2", "mac_array.rows > 2"])
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    # rows 2: filtered by constraints[1] (3 points, before simulation); rows 8 with 1024 B: invalid (needs
    # 3 x 8 x 8 x 4 B x 2); rows 8 with 64 KiB: 0.064 + 0.016 + 0.125 mm2, filtered by constraints[0]
    assert err.startswith(f"sweep t: 9 design points (27 in the product of the listed values, 18 tied away; constraints "
                          f"filter 3 before simulation) x 1 workload variant(s) -> {tmp_path / 'out'}/\n")
    assert "\ndesign points: 27 in the product of the listed values, 18 tied away -> 9 in the grid; 4 filtered by " \
           "constraints (constraints[0]: 1, constraints[1]: 3), 1 invalid, 4 evaluated\n" in err
    assert "wrote " in err and "filtered.csv" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("9 design points evaluated in ") and " s (whole run " in last
    assert last.endswith(" s)") and "start-up" in last and "report and figures" in last
