"""A whole layer in C simulation: the three region kernels chained, configured by the
header `export-hls` writes from the design graph, against the numpy layer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hwutil import build, write

from spatialsim.design.overrides import apply_overrides
from spatialsim.design.templates import build_design
from spatialsim.golden import layer
from spatialsim.golden.quant import F32, inverse_scale, per_token_scale
from spatialsim.hls.export import config_header
from spatialsim.workload.models import get_model

pytestmark = pytest.mark.hw

TOKENS = 13  # one full pack of 8 and a partial one


def tiny_design(name: str, overrides: list[str] | None = None):  # type: ignore[no-untyped-def]
    model = dataclasses.replace(
        get_model("gpt2"),
        name="tiny",
        layers=1,
        hidden=64,
        heads=4,
        head_dim=16,
        ffn=128,
        kv_heads=4,
    )
    return apply_overrides(build_design(name, model, 16), overrides or [])


def layer_case(tmp: Path, weight_bits: int, bias: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(TOKENS, 64)).astype(F32)
    p = layer.make_layer(rng, 64, 4, 128, weight_bits, x, bias=bias)
    out = layer.forward(x, p)
    lins = [p.q, p.k, p.v, p.o, p.f1, p.f2]
    zeros = [np.zeros(lin.w.shape[1], np.int16) for lin in lins]
    write(
        tmp,
        x=x,
        xs=out["x_scale"],
        wq=p.q.w.astype(np.int8),
        wk=p.k.w.astype(np.int8),
        wv=p.v.w.astype(np.int8),
        wo=p.o.w.astype(np.int8),
        w1=p.f1.w.astype(np.int8),
        w2=p.f2.w.astype(np.int8),
        scales=np.concatenate([lin.scale for lin in lins]).astype(F32),
        biases=np.concatenate(
            [
                lin.bias.astype(np.int16) if lin.bias is not None else z
                for lin, z in zip(lins, zeros, strict=True)
            ]
        ),
        norms=np.concatenate([p.ln0_gamma, p.ln0_beta, p.ln1_gamma, p.ln1_beta]).astype(F32),
        consts=np.array(
            [
                inverse_scale(p.s_q),
                inverse_scale(p.s_k),
                inverse_scale(p.s_v),
                p.qk_scale,
                p.s_v,
                p.s_f1,
                inverse_scale(p.s_f1),
                p.s_f2,
                inverse_scale(p.s_f2),
            ],
            F32,
        ),
        want=out["y"],
        want_scale=per_token_scale(out["y"]),
    )
    return out


@pytest.mark.parametrize(
    "name,bits,bias", [("chen2024-w4a8", 4, False), ("chen2024-w8a8", 8, True)]
)
def test_layer_matches_the_numpy_layer(tmp_path: Path, name: str, bits: int, bias: bool) -> None:
    design = tiny_design(name)
    bitstream = design.phases["prefill"].bitstream
    out = layer_case(tmp_path / "case", bits, bias)
    exe = build("tb_layer", tmp_path / "build", "config.h", config_header(design, bitstream))
    proc = run_case(exe, tmp_path / "case")
    assert proc.returncode == 0, proc.stdout
    got = np.fromfile(tmp_path / "case" / "got.bin", F32).reshape(TOKENS, 64)
    err = np.abs(got - out["y"])
    print(f"{name}: layer output max |error| {err.max():.3g}, mean {err.mean():.3g}")
    assert np.array_equal(got, out["y"])  # bit for bit (the testbench checks it too)


def run_case(exe: Path, case: Path):  # type: ignore[no-untyped-def]
    import subprocess

    proc = subprocess.run([str(exe), str(case)], capture_output=True, text=True, timeout=120)
    print(proc.stdout[-3000:], proc.stderr[-2000:])
    return proc


def test_shallow_bypass_deadlocks_in_c_simulation_too(tmp_path: Path) -> None:
    design = tiny_design("chen2024-w4a8", ["fifo.ffn_residual_bypass.depth=16"])
    layer_case(tmp_path / "case", 4, False)
    exe = build("tb_layer", tmp_path / "build", "config.h", config_header(design, "layer"))
    proc = run_case(exe, tmp_path / "case")
    assert proc.returncode == 3
    assert "DEADLOCK" in proc.stdout
    assert "write to stream ffn_residual_bypass (depth 16, holds 16: full)" in proc.stdout


@pytest.mark.parametrize("order", ["row", "column"])
def test_decode_step_of_the_gemv_bitstream_matches_the_numpy_layer(
    tmp_path: Path, order: str
) -> None:
    """One decode step through the three GEMV-bitstream regions, with 9 tokens cached, for
    both GEMV loop orders."""
    gemvs = ("q_proj", "k_proj", "v_proj", "out_proj", "ffn1", "ffn2")
    design = tiny_design("chen2024-w8a8", [f"kernel.{n}.order={order}" for n in gemvs])
    rng = np.random.default_rng(5)
    prompt = rng.normal(size=(10, 64)).astype(F32)
    p = layer.make_layer(rng, 64, 4, 128, 8, prompt)
    past = layer.forward(prompt[:9], p)  # fills the K/V cache of 9 tokens
    step = layer.forward(prompt[9:], p, first_position=9, past_k=past["k"], past_v=past["v"])
    lins = [p.q, p.k, p.v, p.o, p.f1, p.f2]
    case = tmp_path / "case"
    write(
        case,
        x=prompt[9:],
        xs=step["x_scale"],
        wq=p.q.w.astype(np.int8),
        wk=p.k.w.astype(np.int8),
        wv=p.v.w.astype(np.int8),
        wo=p.o.w.astype(np.int8),
        w1=p.f1.w.astype(np.int8),
        w2=p.f2.w.astype(np.int8),
        scales=np.concatenate([lin.scale for lin in lins]).astype(F32),
        biases=np.zeros(5 * 64 + 128, np.int16),
        norms=np.concatenate([p.ln0_gamma, p.ln0_beta, p.ln1_gamma, p.ln1_beta]).astype(F32),
        consts=np.array(
            [
                inverse_scale(p.s_q),
                inverse_scale(p.s_k),
                inverse_scale(p.s_v),
                p.qk_scale,
                p.s_v,
                p.s_f1,
                inverse_scale(p.s_f1),
                p.s_f2,
                inverse_scale(p.s_f2),
            ],
            F32,
        ),
        cache_k=past["k"].astype(np.int8),
        cache_v=past["v"].astype(np.int8),
        want=step["y"],
        want_k=step["k"].astype(np.int8),
    )
    exe = build("tb_layer_decode", tmp_path / "build", "config.h", config_header(design, "decode"))
    proc = run_case(exe, case)
    assert proc.returncode == 0, proc.stdout
    got = np.fromfile(case / "got.bin", F32)
    err = np.abs(got - step["y"][0])
    print(f"decode step: max |error| {err.max():.3g}")
    assert np.array_equal(got, step["y"][0])  # bit for bit
    # the prefill layer and the decode step agree: the 10th token's output is the same
    full = layer.forward(prompt, p)
    assert np.allclose(full["y"][9], step["y"][0], atol=0.05)


def test_the_fifo_sized_layer_runs_in_c_simulation_without_deadlock(tmp_path: Path) -> None:
    """``fifo-size`` on a small model: the sized depths (every FIFO no deeper than the
    design's) go into the exported header, and the C-simulated layer, whose streams
    enforce their depths, runs to the numpy result without deadlock."""
    from spatialsim.experiment.fifo_size import size_fifos
    from spatialsim.hardware.platform import get_platform

    design = tiny_design("chen2024-w8a8")
    res = size_fifos(design, get_platform("u280"), [(TOKENS, 2)], layers=1)
    assert any(f["sized"] < f["depth"] for f in res.fifos if f["bitstream"] == "prefill")
    out = layer_case(tmp_path / "case", 8, True)
    header = config_header(res.design, "prefill")
    exe = build("tb_layer", tmp_path / "build", "config.h", header)
    proc = run_case(exe, tmp_path / "case")
    assert proc.returncode == 0, proc.stdout
    got = np.fromfile(tmp_path / "case" / "got.bin", F32).reshape(TOKENS, 64)
    assert np.array_equal(got, out["y"])
