"""A LLaMA-shaped layer in C simulation: the three regions of regions_llama.h (or the GEMV
regions of regions_llama_decode.h) chained, configured by the header `export-hls` writes
from the chen2024-llama design graph, against the numpy LLaMA layer, bit for bit, for a
prompt and a decode step; every loop's trips equal the cost model's for the same step."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hwutil import build, write

from spatialsim.costmodel.design_estimate import kernel_estimates
from spatialsim.design.graph import Design
from spatialsim.design.overrides import apply_overrides
from spatialsim.design.templates import build_design
from spatialsim.golden import llama_layer
from spatialsim.golden.quant import F32, inverse_scale
from spatialsim.hls.export import config_header
from spatialsim.workload.models import get_model

pytestmark = pytest.mark.hw

D, H, KVH, HD, FFN, MAXL = 64, 4, 2, 16, 96, 16


def tiny_llama(name: str, overrides: list[str] | None = None) -> Design:
    """A LLaMA-shaped model small enough for C simulation: 4 heads of 16 sharing 2 K/V
    heads, a SwiGLU FFN of 96."""
    model = dataclasses.replace(
        get_model("llama2-7b"), name="tiny-llama", layers=1, hidden=D, heads=H, head_dim=HD,
        ffn=FFN, kv_heads=KVH, rope_theta=500_000.0,
    )  # fmt: skip
    return apply_overrides(build_design(name, model, MAXL), overrides or [])


def case(tmp: Path, bits: int, tokens: int, cached: int) -> dict[str, np.ndarray]:
    """``tokens`` tokens at positions cached .. cached + tokens - 1, the K/V rows of the
    ``cached`` before them in the cache."""
    rng = np.random.default_rng(23)
    x = rng.normal(size=(cached + tokens, D)).astype(F32)
    p = llama_layer.make_llama_layer(rng, D, H, KVH, FFN, bits, x, MAXL)
    past = llama_layer.forward(x[:cached], p) if cached else None
    out = llama_layer.forward(
        x[cached:], p, first_position=cached,
        past_k=past["k"] if past else None, past_v=past["v"] if past else None,
    )  # fmt: skip
    lins = [p.q, p.k, p.v, p.o, p.gate, p.up, p.down]
    kvd = KVH * HD
    write(
        tmp,
        x=x[cached:],
        **{f"w{n}": lin.w.astype(np.int8) for n, lin in zip("qkvogud", lins, strict=True)},
        scales=np.concatenate([lin.scale for lin in lins]).astype(F32),
        norms=np.concatenate([p.attn_gamma, p.ffn_gamma]).astype(F32),
        rope=np.concatenate([p.cos.ravel(), p.sin.ravel()]).astype(F32),
        consts=np.array(
            [
                inverse_scale(p.s_xn),
                p.s_xn,
                inverse_scale(p.s_q),
                inverse_scale(p.s_k),
                inverse_scale(p.s_v),
                p.qk_scale,
                p.s_v,
                p.s_hn,
                inverse_scale(p.s_hn),
                p.s_f2,
                inverse_scale(p.s_f2),
            ],
            F32,
        ),
        first=np.array([cached], np.int32),
        cache_k=(past["k"] if past else np.zeros((0, kvd))).astype(np.int8),
        cache_v=(past["v"] if past else np.zeros((0, kvd))).astype(np.int8),
        want=out["y"],
        want_k=out["k"].astype(np.int8),
    )
    return out


def expect_trips(design: Design, phase: str, seq: int, directory: Path) -> None:
    """Every loop the C-simulated layer ran, entries and trips per label, is what the
    cost model's estimates of the design's kernels count for the same step."""
    want: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    g = design.layer_graph(phase)  # the head has no regions: it is not exported
    for name, est in kernel_estimates(design, phase, seq).items():
        if name in g:  # the regions' weight loaders are not kernels of the graph
            for lp in est.loops:
                want[f"{est.kind}.{lp.name}"][0] += lp.entries
                want[f"{est.kind}.{lp.name}"][1] += lp.total_trips
    trips = json.loads((directory / "trips.json").read_text())
    got = {k: [v["entries"], v["trips"]] for k, v in trips.items() if v["trips"]}
    assert got == dict(want)


def run_case(exe: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(exe), str(directory)], capture_output=True, text=True, timeout=120)
    print(proc.stdout[-3000:], proc.stderr[-2000:])
    return proc


HBM_CACHE = ["kernel.k_writer.cache=hbm", "kernel.v_writer.cache=hbm"]


@pytest.mark.parametrize(
    ("name", "bits", "tokens", "cached", "overrides"),
    [
        # a prompt: one full pack of 8 and a partial one; the tiny model's cache is on chip
        ("chen2024-llama-w4a8", 4, 13, 0, []),
        ("chen2024-llama-w8a8", 8, 11, 0, []),
        ("chen2024-llama-w4a8", 4, 1, 9, []),  # a decode step on the same bitstream, 9 cached
        ("chen2024-llama-w4a8", 4, 13, 0, HBM_CACHE),  # the cache in HBM: loaded, written back
        ("chen2024-llama-w4a8", 4, 1, 9, HBM_CACHE),
    ],
)
def test_the_llama_layer_matches_the_numpy_layer_bit_for_bit(
    tmp_path: Path, name: str, bits: int, tokens: int, cached: int, overrides: list[str]
) -> None:
    design = tiny_llama(name, overrides)
    assert design.graph("prefill").nodes["k_writer"]["cache"] == ("hbm" if overrides else "chip")
    phase = "decode" if cached else "prefill"
    bitstream = design.phases[phase].bitstream
    out = case(tmp_path / "case", bits, tokens, cached)
    exe = build("tb_layer_llama", tmp_path / "build", "config.h", config_header(design, bitstream))
    proc = run_case(exe, tmp_path / "case")
    assert proc.returncode == 0, proc.stdout
    assert "layer output: " in proc.stdout and "0 outside" in proc.stdout
    got = np.fromfile(tmp_path / "case" / "got.bin", F32).reshape(tokens, D)
    assert np.array_equal(got, out["y"])
    expect_trips(design, phase, cached if cached else tokens, tmp_path / "case")
    # the cache traffic the cost model counts: a load of the cached rows only off chip
    trips = json.loads((tmp_path / "case" / "trips.json").read_text())
    loads = trips.get("kv_writer.CACHE_LOAD", {"trips": 0})["trips"]
    assert loads == (2 * -(-cached * KVH * HD // 64) if overrides else 0)


@pytest.mark.parametrize("overrides", [[], HBM_CACHE], ids=["cache-on-chip", "cache-in-hbm"])
def test_a_decode_step_of_the_gemv_bitstream_matches_bit_for_bit(
    tmp_path: Path, overrides: list[str]
) -> None:
    """chen2024-llama-w8a8's decode bitstream: GEMV engines for the seven matrices, the
    decode attention engines sharing 2 K/V heads among 4, 9 tokens cached."""
    design = tiny_llama("chen2024-llama-w8a8", overrides)
    out = case(tmp_path / "case", 8, 1, 9)
    header = config_header(design, "decode")
    exe = build("tb_layer_llama_decode", tmp_path / "build", "config.h", header)
    proc = run_case(exe, tmp_path / "case")
    assert proc.returncode == 0, proc.stdout
    got = np.fromfile(tmp_path / "case" / "got.bin", F32).reshape(1, D)
    assert np.array_equal(got, out["y"])
    expect_trips(design, "decode", 9, tmp_path / "case")
    trips = json.loads((tmp_path / "case" / "trips.json").read_text())
    loads = trips.get("kv_writer.CACHE_LOAD", {"trips": 0})["trips"]
    assert loads == (2 * -(-9 * KVH * HD // 64) if overrides else 0)
    assert trips["rope.ROT"]["trips"] == (H + KVH) * HD  # one token's Q and K heads


def test_a_shallow_bypass_deadlocks_the_llama_layer_too(tmp_path: Path) -> None:
    design = tiny_llama("chen2024-llama-w4a8", ["fifo.ffn_residual_bypass.depth=16"])
    case(tmp_path / "case", 4, 13, 0)
    exe = build("tb_layer_llama", tmp_path / "build", "config.h", config_header(design, "layer"))
    proc = run_case(exe, tmp_path / "case")
    assert proc.returncode == 3
    assert "write to stream ffn_residual_bypass (depth 16, holds 16: full)" in proc.stdout
