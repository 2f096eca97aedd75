"""The sweep's evaluation path (sweep/evaluate.py with its memo, sweep/memo.py) gives exactly the
rows of a per-point `simulate()` + `to_frame`, for every column, on random grids.

The layers that are one GEMM take sweep/gemmrows.py's path (the mixed workload's `g`, every layer
of GEMM_WORKLOAD), the others simulate()'s per-layer step; the oracle is the same for both.

Oracle: each point's hardware dict is built here (its own dotted-key setter), validated with
Hardware.from_dict and simulated on its own (a fresh hardware object, nothing memoised by the
sweep); its to_frame row must equal the sweep's row value for value (floats bit for bit). Grids
mix keys the counts depend on (array, memories, vector lanes, schedule) with price-only keys the
memo ignores (clock, energies, area), over one- and three-level memories, masked (causal, windowed)
and fused attention, an LSTM recurrence, both schedules, and points that are invalid (tiles that
do not fit) or fail in simulation. Chunks run out of order on one context, so the memo is warm
with other points' entries when a point is evaluated.
"""
from __future__ import annotations

import copy
import random
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import simulate, to_frame
from simulator.cost import energy_breakdown_pj
from simulator.errors import ConfigError
from simulator.hardware import Hardware
from simulator.sweep.evaluate import ROW_COLUMNS, EvalContext, _problems, evaluate_chunk
from simulator.sweep.grid import point_hash
from simulator.sweep.spec import sweep_from_dict
from simulator.workload import Workload

ROOT = Path(__file__).resolve().parent.parent

WORKLOAD = """name: mixed
layers:
  - {name: g, variant: gemm, m: 40, k: 24, n: 56}
  - {name: causal, variant: multi_head_attention, n: 32, d: 32, heads: 2, causal: true}
  - {name: flash, variant: multi_head_attention, n: 32, d: 32, heads: 2, causal: true, fused: true}
  - {name: lstm, variant: recurrent, n: 6, d: 16, cell: lstm}
  - {name: window, variant: restricted_self_attention, n: 24, d: 16, window: 5}
"""

# Keys whose values change the counts, and keys that only price them (the memo's blind spot).
COUNT_KEYS = {
    "mac_array.rows": [4, 8, 16],
    "mac_array.cols": [4, 8],
    "mac_array.dataflow": ["weight_stationary", "output_stationary", "input_stationary"],
    "memories[0].size_bytes": [1024, 4096, 16384],
    "memories[0].double_buffered": [True, False],
    "memories[-1].read_bw_bytes_per_cycle": [8, 64, 0.0],      # 0: out of range, an invalid point
    "vector_unit.lanes": [4, 16],
    "vector_unit.cycles_per_op.exp": [4, 1],
    "schedule": ["overlapped", "serial"],
}
PRICE_KEYS = {
    "clock_hz": [1.0e9, 7.0e8],
    "mac_array.mac_energy_pj": [0.5, 1.5],
    "vector_unit.op_energy_pj": [1.0, 0.25, -1.0],
    "memories[0].read_pj_per_byte": [2.5, 1.0],
    "memories[-1].write_pj_per_byte": [40.0, 12.0],
    "area.mm2_per_mac": [0.003, 0.001],
}


def base_hw(levels: int) -> dict:
    """default.yaml on an 8 x 8 array with `levels` memory levels (2: SRAM and DRAM; 3: l1, l2, DRAM)."""
    data = yaml.safe_load((ROOT / "hw_configs" / "default.yaml").read_text())
    data["mac_array"]["rows"] = data["mac_array"]["cols"] = 8
    if levels == 3:
        inner = dict(data["memories"][0], name="l1", size_bytes=4096)
        outer = dict(data["memories"][0], name="l2", size_bytes=65536, read_pj_per_byte=6.0)
        data["memories"] = [inner, outer, data["memories"][1]]
        data["area"]["mm2_per_mib"] = [6.0, 4.0]
    else:
        data["memories"][0]["size_bytes"] = 16384
    return data


def set_key(data: dict, key: str, value) -> None:
    """data[...] = value at a dotted key with list indices (negative ones count from the end)."""
    parts = [int(p) if re.fullmatch(r"-?\d+", p) else p for p in re.split(r"\.|\[|\]\.?", key) if p != ""]
    for part in parts[:-1]:
        data = data[part]
    data[parts[-1]] = value


def random_grid(rng: random.Random, levels: int, n_count: int, n_price: int) -> dict:
    grid = {}
    for keys, n in ((COUNT_KEYS, n_count), (PRICE_KEYS, n_price)):
        for key in rng.sample(sorted(keys), n):
            values = rng.sample(keys[key], min(len(keys[key]), rng.choice((2, 3))))
            grid[key.replace("[-1]", f"[{levels - 1}]")] = values
    return grid


def sweep_spec(tmp_path: Path, levels: int, grid: dict, mapper: str = "heuristic", objective: str = "cycles",
               workload: str = WORKLOAD, hw_data: dict | None = None):
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(hw_data if hw_data is not None else base_hw(levels)))
    (tmp_path / "wl.yaml").write_text(workload)
    data = {"name": "fastpath", "base_hw": str(tmp_path / "hw.yaml"), "workloads": [str(tmp_path / "wl.yaml")],
            "hw_grid": grid, "mapper": mapper}
    if mapper == "search":
        data["mapper_objective"] = objective
    return sweep_from_dict(data, source=str(tmp_path / "sweep.yaml"))


def same(mine, theirs) -> bool:
    if mine is None:
        return bool(pd.isna(theirs))
    if isinstance(theirs, float) or isinstance(mine, float):
        return float(mine) == float(theirs)
    return mine == theirs


def point_data(spec, pid: int) -> dict:
    """The point's hardware dict, built here from the base and the point's values."""
    data = copy.deepcopy(spec.base_data)
    for key, value in zip(spec.hw_keys, spec.point_values(pid)):
        set_key(data, key, value)
    return data


def direct(spec, pid: int, workload: Workload, case_index: int, mapper: str, objective: str):
    """(rows, problems) of one point evaluated on its own: rows as the sweep writes them, built
    from to_frame; problems as [case or None, [[key path, reason], ...]] when it fails."""
    data = point_data(spec, pid)
    try:
        hw = Hardware.from_dict(data, source=spec.base_hw_path)
    except ConfigError as exc:
        return None, [None, _problems(exc)]
    try:
        results = simulate(workload, hw, mapper=mapper, objective=objective)
    except Exception as exc:          # noqa: BLE001 - what the sweep records for this point
        return None, [case_index, _problems(exc)]
    frame = to_frame(results)
    rows = []
    for i, r in enumerate(results):
        rows.append([pid, case_index, *(frame[c].iloc[i] for c in ROW_COLUMNS),
                     *(float(v) for v in energy_breakdown_pj(r.counts, hw).values())])
    return rows, None


def check_sweep_equals_direct(spec, chunk_order, gemm_path: bool = True, ctx=None) -> tuple[int, int]:
    """Evaluate `spec` in the given chunk order on one context (`ctx`, or a new one); compare every
    point. Returns (rows compared, invalid points compared). `gemm_path`: whether the single-GEMM
    layers' path (sweep/gemmrows.py) ran; both workloads here have such a layer."""
    ctx = ctx or EvalContext.from_spec(spec)
    out_rows, out_invalid, digests = {}, {}, {}
    for start, stop in chunk_order:
        res = evaluate_chunk(ctx, start, stop)
        for row in res.rows:
            out_rows.setdefault(row[0], []).append(row)
        for pid, digest, case, problems in res.invalid:
            out_invalid[pid] = [case, problems]
            digests[pid] = digest
        digests.update((pid, digest) for pid, digest, _area in res.points)
    for pid, digest in digests.items():     # the templated hash (grid.PointHasher) against the whole dict's
        assert digest is None or digest == point_hash(point_data(spec, pid)), pid
    (case_index, workload), = ctx.cases
    assert (ctx.memo.fast_of.get(case_index) is not None) == gemm_path
    compared = invalid = 0
    for pid in range(spec.n_points):
        rows, problem = direct(spec, pid, workload, case_index, spec.mapper, spec.mapper_objective)
        if problem is not None:
            assert out_invalid.get(pid) == problem, pid
            assert pid not in out_rows
            invalid += 1
            continue
        assert pid not in out_invalid, (pid, out_invalid.get(pid))
        mine = out_rows[pid]
        assert len(mine) == len(rows)
        for a, b in zip(mine, rows):
            for column, x, y in zip(("point_id", "case", *ROW_COLUMNS), a, b):
                assert same(x, y), (pid, a[2], column, x, y)
            assert a[2 + len(ROW_COLUMNS):] == b[2 + len(ROW_COLUMNS):], (pid, a[2], "energy breakdown")
            compared += 1
    return compared, invalid


def chunks(n: int, rng: random.Random) -> list[tuple[int, int]]:
    cuts = sorted(set([0, n] + rng.sample(range(1, n), min(3, n - 1)))) if n > 1 else [0, n]
    order = list(zip(cuts, cuts[1:]))
    rng.shuffle(order)
    return order


@pytest.mark.parametrize("seed", range(6))
def test_random_grids_equal_per_point_simulation(tmp_path, seed):
    rng = random.Random(seed)
    levels = (2, 3)[seed % 2]
    grid = random_grid(rng, levels, n_count=2, n_price=2)
    spec = sweep_spec(tmp_path, levels, grid)
    compared, _ = check_sweep_equals_direct(spec, chunks(spec.n_points, rng))
    assert compared > 0


def test_price_only_grid_reuses_the_layers_and_stays_exact(tmp_path):
    """A grid over clock, energies and area: one simulation, every point re-priced exactly."""
    grid = {"clock_hz": [1.0e9, 7.0e8], "mac_array.mac_energy_pj": [0.5, 1.5],
            "memories[1].read_pj_per_byte": [2.5, 1.0], "area.mm2_per_mac": [0.003, 0.001],
            "memories[2].write_pj_per_byte": [40.0, 12.0]}
    spec = sweep_spec(tmp_path, 3, grid)
    ctx = EvalContext.from_spec(spec)
    evaluate_chunk(ctx, 0, spec.n_points)
    assert (ctx.memo.misses, ctx.memo.hits) == (1, spec.n_points - 1)
    compared, invalid = check_sweep_equals_direct(spec, [(0, spec.n_points)])
    assert compared == 5 * 32 and invalid == 0


def test_invalid_points_report_the_same_problems(tmp_path):
    """Tiles that do not fit (invalid hardware) next to valid points, on both schedules."""
    grid = {"mac_array.rows": [4, 16], "memories[0].size_bytes": [1024, 4096, 16384],
            "schedule": ["overlapped", "serial"], "clock_hz": [1.0e9, 2.0e9]}
    spec = sweep_spec(tmp_path, 2, grid)
    compared, invalid = check_sweep_equals_direct(spec, [(8, 24), (0, 8)])
    assert invalid > 0 and compared > 0


@pytest.mark.parametrize("objective", ["energy", "cycles"])
def test_search_mapper_keys_on_prices_too(tmp_path, objective):
    """The search mapper picks mappings by energy (and breaks ties by it): prices are in its key."""
    grid = {"mac_array.mac_energy_pj": [0.1, 50.0], "memories[2].read_pj_per_byte": [1.0, 400.0]}
    spec = sweep_spec(tmp_path, 3, grid, mapper="search", objective=objective)
    ctx = EvalContext.from_spec(spec)
    evaluate_chunk(ctx, 0, spec.n_points)
    assert ctx.memo.misses == spec.n_points
    compared, _ = check_sweep_equals_direct(spec, [(0, spec.n_points)])
    assert compared == 5 * 4


@pytest.mark.parametrize("seed", range(4))
def test_hardware_builder_equals_from_dict(tmp_path, seed):
    """sweep/fastbuild.py: every point's Hardware (or ConfigError, with every problem) is from_dict's."""
    import dataclasses

    from simulator import engine
    from simulator.mapeval import hw_arrays
    from simulator.sweep.fastbuild import HardwareBuilder

    rng = random.Random(100 + seed)
    levels = (2, 3)[seed % 2]
    spec = sweep_spec(tmp_path, levels, random_grid(rng, levels, n_count=3, n_price=3))
    builder = HardwareBuilder(spec.hw_parts, spec.base_hw_path)
    pids = list(range(spec.n_points)) * 2
    rng.shuffle(pids)
    fast = 0
    for pid in pids:
        data = point_data(spec, pid)
        try:
            expected = Hardware.from_dict(data, source=spec.base_hw_path)
        except ConfigError as exc:
            with pytest.raises(ConfigError) as got:
                builder.build(spec.point_values(pid), data)
            assert got.value.problems == exc.problems
            continue
        templates = len(builder.templates)
        got = builder.build(spec.point_values(pid), data)
        fast += len(builder.templates) == templates
        # no per-object cache of another point may come along (a template's are filled here)
        assert set(got.__dict__) == {f.name for f in dataclasses.fields(Hardware)}, set(got.__dict__)
        hw_arrays(got), engine._memo(got)
        assert got == expected and got.raw == data and got.sha256 == expected.sha256 and got.source == expected.source
        assert type(got.clock_hz) is type(expected.clock_hz)
    assert fast > 0 or not builder.fast


def test_every_hardware_field_is_keyed_or_priced():
    """A field added to the hardware dataclasses must be classified in sweep/memo.py: in the count
    key (it may change counts) or a price (cost.py applies it afterwards)."""
    import dataclasses

    from simulator.hardware import MacArray, MemoryLevel, VectorUnit
    from simulator.sweep.memo import KEY_FIELDS, PRICE_FIELDS

    for cls in (Hardware, MacArray, VectorUnit, MemoryLevel):
        names = {f.name for f in dataclasses.fields(cls)}
        assert names == set(KEY_FIELDS[cls.__name__]) | set(PRICE_FIELDS[cls.__name__]), cls.__name__
        assert not set(KEY_FIELDS[cls.__name__]) & set(PRICE_FIELDS[cls.__name__])


def test_worker_memos_stay_in_their_process(tmp_path):
    """A context sent to workers (pickled) carries no memo or template of the sender's."""
    import pickle

    spec = sweep_spec(tmp_path, 2, {"clock_hz": [1.0e9, 2.0e9]})
    ctx = EvalContext.from_spec(spec)
    evaluate_chunk(ctx, 0, spec.n_points)
    assert ctx.memo.misses == 1 and len(ctx.builder.templates) == 1
    copy_ = pickle.loads(pickle.dumps(ctx))
    assert "_memo" not in copy_.__dict__ and "_builder" not in copy_.__dict__
    assert copy_.memo.misses == 0 and not copy_.builder.templates


# Every layer one GEMM: the sweep takes sweep/gemmrows.py's path (batched, stacked and odd shapes).
GEMM_WORKLOAD = """name: gemms
layers:
  - {name: g, variant: gemm, m: 40, k: 24, n: 56}
  - {name: batched, variant: gemm, m: 17, k: 33, n: 9, batch: 3, repeat: 2}
  - {name: wide, variant: gemm, m: 64, k: 96, n: 80}
"""


@pytest.mark.parametrize("seed", range(6))
def test_single_gemm_path_equals_per_point_simulation(tmp_path, seed):
    """Random grids (the count keys include both schedules, tiles that do not fit and a zero DRAM
    bandwidth) on one- and two-level on-chip memories."""
    rng = random.Random(200 + seed)
    levels = (2, 3)[seed % 2]
    spec = sweep_spec(tmp_path, levels, random_grid(rng, levels, n_count=3, n_price=1), workload=GEMM_WORKLOAD)
    compared, _ = check_sweep_equals_direct(spec, chunks(spec.n_points, rng), gemm_path=True)
    assert compared > 0


def test_single_gemm_path_reports_invalid_points_alike(tmp_path):
    grid = {"mac_array.rows": [4, 16], "memories[0].size_bytes": [512, 1024, 4096],
            "memories[1].read_bw_bytes_per_cycle": [8, 0.0], "schedule": ["overlapped", "serial"]}
    spec = sweep_spec(tmp_path, 2, grid, workload=GEMM_WORKLOAD)
    compared, invalid = check_sweep_equals_direct(spec, [(10, 24), (0, 10)], gemm_path=True)
    assert invalid > 0 and compared > 0


@pytest.mark.parametrize("objective", ["energy", "cycles"])
def test_single_gemm_path_under_the_search_mapper(tmp_path, objective):
    grid = {"mac_array.mac_energy_pj": [0.1, 50.0], "memories[0].size_bytes": [2048, 8192]}
    spec = sweep_spec(tmp_path, 2, grid, mapper="search", objective=objective, workload=GEMM_WORKLOAD)
    compared, _ = check_sweep_equals_direct(spec, [(0, spec.n_points)], gemm_path=True)
    assert compared == 3 * 4


@pytest.mark.parametrize("levels", [2, 3])
def test_single_gemm_rows_kept_per_capacity_class_equal_per_point_simulation(tmp_path, levels):
    """SingleGemm keeps a layer's row parts per (point id, what the level sizes decide): a grid over
    array shapes, buffer sizes (some too small for any tile, several where every tile fits, so that
    they share parts), DRAM bandwidths (one out of range), the hardware's name and number format
    (in the point id) and both schedules (not in it), in chunks out of order, equals per-point
    simulation; and parts were shared."""
    grid = {"mac_array.rows": [4, 8], "mac_array.cols": [8],
            "memories[0].size_bytes": [1536, 3072, 1 << 20, 1 << 21, 1 << 22],
            f"memories[{levels - 1}].read_bw_bytes_per_cycle": [8, 0.0, 64], "name": ["one", "two"],
            "number_format": ["fp16", "bf16"], "schedule": ["overlapped", "serial"]}
    if levels == 3:
        grid["memories[1].size_bytes"] = [1 << 23]
    spec = sweep_spec(tmp_path, levels, grid, workload=GEMM_WORKLOAD)
    ctx = EvalContext.from_spec(spec)
    compared, invalid = check_sweep_equals_direct(spec, chunks(spec.n_points, random.Random(levels)), ctx=ctx)
    assert compared > 0 and invalid > 0
    single = [s for s in ctx.memo.fast_of[0].single if s is not None]
    assert len(single) == 3
    assert sum(len(s.kept) for s in single) < compared         # parts shared between points


def test_a_point_id_stays_in_its_process():
    """The id SingleGemm gives a point's hardware numbers this process's caches only: a pickled
    copy (another process) goes without it and gets its own."""
    import pickle

    from simulator.sweep.gemmrows import _point_id

    hw = Hardware.from_dict(base_hw(2), source="<test>")
    ident = _point_id(hw)
    copy_ = pickle.loads(pickle.dumps(hw))
    assert "_gemm_point" not in copy_.__dict__ and copy_ == hw
    assert _point_id(copy_) == ident                             # the same fields: the same id here


@pytest.mark.parametrize("config", sorted((ROOT / "hw_configs").glob("*.yaml")), ids=lambda p: p.stem)
def test_single_gemm_path_on_the_bundled_configs(tmp_path, config):
    data = yaml.safe_load(config.read_text())
    size = data["memories"][0]["size_bytes"]
    grid = {"memories[0].size_bytes": [size // 8, size], "memories[0].double_buffered": [True, False]}
    spec = sweep_spec(tmp_path, 2, grid, workload=GEMM_WORKLOAD, hw_data=data)
    compared, _ = check_sweep_equals_direct(spec, [(0, spec.n_points)], gemm_path=True)
    assert compared > 0


def test_workloads_without_a_single_gemm_layer_take_the_general_path(tmp_path):
    workload = WORKLOAD.replace("  - {name: g, variant: gemm, m: 40, k: 24, n: 56}\n", "")
    spec = sweep_spec(tmp_path, 2, {"clock_hz": [1.0e9, 2.0e9], "schedule": ["overlapped", "serial"]},
                      workload=workload)
    compared, _ = check_sweep_equals_direct(spec, [(0, spec.n_points)], gemm_path=False)
    assert compared == 4 * 4


# --- the staging memo (sweep/capmemo.py): layers reused across on-chip sizes ---------------------------
def staging_memos(ctx) -> list:
    paths = [*ctx.memo.fast_of.values(), *ctx.memo.staged_of.values()]
    return [path.staging for path in paths if path is not None]


def staging_edges(ctx) -> set[int]:
    """Every finite edge of the staging windows the memo holds, and the sizes either side of it."""
    edges = set()
    for memo in staging_memos(ctx):
        for entries in memo.table.table.values():
            for lo, hi, _ in entries:
                edges |= {lo - 1, lo} | ({hi - 1, hi} if hi < 1 << 40 else set())
    return edges


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(levels=st.sampled_from((2, 3)), schedule=st.sampled_from(("overlapped", "serial")),
       rows=st.sampled_from((4, 8)), dbuf=st.booleans(), scale=st.sampled_from((1, 4, 64)), data=st.data())
def test_staging_memo_is_exact_on_both_sides_of_every_threshold(tmp_path_factory, levels, schedule, rows, dbuf,
                                                                 scale, data):
    """A first point's windows give the sizes where a decision flips; a sweep over those sizes (and
    a few drawn ones, some below the inner level's size: invalid points) after that point, on one
    context, equals per-point simulation."""
    tmp_path = tmp_path_factory.mktemp("staging")
    key = f"memories[{levels - 2}].size_bytes"
    base = base_hw(levels)["memories"][levels - 2]["size_bytes"] * scale
    fixed = {"schedule": [schedule], "mac_array.rows": [rows], f"memories[{levels - 2}].double_buffered": [dbuf]}
    first = sweep_spec(tmp_path, levels, {key: [base], **fixed})
    probe = EvalContext.from_spec(first)
    evaluate_chunk(probe, 0, 1)
    drawn = data.draw(st.lists(st.integers(max(1, base // 8), base * 4), max_size=3))
    sizes = [base] + sorted(({s for s in staging_edges(probe) if 0 < s < 1 << 40} | set(drawn)) - {base})[:12]
    spec = sweep_spec(tmp_path, levels, {key: sizes, **fixed})
    ctx = EvalContext.from_spec(spec)
    compared, _ = check_sweep_equals_direct(spec, [(0, 1), (1, spec.n_points)], ctx=ctx)
    assert compared > 0


def test_staging_memo_hits_where_the_sizes_decide_nothing(tmp_path):
    """Sizes past what the small layers use: the attention layers are reused (the recurrence is
    not covered, so evaluated each time), and the rows stay exact."""
    grid = {"memories[0].size_bytes": [1 << 20, 1 << 21, 1 << 22], "schedule": ["overlapped", "serial"]}
    spec = sweep_spec(tmp_path, 2, grid)
    ctx = EvalContext.from_spec(spec)
    compared, _ = check_sweep_equals_direct(spec, [(0, spec.n_points)], ctx=ctx)
    assert compared == 6 * 5
    memo, = staging_memos(ctx)
    assert memo.hits >= 2 * 3 * 2 and memo.uncovered == 6


def test_a_chunk_leaves_the_collector_as_it_found_it(tmp_path, monkeypatch):
    """evaluate_chunk raises the collector's first threshold while it runs (sweep/evaluate.py) and
    restores the caller's thresholds after, also when a point raises."""
    import gc

    from simulator.sweep import evaluate

    spec = sweep_spec(tmp_path, 2, {"clock_hz": [1.0e9, 2.0e9]}, workload=GEMM_WORKLOAD)
    ctx = EvalContext.from_spec(spec)
    before = gc.get_threshold()
    seen = []
    monkeypatch.setattr(evaluate, "_point_hardware", lambda *args: seen.append(gc.get_threshold()))
    try:
        gc.set_threshold(321, 7, 5)
        evaluate_chunk(ctx, 0, 1)
        assert seen == [(evaluate.YOUNG_OBJECTS, 7, 5)] and gc.get_threshold() == (321, 7, 5)
        monkeypatch.setattr(evaluate, "_point_hardware", lambda *args: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            evaluate_chunk(ctx, 0, 1)
        assert gc.get_threshold() == (321, 7, 5)
    finally:
        gc.set_threshold(*before)
