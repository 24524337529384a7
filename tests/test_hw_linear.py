"""The systolic linear (W4A8 and W8A8, int8 or fp32 out, with and without bias) against
the golden model, bit-exact, and its loop trips against the cost model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hwutil import build, run, write

from spatialsim.costmodel.isolated import estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import prefill_work
from spatialsim.golden import ops
from spatialsim.golden.quant import F32, inverse_scale, quantize_per_token, quantize_weights

pytestmark = pytest.mark.hw

# name, P, K, N, COLS, W_BITS, bias, fp32 out, token scales, tokens
CASES = [
    ("w4a8_qkv", 8, 64, 48, 16, 4, False, False, True, 16),
    ("w4a8_ffn_fp32", 8, 96, 40, 8, 4, False, True, False, 13),
    ("w8a8_bias", 8, 32, 64, 8, 8, True, False, False, 9),
    ("w8a8_decode_row", 1, 48, 24, 4, 8, True, True, True, 3),
    ("short_k", 8, 8, 64, 16, 8, False, False, True, 8),  # K < outputs per block
]


def header(cases: list[tuple[object, ...]], root: Path) -> str:
    lines = ["#pragma once"]
    names = []
    for name, p, k, n, cols, wb, bias, f32, ts, _t in cases:
        lines.append(
            f"struct Cfg_{name} {{ static constexpr int P = {p}, K = {k}, N = {n}, "
            f"COLS = {cols}, PACK = 2, W_BITS = {wb}; static constexpr bool "
            f"HAS_BIAS = {str(bias).lower()}, OUT_FP32 = {str(f32).lower()}, "
            f"TOKEN_SCALES = {str(ts).lower()}; }};"
        )
        names.append(f'X(Cfg_{name}, "{root / name}")')
    lines.append("#define CASES(X) " + " ".join(names))
    return "\n".join(lines) + "\n"


def test_linear_matches_golden_and_counts_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    for name, _p, k, n, _cols, wb, bias, f32, ts, tokens in CASES:
        x = rng.normal(size=(tokens, k)).astype(F32)
        xq, xs = quantize_per_token(x)
        wq, ws = quantize_weights(rng.normal(size=(k, n)).astype(F32), wb)
        b = rng.integers(-3000, 3000, n).astype(np.int16) if bias else np.zeros(0, np.int16)
        static_x = F32(0.02)
        scale = xs if ts else np.full(tokens, static_x, F32)
        acc = ops.linear_acc(xq, wq, b.astype(np.int64) if bias else None)
        assert (ops.packed_linear_acc(xq, wq) + (b if bias else 0) == acc).all()
        y = ops.dequantize(acc, scale, ws)
        out_scale = F32(np.abs(y).max() / 127)
        want = y if f32 else ops.requantize(y, out_scale).astype(np.int8)
        write(
            tmp_path / name,
            x=xq.astype(np.int8),
            xs=xs,
            w=wq.astype(np.int8),
            ws=ws,
            bias=b,
            params=np.array([static_x, inverse_scale(out_scale)], F32),
            want=want,
        )
    exe = build("tb_linear", tmp_path / "build", "tb_linear_cases.h", header(CASES, tmp_path))
    proc = run(exe)
    assert proc.returncode == 0 and "all cases passed" in proc.stdout
    for name, p, k, n, cols, _wb, _bias, _f32, _ts, tokens in CASES:
        trips = json.loads((tmp_path / name / "trips.json").read_text())
        attrs = {
            "kind": "linear",
            "rows": p,
            "cols": cols,
            "pack": 2,
            "in_features": k,
            "out_features": n,
            "block_overhead_cycles": 6,
        }
        est = estimate("t", attrs, prefill_work(tokens, p), CostParams())
        assert_trips("linear", trips, est.loops, name)


def assert_trips(prefix: str, trips: dict[str, dict[str, int]], loops: object, case: str) -> None:
    """Per loop label: the C++ counted the cost model's entries and iterations."""
    want: dict[str, list[int]] = {}
    for lp in loops:  # type: ignore[attr-defined]
        w = want.setdefault(lp.name, [0, 0])
        w[0] += lp.entries
        w[1] += lp.total_trips
    got = {
        k.split(".", 1)[1]: [v["entries"], v["trips"]]
        for k, v in trips.items()
        if k.startswith(prefix + ".") and v["trips"]
    }
    assert got == want, (case, got, want)
