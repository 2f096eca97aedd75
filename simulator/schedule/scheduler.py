"""The event-driven list scheduler: tasks onto units, in Numba over flat arrays.

Rules (docs/architecture.md, "Schedule", states them for readers):
* A task is ready when every task it depends on has ended. Tasks without a unit (barriers) end the
  moment they are ready.
* Time moves from one task end to the next. At each such time the tasks ending then are retired
  (in index order), then idle units take ready tasks: the candidates (the best ready task of each
  idle unit, by `prio`, lower first) are considered in priority order; this repeats until nothing
  more starts.
* Capacity (overlapped schedules): each reservation group (an op, or all the body ops of a
  recurrence, which run interleaved step by step) holds its staging reservation (`op_need`: the most
  bytes it has on the staging level when it runs alone) from the start of its first task on a unit
  to the end of its last. A group may begin only when every group it reads block by block has begun,
  and when its reservation fits in what is free, or when no other group holds any and no forwarded
  block waits to be read (its mapping sized its buffers for the level). Groups begin in priority
  order: once a candidate waits for space, no lower-priority group may begin in that round.
* Forwarding: when the drain of a forwardable block becomes ready and the block fits in what is free
  (and no op waits for space), the block stays on chip instead: no transfer; it holds its bytes. A
  consumer fill moves only the bytes of blocks not on chip and pins those on chip until its last use
  of them ends; when the block's last read is over its bytes are returned. An op waiting for space
  evicts unpinned blocks, the one whose next read comes last first (ties: the later block): an
  evicted block is written back (a spill, on the off-chip drain engine, ahead of anything queued
  there); its bytes return when the spill ends and its later readers read it from memory.
* Should nothing run and nothing be able to begin, the best waiting group begins over capacity
  (stats[S_FORCED] counts it; tests hold it at zero on every bundled configuration).
"""
import numpy as np
from numba import njit

from .tasks import T

PENDING, RESIDENT, SPILLING, MEMORY, DONE = 0, 1, 2, 3, 4        # block states
S_MAKESPAN, S_SKIPPED_A, S_SKIPPED_B, S_FORWARDED, S_SPILLS, S_PEAK, S_ERROR, S_KEPT, S_FORCED = range(9)
N_STATS = 9
NO_CAPACITY_LIMIT = 1 << 62      # cap_range's upper end when no decision bounds the capacity from above
F_FORWARDED = 1           # task flags: a drain that did not happen (its block stayed on chip)
F_READ_ON_CHIP = 2        # a fill that read some of its data from blocks on chip
_FREE, _FWD, _PINNED, _SPILLING, _ACTIVE, _EVICTIONS = 0, 1, 2, 3, 4, 5


def new_outputs(n_tasks: int, n_blocks: int):
    """start, end, dur (actual), flags per task and spill; stats."""
    size = n_tasks + n_blocks
    return (np.zeros(size, np.int64), np.zeros(size, np.int64), np.zeros(size, np.int64), np.zeros(size, np.int64),
            np.zeros(N_STATS, np.int64))


@njit(cache=True)
def _cdiv_rate(nbytes, rate):
    if nbytes <= 0:
        return 0
    return int(np.ceil(nbytes / rate))


@njit(cache=True)
def list_schedule(tab, succ_ptr, succ, npred, prio, n_units, capacity, op_need, op_prod_ptr, op_prod, parts, part_ptr,
                  unpin_ptr, unpin, blocks, block_of, cons_ptr, cons, fill_rate, spill_unit, start, end, dur, flags,
                  stats):
    """Schedule every task (see the module docstring); capacity 0 turns capacity and forwarding off.
    Outputs per task and per spill (index n + block): start, end, dur (the time it held its unit)
    and flags; stats[S_ERROR] = 1 if some task never became ready (a malformed graph)."""
    list_schedule_ranged(tab, succ_ptr, succ, npred, prio, n_units, capacity, op_need, op_prod_ptr, op_prod, parts,
                         part_ptr, unpin_ptr, unpin, blocks, block_of, cons_ptr, cons, fill_rate, spill_unit, start,
                         end, dur, flags, stats, np.array([0, NO_CAPACITY_LIMIT], np.int64))


@njit(cache=True)
def list_schedule_ranged(tab, succ_ptr, succ, npred, prio, n_units, capacity, op_need, op_prod_ptr, op_prod, parts,
                         part_ptr, unpin_ptr, unpin, blocks, block_of, cons_ptr, cons, fill_rate, spill_unit, start,
                         end, dur, flags, stats, cap_range):
    """list_schedule, and in cap_range the capacities [lo, hi) over which every decision that
    reads the capacity comes out as it did (narrowed in place; untouched when capacity is 0).
    Along one run the bytes in use (capacity - free) never depend on the capacity, so each test
    `x <= free` is `capacity >= x + in use`: a bound on one side or the other (sweep/capmemo.py)."""
    n = tab.shape[0]
    nb = blocks.shape[0]
    n_ops = op_need.shape[0]
    track = capacity > 0
    if track:
        cap_range[0] = max(cap_range[0], 1)
    pend = npred.copy()
    key = np.empty(n + nb, np.int64)
    key[:n] = prio
    off = np.zeros(n_units + 1, np.int64)          # unit u's ready heap: heap[off[u]:off[u + 1]]
    left_on_unit = np.zeros(n_ops + 1, np.int64)   # per op: its tasks on units not yet ended
    for t in range(n):
        if tab[t, T.UNIT] >= 0:
            off[tab[t, T.UNIT] + 1] += 1
            left_on_unit[tab[t, T.RES]] += 1
    off[spill_unit + 1] += nb
    for u in range(n_units):
        off[u + 1] += off[u]
    heap = np.empty(off[n_units] + 1, np.int64)        # (np.empty: each array below is read only where written)
    size = np.zeros(n_units, np.int64)
    running = np.full(n_units, -1, np.int64)
    ev_t = np.empty(n + nb + 1, np.int64)
    ev_id = np.empty(n + nb + 1, np.int64)
    cnt = np.zeros(4, np.int64)                    # events queued, tasks done, deferred fills, spills
    mem = np.zeros(6, np.int64)
    mem[_FREE] = capacity
    op_state = np.zeros(n_ops + 1, np.int64)      # 0 not begun, 1 holding its reservation, 2 done
    bstate = np.zeros(nb + 1, np.int64)
    pins = np.zeros(nb + 1, np.int64)
    left = np.zeros(nb + 1, np.int64)
    nxt = np.zeros(nb + 1, np.int64)
    for k in range(nb):
        left[k] = cons_ptr[k + 1] - cons_ptr[k]
        nxt[k] = cons_ptr[k]
    pstate = np.zeros(parts.shape[0] + 1, np.int64)   # 1: its fill started; 2: and pinned the block
    deferred = np.empty(n + 1, np.int64)
    stack = np.empty(n + 1, np.int64)
    cand = np.zeros(n_units, np.int64)
    waiting = np.zeros(1, np.int64)                # an op waits for space (no forwarding meanwhile)
    resident = np.empty(nb + 1, np.int64)          # blocks kept on chip (some may have left since)
    cnt_res = np.zeros(1, np.int64)

    def fits_at(nbytes, room):
        """nbytes <= room, where room is the capacity less bytes that do not depend on it; the
        answer holds for every capacity on the same side of nbytes + (capacity - room)."""
        edge = nbytes + capacity - room
        if nbytes <= room:
            cap_range[0] = max(cap_range[0], edge)
            return True
        cap_range[1] = min(cap_range[1], edge)
        return False

    def heap_push(u, t):
        i = size[u]
        size[u] += 1
        base = off[u]
        while i > 0:
            parent = (i - 1) // 2
            if key[heap[base + parent]] <= key[t]:
                break
            heap[base + i] = heap[base + parent]
            i = parent
        heap[base + i] = t

    def heap_pop(u):
        base = off[u]
        top = heap[base]
        size[u] -= 1
        last = heap[base + size[u]]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size[u]:
                break
            if c + 1 < size[u] and key[heap[base + c + 1]] < key[heap[base + c]]:
                c += 1
            if key[heap[base + c]] >= key[last]:
                break
            heap[base + i] = heap[base + c]
            i = c
        heap[base + i] = last
        return top

    def ev_push(time, t):
        i = cnt[0]
        cnt[0] += 1
        while i > 0:
            p = (i - 1) // 2
            if ev_t[p] < time or (ev_t[p] == time and ev_id[p] < t):
                break
            ev_t[i] = ev_t[p]
            ev_id[i] = ev_id[p]
            i = p
        ev_t[i] = time
        ev_id[i] = t

    def ev_pop():
        t = ev_id[0]
        cnt[0] -= 1
        m = cnt[0]
        time, last = ev_t[m], ev_id[m]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= m:
                break
            if c + 1 < m and (ev_t[c + 1] < ev_t[c] or (ev_t[c + 1] == ev_t[c] and ev_id[c + 1] < ev_id[c])):
                c += 1
            if ev_t[c] > time or (ev_t[c] == time and ev_id[c] > last):
                break
            ev_t[i] = ev_t[c]
            ev_id[i] = ev_id[c]
            i = c
        ev_t[i] = time
        ev_id[i] = last
        return t

    def reads_done(t):
        """Task t ended: the forwarded reads whose last use it was are over."""
        for i in range(unpin_ptr[t], unpin_ptr[t + 1]):
            p = unpin[i]
            k = parts[p, 1]
            left[k] -= 1
            if pstate[p] == 2:
                pins[k] -= 1
                if pins[k] == 0:
                    mem[_PINNED] -= tab[blocks[k], T.RELEASE]
            if left[k] == 0 and bstate[k] == RESIDENT:
                bstate[k] = DONE
                held = tab[blocks[k], T.RELEASE]
                mem[_FREE] += held
                mem[_FWD] -= held
                stats[S_FORWARDED] += tab[blocks[k], T.BYTES]

    def forward(s):
        """Keep drain s's block on chip if it fits; returns whether it does."""
        k = block_of[s]
        held = tab[s, T.RELEASE]
        if not track or k < 0 or waiting[0]:
            return False
        if not fits_at(held, mem[_FREE]):
            return False
        flags[s] = F_FORWARDED
        bstate[k] = RESIDENT
        resident[cnt_res[0]] = k
        cnt_res[0] += 1
        mem[_FREE] -= held
        mem[_FWD] += held
        stats[S_KEPT] += 1
        return True

    def settle(t0, now):
        """t0 ends at `now`; successors that become ready are queued on their units, and those
        without a unit (and drains whose block stays on chip) end at once."""
        sp = 0
        stack[sp] = t0
        sp += 1
        while sp > 0:
            sp -= 1
            t = stack[sp]
            end[t] = now
            reads_done(t)
            cnt[1] += 1
            op = tab[t, T.RES]
            if tab[t, T.UNIT] >= 0 and track:
                left_on_unit[op] -= 1
                if left_on_unit[op] == 0 and op_state[op] == 1:
                    op_state[op] = 2
                    mem[_FREE] += op_need[op]
                    mem[_ACTIVE] -= 1
            for i in range(succ_ptr[t], succ_ptr[t + 1]):
                s = succ[i]
                pend[s] -= 1
                if pend[s] > 0:
                    continue
                start[s] = now
                if tab[s, T.UNIT] < 0 or forward(s):
                    stack[sp] = s
                    sp += 1
                else:
                    heap_push(tab[s, T.UNIT], s)

    def spilling_part(t):
        for i in range(part_ptr[t], part_ptr[t + 1]):
            if bstate[parts[i, 1]] == SPILLING:
                return True
        return False

    def may_begin(op):
        """Whether op can take its reservation now (see the module docstring)."""
        for i in range(op_prod_ptr[op], op_prod_ptr[op + 1]):
            if op_state[op_prod[i]] == 0:
                return False
        if fits_at(op_need[op], mem[_FREE]):
            return True
        return mem[_ACTIVE] == 0 and mem[_FWD] == mem[_PINNED] and mem[_SPILLING] == 0

    def evict(need):
        """Spill unpinned blocks, latest next read first, until `need` bytes will be free; returns
        whether it spilled any."""
        spilled = False
        while not fits_at(need, mem[_FREE] + mem[_SPILLING]) and mem[_FWD] > mem[_PINNED]:
            best, best_use = -1, -1
            i = 0
            while i < cnt_res[0]:                      # resident blocks; the ones gone are dropped
                k = resident[i]
                if bstate[k] != RESIDENT:
                    cnt_res[0] -= 1
                    resident[i] = resident[cnt_res[0]]
                    continue
                i += 1
                if pins[k] > 0:
                    continue
                while nxt[k] < cons_ptr[k + 1] and pstate[cons[nxt[k]]] > 0:
                    nxt[k] += 1
                use = prio[parts[cons[nxt[k]], 0]] if nxt[k] < cons_ptr[k + 1] else n
                if use > best_use or (use == best_use and k > best):
                    best, best_use = k, use
            if best < 0:
                break
            spilled = True
            held = tab[blocks[best], T.RELEASE]
            bstate[best] = SPILLING
            mem[_FWD] -= held
            mem[_SPILLING] += held
            cnt[3] += 1
            key[n + best] = -(nb + 1) + cnt[3]          # spills go first, in eviction order
            heap_push(spill_unit, n + best)
            stats[S_SPILLS] += 1
        return spilled

    def begin(t, now):
        """Start t on its unit; a fill reading forwarded blocks moves only what is not on chip."""
        u = tab[t, T.UNIT] if t < n else spill_unit
        d = tab[blocks[t - n], T.DUR] if t >= n else tab[t, T.DUR]
        if t < n and part_ptr[t + 1] > part_ptr[t]:
            nbytes = tab[t, T.BYTES]
            for i in range(part_ptr[t], part_ptr[t + 1]):
                k = parts[i, 1]
                pstate[i] = 1
                if bstate[k] == RESIDENT:
                    pstate[i] = 2
                    if pins[k] == 0:
                        mem[_PINNED] += tab[blocks[k], T.RELEASE]
                    pins[k] += 1
                    nbytes -= parts[i, 2]
                    stats[S_SKIPPED_A + parts[i, 3]] += parts[i, 2]
                    flags[t] = F_READ_ON_CHIP
            if nbytes < tab[t, T.BYTES]:
                d = _cdiv_rate(nbytes, fill_rate)
        start[t] = now
        dur[t] = d
        running[u] = t
        ev_push(now + d, t)
        if capacity - mem[_FREE] > stats[S_PEAK]:
            stats[S_PEAK] = capacity - mem[_FREE]

    def pick_begun(u):
        """Pop and return unit u's best ready task whose op already holds its space (-1: none);
        the tasks passed over go back."""
        m = 0
        found = -1
        while size[u] > 0:
            t = heap_pop(u)
            if t >= n or op_state[tab[t, T.RES]] == 1:
                found = t
                break
            stack[m] = t
            m += 1
        for i in range(m):
            heap_push(u, stack[i])
        return found

    def dispatch(now):
        forced = False
        while True:
            m = 0
            for u in range(n_units):
                if running[u] < 0 and size[u] > 0:
                    cand[m] = heap[off[u]]
                    m += 1
            for i in range(1, m):                      # insertion sort by priority (m <= units)
                c = cand[i]
                j = i - 1
                while j >= 0 and key[cand[j]] > key[c]:
                    cand[j + 1] = cand[j]
                    j -= 1
                cand[j + 1] = c
            started = False
            blocked = False
            for i in range(m):
                t = cand[i]
                u = tab[t, T.UNIT] if t < n else spill_unit
                if mem[_SPILLING] > 0 and t < n and part_ptr[t + 1] > part_ptr[t] and spilling_part(t):
                    heap_pop(u)                        # it waits until the spill has written the block
                    deferred[cnt[2]] = t
                    cnt[2] += 1
                    started = True
                    continue
                op = tab[t, T.RES] if t < n else -1
                if track and op >= 0 and op_state[op] == 0:
                    if forced:
                        stats[S_FORCED] += 1
                        forced = False
                    elif blocked or not may_begin(op):
                        if not blocked:
                            waiting[0] = 1
                            if evict(op_need[op]):
                                started = True         # spills queued: collect the candidates again
                                break
                        blocked = True
                        t = pick_begun(u)              # the unit takes the best task of an op holding space
                        if t >= 0:
                            begin(t, now)
                            started = True
                        continue
                    op_state[op] = 1
                    mem[_FREE] -= op_need[op]
                    mem[_ACTIVE] += 1
                heap_pop(u)
                begin(t, now)
                started = True
            if not blocked:
                waiting[0] = 0
            if not started and blocked and cnt[0] == 0:
                forced = True                          # nothing runs, nothing frees: see the docstring
                continue
            if not started:
                return

    def undefer():
        kept = 0
        for i in range(cnt[2]):
            t = deferred[i]
            if spilling_part(t):
                deferred[kept] = t
                kept += 1
            else:
                heap_push(tab[t, T.UNIT], t)
        cnt[2] = kept

    for t in np.flatnonzero(npred == 0):          # (settling one may ready others: decide up front)
        if tab[t, T.UNIT] < 0:
            settle(t, 0)
        else:
            heap_push(tab[t, T.UNIT], t)
    now = 0
    while True:
        dispatch(now)
        if cnt[0] == 0:
            break
        now = ev_t[0]
        while cnt[0] > 0 and ev_t[0] == now:
            t = ev_pop()
            running[tab[t, T.UNIT] if t < n else spill_unit] = -1
            if t >= n:                                 # a spill ended: the block is in memory
                k = t - n
                bstate[k] = MEMORY
                mem[_SPILLING] -= tab[blocks[k], T.RELEASE]
                mem[_FREE] += tab[blocks[k], T.RELEASE]
                end[t] = now
                undefer()
            else:
                settle(t, now)
    stats[S_MAKESPAN] = now
    stats[S_ERROR] = 0 if cnt[1] == n else 1
