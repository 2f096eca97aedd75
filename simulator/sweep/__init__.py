"""`attnsim sweep`: design-space sweeps.

Owns the sweep file (spec.py, with expansion.py, formulas.py, zips.py, expr.py and calc.py), the
grid of design points and their dotted keys and hashes (grid.py), the evaluation of a chunk of
points and its fast path (evaluate.py; memo.py, capmemo.py, gemmrows.py, rows.py, fastbuild.py),
the on-disk partial state that makes runs resumable and its chunking (store.py), local and Dask
executors (executors.py), Pareto fronts (pareto.py), the report (report.py, summary.py, tables.py,
figures.py) and the run itself (run.py). It uses the simulator's public pieces (hardware,
workloads, simulate, report columns); nothing in the simulator but the command line imports it.
"""

FIGURES = f"{__name__}.figures"     # the module the figures' standby imports (sidework.Standby)
