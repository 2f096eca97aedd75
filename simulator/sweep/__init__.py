"""`attnsim sweep`: design-space sweeps.

Owns the sweep file (spec.py), the grid of design points and their dotted keys (grid.py), the
evaluation of a chunk of points (evaluate.py), the on-disk partial state that makes runs
resumable (store.py), local and Dask executors (executors.py), Pareto fronts (pareto.py), the
result frames (tables.py), the figures (figures.py) and the run itself (run.py). It uses the
simulator's public pieces (hardware, workloads, simulate, report columns); nothing in the
simulator imports it.
"""
