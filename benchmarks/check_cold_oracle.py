"""By hand: sweep rows against each point simulated in a process that has evaluated nothing before.

    python benchmarks/check_cold_oracle.py [--seeds 100 200]

tests/test_sweep_fastpath.py compares the sweep's rows with simulate() run in the process the
sweep warmed, so a cache that made a result depend on what was evaluated before fails it only
where the two orders differ. Here, for the same random grids (its `random_grid`, one- and
three-level memories, the mixed workload and the single-GEMM one, chunks out of order), every
point is first simulated in a child forked from this process while it is still pristine (one
child per point), then every grid is swept in this process, one after another, so each sweep runs
with the caches every earlier one left. Prints a table of grids, rows compared and differences
(each difference also on its own line); asserts nothing. It found the mapper's free remembered
walks (docs/sweeps.md, "The equality test"); it forks, so it runs where os.fork exists.
"""
from __future__ import annotations

import argparse
import os
import pickle
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402
from simulator.sweep.evaluate import ROW_COLUMNS, EvalContext, evaluate_chunk  # noqa: E402
from tests import test_sweep_fastpath as fp  # noqa: E402


def _in_child(work):
    """work() in a forked child; its (picklable) value here."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        with os.fdopen(writer, "wb") as f:
            f.write(pickle.dumps(work()))
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as f:
        value = pickle.loads(f.read())
    os.waitpid(pid, 0)
    return value


def grids(seeds, folder: Path):
    for seed in seeds:
        for kind in ("mixed", "gemms"):
            rng = random.Random(seed if kind == "mixed" else 200 + seed)
            levels = (2, 3)[seed % 2]
            where = folder / f"{kind}{seed}"
            where.mkdir()
            if kind == "mixed":
                spec = fp.sweep_spec(where, levels, fp.random_grid(rng, levels, n_count=3, n_price=2))
            else:
                spec = fp.sweep_spec(where, levels, fp.random_grid(rng, levels, n_count=3, n_price=1),
                                     workload=fp.GEMM_WORKLOAD)
            yield seed, kind, levels, spec, fp.chunks(spec.n_points, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=(100, 120), metavar=("FIRST", "END"))
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cases = list(grids(range(*args.seeds), Path(tmp)))
        cold = []                       # first every oracle, while this process has evaluated nothing
        for _, _, _, spec, _ in cases:
            (case, workload), = EvalContext.from_spec(spec).cases
            cold.append({pid: _in_child(lambda pid=pid: fp.direct(spec, pid, workload, case, spec.mapper,
                                                                  spec.mapper_objective))
                         for pid in range(spec.n_points)})
        table = []
        for (seed, kind, levels, spec, order), oracle in zip(cases, cold):
            ctx = EvalContext.from_spec(spec)
            swept = {}
            for a, b in order:
                for row in evaluate_chunk(ctx, a, b).rows:
                    swept.setdefault(row[0], []).append(row)
            compared = differences = 0
            for pid, (rows, problem) in oracle.items():
                if problem is not None:
                    differences += pid in swept
                    continue
                for mine, theirs in zip(swept.get(pid, []), rows):
                    for column, x, y in zip(("point_id", "case", *ROW_COLUMNS), mine, theirs):
                        if not fp.same(x, y):
                            differences += 1
                            print(f"seed {seed} {kind}: point {pid} layer {mine[2]} {column}: swept {x}, alone {y}")
                            break
                    compared += 1
                differences += len(swept.get(pid, [])) != len(rows)
            table.append([seed, kind, levels, spec.n_points, compared, differences])
    print_table(["seed", "workload", "memory levels", "points", "rows compared", "differences"], table)
    print(f"{len(table)} grids, {sum(r[4] for r in table):,} rows, {sum(r[5] for r in table)} differences, "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
