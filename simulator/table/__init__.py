"""`attnsim table`: Table 1 of "Attention Is All You Need" measured, and what hardware adds.

Owns the Table 1 measurements (table1.py), the log-log fits and crossovers (fits.py), the
hardware extensions (extensions.py: heads question, memory traffic, roofline, crossovers by
cycles), the figures (figures.py) and the report files (report.py). It uses the simulator's
public pieces; nothing in the simulator imports it.
"""
