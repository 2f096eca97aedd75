"""Float64 reference recurrent layers (docs/conventions/layers.md §2.4): a plain Python loop over t.

Independent of the package (numpy only). Inputs are the functional run's `inputs`:
X (batch, n, d), U and W (1, d, g d) and bias (1, 1, g d), with gate k owning columns
[k d, (k+1) d): rnn (a), lstm (i, f, o, g), gru (z, r, n). Rows are positions: the
preactivation of step t is x_t U + h_{t-1} W + b. h_0 = c_0 = 0 unless the inputs hold h_0 (and
c_0), each (batch, d). Returns H (batch, n, d), all h_t; lstm_cell_state gives the LSTM's last c.
"""
from __future__ import annotations

import numpy as np

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _unpack(inputs, cell):
    x = np.asarray(inputs["X"], np.float64)
    batch, n, d = x.shape
    g = GATES[cell]
    u = np.asarray(inputs["U"], np.float64).reshape(d, g * d)
    w = np.asarray(inputs["W"], np.float64).reshape(d, g * d)
    b = np.asarray(inputs["bias"], np.float64).reshape(g * d)
    return x, u, w, b, batch, n, d


def _initial(inputs, name, batch, d):
    return np.asarray(inputs[name], np.float64).reshape(batch, d) if name in inputs else np.zeros((batch, d))


def rnn(inputs) -> np.ndarray:
    """h_t = tanh(x_t U + h_{t-1} W + b)."""
    x, u, w, b, batch, n, d = _unpack(inputs, "rnn")
    out = np.zeros((batch, n, d))
    h0 = _initial(inputs, "h_0", batch, d)
    for s in range(batch):
        h = h0[s].copy()
        for t in range(n):
            h = np.tanh(x[s, t] @ u + h @ w + b)
            out[s, t] = h
    return out


def lstm(inputs) -> np.ndarray:
    return _lstm(inputs)[0]


def lstm_cell_state(inputs) -> np.ndarray:
    """c_n (batch, d) after the last step."""
    return _lstm(inputs)[1]


def _lstm(inputs):
    """[i, f, o, g] = [sig, sig, sig, tanh](x_t U + h_{t-1} W + b); c_t = f c_{t-1} + i g; h_t = o tanh(c_t)."""
    x, u, w, b, batch, n, d = _unpack(inputs, "lstm")
    out = np.zeros((batch, n, d))
    last_c = np.zeros((batch, d))
    h0, c0 = _initial(inputs, "h_0", batch, d), _initial(inputs, "c_0", batch, d)
    for s in range(batch):
        h = h0[s].copy()
        c = c0[s].copy()
        for t in range(n):
            pre = x[s, t] @ u + h @ w + b
            i = _sigmoid(pre[0:d])
            f = _sigmoid(pre[d:2 * d])
            o = _sigmoid(pre[2 * d:3 * d])
            g = np.tanh(pre[3 * d:4 * d])
            c = f * c + i * g
            h = o * np.tanh(c)
            out[s, t] = h
        last_c[s] = c
    return out, last_c


def gru(inputs) -> np.ndarray:
    """z, r = sig(x_t U_zr + h_{t-1} W_zr + b_zr); n~ = tanh(x_t U_n + (r h_{t-1}) W_n + b_n);
    h_t = (1 - z) n~ + z h_{t-1} (r applied before W_n, Cho et al. 2014)."""
    x, u, w, b, batch, n, d = _unpack(inputs, "gru")
    out = np.zeros((batch, n, d))
    h0 = _initial(inputs, "h_0", batch, d)
    for s in range(batch):
        h = h0[s].copy()
        for t in range(n):
            ux = x[s, t] @ u + b
            z = _sigmoid(ux[0:d] + h @ w[:, 0:d])
            r = _sigmoid(ux[d:2 * d] + h @ w[:, d:2 * d])
            cand = np.tanh(ux[2 * d:3 * d] + (r * h) @ w[:, 2 * d:3 * d])
            h = (1.0 - z) * cand + z * h
            out[s, t] = h
    return out


REFERENCES = {"rnn": rnn, "lstm": lstm, "gru": gru}


def reference(cell: str, inputs) -> np.ndarray:
    return REFERENCES[cell](inputs)
