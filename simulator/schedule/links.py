"""A layer's task graph: every op result's tasks, joined by the data they pass.

Dependencies between ops come from the tensors they share:
* block level, where a consumer reads a tensor its producer drains in blocks and both see it with
  the same (batch, rows, cols) shape (GEMM operands and outputs, vector programs that fit a chunk
  on chip, fused attention's Q, K, V): each off-chip fill of the consumer waits for the drains of
  the producer blocks it overlaps, nothing else;
* whole tensor otherwise (through layouts, gathers, recurrences, streamed vector programs): the
  consumer's first task waits for the producer's last.
A tensor is forwardable when it is an intermediate of the layer and every consumer reads it at block
level: its blocks may then stay on chip for their consumers instead of going to memory (the
scheduler decides, space permitting). A recurrence's body ops run step by step: step t+1 of any
body op starts after every body op's step t has ended. Serial schedules chain the ops instead.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..graph import FusedAttention, Gather, Gemm, Layout, Recurrence, VectorOp
from .optasks import K, R, tensor_rows
from .order import ordered, upward_rank  # noqa: F401  (upward_rank: for periodic.py and tests)
from .reuse import all_op_tasks
from .forwarding import forwarding_arrays as _forwarding
from .tasks import Kind, T, csr, n_units


@dataclass(eq=False)
class TaskGraph:
    tab: np.ndarray               # every task (tasks.T columns; OP = op result index, -1 for layer barriers)
    succ_ptr: np.ndarray
    succ: np.ndarray
    npred: np.ndarray
    prio: np.ndarray              # lower runs first when tasks contend for a unit
    local_edges: np.ndarray       # the dependencies inside each reservation group (to run each alone)
    n_groups: int                 # reservation groups: one per op result, one per recurrence
    op_prod_ptr: np.ndarray       # the groups each group reads block by block: op_prod[ptr[g]:ptr[g + 1]]
    op_prod: np.ndarray
    parts: np.ndarray             # forwardable reads: fill task, block, bytes, counter operand, last-use task
    part_ptr: np.ndarray          # parts of fill task t: parts[part_ptr[t]:part_ptr[t + 1]] (sorted by task)
    unpin_ptr: np.ndarray         # parts whose last use ends with task t: unpin[unpin_ptr[t]:unpin_ptr[t + 1]]
    unpin: np.ndarray
    blocks: np.ndarray            # forwardable blocks: their drain tasks
    block_of: np.ndarray          # per task: the forwardable block it drains (-1)
    cons_ptr: np.ndarray          # each block's reads in priority order
    cons: np.ndarray
    spans: list                   # per op result: [first, end) task indices
    n_units: int
    serial: bool
    # (not a field: graphs compare by their arrays) per op result its OpTasks, when each is a
    # reservation group of its own (reserve.py then works per build)
    results = None
    # the forwarding limits (staging bytes / 2) this graph is the graph of: [lo, hi) (plans.py)
    forward_window = (0, 1 << 62)


def build_task_graph(graph, logs, hw, serial: bool, ranks=None) -> TaskGraph:
    """The task graph of a layer whose op results have the step logs `logs` (oplog.OpLog).
    `ranks(tab, rank, succ_ptr, succ, npred)`, when given, adjusts the upward ranks (periodic.py)."""
    owners = _owners(graph)
    group = np.array([g for g, _ in owners], np.int64)       # reservation groups: a graph op's results
    per_result = all_op_tasks(logs, hw, overlapped=not serial)
    tab, offsets, inner = _stacked(per_result, group)
    extra = []                    # layer barriers (recurrences): (kind, group), after the ops' tasks
    heads, tails = _op_nodes(graph, owners, per_result, offsets, len(tab), extra, inner, serial)
    local = np.concatenate(inner)
    edges = [local]
    links = _Links(graph, owners, per_result, offsets, hw.bytes_per_element, hw.on_chip[-1].size_bytes // 2)
    edges.append(links.whole_edges(heads, tails))
    if serial:
        edges.append(_serial_chain(per_result, offsets))
    block_edges, reads = links.block_edges(forwarding=not serial)
    edges.append(block_edges)
    if extra:
        rows = np.zeros((len(extra), T.WIDTH), np.int64)
        rows[:, T.UNIT], rows[:, T.STEP], rows[:, T.OP] = -1, -1, -1
        rows[:, T.KIND], rows[:, T.RES] = np.array(extra, np.int64).T
        tab = np.concatenate([tab, rows])
    succ_ptr, succ, npred, rank = ordered(tab, np.concatenate(edges))
    if ranks is not None:
        rank = ranks(tab, rank, succ_ptr, succ, npred)
    prio = np.empty(len(tab), np.int64)
    prio[np.argsort(-rank, kind="stable")] = np.arange(len(tab))      # ties: lower index first
    spans = [(int(offsets[i]), int(offsets[i + 1])) for i in range(len(per_result))]
    prod_ptr, prod = links.producers(group, len(graph.ops))
    tg = TaskGraph(tab, succ_ptr, succ, npred, prio, local, len(graph.ops), prod_ptr, prod,
                   *_forwarding(reads, tab, prio), spans, n_units(hw.n_boundaries), serial)
    if not extra and len(per_result) == len(graph.ops):
        tg.results = per_result
    tg.forward_window = tuple(links.window)
    return tg


def _stacked(per_result, group):
    """The op results' tasks in one table (OP: the result's index, RES: its group), their start
    offsets, and their internal edges in layer indices (a list, recurrences add theirs)."""
    offsets = np.zeros(len(per_result) + 1, np.int64)
    np.cumsum([len(t.tab) for t in per_result], out=offsets[1:])
    edge_offsets = np.zeros(len(per_result) + 1, np.int64)
    np.cumsum([len(t.edges) for t in per_result], out=edge_offsets[1:])
    tab = np.concatenate([t.tab for t in per_result])
    edges = np.concatenate([t.edges for t in per_result])
    _label(tab, edges, offsets, edge_offsets, group)
    return tab, offsets, [edges]


@njit(cache=True)
def _label(tab, edges, offsets, edge_offsets, group):
    """Result i's tasks get OP i and RES group[i]; its edges move to layer indices."""
    for i in range(group.shape[0]):
        for t in range(offsets[i], offsets[i + 1]):
            tab[t, T.OP] = i
            tab[t, T.RES] = group[i]
        for e in range(edge_offsets[i], edge_offsets[i + 1]):
            edges[e, 0] += offsets[i]
            edges[e, 1] += offsets[i]


def _owners(graph) -> list[tuple[int, int]]:
    """(graph op index, body index) of each op result: results follow graph order, a recurrence
    gives one per non-layout body op."""
    out = []
    for g, op in enumerate(graph.ops):
        if isinstance(op, Recurrence):
            out += [(g, i) for i, b in enumerate(b for b in op.body if not isinstance(b, Layout))]
        else:
            out.append((g, 0))
    return out


def _op_nodes(graph, owners, per_result, offsets, n_tasks, extra, edges, serial):
    """Head and tail task of every graph op; a recurrence's are barriers around its body results."""
    heads, tails = {}, {}
    first = {}
    for i, (g, _) in enumerate(owners):
        first.setdefault(g, i)
    for g, op in enumerate(graph.ops):
        i = first[g]
        if not isinstance(op, Recurrence):
            heads[g] = int(per_result[i].heads[0] + offsets[i])
            tails[g] = int(per_result[i].tails[-1] + offsets[i])
            continue
        body = [b for b in op.body if not isinstance(b, Layout)]
        results = list(range(i, i + len(body)))
        heads[g] = n_tasks + len(extra)
        extra.append((Kind.HEAD, g))
        tails[g] = n_tasks + len(extra)
        extra.append((Kind.TAIL, g))
        pairs = []
        for r in results:
            pairs += [(heads[g], int(per_result[r].heads[0] + offsets[r])),
                      (int(per_result[r].tails[-1] + offsets[r]), tails[g])]
        edges.append(np.array(pairs, np.int64).reshape(-1, 2))
        if not serial:
            edges += [p.astype(np.int64) for p in _recurrence_steps(op, body, results, per_result, offsets, n_tasks,
                                                                     extra, g)]
    return heads, tails


def _recurrence_steps(op, body, results, per_result, offsets, n_tasks, extra, g) -> list:
    """Step barriers and within-step dependencies of a recurrence's body results."""
    index = {b.name: k for k, b in enumerate(body)}
    layouts = {b.name: b for b in op.body if isinstance(b, Layout)}

    def real_deps(names):
        out = set()
        for name in names:
            out |= real_deps(layouts[name].deps) if name in layouts else {name}
        return out

    deps = [sorted(index[d] for d in real_deps(b.deps) if d in index) for b in body]
    heads = np.array([per_result[r].heads[:op.steps] + offsets[r] for r in results])
    tails = np.array([per_result[r].tails[:op.steps] + offsets[r] for r in results])
    pairs = [np.stack([tails[d], heads[k]], axis=1) for k, ds in enumerate(deps) for d in ds]
    barriers = n_tasks + len(extra) + np.arange(op.steps - 1)
    extra.extend([(Kind.BARRIER, g)] * (op.steps - 1))
    for r in range(len(results)):            # every body op's step t ends before any begins step t+1
        pairs.append(np.stack([tails[r, :-1], barriers], axis=1))
        pairs.append(np.stack([barriers, heads[r, 1:]], axis=1))
    return pairs


def _serial_chain(per_result, offsets) -> np.ndarray:
    firsts = [int(t.heads[0] + offsets[i]) for i, t in enumerate(per_result)]
    lasts = [int(t.tails[-1] + offsets[i]) for i, t in enumerate(per_result)]
    return np.array(list(zip(lasts[:-1], firsts[1:])), np.int64).reshape(-1, 2)


def _views(op) -> dict:
    """Tensor name -> (batch, rows, cols) as the op reads or writes it, for ops that move blocks."""
    if isinstance(op, Gemm):
        return {op.a: (op.batch, op.m, op.k), op.b: (1 if op.shared_b else op.batch, op.k, op.n),
                op.c: (op.batch, op.m, op.n)}
    if isinstance(op, VectorOp):
        names = {n for p in op.passes for n in (p.dst, *p.src)}
        return {n: (op.batch, op.height(n), op.width(n)) for n in names}
    if isinstance(op, FusedAttention):
        return {op.q: (op.batch, op.n_q, op.d), op.k: (op.batch, op.n_kv, op.d), op.v: (op.batch, op.n_kv, op.d)}
    return {}


def _inputs(op) -> tuple:
    if isinstance(op, Gemm):
        return (op.a, op.b)
    if isinstance(op, VectorOp | Layout):
        return tuple(op.inputs)
    if isinstance(op, FusedAttention):
        return (op.q, op.k, op.v)
    if isinstance(op, Gather):
        return (op.table, op.index)
    return ()


def _outputs(op) -> tuple:
    if isinstance(op, Gemm):
        return (op.c,)
    if isinstance(op, VectorOp | Layout):
        return tuple(op.outputs)
    if isinstance(op, FusedAttention):
        return (op.o,)
    if isinstance(op, Gather):
        return (op.out,)
    return ()


class _Links:
    """Which graph op reads what from which, at block or whole-tensor level."""

    def __init__(self, graph, owners, per_result, offsets, eb: int, forward_limit: int):
        self.graph, self.per_result, self.offsets, self.eb = graph, per_result, offsets, eb
        self.forward_limit = forward_limit
        self.index = {op.name: g for g, op in enumerate(graph.ops)}
        self.producer = {name: g for g, op in enumerate(graph.ops) for name in _outputs(op)}
        self.result_of = {g: i for i, (g, _) in enumerate(owners) if not isinstance(graph.ops[g], Recurrence)}
        self.block_level = {}          # (consumer g, tensor) -> producer g
        for g, op in enumerate(graph.ops):
            if g in self.result_of:
                for name in _inputs(op):
                    p = self.producer.get(name)
                    if p is not None and self._blockwise(g, p, name):
                        self.block_level[(g, name)] = p

    def _blockwise(self, g, p, name) -> bool:
        if p not in self.result_of or isinstance(self.graph.ops[p], Layout):
            return False
        cons, prod = self.per_result[self.result_of[g]], self.per_result[self.result_of[p]]
        if _views(self.graph.ops[g]).get(name) != _views(self.graph.ops[p]).get(name):
            return False
        reads = name in cons.names and len(tensor_rows(cons, "regions", cons.names.index(name))) > 0
        writes = name in prod.names and len(tensor_rows(prod, "blocks", prod.names.index(name))) > 0
        return bool(reads and writes)

    def whole_edges(self, heads, tails) -> np.ndarray:
        """The producer's last task before the consumer's first, for everything not linked by blocks
        (the op's declared dependencies included)."""
        pairs = []
        for g, op in enumerate(self.graph.ops):
            whole = {self.producer[n] for n in _inputs(op) if n in self.producer and (g, n) not in self.block_level}
            linked = {p for (c, _), p in self.block_level.items() if c == g}
            whole |= {self.index[d] for d in op.deps if self.index[d] not in linked}
            pairs += [(tails[p], heads[g]) for p in sorted(whole)]
        return np.array(pairs, np.int64).reshape(-1, 2)

    def producers(self, group, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
        """Per reservation group, the groups it reads block by block (they must begin before it may)."""
        pairs = sorted({(group[self.result_of[g]], group[self.result_of[p]]) for (g, _), p in self.block_level.items()})
        src = np.array([c for c, _ in pairs], np.int64)
        dst = np.array([p for _, p in pairs], np.int64)
        return csr(n_groups, src, dst)

    def forwardable(self) -> set:
        """Intermediates every consumer reads block by block."""
        readers = {}
        for g, op in enumerate(self.graph.ops):
            for name in _inputs(op):
                readers.setdefault(name, []).append(g)
        roles = {t.name: t.role for t in self.graph.tensors}
        return {name for name, gs in readers.items()
                if roles.get(name) == "intermediate" and all((g, name) in self.block_level for g in gs)}

    def block_edges(self, forwarding: bool):
        """Edges from each producer block's drain to the consumer fills that read it, and the reads
        of forwardable blocks: (drain task, fill task, bytes, counter operand, last-use task) rows."""
        keep = self.forwardable() if forwarding else set()
        edges, reads = [np.zeros((0, 2), np.int64)], [np.zeros((0, 5), np.int64)]
        self.window = [0, int(_NO_SPAN)]
        for (g, name), p in sorted(self.block_level.items()):
            cons, prod = self.per_result[self.result_of[g]], self.per_result[self.result_of[p]]
            c_off, p_off = self.offsets[self.result_of[g]], self.offsets[self.result_of[p]]
            regions = tensor_rows(cons, "regions", cons.names.index(name))
            blocks = tensor_rows(prod, "blocks", prod.names.index(name))
            lo, lens = cons.ranges if cons.ranges is not None else (_EMPTY, _EMPTY)
            e, r, window = match_blocks(regions, blocks, lo, lens, cons.ranges is not None, self.eb, self.forward_limit)
            edges.append(np.stack([e[:, 1] + p_off, e[:, 0] + c_off], axis=1))
            if name in keep and _all_forwardable(prod, p_off, keep):
                self.window = [max(self.window[0], int(window[0])), min(self.window[1], int(window[1]))]
                r[:, 0] += p_off
                r[:, 1] += c_off
                r[:, 4] += c_off
                reads.append(r)
        return np.concatenate(edges), np.concatenate(reads)


_EMPTY = np.zeros(0, np.int64)
_EMPTY.setflags(write=False)            # like the ranges it stands for: one match_blocks signature


def _all_forwardable(prod, p_off, keep) -> bool:
    """A block may stay on chip only if every tensor its drain writes is forwardable."""
    written = prod.memo.get("written")
    if written is None:
        written = prod.memo["written"] = tuple(int(k) for k in np.unique(prod.blocks[:, K.TENSOR]))
    return all(prod.names[k] in keep for k in written)


@njit(cache=True)
def match_blocks(regions, blocks, lo, lens, ranged, eb, forward_limit):
    """For each region, the blocks it overlaps (same batch element, rows and columns). A producer's
    drains end in their order (its windows), so the region's fill waits for the latest one only:
    edges (fill task, drain task). Reads (drain task, fill task, bytes of the overlap, counter
    operand, last use) are listed when every block the region overlaps could be on chip at once
    (at most `forward_limit` bytes); a fill spanning more reads from memory. Bytes are dense, or
    the valid columns of each row when the reader has row ranges. `window`: the limits that list
    the same reads (from the largest span listed to the smallest one not)."""
    order = np.argsort(blocks[:, K.B] * (1 << 32) + blocks[:, K.R0])
    keys = blocks[order, K.B] * (1 << 32) + blocks[order, K.R0]
    height = 0
    for k in range(blocks.shape[0]):
        height = max(height, blocks[k, K.R1] - blocks[k, K.R0])
    edges = np.zeros((regions.shape[0], 2), np.int64)
    reads = np.zeros((regions.shape[0] + 4, 5), np.int64)
    hits = np.zeros(blocks.shape[0] + 1, np.int64)
    ne = nr = 0
    window = np.array([0, _NO_SPAN], np.int64)      # the limits in [window[0], window[1]) read the same
    for i in range(regions.shape[0]):
        r = regions[i]
        b, r0, r1, c0, c1 = r[R.B], r[R.R0], r[R.R1], r[R.C0], r[R.C1]
        j = np.searchsorted(keys, b * (1 << 32) + r0 - height)
        m = 0
        latest = -1
        span = 0
        while j < keys.shape[0] and keys[j] < b * (1 << 32) + r1:
            k = order[j]
            j += 1
            blk = blocks[k]
            if blk[K.B] != b or blk[K.R1] <= r0 or blk[K.C0] >= c1 or blk[K.C1] <= c0:
                continue
            hits[m] = k
            m += 1
            latest = max(latest, blk[K.TASK])
            span += (blk[K.R1] - blk[K.R0]) * (blk[K.C1] - blk[K.C0]) * eb
        if latest < 0:
            continue
        edges[ne, 0] = r[R.TASK]
        edges[ne, 1] = latest
        ne += 1
        if span > forward_limit:
            window[1] = min(window[1], span)
            continue
        window[0] = max(window[0], span)
        while nr + m > reads.shape[0]:
            reads = _grow(reads)
        for h in range(m):
            blk = blocks[hits[h]]
            reads[nr, 0] = blk[K.TASK]
            reads[nr, 1] = r[R.TASK]
            reads[nr, 2] = _overlap_bytes(max(r0, blk[K.R0]), min(r1, blk[K.R1]), max(c0, blk[K.C0]),
                                          min(c1, blk[K.C1]), c1 - c0, lo, lens, ranged, eb)
            reads[nr, 3] = r[R.COUNTER]
            reads[nr, 4] = r[R.LAST]
            nr += 1
    return edges[:ne], reads[:nr], window


_NO_SPAN = np.int64(1 << 62)             # no region reads more than this


@njit(cache=True)
def _grow(a):
    out = np.zeros((a.shape[0] * 2, a.shape[1]), np.int64)
    out[:a.shape[0]] = a
    return out


@njit(cache=True)
def _overlap_bytes(r0, r1, c0, c1, width, lo, lens, ranged, eb):
    if not ranged:
        return (r1 - r0) * (c1 - c0) * eb
    total = 0
    for i in range(r0, r1):
        if width == 1:
            total += 1 if lens[i] > 0 else 0
        else:
            total += max(0, min(lo[i] + lens[i], c1) - max(lo[i], c0))
    return total * eb
