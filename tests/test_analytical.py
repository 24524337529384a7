"""The analytical model against hand-computed Eqs. 8, 9, 13 and the balance search."""

from __future__ import annotations

from math import ceil

import pytest

from spatialsim.analytical.balance import balance
from spatialsim.analytical.design_checks import design_checks
from spatialsim.analytical.latency import Parallelism, estimate_phase
from spatialsim.design.overrides import apply_overrides
from spatialsim.design.templates import build_design
from spatialsim.hardware import get_platform
from spatialsim.workload import MODELS

U280 = get_platform("u280")
FREQ = 250e6
HBM = 13.2e9  # measured bytes/s of one pseudo-channel (Lu et al. 2021)


def eq8(n: int, l: int, d: int, f: int, mk: float, ma: float, mf: float, tmem: float) -> float:
    """Eq. 8 with C = 1, written out as in the paper, in seconds."""
    return n * (l * d * d / mk + max(l * d * d / mk, l * l * d / ma, l * d * f / mf, tmem)) / FREQ


def eq9(n: int, c: int, d: int, f: int, mk: float, ma: float, mf: float, tmem: float) -> float:
    return n * (d * d / mk + max(d * d / mk, (c + 1) * d / ma, d * f / mf, tmem)) / FREQ


def test_gpt2_medium_w4a8_by_hand() -> None:
    # 24 layers x (128*1024^2/256 + 128*1024*4096/256) cycles at 250 MHz
    d = build_design("chen2024-w4a8", MODELS["gpt2-medium"], 128)
    pre = estimate_phase(d, U280, "prefill", 128)
    assert pre.seconds == pytest.approx(24 * (524288 + 2097152) / 250e6, rel=1e-12)
    assert pre.seconds * 1e3 == pytest.approx(251.65824)
    assert pre.bound == "ffn1" and pre.sync_cycles == 524288
    dec = estimate_phase(d, U280, "decode", 128)
    assert dec.seconds * 1e3 == pytest.approx(24 * (32768 + 131072) / 250e3)


@pytest.mark.parametrize("model", ["gpt2-medium", "bert-base", "gpt2-xl"])
@pytest.mark.parametrize("l", [32, 128, 512])
def test_w4a8_matches_eq8_and_eq9(model: str, l: int) -> None:
    m = MODELS[model]
    d, f, n = m.hidden, m.ffn, m.layers
    design = build_design("chen2024-w4a8", m, l)
    # prefill: every linear re-reads its int4 weights once per 8-token pack from one channel
    tmem = d * f / 2 * ceil(l / 8) / HBM * FREQ
    want = eq8(n, l, d, f, 256, 64, 256, tmem)
    assert estimate_phase(design, U280, "prefill", l).seconds == pytest.approx(want, rel=1e-12)
    # decode: single-token packs, one array row of 16 x 2 MACs; attention 1 x 8
    tmem = d * f / 2 / HBM * FREQ
    want = eq9(n, l, d, f, 32, 8, 32, tmem)
    assert estimate_phase(design, U280, "decode", l).seconds == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("model", ["gpt2-medium", "bert-base", "gpt2-xl"])
@pytest.mark.parametrize("l", [64, 256])
def test_w8a8_matches_eq8_and_eq9(model: str, l: int) -> None:
    m = MODELS[model]
    d, f, n = m.hidden, m.ffn, m.layers
    design = build_design("chen2024-w8a8", m, l)
    tmem = d * f * ceil(l / 8) / HBM * FREQ  # int8 FFN weights, one channel each
    got = estimate_phase(design, U280, "prefill", l)
    # Q/K/V/O at 128 MAC/cycle, attention 8x8x2, FFN 256
    assert got.seconds == pytest.approx(eq8(n, l, d, f, 128, 128, 256, tmem), rel=1e-12)
    # decode GEMVs: 2 engines x 64 MACs for Q/K/V/O, 4 x 64 for FFN, each engine one channel
    tmem = max(d * f / 4, d * d / 2) / HBM * FREQ
    got = estimate_phase(design, U280, "decode", l)
    assert got.seconds == pytest.approx(eq9(n, l, d, f, 128, 256, 256, tmem), rel=1e-12)
    assert got.bound == "mem"  # 64 B/cycle at 250 MHz asks 16 GB/s of a 13.2 GB/s channel


def test_stage_terms_follow_the_design() -> None:
    m = MODELS["gpt2-medium"]
    base = build_design("chen2024-w4a8", m, 128)
    wide = apply_overrides(base, ["kernel.ffn1.cols=32", "kernel.ffn2.cols=32"])
    a, b = estimate_phase(base, U280, "prefill", 128), estimate_phase(wide, U280, "prefill", 128)
    assert b.stages["ffn1"] == a.stages["ffn1"] / 2 and b.stages["qkv"] == a.stages["qkv"]
    assert b.bound == "ffn1" and b.seconds < a.seconds
    # binding FFN2 to FFN1's channel doubles that channel's traffic
    shared = apply_overrides(base, ['kernel.ffn2.ports=["HBM[5]"]'])
    s = estimate_phase(shared, U280, "prefill", 128)
    assert a.mem_channel == "HBM[5]" and s.mem_channel == "HBM[5]"
    assert s.stages["mem"] == pytest.approx(2 * 1024 * 4096 / 2 * 16 / HBM * FREQ)
    assert s.stages["mem"] == pytest.approx(2 * a.stages["mem"])


def test_multi_fpga_eq13() -> None:
    m = MODELS["gpt2-medium"]
    design = build_design("chen2024-w4a8", m, 128)
    par = Parallelism(tp=2, pp=3, link_gbps=100, link_efficiency=0.5)
    got = estimate_phase(design, U280, "prefill", 128, par=par)
    l, d, f, n = 128, 1024, 4096, 24
    tcomm = l * d * 8 / (0.5 * 100e9) * FREQ
    tmem = d * f / 2 * 16 / HBM * FREQ / 2
    want = (
        (n / 3)
        * (
            l * d * d / (2 * 256)
            + 3
            * max(l * d * d / (2 * 256), l * l * d / (2 * 64), l * d * f / (2 * 256), tmem, tcomm)
        )
        / FREQ
    )
    assert got.seconds == pytest.approx(want, rel=1e-12)
    assert got.stages["comm"] == pytest.approx(tcomm)
    slow = estimate_phase(
        design, U280, "prefill", 128, par=Parallelism(tp=8, link_gbps=1, link_efficiency=0.5)
    )
    assert slow.bound == "comm"


def test_design_constraints_flag_the_decode_gemv_bandwidth() -> None:
    design = build_design("chen2024-w8a8", MODELS["gpt2-medium"], 128)
    checks = {c.name: c for c in design_checks(design, U280, "decode", 128, 250)}
    bw = checks["offchip_bandwidth"]
    assert bw.demand == pytest.approx(16.0) and bw.capacity == 13.2 and not bw.ok
    assert checks["compute"].ok
    pre = {c.name: c for c in design_checks(design, U280, "prefill", 128, 250)}
    assert pre["offchip_bandwidth"].ok and pre["compute"].demand == 4 * 128 + 2 * 128 + 2 * 256


def test_balance_llama2_7b_is_compute_bound_and_satisfies_eq10() -> None:
    m = MODELS["llama2-7b"]
    res = balance(m, U280, 128, 250.0)
    r = res.rates
    assert r["q"] == r["p"] == res.m
    assert r["a1"] == pytest.approx(res.m * 128 / 4096)
    assert r["f2"] == pytest.approx(res.m * 11008 / 4096)
    assert all(c.ok for c in res.checks)
    assert res.binding is not None and not res.binding.ok and res.binding.name == "compute"
    assert not res.weights_on_chip  # 7B weights do not fit in 44 MB of BRAM + URAM
    # Eq. 11: T = N (1 + 1/C) l d^2 / M / freq with C = 1
    assert res.prefill_seconds == pytest.approx(32 * 2 * 128 * 4096**2 / res.m / FREQ)
    # the next step would exceed the DSPs: 2 MACs per usable DSP
    dsp_macs = 2 * (9024 - 4)
    used = res.m * (4 + 2 * 128 / 4096 + 3 * 11008 / 4096)
    assert used <= dsp_macs < (res.m + 16) * (4 + 2 * 128 / 4096 + 3 * 11008 / 4096)


def test_balance_small_model_keeps_weights_on_chip() -> None:
    res = balance(MODELS["bert-base"], U280, 128, 250.0)
    assert res.weights_on_chip and "offchip_channels" not in {c.name for c in res.checks}
