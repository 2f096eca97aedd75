"""`kv_cache_attention`: multi-head self-attention at generation time, with a KV cache and grouped
query heads (docs/variants/generation.md).

t = `new_tokens` tokens after L = `context` cached ones. New token i (0-based) attends to the L
cached positions and to new tokens 0..i (`causal`, default), to the last `window` of those
positions (a sliding window), or to all L + t (not causal: an encoder). `context: 0` with t > 1 is
a prefill that fills the cache; t = 1 is one decode step.

Heads h, KV heads h_kv (dividing h; h_kv = 1 is multi-query attention), group g = h / h_kv:
query head j reads KV head j // g (Hugging Face's repeat_kv order). The cache holds K and V as
(batch, h_kv, L, d_k) and is read from memory; the new rows are appended to it.

Lowering:
* `projections` (default): Q, K, V of the new tokens are GEMMs over batch x t rows with shared
  weights (head i owns columns [i d_k, (i+1) d_k)); their K and V outputs are the rows appended to
  the cache (their writes are the append). Without projections Q, K, V of the new tokens are
  inputs, already written in the cache's next rows by whoever made them: the append is free.
* free layouts stack each group's g query heads as the rows of one problem (row i g + j is new
  token i of query head j) and view the cache plus the new rows as one (L + t) x d_k K and V per KV
  head (with a window, only rows some new token sees);
* the attention core of `self_attention` on batch x h_kv problems of g t query rows: Q K^T, the
  scaled softmax over each row's keys, P V. Each K and V row is therefore read once per group, not
  once per query head: GQA's saving shows in the DRAM counts;
* heads merged by a free layout, then the output projection. `bias` adds a bias to each projection
  (one vector add per element).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..connectivity import Ranges
from ..graph import Gemm, Layout, OpGraph, RowRanges, TensorSpec
from .base import LayerSpec, Variant, param
from .common import (attention_core, bias_add, causal_ranges, causal_window_ranges, check_head_width, full_ranges,
                     weight_init)


@dataclass(frozen=True)
class KVCacheParams:
    context: int = param("int", minimum=0, doc="L: tokens already in the cache")
    new_tokens: int = param("int", minimum=1, doc="t: tokens processed now (1 = one decode step)")
    d: int = param("int", minimum=1, doc="model width")
    heads: int = param("int", minimum=1, doc="query heads h")
    kv_heads: int | None = param("int", default=None, minimum=1, doc="key/value heads (divides heads; default heads)")
    d_k: int | None = param("int", default=None, minimum=1, doc="per-head width (default d / heads)")
    projections: bool = param("bool", default=True, doc="compute Q, K, V of the new tokens and the output projection")
    causal: bool = param("bool", default=True, doc="new token i sees the cache and new tokens 0..i")
    window: int | None = param("int", default=None, minimum=1,
                               doc="sliding window: a token sees the last `window` positions (itself included)")
    bias: bool = param("bool", default=False, doc="the projections add a bias")

    @property
    def head_width(self) -> int:
        return self.d_k if self.d_k is not None else self.d // self.heads

    @property
    def kv(self) -> int:
        return self.kv_heads if self.kv_heads is not None else self.heads

    @property
    def oldest_read(self) -> int:
        """The first cached position any new token sees (0 without a window)."""
        return 0 if self.window is None else max(0, self.context + 1 - self.window)

    @property
    def keys(self) -> int:
        """Rows of K and V per KV head the step reads: the visible cached rows and the new ones."""
        return self.context + self.new_tokens - self.oldest_read


def query_ranges(p: KVCacheParams) -> RowRanges | None:
    """Keys each stacked query row sees (row i g + j is new token i), in the K that starts at the
    oldest row read; None when every row sees every key."""
    if not p.causal:
        return None
    g = p.heads // p.kv

    def make():          # deferred, like every mask: building the graph allocates nothing
        token = np.repeat(np.arange(p.new_tokens, dtype=np.int64), g)
        hi = p.context + token + 1
        lo = np.zeros_like(hi) if p.window is None else np.maximum(0, hi - p.window)
        return lo - p.oldest_read, hi - p.oldest_read
    return RowRanges.deferred(p.new_tokens * g, make)


def group_queries(batch: int, t: int, kv: int, g: int, dk: int):
    """(1, batch t, h d_k) -> (batch kv, t g, d_k): KV head k's problem stacks query heads k g .. k g + g - 1,
    row i g + j = new token i of query head k g + j."""
    def fn(q):
        q = np.asarray(q).reshape(batch, t, kv, g, dk).transpose(0, 2, 1, 3, 4)
        return (q.reshape(batch * kv, t * g, dk),)
    return fn


def ungroup_heads(batch: int, t: int, kv: int, g: int, dk: int):
    """The inverse of group_queries: (batch kv, t g, d_k) -> (1, batch t, h d_k)."""
    def fn(o):
        o = np.asarray(o).reshape(batch, kv, t, g, dk).transpose(0, 2, 1, 3, 4)
        return (o.reshape(1, batch * t, kv * g * dk),)
    return fn


def append_to_cache(batch: int, t: int, kv: int, dk: int, context: int, oldest: int):
    """Cache K (batch, kv, L, d_k) and new rows (batch t, kv d_k) -> (batch kv, rows read, d_k)."""
    def fn(*arrays):
        new = np.asarray(arrays[-1]).reshape(batch, t, kv, dk).transpose(0, 2, 1, 3)
        if context:
            new = np.concatenate([np.asarray(arrays[0]).reshape(batch, kv, context, dk), new], axis=2)
        return (np.ascontiguousarray(new[:, :, oldest:, :]).reshape(batch * kv, -1, dk),)
    return fn


class KVCacheAttention(Variant):
    name = "kv_cache_attention"
    params_cls = KVCacheParams

    def check(self, chk, path, p) -> None:
        check_head_width(chk, path, p)
        if p.heads % p.kv:
            chk.add(f"{path}.kv_heads", f"expected a divisor of heads = {p.heads} (each KV head serves an equal "
                                        f"group of query heads); got {p.kv}")
        if p.window is not None and not p.causal:
            chk.add(f"{path}.window", "a sliding window looks back from each token: it needs causal: true")
        if p.bias and not p.projections:
            chk.add(f"{path}.bias", "biases belong to the projections; with projections: false there are none")

    def build(self, spec: LayerSpec) -> OpGraph:
        p, b = spec.params, spec.batch
        t, h, kv, dk, L = p.new_tokens, p.heads, p.kv, p.head_width, p.context
        g, rows = h // kv, b * t
        ops, tensors, names = self._inputs(p, b)
        ops.append(Layout("group_queries", (names["q"],), ("Qg",), group_queries(b, t, kv, g, dk),
                          phase=names["phase"], deps=names["q_deps"]))
        for x in ("k", "v"):
            srcs = ((f"{x.upper()}_cache",) if L else ()) + (names[x],)
            ops.append(Layout(f"append_{x}", srcs, (f"{x.upper()}_all",),
                              append_to_cache(b, t, kv, dk, L, p.oldest_read), phase=names["phase"],
                              deps=names[f"{x}_deps"]))
        core, inner = attention_core("", "Qg", "K_all", "V_all", "Og", b * kv, t * g, p.keys, dk, dk,
                                     query_ranges(p), ("group_queries", "append_k", "append_v"), False)
        ops += core
        ops.append(Layout("ungroup_heads", ("Og",), ("O",), ungroup_heads(b, t, kv, g, dk), phase="context",
                          deps=(core[-1].name,)))
        tensors += [*(TensorSpec(c, (b, kv, L, dk), "input") for c in (("K_cache", "V_cache") if L else ())),
                    TensorSpec("Qg", (b * kv, t * g, dk), "intermediate"),
                    *(TensorSpec(f"{x}_all", (b * kv, p.keys, dk), "intermediate") for x in "KV"),
                    *inner, TensorSpec("Og", (b * kv, t * g, dk), "intermediate")]
        if p.projections:
            ops.append(Gemm("output_projection", "O", "W_O", "Yp" if p.bias else "Y", rows, h * dk, p.d,
                            shared_b=True, phase="output", deps=("ungroup_heads",)))
            tensors += [TensorSpec("O", (1, rows, h * dk), "intermediate"),
                        TensorSpec("W_O", (1, h * dk, p.d), "weight", weight_init(h * dk))]
            if p.bias:
                ops.append(bias_add("output_bias", "Yp", "b_O", "Y", rows, p.d, "output", ("output_projection",)))
                tensors += [TensorSpec("Yp", (1, rows, p.d), "intermediate"),
                            TensorSpec("b_O", (1, 1, p.d), "weight", weight_init(h * dk))]
            tensors.append(TensorSpec("Y", (b, t, p.d), "output"))
        else:
            tensors.append(TensorSpec("O", (b, t, h * dk), "output"))
        return OpGraph(tuple(ops), tuple(tensors))

    @staticmethod
    def _inputs(p: KVCacheParams, b: int):
        """Ops and tensors that produce the new tokens' Q, K, V (projections, or inputs)."""
        t, h, kv, dk = p.new_tokens, p.heads, p.kv, p.head_width
        widths = {"q": h * dk, "k": kv * dk, "v": kv * dk}
        if not p.projections:
            tensors = [TensorSpec(f"{x.upper()}_new", (b, t, w), "input") for x, w in widths.items()]
            names = {x: f"{x.upper()}_new" for x in widths}
            names.update({f"{x}_deps": () for x in widths}, phase="scores")
            return [], tensors, names
        ops, names = [], {"phase": "projections"}
        tensors = [TensorSpec("X", (b, t, p.d), "input")]
        for x, width in widths.items():
            out = f"{x.upper()}p"
            ops.append(Gemm(f"{x}_projection", "X", f"W_{x.upper()}", out, b * t, p.d, width, shared_b=True,
                            phase="projections"))
            tensors += [TensorSpec(f"W_{x.upper()}", (1, p.d, width), "weight", weight_init(p.d)),
                        TensorSpec(out, (1, b * t, width), "intermediate")]
            names[x], names[f"{x}_deps"] = out, (f"{x}_projection",)
            if p.bias:
                ops.append(bias_add(f"{x}_bias", out, f"b_{x.upper()}", f"{out}b", b * t, width, "projections",
                                    (f"{x}_projection",)))
                tensors += [TensorSpec(f"b_{x.upper()}", (1, 1, width), "weight", weight_init(p.d)),
                            TensorSpec(f"{out}b", (1, b * t, width), "intermediate")]
                names[x], names[f"{x}_deps"] = f"{out}b", (f"{x}_bias",)
        return ops, tensors, names

    def report_fields(self, spec: LayerSpec) -> dict:
        p = spec.params
        fields = {"n": p.context + p.new_tokens, "d": p.d, "heads": p.heads, "window": p.window,
                  "phase": "decode" if p.new_tokens == 1 else "prefill", "context": p.context,
                  "new_tokens": p.new_tokens, "kv_heads": p.kv}
        if p.causal:          # an encoder (not causal) keeps nothing for later tokens
            kept = p.context + p.new_tokens if p.window is None else min(p.context + p.new_tokens, p.window - 1)
            fields["kv_cache_elements"] = spec.batch * 2 * p.kv * p.head_width * kept
        return fields

    def connectivity(self, spec: LayerSpec):
        """The whole sequence (cache and new tokens) as one causal layer: earlier steps of this layer
        computed the cached rows."""
        p = spec.params
        n = p.context + p.new_tokens
        if not p.causal:
            r = full_ranges(n, n)
        else:
            r = causal_ranges(n) if p.window is None else causal_window_ranges(n, p.window)
        return Ranges(r.lo, r.hi, n)


VARIANT = KVCacheAttention()
