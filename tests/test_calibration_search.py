"""Calibration that explains a board: synthetic truths the fit must recover.

Each "board" is the simulator itself run with settings the fit is not told (a per-kernel
structure, an HBM efficiency, overlay costs) plus 1 % measurement noise; every fit starts
from the defaults. The tests check that the fit moves what generated the data (not the
discrepancy), recovers the structure, and predicts runs it never saw."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spatialsim.calibration.fit import apply
from spatialsim.cli.main import main
from spatialsim.costmodel.params import CostParams
from spatialsim.design.overrides import apply_settings
from spatialsim.design.templates import build_design
from spatialsim.engine.region import simulate_region
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.hardware.platform import get_platform
from spatialsim.workload.models import get_model

U280 = get_platform("u280")
HEADER = "model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms\n"
NOISE = 0.01


def truth_run(
    truth: dict[str, float],
    settings: list[tuple[str, Any]],
    model: str,
    prompt: int,
    gen: int,
    layers: int,
) -> tuple[float, float]:
    cost, plat = apply(truth, CostParams(), U280)
    d = apply_settings(build_design("chen2024-w8a8", get_model(model), prompt + gen), settings)
    r = simulate(d, plat, RunConfig(prompt_len=prompt, gen_len=gen, layers=layers, params=cost))
    assert r.tpot_ms is not None
    return r.ttft_ms, r.tpot_ms


def board_csv(
    path: Path,
    truth: dict[str, float],
    settings: list[tuple[str, Any]],
    runs: list[tuple[str, int, int, int]],
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for model, prompt, gen, layers in runs:
        ttft, tpot = truth_run(truth, settings, model, prompt, gen, layers)
        ttft, tpot = (v * (1 + NOISE * rng.normal()) for v in (ttft, tpot))
        rows.append(f"{model},chen2024-w8a8,u280,{layers},{prompt},{gen},250,{ttft:.6f},{tpot:.6f}")
    path.write_text(HEADER + "\n".join(rows) + "\n")


# ---- per-kernel structure from two board runs and the decode build's region latencies ----

STRUCTURE = [("kernel.ffn2.order", "column"), ("kernel.out_proj.order", "column")]
CONTEXT = 64


def test_search_structure_recovers_a_per_kernel_structure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = {"cost.launch_overhead_us": 15.0}
    runs = [("gpt2", 16, 3, 2), ("gpt2", 48, 3, 2)]
    board_csv(tmp_path / "board.csv", truth, STRUCTURE, runs, seed=7)
    # the decode build's region latencies, as its Vitis reports would list them
    rng = np.random.default_rng(8)
    cost, _ = apply(truth, CostParams(), U280)
    built = apply_settings(build_design("chen2024-w8a8", get_model("gpt2"), CONTEXT + 1), STRUCTURE)
    lines = ["module,latency_cycles,phase"]
    for region in ("region_1", "region_2", "region_3"):
        run = simulate_region(built, U280, "decode", region, CONTEXT, cost)
        assert run is not None
        lines.append(f"{region},{run.cycles * (1 + NOISE * rng.normal()):.0f},decode")
    (tmp_path / "regions.csv").write_text("\n".join(lines) + "\n")
    prof = tmp_path / "p.toml"
    args = [
        "calibrate",
        "--board",
        str(tmp_path / "board.csv"),
        "--hls",
        str(tmp_path / "regions.csv"),
        "--hls-design",
        "chen2024-w8a8",
        "--hls-model",
        "gpt2",
        "--hls-seq-len",
        str(CONTEXT),
        "--search-structure",
        "--no-loo",
        "--out",
        str(prof),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    doc = tomllib.loads(prof.read_text())
    print(out)
    assert doc["structure"]["settings"] == dict(STRUCTURE)
    assert "chosen: kernel.ffn2.order=column, kernel.out_proj.order=column" in out
    for r in doc["residuals"]:
        if r["source"] == "board":
            assert abs(r["error"]) < 0.02, r
