"""Closed forms of the recurrent layer family (docs/conventions/layers.md §2), as the `recurrent`
variant executes it.

Written from the math, not from the variant or the kernels, so tests can hold the two against
each other. Input width = hidden width = d; g gate blocks (rnn 1, lstm 4, gru 3); everything below
is multiplied by the batch.

MACs (docs/conventions/layers.md §2.2, exact): the input transform U x_t for every position, g n d^2,
plus the recurrent matvec W h_{t-1} every step, g n d^2:
    rnn 2 n d^2,  lstm 8 n d^2,  gru 6 n d^2.

Non-MAC operations by kind (sub counts as add; a sigmoid is one "sigmoid" op):

| cell | add                                   | mul  | sigmoid | tanh |
|------|---------------------------------------|------|---------|------|
| rnn  | n d bias + n d combine        = 2 n d | 0    | 0       | n d  |
| lstm | 4 n d bias + 4 n d combine + n d (c)  | 3 n d| 3 n d   | 2 n d|
|      |                               = 9 n d |      |         |      |
| gru  | 3 n d bias + 3 n d combine            | 2 n d| 2 n d   | n d  |
|      | + n d sub + n d add           = 8 n d |      |         |      |

How this differs from the table of docs/conventions/layers.md §2.2, which lists "n d bias adds" (rnn),
"4 n d bias adds, n d adds" (lstm) and nothing for the GRU's adds:
* combine adds: the variant precomputes U x_t + b for all positions (phase "input", the bias add
  is the table's bias adds), then adds W h_{t-1} to it with one explicit vector add per
  preactivation element per step (g n d in all). The table folds that sum into the GEMM's
  accumulator (or into its "bias adds"); we execute it on the vector unit and count it.
* GRU multiplies: the table's "~3 n d" counts (1 - z) n~ + z h + r h. The variant executes
  h_t = n~ + z (h_{t-1} - n~): r h_{t-1} and z (h_{t-1} - n~) are 2 n d multiplies, plus one
  sub and one add per element (and no 1 - z).
* LSTM: c_t = f c_{t-1} + i g and h_t = o tanh(c_t): 3 n d multiplies and n d adds, as the table.

sequential_steps = 1 + n: the input phase (U x + b for every position at once) then one phase
per recurrent step (matvec(s) + the cell's vector passes); the table's O(n).
"""
from __future__ import annotations

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def recurrent_macs(n: int, d: int, cell: str, batch: int = 1) -> int:
    """Useful MACs: g n d^2 (input transform) + g n d^2 (recurrent matvecs)."""
    return batch * 2 * GATES[cell] * n * d * d


def recurrent_input_macs(n: int, d: int, cell: str, batch: int = 1) -> int:
    return batch * GATES[cell] * n * d * d


def recurrent_step_macs(d: int, cell: str, batch: int = 1) -> int:
    """MACs of one recurrent step (all its matvecs)."""
    return batch * GATES[cell] * d * d


def recurrent_vector_ops(n: int, d: int, cell: str, batch: int = 1) -> dict[str, int]:
    """Vector operations by kind over the whole layer (kinds not listed are zero)."""
    nd = batch * n * d
    g = GATES[cell]
    bias = combine = g * nd
    if cell == "rnn":
        return {"add": bias + combine, "tanh": nd}
    if cell == "lstm":
        return {"add": bias + combine + nd, "mul": 3 * nd, "sigmoid": 3 * nd, "tanh": 2 * nd}
    if cell == "gru":
        return {"add": bias + combine + 2 * nd, "mul": 2 * nd, "sigmoid": 2 * nd, "tanh": nd}
    raise ValueError(f"unknown cell {cell!r}")


def recurrent_vector_ops_spec_table(n: int, d: int, cell: str) -> dict[str, int]:
    """The non-MAC counts of the table in docs/conventions/layers.md §2.2 (one sequence), for the docs'
    comparison only."""
    nd = n * d
    if cell == "rnn":
        return {"tanh": nd, "add": nd}
    if cell == "lstm":
        return {"sigmoid": 3 * nd, "tanh": 2 * nd, "mul": 3 * nd, "add": nd + 4 * nd}
    if cell == "gru":
        return {"sigmoid": 2 * nd, "tanh": nd, "mul": 3 * nd}
    raise ValueError(f"unknown cell {cell!r}")


def recurrent_sequential_steps(n: int) -> int:
    """The input phase plus one phase per step."""
    return n + 1


def recurrent_max_path_length(n: int) -> int | None:
    """x_1 reaches h_n after n cell applications; a single position connects no pair (None)."""
    return n if n >= 2 else None


def recurrent_weight_bytes(d: int, cell: str, elem_bytes: int) -> int:
    """Bytes of the recurrent weight W (all gates): what a resident mapping reads from DRAM once."""
    return GATES[cell] * d * d * elem_bytes
