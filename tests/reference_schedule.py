"""A brute-force discrete-event simulator of the scheduling rules (docs/architecture.md, "Schedule"),
written apart from simulator/schedule/scheduler.py: plain Python lists and sets, every decision
made by rescanning all tasks, time advanced from one task end to the next.

`simulate_tasks(g)` takes a task graph as plain lists (see `from_task_graph`) and returns each
task's start and end (spills: index n + block), the makespan and the per-unit busy cycles.
"""
from __future__ import annotations

import math


def from_task_graph(tg, capacity: int, need, fill_rate: float, spill_unit: int) -> dict:
    """Plain lists from a simulator TaskGraph (the oracle reads nothing else of the package)."""
    from simulator.schedule.tasks import T

    n = len(tg.tab)
    succ = [list(tg.succ[tg.succ_ptr[t]:tg.succ_ptr[t + 1]]) for t in range(n)]
    parts = [tuple(int(v) for v in row) for row in tg.parts]
    return {
        "unit": [int(u) for u in tg.tab[:, T.UNIT]], "dur": [int(d) for d in tg.tab[:, T.DUR]],
        "busy": [int(b) for b in tg.tab[:, T.BUSY]], "bytes": [int(b) for b in tg.tab[:, T.BYTES]],
        "release": [int(r) for r in tg.tab[:, T.RELEASE]], "group": [int(g) for g in tg.tab[:, T.RES]],
        "prio": [int(p) for p in tg.prio], "succ": succ, "n_units": tg.n_units, "capacity": capacity,
        "need": [int(x) for x in need],
        "producers": [list(tg.op_prod[tg.op_prod_ptr[g]:tg.op_prod_ptr[g + 1]]) for g in range(len(need))],
        "blocks": [int(b) for b in tg.blocks], "parts": parts, "fill_rate": fill_rate, "spill_unit": spill_unit,
    }


def simulate_tasks(g: dict) -> dict:
    n = len(g["unit"])
    nb = len(g["blocks"])
    track = g["capacity"] > 0
    preds_left = [0] * n
    for t in range(n):
        for s in g["succ"][t]:
            preds_left[s] += 1
    block_of = {d: k for k, d in enumerate(g["blocks"])}
    parts_of_fill = {}
    parts_ending = {}
    reads_of_block = {k: [] for k in range(nb)}
    for i, (fill, k, nbytes, ctr, last) in enumerate(g["parts"]):
        parts_of_fill.setdefault(fill, []).append(i)
        parts_ending.setdefault(last, []).append(i)
        reads_of_block[k].append(i)
    st = _State(g, n, nb, block_of, parts_of_fill, parts_ending, reads_of_block, track)
    for t in [t for t in range(n) if preds_left[t] == 0]:     # decided before any settles
        st.start[t] = 0
        if g["unit"][t] < 0:
            st.settle(t, 0, preds_left)
        else:
            st.ready.add(t)
    now = 0
    while True:
        st.dispatch(now)
        if not st.running:
            break
        now = min(end for _, end in st.running.values())
        for t in sorted(t for t, end in st.running.values() if end == now):
            del st.running[_unit_of(g, t, n)]
            if t >= n:
                st.spill_done(t - n, now)
            else:
                st.settle(t, now, preds_left)
    assert len(st.done) == n, "some task never ran"
    busy = [0] * g["n_units"]
    for t in range(n + nb):
        if t in st.dur:
            busy[_unit_of(g, t, n)] += g["busy"][t] if t < n and g["unit"][t] < 2 else st.dur[t]
    return {"start": st.start, "end": st.end, "dur": st.dur, "makespan": now, "busy": busy,
            "skipped": st.skipped, "forwarded": st.forwarded_bytes, "spills": st.spills}


def _unit_of(g, t, n):
    return g["unit"][t] if t < n else g["spill_unit"]


class _State:
    def __init__(self, g, n, nb, block_of, parts_of_fill, parts_ending, reads_of_block, track):
        self.g, self.n, self.nb, self.track = g, n, nb, track
        self.block_of, self.parts_of_fill, self.parts_ending = block_of, parts_of_fill, parts_ending
        self.reads_of_block = reads_of_block
        self.ready, self.deferred, self.running = set(), [], {}
        self.start, self.end, self.dur, self.done = {}, {}, {}, set()
        self.free = g["capacity"]
        self.group_state = [0] * len(g["need"])        # 0 not begun, 1 holding, 2 done
        self.left_in_group = [0] * len(g["need"])
        for t in range(n):
            if g["unit"][t] >= 0:
                self.left_in_group[g["group"][t]] += 1
        self.block = ["pending"] * nb
        self.pins = [0] * nb
        self.reads_left = [len(reads_of_block[k]) for k in range(nb)]
        self.part_state = [0] * len(g["parts"])        # 1 started, 2 started and pinned
        self.spill_key = {}
        self.spills = 0
        self.waiting = False
        self.skipped = [0, 0]
        self.forwarded_bytes = 0

    # -- bytes held -----------------------------------------------------------------------------
    def held_by_blocks(self, state):
        return sum(self.g["release"][self.g["blocks"][k]] for k in range(self.nb) if self.block[k] == state)

    def pinned_bytes(self):
        return sum(self.g["release"][self.g["blocks"][k]] for k in range(self.nb)
                   if self.block[k] == "resident" and self.pins[k] > 0)

    def active_groups(self):
        return sum(1 for s in self.group_state if s == 1)

    # -- task ends ------------------------------------------------------------------------------
    def settle(self, t0, now, preds_left):
        g = self.g
        stack = [t0]
        while stack:
            t = stack.pop()
            self.end[t] = now
            self.done.add(t)
            for p in self.parts_ending.get(t, []):
                k = g["parts"][p][1]
                self.reads_left[k] -= 1
                if self.part_state[p] == 2:
                    self.pins[k] -= 1
                if self.reads_left[k] == 0 and self.block[k] == "resident":
                    self.block[k] = "done"
                    self.free += g["release"][g["blocks"][k]]
                    self.forwarded_bytes += g["bytes"][g["blocks"][k]]
            grp = g["group"][t]
            if g["unit"][t] >= 0 and self.track:
                self.left_in_group[grp] -= 1
                if self.left_in_group[grp] == 0 and self.group_state[grp] == 1:
                    self.group_state[grp] = 2
                    self.free += g["need"][grp]
            for s in g["succ"][t]:
                preds_left[s] -= 1
                if preds_left[s] > 0:
                    continue
                self.start[s] = now
                if g["unit"][s] < 0 or self.forward(s):
                    stack.append(s)
                else:
                    self.ready.add(s)

    def forward(self, s):
        k = self.block_of.get(s)
        held = self.g["release"][s]
        if not self.track or k is None or self.waiting or held > self.free:
            return False
        self.block[k] = "resident"
        self.free -= held
        self.dur[s] = 0
        self.forwarded_drains = getattr(self, "forwarded_drains", 0) + 1
        return True

    def spill_done(self, k, now):
        self.block[k] = "memory"
        self.free += self.g["release"][self.g["blocks"][k]]
        self.end[self.n + k] = now
        for t in list(self.deferred):
            if not self.reads_spilling(t):
                self.deferred.remove(t)
                self.ready.add(t)

    def reads_spilling(self, t):
        return any(self.block[self.g["parts"][p][1]] == "spilling" for p in self.parts_of_fill.get(t, []))

    # -- starting tasks -------------------------------------------------------------------------
    def key(self, t):
        return self.g["prio"][t] if t < self.n else self.spill_key[t - self.n]

    def may_begin(self, grp):
        g = self.g
        if any(self.group_state[p] == 0 for p in g["producers"][grp]):
            return False
        if g["need"][grp] <= self.free:
            return True
        unpinned = self.held_by_blocks("resident") - self.pinned_bytes()
        return self.active_groups() == 0 and unpinned == 0 and self.held_by_blocks("spilling") == 0

    def evict(self, need):
        g = self.g
        spilled = False
        while need > self.free + self.held_by_blocks("spilling") and \
                self.held_by_blocks("resident") > self.pinned_bytes():
            best, best_use = None, None
            for k in range(self.nb):
                if self.block[k] != "resident" or self.pins[k] > 0:
                    continue
                unread = [g["prio"][g["parts"][p][0]] for p in self.reads_of_block[k] if self.part_state[p] == 0]
                use = min(unread) if unread else self.n
                if best is None or use > best_use or (use == best_use and k > best):
                    best, best_use = k, use
            if best is None:
                break
            spilled = True
            self.block[best] = "spilling"
            self.spills += 1
            self.spill_key[best] = -(self.nb + 1) + self.spills
            self.ready.add(self.n + best)
        return spilled

    def begin(self, t, now):
        g = self.g
        d = g["dur"][g["blocks"][t - self.n]] if t >= self.n else g["dur"][t]
        if t < self.n and t in self.parts_of_fill:
            moved = g["bytes"][t]
            for p in self.parts_of_fill[t]:
                _, k, nbytes, ctr, _ = g["parts"][p]
                self.part_state[p] = 1
                if self.block[k] == "resident":
                    self.part_state[p] = 2
                    self.pins[k] += 1
                    moved -= nbytes
                    self.skipped[ctr] += nbytes
            if moved < g["bytes"][t]:
                d = math.ceil(moved / g["fill_rate"]) if moved > 0 else 0
        self.ready.discard(t)
        self.start[t] = now
        self.dur[t] = d
        self.running[_unit_of(g, t, self.n)] = (t, now + d)

    def best_ready(self, u, begun_only=False):
        tasks = [t for t in self.ready if _unit_of(self.g, t, self.n) == u
                 and (not begun_only or t >= self.n or self.group_state[self.g["group"][t]] == 1)]
        return min(tasks, key=self.key) if tasks else None

    def dispatch(self, now):
        g = self.g
        forced = False
        while True:
            cands = [self.best_ready(u) for u in range(g["n_units"]) if u not in self.running]
            cands = sorted((t for t in cands if t is not None), key=self.key)
            started = blocked = False
            for t in cands:
                if self.held_by_blocks("spilling") and t < self.n and self.reads_spilling(t):
                    self.ready.discard(t)
                    self.deferred.append(t)
                    started = True
                    continue
                grp = g["group"][t] if t < self.n else -1
                if self.track and grp >= 0 and self.group_state[grp] == 0:
                    if forced:
                        forced = False
                    elif blocked or not self.may_begin(grp):
                        if not blocked:
                            self.waiting = True
                            if self.evict(g["need"][grp]):
                                started = True
                                break
                        blocked = True
                        other = self.best_ready(_unit_of(g, t, self.n), begun_only=True)
                        if other is not None:
                            self.begin(other, now)
                            started = True
                        continue
                    self.group_state[grp] = 1
                    self.free -= g["need"][grp]
                self.begin(t, now)
                started = True
            if not blocked:
                self.waiting = False
            if not started and blocked and not self.running:
                forced = True
                continue
            if not started:
                return
