"""sweep/summary.py keeps, from pieces of per-point objective sums, exactly what the report needs:
checked against the whole set of points at once (oracles written here: the Pareto front by the
pairwise definition, the influence shares by the two-pass formula over a DataFrame, the heat-map
cells by group means), and independent of where the pieces are cut."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator.sweep import summary as summary_mod
from simulator.sweep.pareto import dominated_brute_force
from simulator.sweep.spec import sweep_from_dict
from simulator.sweep.summary import ReportSummary

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def spec():
    return sweep_from_dict({"name": "s", "base_hw": str(ROOT / "hw_configs/default.yaml"),
                            "workloads": [str(ROOT / "workloads/gemm_smoke.yaml")],
                            "hw_grid": {"mac_array.rows": [8, 16, 32], "mac_array.cols": [8, 16, 32, 64],
                                        "memories[0].size_bytes": [262144, 524288], "clock_hz": [1.0e9]},
                            "layer_grid": {"qk.n": [128, 256]},
                            "objectives": ["cycles", "energy_pj", "area_mm2"]}, source="<test>")


def random_sums(spec, rng, positive=True, ties=False) -> dict:
    """Objective sums of every (variant, point), some points missing (invalid), in report order."""
    cases = np.array([c.index for c in spec.valid_cases])
    pid = np.arange(spec.n_points)
    rows = [(c, p) for c in cases for p in pid if rng.random() > 0.15]
    c, p = np.array(rows).T
    draw = (lambda n: rng.integers(1, 6, n).astype(float)) if ties else (lambda n: rng.lognormal(3, 1, n))
    sums = {"_case": c.astype(np.int64), "point_id": p.astype(np.int64),
            "point_hash": np.array([b"%012d" % x for x in p], dtype="S12"), "area_mm2": draw(len(p)),
            "cycles": draw(len(p)), "energy_pj": draw(len(p))}
    if not positive:
        sums["cycles"][rng.integers(0, len(p))] = 0.0
    order = np.lexsort((sums["point_id"], sums["_case"]))
    return {k: v[order] for k, v in sums.items()}


def pieces(sums: dict, rng, n_pieces: int):
    """The sums cut at random point ids (a piece holds every variant of its points, like the report's)."""
    cuts = np.sort(rng.choice(np.arange(1, sums["point_id"].max() + 1), n_pieces - 1, replace=False))
    bounds = [0, *cuts, sums["point_id"].max() + 1]
    for lo, hi in zip(bounds, bounds[1:]):
        keep = (sums["point_id"] >= lo) & (sums["point_id"] < hi)
        sub = {k: v[keep] for k, v in sums.items()}
        order = np.lexsort((sub["point_id"], sub["_case"]))
        yield {k: v[order] for k, v in sub.items()}


def summarise(spec, sums, rng, n_pieces) -> ReportSummary:
    s = ReportSummary(spec)
    for piece in pieces(sums, rng, n_pieces):
        s.add(piece)
    return s


def frame(spec, sums) -> pd.DataFrame:
    df = pd.DataFrame({k: v for k, v in sums.items() if k != "point_hash"})
    axes = spec.expansion.axes
    stride = 1
    for i in reversed(range(len(axes))):
        df[f"axis{i}"] = (df["point_id"] // stride) % len(axes[i].rows)
        stride *= len(axes[i].rows)
    return df


@pytest.mark.parametrize("seed", range(4))
def test_fronts_equal_the_definition(spec, seed):
    rng = np.random.default_rng(seed)
    sums = random_sums(spec, rng, ties=seed % 2 == 1)
    s = summarise(spec, sums, rng, n_pieces=5)
    front = s.fronts()
    df = frame(spec, sums)
    for case, group in df.groupby("_case"):
        values = group[list(spec.objectives)].to_numpy()
        expected = set(group["point_id"][~dominated_brute_force(values)])
        assert set(front["point_id"][front["_case"] == case]) == expected


def two_pass_shares(spec, df: pd.DataFrame, log: bool) -> dict[int, float]:
    y = df[spec.objectives[0]].to_numpy(float)
    y = np.log(y) if log else y
    centred = y - pd.Series(y).groupby(df["_case"].to_numpy()).transform("mean").to_numpy()
    total = float((centred ** 2).sum())
    out = {}
    for i, axis in enumerate(spec.expansion.axes):
        if len(axis.rows) > 1:
            means = pd.Series(centred).groupby(df[f"axis{i}"].to_numpy()).agg(["mean", "size"])
            out[i] = float((means["size"] * means["mean"] ** 2).sum()) / total
    return out


@pytest.mark.parametrize("positive", [True, False])
def test_influence_shares_equal_the_two_pass_formula(spec, positive):
    rng = np.random.default_rng(7)
    sums = random_sums(spec, rng, positive=positive)
    s = summarise(spec, sums, rng, n_pieces=4)
    assert s.all_positive == positive
    expected = two_pass_shares(spec, frame(spec, sums), log=positive)
    got = s.shares(log=positive)
    assert got.keys() == expected.keys() == {0, 1, 2}      # clock_hz has one value: not a knob
    for i in expected:
        assert got[i] == pytest.approx(expected[i], rel=1e-9, abs=1e-12)


def test_heat_map_cells_equal_group_means(spec):
    rng = np.random.default_rng(3)
    sums = random_sums(spec, rng)
    s = summarise(spec, sums, rng, n_pieces=3)
    df = frame(spec, sums)
    for case, group in df.groupby("_case"):
        for a, b in ((0, 1), (1, 0), (2, 0)):
            got = s.cell_means(int(case), a, b, log=True)
            means = np.exp(np.log(group["cycles"]).groupby([group[f"axis{a}"], group[f"axis{b}"]]).mean())
            expected = np.full(got.shape, np.nan)
            for (i, j), v in means.items():
                expected[i, j] = v
            assert np.allclose(got, expected, rtol=1e-12, equal_nan=True)


def test_where_pieces_are_cut_changes_nothing(spec):
    rng = np.random.default_rng(11)
    sums = random_sums(spec, rng)
    one, many = summarise(spec, sums, rng, 1), summarise(spec, sums, rng, 9)
    assert one.shares(True) == many.shares(True) and one.shares(False) == many.shares(False)
    for key in one.cells:
        assert np.array_equal(one.cells[key], many.cells[key])
    a, b = one.figure_rows(), many.figure_rows()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_figure_rows_are_bounded_and_keep_fronts_and_extremes(spec, monkeypatch):
    monkeypatch.setattr(summary_mod, "SAMPLE_ROWS", 6)
    rng = np.random.default_rng(5)
    sums = random_sums(spec, rng)
    s = summarise(spec, sums, rng, n_pieces=4)
    rows = s.figure_rows()
    assert s.sample_stride == 8 and len(rows["point_id"]) < 0.75 * len(sums["point_id"])
    front = s.fronts()
    kept = set(zip(rows["_case"], rows["point_id"]))
    assert set(zip(front["_case"], front["point_id"])) <= kept
    df = frame(spec, sums)
    for case, group in df.groupby("_case"):
        for col in ("cycles", "energy_pj"):
            assert group[col].max() == max(rows[col][rows["_case"] == case])
