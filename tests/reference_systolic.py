"""Brute-force cycle stepper of an R x C systolic MAC array (test-only reference).

Independent of simulator.kernels: pure Python, one clock cycle at a time, with explicit registers,
tagged data tokens and the project's conventions (docs/conventions/systolic.md).  It computes C = A @ B
with real values and counts what happened: cycles, folds, MAC slot events per PE, and SRAM words.  The
cycle count is never computed from a formula; it is the index of the last MAC slot the simulated data
movement produced, plus one.

Hardware model
--------------
* PE(i, j), i < R rows, j < C columns.  Registers are clocked: every cycle's new state is computed
  from the previous cycle's state.
* Streamed operands enter at the array edges, one cycle of skew per row (left edge) or column (top
  edge), and move one PE per cycle (right along rows, down along columns).  A PE performs a MAC
  slot in the cycle both of its operands are present; tokens carry tags (fold, k or time index) and
  the PE asserts they match, so a timing error shows up as an exception, not as a wrong count.
* output_stationary (M on rows, N on cols, K in time): A[m, k] enters row m - m0, B[k, n] enters
  column n - n0; each PE accumulates one C[m, n] and writes it when it consumes its last k.
* weight_stationary (K on rows, N on cols, M in time) and input_stationary (K on rows, M on cols,
  N in time): the stationary operand (B[k, n] for ws, A[m, k] for is) is preloaded by shifting it
  down each column's preload chain, R shifts per column (the word for the bottom row first),
  column j one cycle behind column j-1; at its last shift every PE latches its chain word into its
  "next" register.  The streamed operand (A[m, k] for ws, B[k, n] for is) enters row k - k0; when
  the first token of a fold reaches a PE, the PE swaps next -> active (the switch travels with the
  data).  Partial sums enter at the top of each column (0, or the previous k-fold's value read from
  SRAM), move down one PE per cycle, and are written to SRAM at the bottom.
* Edge folds: rows/columns outside the problem get zero "pad" tokens and zero stationary words, so
  an edge fold takes a full fold's time; pad words are not SRAM traffic.

Controller
----------
* serial: a fold starts (os: its stream; ws/is: its preload, the stream following once column 0's
  preload is latched) only in the cycle after the previous fold has fully finished, i.e. all its
  tokens have been consumed at the far edge and every partial sum has left the array.
* pipelined: os streams fold after fold back to back.  ws/is start the next fold's preload in the
  cycle the current fold's stream starts (the "next" registers are double buffered); a fold's
  stream slot ends when it has sent its T tokens AND the preload port has finished the R-cycle
  window opened with it, so short streams are padded with zero "bubble" tokens.  The port keeps the
  same cadence after the last fold (an idle window), so every fold's slot, the last one included,
  is padded to R: this is the convention the pipelined formulas of
  docs/conventions/systolic.md §3.2 charge.

SRAM words (docs/conventions/systolic.md §4): every real operand word injected at an edge is one read;
every real output word leaving the array is one C write; a partial sum brought back at the top of a
column (the output was written by an earlier k-fold) is one C read.
"""
from __future__ import annotations

import numpy as np

OS, WS, IS = "output_stationary", "weight_stationary", "input_stationary"
_FLOW_NAMES = {"os": OS, "ws": WS, "is": IS, OS: OS, WS: WS, IS: IS, 0: OS, 1: WS, 2: IS}

REAL, PAD, BUBBLE = 0, 1, 2


class StepperError(AssertionError):
    """The simulated hardware reached an inconsistent state (operands misaligned, data overwritten)."""


def _check(cond, msg):
    if not cond:
        raise StepperError(msg)


def _flow(dataflow):
    key = dataflow if isinstance(dataflow, str) else int(dataflow)
    try:
        return _FLOW_NAMES[key]
    except KeyError:
        raise ValueError(f"unknown dataflow {dataflow!r}") from None


def _ceil_ranges(extent, size):
    return list(range(0, extent, size))


class _Tok:
    """A data token: fold id, temporal index tau (k for os, m or n for ws/is), value and kind."""
    __slots__ = ("fold", "tau", "value", "kind", "row", "col")

    def __init__(self, fold, tau, value, kind, row=-1, col=-1):
        self.fold = fold
        self.tau = tau
        self.value = value
        self.kind = kind
        self.row = row      # destination row (stationary words) / edge row (stream tokens)
        self.col = col


def step_gemm(M, K, N, R, C, dataflow, pipelined, A=None, B=None, seed=0, wait_for_preload=True,
              max_cycles=1_000_000):
    """Step C[M,N] = A[M,K] @ B[K,N] on an R x C array cycle by cycle; return a dict of results.

    `A`/`B` default to small random integers (exact arithmetic).  `wait_for_preload=False` is a
    deliberately broken controller (pipelined ws/is streams the next fold after T tokens without
    waiting for its preload) used to show that the stepper's checks catch timing errors.
    """
    flow = _flow(dataflow)
    for name, v in (("M", M), ("K", K), ("N", N), ("R", R), ("C", C)):
        if int(v) < 1:
            raise ValueError(f"{name} must be >= 1")
    rng = np.random.default_rng(seed)
    A = rng.integers(-4, 5, size=(M, K)).astype(np.int64) if A is None else np.asarray(A, np.int64)
    B = rng.integers(-4, 5, size=(K, N)).astype(np.int64) if B is None else np.asarray(B, np.int64)
    assert A.shape == (M, K) and B.shape == (K, N)
    stationary = flow != OS

    # Folds: (row base, col base) over the dims mapped on rows and columns.  For ws/is the k-fold
    # is the inner loop, so consecutive folds accumulate into the same outputs (worst case for
    # partial-sum hazards in pipelined mode).
    if flow == OS:
        T = K
        folds = [(r0, c0) for r0 in _ceil_ranges(M, R) for c0 in _ceil_ranges(N, C)]
    elif flow == WS:
        T = M
        folds = [(r0, c0) for c0 in _ceil_ranges(N, C) for r0 in _ceil_ranges(K, R)]
    else:
        T = N
        folds = [(r0, c0) for c0 in _ceil_ranges(M, C) for r0 in _ceil_ranges(K, R)]
    F = len(folds)

    # --- operand accessors (value, kind, is-an-SRAM-word) ------------------------------------
    def os_a(f, i, tau):                      # left edge, row i: A[m0+i, k=tau]
        m = folds[f][0] + i
        return (int(A[m, tau]), REAL) if m < M else (0, PAD)

    def os_b(f, j, tau):                      # top edge, column j: B[k=tau, n0+j]
        n = folds[f][1] + j
        return (int(B[tau, n]), REAL) if n < N else (0, PAD)

    def stat_word(f, i, j):                   # stationary word of PE(i, j) in fold f
        k = folds[f][0] + i
        c = folds[f][1] + j
        if flow == WS:
            return (int(B[k, c]), REAL) if k < K and c < N else (0, PAD)
        return (int(A[c, k]), REAL) if k < K and c < M else (0, PAD)

    def stream_word(f, i, tau):               # left edge, row i, time tau
        if tau >= T:
            return 0, BUBBLE
        k = folds[f][0] + i
        if k >= K:
            return 0, PAD
        return (int(A[tau, k]), REAL) if flow == WS else (int(B[k, tau]), REAL)

    def out_index(f, j, tau):                 # C element produced at the bottom of column j
        c = folds[f][1] + j
        if flow == WS:
            return (tau, c) if c < N and tau < T else None
        return (c, tau) if c < M and tau < T else None

    # --- state --------------------------------------------------------------------------------
    Cs = np.zeros((M, N), np.int64)               # output SRAM
    writes_of = np.zeros((M, N), np.int64)        # how many times each output word was written
    words = {"a_reads": 0, "b_reads": 0, "c_reads": 0, "c_writes": 0}
    events = np.zeros((R, C, 3), np.int64)        # per PE: MAC slots by kind (real, pad, bubble)

    def read_a():
        words["a_reads"] += 1

    def read_b():
        words["b_reads"] += 1

    # os registers
    a_reg = [[None] * C for _ in range(R)]
    b_reg = [[None] * C for _ in range(R)]
    acc = [[None] * C for _ in range(R)]          # (fold, value)
    # ws/is registers
    x_reg = [[None] * C for _ in range(R)]        # streamed token moving right
    p_reg = [[None] * C for _ in range(R)]        # partial sum leaving PE(i, j) downwards
    chain = [[None] * C for _ in range(R)]        # preload shift chain
    nxt = [[None] * C for _ in range(R)]          # latched next stationary word
    nxt_used = [[True] * C for _ in range(R)]     # next word already swapped into active
    active = [[None] * C for _ in range(R)]

    row0 = {}        # cycle -> (fold, tau): the stream schedule at row 0 / column 0; others lag
    pre0 = {}        # cycle -> (fold or None, step): preload schedule at column 0; column j lags j
    live = [0] * F   # tokens of each fold inside the array (or scheduled at an edge)
    slot_len = [None] * F
    stream_start = [None] * F
    preload_start = [None] * F
    latched_col0 = [None] * F   # cycle column 0 latched fold f's stationary words
    done = [None] * F
    cur = None        # [fold, start cycle, tokens sent at row 0, paired preload window start]
    next_stream = 0
    next_preload = 0
    window_start = None   # start of the preload port's current R-cycle window
    last_mac = -1
    n_edges = R + C if flow == OS else R

    t = 0
    while True:
        _check(t < max_cycles, "stepper did not finish")
        # ---------- controller: decisions from the state at the end of cycle t-1 ----------
        if cur is None and next_stream < F:
            f = next_stream
            ok = True
            if stationary and (wait_for_preload or f == 0):
                ok = latched_col0[f] is not None and latched_col0[f] < t
            if not pipelined and f > 0:
                ok = ok and done[f - 1] is not None
            if ok:
                stream_start[f] = t
                cur = [f, t, 0, t]
                next_stream += 1
                if stationary and pipelined:
                    _check(window_start is None or t >= window_start + R, "preload port busy")
                    window_start = t
                    if next_preload < F:
                        preload_start[next_preload] = t
                        for c in range(R):
                            pre0[t + c] = (next_preload, c)
                        next_preload += 1
                    else:
                        for c in range(R):
                            pre0[t + c] = (None, c)       # idle window (port cadence)
        if stationary and next_preload < F and (window_start is None or t >= window_start + R):
            f = next_preload
            start_now = (f == 0) if pipelined else (f == 0 or done[f - 1] is not None)
            if start_now:
                window_start = t
                preload_start[f] = t
                for c in range(R):
                    pre0[t + c] = (f, c)
                next_preload += 1
        if cur is not None:
            f, start, sent, wstart = cur
            row0[t] = (f, sent)
            live[f] += n_edges          # one token per edge row (and column) will enter
            sent += 1
            cur[2] = sent
            over = sent >= T
            if stationary and pipelined and wait_for_preload:
                over = over and t + 1 >= wstart + R      # the paired preload window is over too
            if over:                                     # next cycle is free for the next slot
                slot_len[f] = sent
                cur = None

        # ---------- datapath: cycle t ----------
        if flow == OS:
            new_a = [[None] * C for _ in range(R)]
            new_b = [[None] * C for _ in range(R)]
            for i in range(R):
                for j in range(C - 1, 0, -1):
                    new_a[i][j] = a_reg[i][j - 1]
                s = row0.get(t - i)
                if s is not None:
                    f, tau = s
                    v, kind = os_a(f, i, tau)
                    if kind == REAL:
                        read_a()
                    new_a[i][0] = _Tok(f, tau, v, kind)
            for j in range(C):
                for i in range(R - 1, 0, -1):
                    new_b[i][j] = b_reg[i - 1][j]
                s = row0.get(t - j)
                if s is not None:
                    f, tau = s
                    v, kind = os_b(f, j, tau)
                    if kind == REAL:
                        read_b()
                    new_b[0][j] = _Tok(f, tau, v, kind)
            for i in range(R):
                for j in range(C):
                    a, b = new_a[i][j], new_b[i][j]
                    if a is None and b is None:
                        continue
                    _check(a is not None and b is not None,
                           f"cycle {t}: PE({i},{j}) has only one operand")
                    _check(a.fold == b.fold and a.tau == b.tau,
                           f"cycle {t}: PE({i},{j}) operands misaligned")
                    f, tau = a.fold, a.tau
                    if tau == 0:
                        _check(acc[i][j] is None, f"cycle {t}: PE({i},{j}) accumulator busy")
                        acc[i][j] = (f, 0)
                    _check(acc[i][j] is not None and acc[i][j][0] == f,
                           f"cycle {t}: PE({i},{j}) accumulator of another fold")
                    acc[i][j] = (f, acc[i][j][1] + a.value * b.value)
                    kind = REAL if a.kind == REAL and b.kind == REAL else PAD
                    events[i, j, kind] += 1
                    last_mac = t
                    if tau == T - 1:                     # output complete: write it back
                        m, n = folds[f][0] + i, folds[f][1] + j
                        if m < M and n < N:
                            Cs[m, n] = acc[i][j][1]
                            writes_of[m, n] += 1
                            words["c_writes"] += 1
                        acc[i][j] = None
                    if j == C - 1:
                        live[f] -= 1                     # A token leaves at the right edge
                    if i == R - 1:
                        live[f] -= 1                     # B token leaves at the bottom
            a_reg, b_reg = new_a, new_b
        else:
            new_x = [[None] * C for _ in range(R)]
            new_p = [[None] * C for _ in range(R)]
            for i in range(R):
                for j in range(C - 1, 0, -1):
                    new_x[i][j] = x_reg[i][j - 1]
                s = row0.get(t - i)
                if s is not None:
                    f, tau = s
                    v, kind = stream_word(f, i, tau)
                    if kind == REAL:
                        (read_a if flow == WS else read_b)()
                    new_x[i][0] = _Tok(f, tau, v, kind)
            # swaps and MACs read the registers as they were at the end of cycle t-1
            for j in range(C):
                for i in range(R):
                    x = new_x[i][j]
                    if i > 0 and p_reg[i - 1][j] is not None:
                        _check(x is not None, f"cycle {t}: partial sum reaching PE({i},{j}) is lost")
                    if x is None:
                        continue
                    f, tau = x.fold, x.tau
                    if active[i][j] is None or active[i][j].fold != f:
                        w = nxt[i][j]
                        _check(w is not None and not nxt_used[i][j] and w.fold == f
                               and w.row == i and w.col == j,
                               f"cycle {t}: PE({i},{j}) stationary word of fold {f} not ready")
                        active[i][j] = w
                        nxt_used[i][j] = True
                    w = active[i][j]
                    if i == 0:
                        out = out_index(f, j, tau)
                        v = 0
                        if out is not None and writes_of[out] > 0:
                            # partial sum of an earlier k-fold comes back from SRAM
                            _check(writes_of[out] == folds[f][0] // R,
                                   f"cycle {t}: partial sum {out} read before it was written")
                            v = int(Cs[out])
                            words["c_reads"] += 1
                        psum = _Tok(f, tau, v, REAL)
                        live[f] += 1
                    else:
                        psum = p_reg[i - 1][j]
                        _check(psum.fold == f and psum.tau == tau,
                               f"cycle {t}: PE({i},{j}) partial sum misaligned")
                    if x.kind == BUBBLE:
                        kind = BUBBLE
                    else:
                        kind = REAL if x.kind == REAL and w.kind == REAL else PAD
                    events[i, j, kind] += 1
                    last_mac = t
                    new_p[i][j] = _Tok(f, tau, psum.value + x.value * w.value, REAL)
                    if j == C - 1:
                        live[f] -= 1                     # streamed token leaves at the right
                    if i == R - 1:                       # partial sum leaves at the bottom
                        live[f] -= 1
                        out = out_index(f, j, tau)
                        if out is not None and kind != BUBBLE:
                            Cs[out] = new_p[i][j].value
                            writes_of[out] += 1
                            words["c_writes"] += 1
                        new_p[i][j] = None
            # preload chains shift (column j lags column 0 by j cycles); latch on the last shift
            for j in range(C):
                s = pre0.get(t - j)
                if s is None or s[0] is None:
                    continue
                f, c = s
                for i in range(R - 1, 0, -1):
                    chain[i][j] = chain[i - 1][j]
                dest = R - 1 - c                         # the bottom row's word goes in first
                v, kind = stat_word(f, dest, j)
                if kind == REAL:
                    (read_b if flow == WS else read_a)()
                chain[0][j] = _Tok(f, -1, v, kind, row=dest, col=j)
                if c == R - 1:
                    for i in range(R):
                        _check(nxt_used[i][j], f"cycle {t}: PE({i},{j}) next word overwritten unused")
                        _check(chain[i][j].fold == f and chain[i][j].row == i,
                               f"cycle {t}: PE({i},{j}) latched a word of another PE")
                        nxt[i][j] = chain[i][j]
                        nxt_used[i][j] = False
                    if j == 0:
                        latched_col0[f] = t
            x_reg, p_reg = new_x, new_p

        # ---------- fold completion (observed at the end of cycle t) ----------
        for f in range(F):
            # no more tokens to send, and every token sent has been consumed at the far edge
            if done[f] is None and slot_len[f] is not None and live[f] == 0:
                done[f] = t
        if all(d is not None for d in done):
            break
        t += 1

    _check(np.all(writes_of == (1 if flow == OS else -(-K // R))), "some output not fully written")
    return {
        "cycles": last_mac + 1,
        "folds": F,
        "T": T,
        "product": Cs,
        "expected": A @ B,
        "real_macs": int(events[:, :, REAL].sum()),
        "pad_slots": int(events[:, :, PAD].sum()),
        "bubble_slots": int(events[:, :, BUBBLE].sum()),
        "slot_macs": int(events[:, :, REAL].sum() + events[:, :, PAD].sum()),
        "pe_events": events,
        "a_reads": words["a_reads"],
        "b_reads": words["b_reads"],
        "c_reads": words["c_reads"],
        "c_writes": words["c_writes"],
        "stream_start": stream_start,
        "slot_len": slot_len,
        "preload_start": preload_start,
        "fold_done": done,
    }
