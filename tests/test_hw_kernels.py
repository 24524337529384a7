"""Every kernel family in C simulation against the golden model, and the loop trips each
counted against the cost model's (spatialsim/costmodel/isolated.py) for the same sizes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hwutil import build, run, write

from spatialsim.costmodel.isolated import Loop, estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work, decode_work, prefill_work
from spatialsim.golden import ops
from spatialsim.golden.quant import (
    F32,
    inverse_scale,
    quantize,
    quantize_per_token,
    quantize_weights,
)

pytestmark = pytest.mark.hw
PARAMS = CostParams()


def b(v: bool) -> str:
    return str(v).lower()


def loops_of(*estimates: Any) -> list[Loop]:
    return [lp for e in estimates for lp in e.loops]


def expect(
    trips: dict[str, dict[str, int]], loops: list[Loop], prefixes: dict[str, str], case: str
) -> None:
    """C++ label "<prefix>.<LOOP>" counted the cost model's entries and trips."""
    want: dict[str, list[int]] = {}
    for lp, pre in (
        (lp, prefixes[lp.name] if lp.name in prefixes else prefixes["*"]) for lp in loops
    ):
        w = want.setdefault(f"{pre}.{lp.name}", [0, 0])
        w[0] += lp.entries
        w[1] += lp.total_trips
    got = {k: [v["entries"], v["trips"]] for k, v in trips.items() if v["trips"]}
    assert got == want, (case, got, want)


class Cases:
    """Collects generated config structs and case directories for one build."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.structs: list[str] = []
        self.entries: list[str] = []
        self.checks: list[tuple[str, Any]] = []

    def add(self, runner: str, name: str, fields: dict[str, Any], check: Any) -> Path:
        ints = ", ".join(f"{k} = {v}" for k, v in fields.items() if not isinstance(v, bool))
        bools = ", ".join(f"{k} = {b(v)}" for k, v in fields.items() if isinstance(v, bool))
        body = f"static constexpr int {ints};"
        if bools:
            body += f" static constexpr bool {bools};"
        if runner == "run_rowwise":
            body += " static constexpr float EPS = 1e-5f;"
        self.structs.append(f"struct Cfg_{name} {{ {body} }};")
        self.entries.append(f'X({runner}, Cfg_{name}, "{self.root / name}")')
        self.checks.append((name, check))
        return self.root / name

    def header(self) -> str:
        return (
            "#pragma once\n"
            + "\n".join(self.structs)
            + "\n#define CASES(X) "
            + " ".join(self.entries)
            + "\n"
        )


def gemv_case(
    cases: Cases,
    rng: np.random.Generator,
    name: str,
    k: int,
    n: int,
    engines: int,
    pes: int,
    fp32: bool,
    bias: bool,
    token_scales: bool,
    tokens: int,
    order: str = "row",
) -> None:
    x = rng.normal(size=(tokens, k)).astype(F32)
    xq, xs = quantize_per_token(x)
    wq, ws = quantize_weights(rng.normal(size=(k, n)).astype(F32), 8)
    bias_v = rng.integers(-3000, 3000, n).astype(np.int16) if bias else np.zeros(0, np.int16)
    static = F32(0.03)
    acc = ops.linear_acc(xq, wq, bias_v.astype(np.int64) if bias else None)
    y = ops.dequantize(acc, xs if token_scales else np.full(tokens, static, F32), ws)
    out_scale = F32(np.abs(y).max() / 127)
    want = y if fp32 else ops.requantize(y, out_scale).astype(np.int8)
    attrs = {
        "kind": "gemv",
        "engines": engines,
        "pes": pes,
        "pack": 2,
        "in_features": k,
        "out_features": n,
        "order": order,
    }
    est = estimate(name, attrs, Work("decode", tokens, 1, 1, 0), PARAMS)
    d = cases.add(
        "run_gemv",
        name,
        {
            "K": k,
            "N": n,
            "ENGINES": engines,
            "PES": pes,
            "PACK": 2,
            "OUT_FP32": fp32,
            "HAS_BIAS": bias,
            "TOKEN_SCALES": token_scales,
            "COLUMN": order == "column",
        },
        lambda t, e=est, nm=name: expect(t, list(e.loops), {"*": "gemv"}, nm),
    )
    write(
        d,
        x=xq.astype(np.int8),
        xs=xs,
        w=wq.astype(np.int8),
        ws=ws,
        bias=bias_v,
        params=np.array([static, inverse_scale(out_scale)], F32),
        want=want,
    )


def attention_case(
    cases: Cases,
    rng: np.random.Generator,
    name: str,
    heads: int,
    hd: int,
    cols: int,
    pack: int,
    tokens: int,
    output: str = "streamed",
    kv_heads: int = 0,
) -> None:
    f, p = heads * hd, 8
    kvh = kv_heads or heads
    fkv = kvh * hd
    q = rng.integers(-127, 128, (tokens, f))
    k, v = (rng.integers(-127, 128, (tokens, fkv)) for _ in range(2))
    scale = F32(0.02)
    acc = ops.qk_acc(q.reshape(tokens, heads, hd), k.reshape(tokens, kvh, hd))
    scores = ops.causal_mask((acc.astype(F32) * scale).astype(F32), 0)
    pq, inv = ops.softmax_exp(scores)
    ctx = ops.context_quantize(ops.sv_acc(pq, v.reshape(tokens, kvh, hd)), inv)
    work = prefill_work(tokens, p)
    common = {
        "rows": p,
        "cols": cols,
        "pack": pack,
        "heads": heads,
        "head_dim": hd,
        "block_overhead_cycles": 6,
        "kv_heads": kv_heads,
    }
    ests = [
        estimate("qk", {"kind": "attn_matmul", "op": "qk", **common}, work, PARAMS),
        estimate("sv", {"kind": "attn_matmul", "op": "sv", **common}, work, PARAMS),
        estimate("mask", {"kind": "mask", "heads": heads, "heads_parallel": 1}, work, PARAMS),
        estimate(
            "softmax",
            {
                "kind": "softmax",
                "heads": heads,
                "heads_parallel": 1,
                "reduction_ii": 4,
                "output": output,
            },
            work,
            PARAMS,
        ),
    ]
    kv = {"kind": "kv_writer", "features": fkv, "ii": 1, "act_bits": 8, "port_bits": 512}
    ests += [
        estimate("k", kv, work, PARAMS),
        estimate("v", kv, work, PARAMS),
        estimate("q", {"kind": "buffer", "features": f}, work, PARAMS),
    ]
    prefixes = {
        "MAC": "attn_matmul",
        "DRAIN_REST": "attn_matmul",
        "FLUSH": "attn_matmul",
        "MASK": "mask",
        "MAX": "softmax",
        "EXP_SUM": "softmax",
        "OUT": "softmax",
        "WRITE": "kv_writer",
        "STORE": "buffer",
    }
    d = cases.add(
        "run_attention",
        name,
        {
            "P": p,
            "HEADS": heads,
            "HD": hd,
            "COLS": cols,
            "PACK": pack,
            "MAXL": 16,
            "MAXPACKS": 2,
            "HP": 1,
            "F": f,
            "KV_HEADS": kvh,
            "BUFFERED": output == "buffered",
        },
        lambda t, e=ests, nm=name: expect(t, loops_of(*e), prefixes, nm),
    )
    write(
        d,
        q=q.astype(np.int8),
        k=k.astype(np.int8),
        v=v.astype(np.int8),
        params=np.array([scale], F32),
        want_ctx=ctx.astype(np.int8),
    )


def decode_attention_case(
    cases: Cases,
    rng: np.random.Generator,
    name: str,
    heads: int,
    hd: int,
    hp: int,
    lanes: int,
    cached: int,
    kv_heads: int = 0,
) -> None:
    f = heads * hd
    kvh = kv_heads or heads
    fkv = kvh * hd
    keys = cached + 1
    kk, vv = rng.integers(-127, 128, (keys, fkv)), rng.integers(-127, 128, (keys, fkv))
    q = rng.integers(-127, 128, (1, f))
    scale = F32(0.02)
    acc = ops.qk_acc(q.reshape(1, heads, hd), kk.reshape(keys, kvh, hd))
    scores = ops.causal_mask((acc.astype(F32) * scale).astype(F32), cached)
    pq, inv = ops.softmax_exp(scores)
    ctx = ops.context_quantize(ops.sv_acc(pq, vv.reshape(keys, kvh, hd)), inv)
    work = decode_work(cached, 1)
    common = {
        "heads_parallel": hp,
        "lanes": lanes,
        "heads": heads,
        "head_dim": hd,
        "kv_heads": kv_heads,
    }
    ests = [
        estimate("qk", {"kind": "attn_gemv", "op": "qk", **common}, work, PARAMS),
        estimate("sv", {"kind": "attn_gemv", "op": "sv", **common}, work, PARAMS),
        estimate("mask", {"kind": "mask", "heads": heads, "heads_parallel": hp}, work, PARAMS),
        estimate(
            "softmax",
            {"kind": "softmax", "heads": heads, "heads_parallel": hp, "reduction_ii": 4},
            work,
            PARAMS,
        ),
    ]
    kv = {"kind": "kv_writer", "features": fkv, "ii": 1, "act_bits": 8, "port_bits": 512}
    ests += [
        estimate("k", kv, work, PARAMS),
        estimate("v", kv, work, PARAMS),
        estimate("q", {"kind": "buffer", "features": f}, work, PARAMS),
    ]
    prefixes = {
        "LOAD": "attn_gemv",
        "ROW": "attn_gemv",
        "MASK": "mask",
        "MAX": "softmax",
        "EXP_SUM": "softmax",
        "WRITE": "kv_writer",
        "CACHE_LOAD": "kv_writer",
        "STORE": "buffer",
    }
    d = cases.add(
        "run_decode_attention",
        name,
        {
            "P": 1,
            "HEADS": heads,
            "HD": hd,
            "HP": hp,
            "LANES": lanes,
            "MAXL": 16,
            "MAXPACKS": 1,
            "F": f,
            "KV_HEADS": kvh,
            "BUFFERED": False,
        },
        lambda t, e=ests, nm=name: expect(t, loops_of(*e), prefixes, nm),
    )
    write(
        d,
        cache_k=kk[:cached].astype(np.int8),
        cache_v=vv[:cached].astype(np.int8),
        q=q[0].astype(np.int8),
        k=kk[cached].astype(np.int8),
        v=vv[cached].astype(np.int8),
        params=np.array([scale], F32),
        want_ctx=ctx.reshape(f).astype(np.int8),
    )


def rowwise_case(
    cases: Cases, rng: np.random.Generator, name: str, feats: int, tokens: int
) -> None:
    x = (rng.normal(size=(tokens, feats)) * 2).astype(F32)
    bb = rng.normal(size=(tokens, feats)).astype(F32)
    gamma = (1 + 0.1 * rng.normal(size=feats)).astype(F32)
    beta = (0.1 * rng.normal(size=feats)).astype(F32)
    s_g, s_s = F32(0.03), F32(0.05)
    work = prefill_work(tokens, 8)
    ests = [
        estimate("ln", {"kind": "layernorm", "features": feats, "reduction_ii": 4}, work, PARAMS),
        # RMSNorm is the layernorm kind with norm = rmsnorm: the same loops, counted under
        # the same labels (hw_kernels/include/spatial/rowwise.h)
        estimate(
            "rms",
            {"kind": "layernorm", "features": feats, "reduction_ii": 4, "norm": "rmsnorm"},
            work,
            PARAMS,
        ),
        estimate("gelu", {"kind": "activation", "features": feats, "fn": "gelu"}, work, PARAMS),
        estimate("res", {"kind": "residual", "features": feats}, work, PARAMS),
        estimate("split", {"kind": "splitter", "features": feats}, work, PARAMS),
        estimate(
            "swiglu", {"kind": "activation", "features": feats, "fn": "silu_mul"}, work, PARAMS
        ),
        estimate(
            "swiglu_split",
            {"kind": "activation", "features": feats, "fn": "silu_mul", "gate_up": "split"},
            work,
            PARAMS,
        ),
    ]
    prefixes = {
        "SUM": "layernorm",
        "NORM": "layernorm",
        "ACT": "activation",
        "ADD": "residual",
        "SPLIT": "splitter",
    }
    d = cases.add(
        "run_rowwise",
        name,
        {"P": 8, "F": feats},
        lambda t, e=ests, nm=name: expect(t, loops_of(*e), prefixes, nm),
    )
    write(
        d,
        x=x,
        b=bb,
        gamma=gamma,
        beta=beta,
        params=np.array([inverse_scale(s_g), inverse_scale(s_s)], F32),
        want_ln=ops.layernorm(x, gamma, beta),
        want_rms=ops.rmsnorm(x, gamma),
        want_gelu=quantize(ops.gelu(x), s_g).astype(np.int8),
        want_res=ops.residual(x, bb),
        want_split=quantize(x, s_s).astype(np.int8),
        want_swiglu=quantize(ops.silu_mul(x, bb), s_g).astype(np.int8),
    )


def rope_case(
    cases: Cases,
    rng: np.random.Generator,
    name: str,
    heads: int,
    hd: int,
    tokens: int,
    first: int,
    theta: float,
) -> None:
    """Q or K of ``heads`` heads rotated at positions first .. first + tokens - 1."""
    f, p, maxl = heads * hd, 8, first + tokens + 3
    x = (rng.normal(size=(tokens, f)) * 3).astype(F32)
    cos, sin = ops.rope_table(maxl, hd, theta)
    rotated = ops.rope(x.reshape(tokens, heads, hd), first + np.arange(tokens), cos, sin)
    s_out = F32(np.abs(rotated).max() / 127)
    attrs = {
        "kind": "rope",
        "features": f,
        "head_dim": hd,
        "max_seq_len": maxl,
        "theta": theta,
    }
    work = prefill_work(tokens, p) if tokens > 1 else decode_work(first, 1)
    ests = [estimate(name, attrs, work, PARAMS)]
    d = cases.add(
        "run_rope",
        name,
        {"P": p if tokens > 1 else 1, "F": f, "HD": hd, "MAXL": maxl},
        lambda t, e=ests, nm=name: expect(t, loops_of(*e), {"*": "rope"}, nm),
    )
    write(
        d,
        x=x,
        cos=cos,
        sin=sin,
        params=np.array([first, inverse_scale(s_out)], F32),
        want=quantize(rotated.reshape(tokens, f), s_out).astype(np.int8),
    )


def memory_case(cases: Cases, rng: np.random.Generator, name: str, feats: int, tokens: int) -> None:
    x = rng.normal(size=(tokens, feats)).astype(F32)
    xq, xs = quantize_per_token(x)
    work = prefill_work(tokens, 8)
    ests = [
        estimate("l", {"kind": "loader", "features": feats}, work, PARAMS),
        estimate("l", {"kind": "loader", "features": feats}, work, PARAMS),
        estimate("w", {"kind": "writer", "features": feats}, work, PARAMS),
    ]
    d = cases.add(
        "run_memory",
        name,
        {"P": 8, "F": feats},
        lambda t, e=ests, nm=name: expect(
            t, loops_of(*e), {"LOAD": "loader", "STORE": "writer"}, nm
        ),
    )
    write(d, x=x, xs=xs, want_q=xq.astype(np.int8))


def test_every_kernel_matches_the_golden_model_and_the_cost_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    cases = Cases(tmp_path)
    gemv_case(cases, rng, "gemv_qkv", 64, 48, 2, 4, False, True, True, 2)
    gemv_case(cases, rng, "gemv_ffn_fp32", 48, 100, 4, 4, True, False, False, 1)
    gemv_case(cases, rng, "gemv_short_k", 8, 64, 2, 8, False, False, False, 2)
    gemv_case(cases, rng, "gemv_col_qkv", 64, 48, 2, 4, False, True, True, 2, "column")
    gemv_case(cases, rng, "gemv_col_ffn_fp32", 48, 100, 4, 4, True, False, False, 1, "column")
    attention_case(cases, rng, "attn_w4a8", 2, 16, 8, 1, 13)
    attention_case(cases, rng, "attn_w8a8_short", 3, 8, 8, 2, 10, "buffered")
    attention_case(cases, rng, "attn_w8a8_odd", 2, 8, 8, 2, 13, "buffered")
    decode_attention_case(cases, rng, "decode_attn", 5, 8, 4, 8, 6)
    decode_attention_case(cases, rng, "decode_attn_narrow", 4, 16, 2, 4, 11)
    attention_case(cases, rng, "attn_gqa", 4, 8, 8, 2, 13, "buffered", kv_heads=2)
    attention_case(cases, rng, "attn_mqa", 3, 8, 8, 1, 10, kv_heads=1)
    decode_attention_case(cases, rng, "decode_attn_gqa", 8, 8, 4, 8, 9, kv_heads=2)
    rope_case(cases, rng, "rope_prefill", 3, 8, 13, 0, 10_000.0)
    rope_case(cases, rng, "rope_decode", 2, 16, 1, 37, 500_000.0)
    rowwise_case(cases, rng, "rows_24", 24, 11)
    rowwise_case(cases, rng, "rows_64", 64, 16)
    memory_case(cases, rng, "memory", 16, 11)
    exe = build("tb_kernels", tmp_path / "build", "tb_kernels_cases.h", cases.header())
    proc = run(exe)
    assert proc.returncode == 0 and "all cases passed" in proc.stdout
    # the comparison fails NaN and infinity whatever the tolerance (tb_common.h)
    assert "compare_close self-check passed" in proc.stdout
    for name, check in cases.checks:
        check(json.loads((tmp_path / name / "trips.json").read_text()))
