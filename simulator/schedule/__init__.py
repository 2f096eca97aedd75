"""The schedule of a layer: how its ops' work shares the units.

Ops split into tasks (tasks.py: a task occupies one unit: the MAC array, the vector unit, or the
transfer engine of a memory boundary in one direction) built from the kernels' step logs
(oplog.py, build_gemm.py, build_chain.py, optasks.py) and joined by the data they pass (links.py).
The list scheduler (scheduler.py) places them with the staging level's capacity tracked and
blocks forwarded on chip; layer.py turns a schedule into the numbers a report shows; trace.py
and gantt.py draw it.
"""
