"""global_attention and local_attention (Luong, Pham, Manning 2015;
docs/conventions/layers.md §7): outputs vs a float64
reference, counts vs the closed forms, windows, invariants, structure and validation."""
from __future__ import annotations

import math

import numpy as np
import pytest

from simulator import load_workload, simulate, to_frame
from simulator.analytic import luong as closed
from simulator.cli import main as cli_main
from simulator.connectivity import max_path_length as generic_path_length
from simulator.enums import Counter, VecKind
from simulator.errors import ConfigError
from simulator.variants import REGISTRY
from tests.helpers import make_hw
from tests.reference_luong import luong_attention

U32 = 2.0 ** -24
SCORES = ("dot", "general", "concat")
KINDS = closed.KINDS
MODES = ("global", "local_m", "local_p")


def layer(mode: str, **kw) -> dict:
    """A layer dict: mode global -> global_attention, otherwise local_attention in that mode."""
    if mode == "global":
        return {"variant": "global_attention", **kw}
    return {"variant": "local_attention", "mode": mode, **kw}


def run(layers, hw, functional=False, seed=0):
    return simulate(load_workload({"name": "t", "layers": layers}), hw, functional=functional, seed=seed)


def vec(counts, kind):
    return int(counts[Counter.VEC_OPS + VecKind[kind.upper()]])


def counted(r) -> dict[str, int]:
    return {"macs": r.macs, **{k: vec(r.counts, k) for k in KINDS}}


def tolerance(*reductions):
    """fp32 (unit roundoff 2^-24): about 1e-5 x sqrt(reduction length) relative per chained
    reduction (scores over d or d_a, context over S, h~ over 2d, the predictor over d and d_p)."""
    return 1e-5 * math.sqrt(sum(reductions)) + 4 * U32


def expected(mode, batch, T, S, d, score, d_a=None, D=None, d_p=None, positions=None):
    """Closed-form counts; local-p needs the functional p_t (its windows depend on the data)."""
    if mode == "global":
        return closed.luong_counts(batch, T, S, d, score, d_a)
    if mode == "local_m":
        return closed.luong_counts(batch, T, S, d, score, d_a, closed.local_m_window_sizes(T, S, D) * batch)
    sizes = closed.local_p_window_sizes(np.asarray(positions).reshape(-1), D, S)
    return closed.luong_counts(batch, T, S, d, score, d_a, sizes, d if d_p is None else d_p)


# --- functional outputs vs the float64 reference ------------------------------------------------

@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("hw_shape", [(4, 4), (3, 5)])
def test_outputs_match_reference(mode, score, hw_shape):
    T, S, d, d_a, d_p, D, batch = 5, 7, 3, 5, 4, 2, 2       # nothing divides the 4x4 or 3x5 array
    hw = make_hw(rows=hw_shape[0], cols=hw_shape[1], sram_bytes=4096)
    kw = dict(target_len=T, source_len=S, d=d, score=score, d_a=d_a, batch=batch)
    if mode != "global":
        kw.update(window_radius=D, d_p=d_p)
    (r,) = run([layer(mode, **kw)], hw, functional=True, seed=3)
    tol = tolerance(d, d_a, S, 2 * d, d_p)
    if mode == "local_p":
        ref = luong_attention(r.inputs, score, mode, D)
        p_sim = r.outputs["positions"]
        np.testing.assert_allclose(p_sim, ref["positions"], rtol=tol, atol=tol * S)
        # the windows (floor p_t) agree, so the rest is checked against the reference's own p_t
        assert np.array_equal(np.floor(p_sim), np.floor(ref["positions"]))
    else:
        ref = luong_attention(r.inputs, score, mode, D if mode != "global" else None)
    np.testing.assert_allclose(r.outputs["alignment"], ref["alignment"], rtol=tol, atol=tol)
    np.testing.assert_allclose(r.outputs["Y"], ref["Y"], rtol=tol, atol=tol)
    assert r.outputs["Y"].shape == (batch, T, d) and r.outputs["alignment"].shape == (batch, T, S)
    positions = r.outputs.get("positions")
    assert counted(r) == expected(mode, batch, T, S, d, score, d_a, D, d_p, positions)


def test_reduced_precision_runs_close_to_reference():
    """bf16 storage (8-bit mantissa): loose agreement, same counts as fp32 (local-m has fixed windows)."""
    kw = dict(target_len=6, source_len=9, d=5, window_radius=2, score="general")
    (r16,) = run([layer("local_m", **kw)], make_hw(number_format="bf16"), functional=True, seed=2)
    (r32,) = run([layer("local_m", **kw)], make_hw(), functional=True, seed=2)
    ref = luong_attention(r16.inputs, "general", "local_m", 2)
    assert np.max(np.abs(r16.outputs["Y"] - ref["Y"])) < 0.1
    assert r16.macs == r32.macs and vec(r16.counts, "exp") == vec(r32.counts, "exp")


# --- counts vs the closed forms -----------------------------------------------------------------

GRID = [  # (T, S, d, D, batch): edge cases of docs/conventions/layers.md §7.5 and §7.8
    (5, 7, 3, 2, 1),
    (9, 4, 2, 1, 2),      # local-m: T > S + D, the clamp p_t = min(t, S)
    (4, 3, 3, 2, 1),      # S < 2D+1: every window clipped
    (1, 1, 2, 1, 1),      # one target, one source
    (3, 8, 1, 3, 3),
    (6, 6, 2, 1, 1),      # T == S
    (2, 5, 2, 9, 2),      # D >= S: every window is the whole source
]


@pytest.mark.parametrize("T,S,d,D,batch", GRID)
@pytest.mark.parametrize("score", SCORES)
def test_counts_match_closed_forms(T, S, d, D, batch, score):
    hw = make_hw(rows=3, cols=5, sram_bytes=2048)
    d_a, d_p = d + 2, d + 1
    common = dict(target_len=T, source_len=S, d=d, score=score, d_a=d_a, batch=batch)
    local = dict(common, window_radius=D, d_p=d_p)
    layers = [dict(layer("global", **common), name="g"), dict(layer("local_m", **local), name="m"),
              dict(layer("local_p", **local), name="p")]
    functional = run(layers, hw, functional=True, seed=7)
    count_only = run(layers, hw, seed=7)
    for mode, f, c in zip(MODES, functional, count_only):
        assert np.array_equal(f.counts, c.counts), mode          # count-only == functional
        assert f.cycles == c.cycles
        want = expected(mode, batch, T, S, d, score, d_a, D, d_p, f.outputs.get("positions"))
        assert counted(c) == want, mode
    # the summary numbers of docs/conventions/layers.md §7.4
    g = functional[0]
    if score == "dot":
        assert g.macs == batch * (closed.global_dot_attention_macs(T, S, d) + 2 * T * d * d)
        assert vec(g.counts, "exp") == batch * T * S


def test_local_m_window_sizes_closed_form():
    # T > S + D: late steps keep the window around S (docs/conventions/layers.md §7.8), never an
    # empty one
    assert closed.local_m_window_sizes(8, 4, 1) == [2, 3, 3, 2, 2, 2, 2, 2]
    # S < 2D+1: every window clipped; D >= S: the whole source
    assert closed.local_m_window_sizes(3, 3, 2) == [3, 3, 3]
    assert closed.local_m_window_sizes(2, 5, 9) == [5, 5]
    assert closed.local_p_window_sizes([0.3, 1.0, 4.99, 5.0], 1, 5) == [1, 2, 3, 2]


# --- windows and alignment invariants -----------------------------------------------------------

def _windows(alignment):
    """Per (b, t): the set of source positions with nonzero weight (0-based)."""
    return [set(np.flatnonzero(row)) for row in alignment.reshape(-1, alignment.shape[-1])]


def test_global_and_local_m_weights_sum_to_one_local_p_at_most_one():
    kw = dict(target_len=7, source_len=6, d=4, batch=2)
    rs = run([dict(layer("global", **kw), name="g"), dict(layer("local_m", window_radius=1, **kw), name="m"),
              dict(layer("local_p", window_radius=2, **kw), name="p")], make_hw(), functional=True, seed=4)
    for r in rs[:2]:
        np.testing.assert_allclose(r.outputs["alignment"].sum(-1), 1.0, atol=1e-6)
    sums = rs[2].outputs["alignment"].sum(-1)
    assert np.all(sums <= 1.0 + 1e-6) and np.all(sums > 0)
    assert np.any(sums < 0.999)        # the Gaussian is not renormalised away


def test_local_m_windows_clamp_when_targets_outrun_the_source():
    T, S, D = 9, 4, 1                                     # T > S + D
    (r,) = run([layer("local_m", target_len=T, source_len=S, d=3, window_radius=D)], make_hw(),
               functional=True, seed=1)
    got = _windows(r.outputs["alignment"])
    want = [set(range(max(1, min(t, S) - D) - 1, min(S, min(t, S) + D))) for t in range(1, T + 1)]
    assert got == want
    assert got[-1] == {S - 2, S - 1}                     # centred on S, clipped above


def test_every_window_clipped_when_source_is_short():
    T, S, D = 5, 4, 2                                     # S < 2D+1 = 5
    (r,) = run([layer("local_m", target_len=T, source_len=S, d=2, window_radius=D)], make_hw(),
               functional=True, seed=1)
    sizes = [len(w) for w in _windows(r.outputs["alignment"])]
    assert all(m < 2 * D + 1 for m in sizes) and sizes == closed.local_m_window_sizes(T, S, D)


@pytest.mark.parametrize("S,D", [(10, 5), (4, 3), (13, 2)])
def test_local_p_windows_clip_at_both_ends_and_centre_on_floor(S, D):
    """Window = {floor(p_t)-D .. floor(p_t)+D} within [1, S]. S = 2D: every window is clipped at the
    start (p_t < D+1) or at the end (p_t >= D+1), and both kinds occur; S < 2D: some windows
    lose both ends; S = 13, D = 2: the middle windows keep all 2D+1 positions."""
    T, batch = 12, 4
    (r,) = run([layer("local_p", target_len=T, source_len=S, d=3, window_radius=D, batch=batch)],
               make_hw(), functional=True, seed=0)
    p = r.outputs["positions"].reshape(-1)
    assert np.all((p >= 0) & (p <= S))
    got = _windows(r.outputs["alignment"])
    kinds = set()
    for p_t, w in zip(p, got):
        c = math.floor(p_t)
        full = set(range(c - D, c + D + 1))                          # 1-based, before clipping
        assert w == {s - 1 for s in full if 1 <= s <= S}
        kinds.add((min(full) < 1, max(full) > S))
    want = {(10, 5): {(True, False), (False, True)}, (4, 3): {(True, True)},
            (13, 2): {(False, False)}}[(S, D)]
    assert want <= kinds, kinds


def test_local_p_gaussian_uses_integer_positions_and_sigma_half_d():
    T, S, D = 4, 9, 3
    (r,) = run([layer("local_p", target_len=T, source_len=S, d=2, window_radius=D)], make_hw(),
               functional=True, seed=8)
    a, p = r.outputs["alignment"][0], r.outputs["positions"][0, :, 0]
    for t in range(T):
        win = sorted(np.flatnonzero(a[t]))
        scores = np.array([r.inputs["Ht"][0, t].astype(np.float64) @ r.inputs["Hs"][0, s] for s in win])
        soft = np.exp(scores - scores.max())
        soft /= soft.sum()
        gauss = np.exp(-((np.array(win) + 1 - p[t]) ** 2) / (2 * (D / 2) ** 2))
        np.testing.assert_allclose(a[t, win], soft * gauss, rtol=1e-5, atol=1e-6)


# --- data-dependent counting (local-p) ----------------------------------------------------------

def test_local_p_counts_change_with_seed_only_through_windows():
    hw = make_hw(rows=3, cols=5, sram_bytes=2048)
    # D >= S: every window is the whole source whatever p_t is -> identical counts for every seed,
    # and the attention ops count exactly what local-m's do (same windows, same lowering)
    full = dict(target_len=5, source_len=4, d=3, window_radius=4, score="concat", d_a=2)
    runs = [run([layer("local_p", **full)], hw, functional=True, seed=s)[0] for s in (1, 2, 3)]
    assert not np.allclose(runs[0].outputs["positions"], runs[1].outputs["positions"])
    for r in runs[1:]:
        assert np.array_equal(r.counts, runs[0].counts) and r.cycles == runs[0].cycles
    (m,) = run([layer("local_m", **full)], hw)
    ops_p = {o.op: o for o in runs[0].ops}
    for o in m.ops:
        if o.op != "softmax":
            assert np.array_equal(o.counts, ops_p[o.op].counts), o.op
    # clipped windows: different seeds give different windows and counts, each its closed form
    small = dict(target_len=6, source_len=5, d=3, window_radius=2, batch=2)
    seen = {}
    for seed in range(6):
        (f,) = run([layer("local_p", **small)], hw, functional=True, seed=seed)
        (c,) = run([layer("local_p", **small)], hw, seed=seed)
        assert np.array_equal(f.counts, c.counts)
        p = f.outputs["positions"]
        assert counted(c) == expected("local_p", 2, 6, 5, 3, "dot", D=2, positions=p)
        seen[tuple(closed.local_p_window_sizes(p.reshape(-1), 2, 5))] = c.macs
    assert len(set(seen.values())) > 1


def test_count_only_run_computes_the_predicted_positions():
    (r,) = run([layer("local_p", target_len=3, source_len=5, d=2, window_radius=1)], make_hw(), seed=5)
    assert r.seed == 5 and r.outputs is None            # counted from the data, outputs not kept
    specs = load_workload({"name": "t", "layers": [
        dict(layer("local_p", target_len=3, source_len=5, d=2, window_radius=1), name="p"),
        dict(layer("local_m", target_len=3, source_len=5, d=2, window_radius=1), name="m"),
        dict(layer("global", target_len=3, source_len=5, d=2), name="g")]}).layers
    assert [REGISTRY[s.variant].is_data_dependent(s) for s in specs] == [True, False, False]


# --- structure: phases, path length, report columns ---------------------------------------------

PHASES = {("global", "dot"): 5, ("global", "general"): 6, ("global", "concat"): 7,
          ("local_m", "dot"): 5, ("local_m", "general"): 6, ("local_m", "concat"): 7,
          ("local_p", "dot"): 9, ("local_p", "general"): 9, ("local_p", "concat"): 10}


@pytest.mark.parametrize("mode,score", list(PHASES))
def test_sequential_steps_are_constant(mode, score):
    """No input feeding and given LSTM states: O(1) phases, independent of T, S, d, D, batch, seed.
    dot: scores, softmax, context, output GEMM, tanh; general adds h_t W_a; concat the projections
    and the pair add/tanh; local-p the predictor (GEMM, tanh, GEMM, sigmoid x S) before the scores
    (its W_a projection runs alongside the predictor)."""
    steps = set()
    for T, S, d, D, batch, seed in [(3, 5, 2, 1, 1, 0), (8, 4, 3, 2, 2, 1), (1, 1, 1, 3, 1, 2)]:
        kw = dict(target_len=T, source_len=S, d=d, score=score, batch=batch)
        if mode != "global":
            kw["window_radius"] = D
        (r,) = run([layer(mode, **kw)], make_hw(), seed=seed)
        steps.add(r.sequential_steps)
        assert r.max_path_length == 1
    assert steps == {PHASES[(mode, score)]}


def test_path_length_is_one_hop_for_cross_attention():
    for mode in MODES:
        for T, S in [(4, 9), (6, 6), (9, 4)]:
            kw = dict(target_len=T, source_len=S, d=2)
            if mode != "global":
                kw["window_radius"] = 1
            spec = load_workload({"name": "t", "layers": [layer(mode, **kw)]}).layers[0]
            variant = REGISTRY[spec.variant]
            conn = variant.connectivity(spec)
            assert conn.n_in == S and len(conn.lo) == T
            assert variant.max_path_length(spec) == 1
    # T == S with narrow windows: marked as cross attention, so the search does not stack the layer
    # on itself (without the mark it would report more than one hop)
    spec = load_workload({"name": "t", "layers": [layer("local_m", target_len=6, source_len=6, d=2,
                                                        window_radius=1)]}).layers[0]
    conn = REGISTRY["local_attention"].connectivity(spec)
    assert conn.cross and generic_path_length(conn) == 1
    assert generic_path_length(type(conn)(conn.lo, conn.hi, conn.n_in)) > 1


def test_report_columns():
    rs = run([dict(layer("global", target_len=5, source_len=7, d=3), name="g"),
              dict(layer("local_m", target_len=5, source_len=7, d=3, window_radius=2), name="m")], make_hw())
    frame = to_frame(rs).set_index("layer")
    assert frame.loc["g", "n"] == 5 and frame.loc["g", "d"] == 3
    assert frame.loc["m", "n"] == 5 and frame.loc["m", "window"] == 5
    for col in ("window", "kernel"):
        assert _empty(frame.loc["g", col]), col
    assert _empty(frame.loc["m", "kernel"])
    assert (frame["heads"] == 1).all()            # one head, as every single-head attention variant


def _empty(value) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value)) or value == ""


def test_op_frame_lists_the_lowering():
    (r,) = run([layer("local_p", target_len=3, source_len=5, d=2, window_radius=1, score="general")], make_hw())
    ops = list(to_frame([r], level="op")["op"])
    assert ops == ["predictor_hidden", "predictor_tanh", "predictor_score", "position", "windows",
                   "general_projection", "transpose_hs", "scores", "scores_blocks", "source_positions", "softmax",
                   "alignment_blocks", "context", "concat_context", "output_projection", "output_tanh"]


def test_bundled_workload_runs():
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "workloads" / "luong_nmt.yaml"
    w = load_workload(path)
    assert [(s.variant, s.params.score) for s in w.layers] == [
        ("global_attention", "general"), ("local_attention", "general"), ("local_attention", "dot")]
    assert [getattr(s.params, "mode", None) for s in w.layers] == [None, "local_p", "local_m"]
    assert all(s.params.d == 1000 for s in w.layers)


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("changes,message", [
    ({"window_radius": 0}, "layers[0].window_radius: expected Luong's half-window D >= 1 (sigma = D/2 would be 0, "
                           "and the local-p Gaussian exp(-(s - p_t)^2 / (2 sigma^2)) divides by zero); got 0"),
    ({"window_radius": -2}, "layers[0].window_radius: expected Luong's half-window D >= 1"),
    ({"window_radius": None}, "layers[0].window_radius: expected an integer in [-2^40, 2^40], got null"),
    ({"mode": "local-p"}, "layers[0].mode: expected one of local_m, local_p; got 'local-p' (did you mean 'local_p'?)"),
    ({"score": "location"}, "layers[0].score: expected one of dot, general, concat; got 'location'"),
    ({"d_a": 0}, "layers[0].d_a: expected an integer in [1, 2^40], got 0"),
    ({"d_p": 2.5}, "layers[0].d_p: expected an integer in [1, 2^40], got 2.5"),
    ({"source_len": 0}, "layers[0].source_len: expected an integer in [1, 2^40], got 0"),
])
def test_bad_local_parameters(changes, message):
    data = layer("local_p", target_len=4, source_len=6, d=3, window_radius=2)
    data.update(changes)
    with pytest.raises(ConfigError) as exc:
        load_workload({"name": "t", "layers": [data]})
    assert message in str(exc.value)


def test_bad_global_parameters():
    with pytest.raises(ConfigError) as exc:
        load_workload({"name": "t", "layers": [layer("global", target_len=4, source_len=6, d=3, window_radius=2)]})
    assert "layers[0].window_radius: unknown key" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        load_workload({"name": "t", "layers": [layer("global", target_len=4, d=3)]})
    assert "layers[0].source_len: missing key" in str(exc.value)


def test_cli_validate_rejects_zero_radius(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nlayers:\n  - {variant: local_attention, target_len: 4, source_len: 6, d: 3, "
                    "window_radius: 0}\n")
    assert cli_main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "window_radius" in err and "sigma = D/2" in err
