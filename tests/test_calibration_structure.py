"""Calibration that absorbs board data: structure chosen by evidence from synthetic truth,
and a single board run fitted against priors with its discrepancy carried into intervals.

The "board" here is the simulator itself run with a known structure and known parameters
plus noise, so the test knows the answer: the fit must pick the structure that generated
the data, put the true parameters inside their intervals, and predict configurations it
never saw."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from spatialsim.calibration.fit import apply
from spatialsim.calibration.measurements import BoardRun
from spatialsim.calibration.observations import RunPredictor, _cu_model
from spatialsim.cli.main import main
from spatialsim.costmodel.params import CostParams
from spatialsim.design.overrides import apply_settings
from spatialsim.design.templates import build_design
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.hardware.platform import get_platform
from spatialsim.workload.models import get_model

U280 = get_platform("u280")
HEADER = "model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms\n"
TRUTH = {"cost.launch_overhead_us": 20.0, "hbm.read_bw_gbps": 11.5}
STRUCTURE = (("kind.gemv.order", "column"), ("design.launch_scope", "region"))
RUNS = (
    ("gpt2", 16, 3, 2),
    ("gpt2-medium", 32, 3, 2),
    ("gpt2", 64, 4, 3),
    ("gpt2-medium", 64, 2, 4),
    ("gpt2-medium", 128, 3, 2),
    ("gpt2", 32, 2, 6),
)
NOISE = 0.005


def truth_run(model: str, prompt: int, gen: int, layers: int):  # type: ignore[no-untyped-def]
    cost, plat = apply(TRUTH, CostParams(), U280)
    d = apply_settings(build_design("chen2024-w8a8", get_model(model), prompt + gen), STRUCTURE)
    return simulate(d, plat, RunConfig(prompt_len=prompt, gen_len=gen, layers=layers, params=cost))


def board_csv(path: Path, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for model, prompt, gen, layers in RUNS:
        r = truth_run(model, prompt, gen, layers)
        assert r.tpot_ms is not None
        ttft, tpot = (v * (1 + NOISE * rng.normal()) for v in (r.ttft_ms, r.tpot_ms))
        rows.append(f"{model},chen2024-w8a8,u280,{layers},{prompt},{gen},250,{ttft:.6f},{tpot:.6f}")
    path.write_text(HEADER + "\n".join(rows) + "\n")


def xrt_summary(path: Path) -> str:
    """An XRT profile summary (xrt_profile.md layout) of one truth run: the three region
    compute units, their calls and mean time per call."""
    run = BoardRun(str(path), 0, "gpt2-medium", "chen2024-w8a8", "u280", 4, 64, 8, 250.0, None, None)
    cost, plat = apply(TRUTH, CostParams(), U280)
    sim = RunPredictor(run, cost, plat, STRUCTURE)
    lines = [
        "Profile Summary",
        "Profiled application: gpt2_host",
        "Target devices: xilinx_u280_gen3x16_xdma_base_1",
        "Flow mode: System Run",
        "",
        "Compute Unit Utilization",
        "Device,Compute Unit,Kernel,Number Of Calls,Total Time (ms),Minimum Time (ms),"
        "Average Time (ms),Maximum Time (ms),Clock Frequency (MHz),",
    ]
    for i in (1, 2, 3):
        calls, mean, _ = _cu_model(sim, f"region_{i}", {})
        lines.append(
            f"u280,GPT_region_{i}_1,GPT_region_{i},{int(calls)},{calls * mean:.6f},"
            f"{mean * 0.98:.6f},{mean:.6f},{mean * 1.02:.6f},250,"
        )
    path.write_text("\n".join(lines) + "\n")
    return "model=gpt2-medium,layers=4,prompt_len=64,gen_len=8"


def test_synthetic_truth_structure_parameters_and_held_out_predictions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board_csv(tmp_path / "board.csv")
    xrun = xrt_summary(tmp_path / "summary.csv")
    prof = tmp_path / "p.toml"
    args = [
        "calibrate",
        "--board",
        str(tmp_path / "board.csv"),
        "--xrt",
        str(tmp_path / "summary.csv"),
        *[a for i in (1, 2, 3) for a in ("--map", f"GPT_region_{i}_1=region_{i}")],
        "--xrt-run",
        xrun,
        "--choose",
        "kind.gemv.order=row,column",
        "--choose",
        "design.launch_scope=region,layer",
        "--noise",
        f"board={NOISE}",
        "--no-loo",
        "--plot",
        str(tmp_path / "plots"),
        "--out",
        str(prof),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    doc = tomllib.loads(prof.read_text())
    # the structure that generated the data wins, clearly, against each alternative
    assert doc["structure"]["settings"] == dict(STRUCTURE)
    alts = doc["structure"]["alternatives"]
    assert alts[0]["chosen"] and len(alts) == 4
    assert all(alts[0]["log_evidence"] - a["log_evidence"] > 2.3 for a in alts[1:])
    assert "chosen: kind.gemv.order=column, design.launch_scope=region" in out
    # the true parameters lie inside their 95 % intervals
    for name, value in TRUTH.items():
        p = doc["parameters"][name]
        assert p["ci95"][0] < value < p["ci95"][1], (name, p)
        assert p["status"] == "fitted"
    assert doc["parameters"]["cost.slr_crossing_cycles"]["status"] == "at its prior"
    for png in ("observed_vs_predicted.png", "priors_posteriors.png", "structures.png"):
        assert (tmp_path / "plots" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # held out: another model and other lengths, predicted within 2 %
    for model, prompt, gen in (("gpt2-large", 48, 3), ("gpt2-medium", 96, 4)):
        assert (
            main(
                [
                    "run",
                    "--model",
                    model,
                    "--prompt-len",
                    str(prompt),
                    "--gen-len",
                    str(gen),
                    "--layers",
                    "3",
                    "--calibration",
                    str(prof),
                    "--json",
                    "-",
                ]
            )
            == 0
        )
        pred = json.loads(capsys.readouterr().out)
        true = truth_run(model, prompt, gen, 3)
        assert pred["ttft_ms"] == pytest.approx(true.ttft_ms, rel=0.02), model
        assert pred["tpot_ms"] == pytest.approx(true.tpot_ms, rel=0.02), model
        lo, hi = pred["calibration"]["tpot_ms_ci95"]
        assert lo < true.tpot_ms < hi, (model, lo, true.tpot_ms, hi)
