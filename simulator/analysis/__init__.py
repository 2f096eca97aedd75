"""Analyses built on simulation results: Table 1 reproduction, fits, sweeps and Pareto fronts."""
