"""What a sweep's report keeps per design point, in memory bounded by the grid's shape, not its size.

The report streams results.csv piece by piece (sweep/report.py); per (design point, workload
variant) it used to keep the summed objectives of every point for the Pareto front, the knob
influence and the figures. ReportSummary takes the same per-piece sums and keeps instead:

* per workload variant, the Pareto front so far over all objectives (front(A + B) = front(front(A)
  + B): a point dominated by anything is dominated by a front point), and the front over the first
  two objectives (the figure's staircase);
* influence sums: per variant and per knob level, counts and sums of the first objective (and of its
  logarithm) and their squares, shifted by the variant's first value (no cancellation);
* for the heat map, per pair of knobs, the sum and count of every cell;
* for the Pareto scatter, every `stride`-th point (all of them up to SAMPLE_ROWS evaluations), the
  fronts and each variant's largest two objectives (so the axes span what they did).

Sums are added with np.add.at, one row after another in point order, so they do not depend on how
the rows were cut into pieces (an interrupted and resumed sweep writes the same bytes). Only the
first MAX_PANELS variants with rows get figure data, as only those are drawn.
"""
from __future__ import annotations

import math

import numpy as np

from .pareto import non_dominated
from .spec import SweepSpec

SAMPLE_ROWS = 100_000     # (point, variant) rows kept for the Pareto scatter, at most about
MAX_PANELS = 12           # the figures' panels (figures.MAX_PANELS)


def take(table: dict, index) -> dict:
    return {k: v[index] for k, v in table.items()}


def concat(tables: list) -> dict:
    tables = [t for t in tables if t is not None]
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


class ReportSummary:
    """Feed add(objective sums of a piece) in point order; read fronts(), figure_rows(),
    influence_sums() and cells(a, b) at the end."""

    def __init__(self, spec: SweepSpec):
        self.spec = spec
        self.objectives = list(spec.objectives)
        self.axes = spec.expansion.axes
        self.strides = np.cumprod([1] + [len(a.rows) for a in reversed(self.axes)])[:-1][::-1].astype(np.int64)
        self.varying = [i for i, a in enumerate(self.axes) if len(a.rows) > 1]
        panels = min(MAX_PANELS, max(1, len(spec.valid_cases)))
        self.sample_stride = max(1, math.ceil(spec.n_points * panels / SAMPLE_ROWS))
        self.front, self.stair, self.kept, self.top = {}, {}, {}, {}
        self.stats: dict = {}              # case -> (shift, n, sum, sum of squares) per transform
        self.levels: dict = {}             # (case, axis) -> (counts, sums raw, sums log)
        self.cells: dict = {}              # (case, a, b) -> (counts, sums raw, sums log)
        self.panels: list[int] = []        # the variants with rows that get figure data (lowest ids)
        self.all_positive = True
        self.points = 0

    def add(self, sums: dict) -> None:
        cases = sums["_case"]
        for case in np.unique(cases):
            self._add_case(int(case), take(sums, cases == case))

    def _values(self, table: dict, names) -> np.ndarray:
        return np.column_stack([table[o].astype(np.float64) for o in names])

    def _add_case(self, case: int, rows: dict) -> None:
        self.points += len(rows["point_id"])
        merged = concat([self.front.get(case), rows])
        self.front[case] = take(merged, non_dominated(self._values(merged, self.objectives)))
        self._add_stats(case, rows)
        if not self._panel(case):
            return
        if len(self.objectives) > 1:
            merged = concat([self.stair.get(case), rows])
            self.stair[case] = take(merged, non_dominated(self._values(merged, self.objectives[:2])))
        keep = rows["point_id"] % self.sample_stride == 0
        self.kept[case] = concat([self.kept.get(case), take(rows, keep)])
        self._add_top(case, rows)
        self._add_cells(case, rows)

    def _panel(self, case: int) -> bool:
        """Whether `case` is among the MAX_PANELS lowest variants with rows so far (a variant that
        first has rows now has no earlier data to miss; one pushed out drops its figure data)."""
        if case in self.panels:
            return True
        if len(self.panels) < MAX_PANELS or case < max(self.panels):
            self.panels = sorted(self.panels + [case])
            while len(self.panels) > MAX_PANELS:
                gone = self.panels.pop()
                for table in (self.stair, self.kept, self.top):
                    table.pop(gone, None)
                for key in [k for k in self.cells if k[0] == gone]:
                    del self.cells[key]
            return True
        return False

    def _add_top(self, case: int, rows: dict) -> None:
        """The rows with the largest first and second objective (first in point order on ties)."""
        merged = concat([self.top.get(case), rows])
        picks = [int(np.argmax(merged[name].astype(np.float64))) for name in self.objectives[:2]]
        self.top[case] = take(merged, picks)

    def _y(self, rows: dict) -> tuple[np.ndarray, np.ndarray]:
        y = rows[self.objectives[0]].astype(np.float64)
        if (y <= 0).any():
            self.all_positive = False
        with np.errstate(divide="ignore", invalid="ignore"):
            return y, np.log(y)

    def _add_stats(self, case: int, rows: dict) -> None:
        """st = [shift, log shift, n, sum, log sum, sum of squares, log sum of squares] (shifted)."""
        y, logy = self._y(rows)
        st = self.stats.get(case)
        if st is None:
            st = self.stats[case] = np.array([y[0], logy[0], 0, 0, 0, 0, 0], np.float64)
        np.add.at(st, np.full(len(y), 2), 1.0)
        pid = rows["point_id"]
        with np.errstate(invalid="ignore"):          # log sums are unused once a value is not positive
            for t, values in enumerate((y, logy)):
                d = values - st[t]
                np.add.at(st, np.full(len(d), 3 + t), d)
                np.add.at(st, np.full(len(d), 5 + t), d * d)
            for i in self.varying:
                digit = (pid // self.strides[i]) % len(self.axes[i].rows)
                acc = self.levels.get((case, i))
                if acc is None:
                    acc = self.levels[(case, i)] = np.zeros((3, len(self.axes[i].rows)))
                np.add.at(acc[0], digit, 1.0)
                np.add.at(acc[1], digit, y - st[0])
                np.add.at(acc[2], digit, logy - st[1])

    def _add_cells(self, case: int, rows: dict) -> None:
        y, logy = self._y(rows)
        pid = rows["point_id"]
        digits = {i: (pid // self.strides[i]) % len(self.axes[i].rows) for i in self.varying}
        for ai in self.varying:
            for bi in (b for b in self.varying if b > ai):
                acc = self.cells.get((case, ai, bi))
                if acc is None:
                    acc = self.cells[(case, ai, bi)] = np.zeros((3, len(self.axes[ai].rows), len(self.axes[bi].rows)))
                where = (digits[ai], digits[bi])
                np.add.at(acc[0], where, 1.0)
                np.add.at(acc[1], where, y)
                np.add.at(acc[2], where, logy)

    # --- results -------------------------------------------------------------------------------
    def fronts(self) -> dict | None:
        """Every variant's Pareto front over all objectives, as objective-sum arrays."""
        return concat([self.front[c] for c in sorted(self.front)]) if self.front else None

    def figure_rows(self) -> dict | None:
        """The rows the figures draw: the panels' sample, fronts and extremes, each point once."""
        parts = [t.get(c) for c in self.panels for t in (self.kept, self.front, self.stair, self.top)]
        parts = [p for p in parts if p is not None and len(p["point_id"])]
        if not parts:
            return None
        rows = concat(parts)
        _, first = np.unique(np.column_stack([rows["_case"], rows["point_id"]]), axis=0, return_index=True)
        return take(rows, np.sort(first))

    def shares(self, log: bool) -> dict[int, float]:
        """Per varying axis index: eta squared of the first objective (its log when `log`), centred
        within each variant: between-level sum of squares over the total."""
        t = 1 if log else 0
        total = 0.0
        level_sums: dict = {}
        for case, st in self.stats.items():
            n, s1, s2 = st[2], st[3 + t], st[5 + t]
            total += s2 - s1 * s1 / n
            for i in self.varying:
                counts, sums = self.levels[(case, i)][0], self.levels[(case, i)][1 + t]
                centred = sums - counts * (s1 / n)      # each point's value less its variant's mean
                old = level_sums.get(i, (0, 0))
                level_sums[i] = (old[0] + counts, old[1] + centred)
        out = {}
        for i, (counts, sums) in level_sums.items():
            seen = counts > 0
            between = float((sums[seen] ** 2 / counts[seen]).sum())
            out[i] = between / total if total > 0 else 0.0
        return out

    def cell_means(self, case: int, a: int, b: int, log: bool) -> np.ndarray:
        """The first objective per cell of knobs a (rows) x b (columns), axis indices: the mean over
        the other knobs (geometric when `log`); NaN where no point was evaluated."""
        acc = self.cells.get((case, min(a, b), max(a, b)))
        if acc is None:
            return np.full((len(self.axes[a].rows), len(self.axes[b].rows)), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = acc[2 if log else 1] / acc[0]
        means = np.exp(means) if log else means
        return means if a < b else means.T
