"""Calibration: measurement files, identifiability, fits that recover known parameters with
honest intervals, profiles that runs apply with error bars, and the shipped profile."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from spatialsim.calibration.fit import Observation, apply, current_values, fit
from spatialsim.calibration.measurements import load_board_csv, load_hbm_csv
from spatialsim.calibration.priors import PRIORS
from spatialsim.calibration.profile import load
from spatialsim.cli.main import main
from spatialsim.costmodel.params import CostParams
from spatialsim.design.templates import build_design
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.errors import UserError
from spatialsim.hardware.platform import get_platform
from spatialsim.workload.models import get_model

U280 = get_platform("u280")
HEADER = "model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms\n"


def test_fit_recovers_parameters_of_a_known_linear_model() -> None:
    rng = np.random.default_rng(0)
    base = current_values(CostParams(), U280)
    truth = {"cost.launch_overhead_us": 12.0, "cost.slr_crossing_cycles": 9.0}
    obs = []
    for i in range(8):
        a, b = 1 + i, 3 + 2 * i
        value = (
            a * truth["cost.launch_overhead_us"] + b * truth["cost.slr_crossing_cycles"] + 50
        ) * (1 + 0.002 * rng.normal())
        obs.append(
            Observation(
                f"m{i}",
                "test",
                value,
                "x",
                lambda v, a=a, b=b: (
                    a * v["cost.launch_overhead_us"] + b * v["cost.slr_crossing_cycles"] + 50
                ),
                noise=0.002,
            )
        )
    res = fit(obs, [*truth, "cost.axi_outstanding_reads"], base)
    for name, value in truth.items():
        lo, hi = res.ci95[name]
        assert lo < value < hi, name
        assert res.values[name] == pytest.approx(value, rel=0.05)
    # what no measurement depends on stays at its prior, with the prior's width
    assert res.fixed == {"cost.axi_outstanding_reads": "at its prior: no measurement depends on it"}
    assert res.values["cost.axi_outstanding_reads"] == pytest.approx(16.0)
    assert res.ci95["cost.axi_outstanding_reads"] == pytest.approx(
        PRIORS["cost.axi_outstanding_reads"].interval95(), rel=1e-3
    )
    assert res.fitted == list(truth)
    assert all(r.loo_error is not None and abs(r.loo_error) < 0.02 for r in res.residuals)
    assert res.discrepancy < 0.002  # the model is the truth: nothing beyond the noise


def test_parameters_seen_only_as_a_sum_are_anticorrelated_not_refused() -> None:
    """Data that see two parameters only through their sum determine the sum; each alone
    keeps most of its prior width, and the posterior says so through their correlation."""
    base = current_values(CostParams(), U280)
    obs = [
        Observation(
            f"m{i}",
            "test",
            100.0 + 0.01 * i,
            "x",
            lambda v: v["cost.launch_overhead_us"] + v["cost.slr_crossing_cycles"] + 90,
            noise=0.001,
        )
        for i in range(5)
    ]
    names = ["cost.launch_overhead_us", "cost.slr_crossing_cycles"]
    res = fit(obs, names, base)
    total = res.values[names[0]] + res.values[names[1]]
    assert total == pytest.approx(10.02, rel=0.01)
    cov = res.covariance
    corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert corr < -0.9
    sum_sd = np.sqrt(cov[0, 0] + cov[1, 1] + 2 * cov[0, 1])
    assert sum_sd < 0.2 * min(res.stderr.values())


def test_measurement_files_are_checked(tmp_path: Path) -> None:
    bad = tmp_path / "b.csv"
    bad.write_text("model,design,ttft_ms\ngpt2,chen2024-w8a8,3\n")
    with pytest.raises(UserError, match="missing column"):
        load_board_csv(bad)
    bad.write_text(HEADER + "gpt2,chen2024-w8a8,u280,2,16,0,250,abc,\n")
    with pytest.raises(UserError, match=r"row 2: ttft_ms = 'abc' is not a number"):
        load_board_csv(bad)
    bad.write_text(HEADER + "gpt2,chen2024-w8a8,u280,2,16,0,250,,5\n")
    with pytest.raises(UserError, match="tpot_ms needs gen_len > 0"):
        load_board_csv(bad)
    bad.write_text(HEADER.strip() + ",speed\n")
    with pytest.raises(UserError, match="unknown column 'speed'"):
        load_board_csv(bad)
    hbm = tmp_path / "h.csv"
    hbm.write_text("quantity,value,unit,conditions,kind,source\npc_seq_read_bw,-1,GB/s,,x,y\n")
    with pytest.raises(UserError, match="must be positive"):
        load_hbm_csv(hbm)


def board_csv(path: Path, truth: dict[str, float], noise: float = 0.005) -> None:
    """Board runs synthesised by the simulator with 'true' parameters off the defaults,
    with seeded measurement noise of ``noise`` (relative)."""
    rng = np.random.default_rng(42)
    cost, plat = apply(truth, CostParams(), U280)
    rows = []
    for model, prompt, gen in (
        ("gpt2", 16, 4),
        ("gpt2", 48, 4),
        ("gpt2", 32, 8),
        ("bert-base", 24, 2),
        ("gpt2", 64, 2),
    ):
        d = build_design("chen2024-w8a8", get_model(model), prompt + gen)
        r = simulate(d, plat, RunConfig(prompt_len=prompt, gen_len=gen, layers=2, params=cost))
        assert r.tpot_ms is not None
        ttft, tpot = (v * (1 + noise * rng.normal()) for v in (r.ttft_ms, r.tpot_ms))
        rows.append(f"{model},chen2024-w8a8,u280,2,{prompt},{gen},250,{ttft:.6f},{tpot:.6f}")
    path.write_text(HEADER + "\n".join(rows) + "\n")


def test_board_runs_calibrate_then_predict_another_model_with_error_bars(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = {"cost.launch_overhead_us": 15.0, "cost.hbm_efficiency": 0.9}
    board_csv(tmp_path / "board.csv", truth)
    prof = tmp_path / "p.toml"
    assert main(["calibrate", "--board", str(tmp_path / "board.csv"), "--out", str(prof)]) == 0
    out = capsys.readouterr().out
    assert "board: 10 measurements" in out and "leave-one-out" in out
    doc = tomllib.loads(prof.read_text())
    for name, value in truth.items():
        p = doc["parameters"][name]
        assert p["ci95"][0] < value < p["ci95"][1], name  # the truth is inside
    # two-layer runs see the launch, wait and per-token host costs and the HBM efficiency
    # only in combination (every run has two layers): the intervals hold the truth, the
    # predictions below are what is pinned
    assert (
        "cost.slr_crossing_cycles" in doc["fixed"]
        or "cost.slr_crossing_cycles" in doc["parameters"]
    )
    # predict a model and design the fit never saw, with a 95 % interval
    assert (
        main(
            [
                "run",
                "--model",
                "gpt2-medium",
                "--design",
                "chen2024-w8a8",
                "--prompt-len",
                "32",
                "--gen-len",
                "4",
                "--layers",
                "2",
                "--calibration",
                str(prof),
                "--json",
                "-",
            ]
        )
        == 0
    )
    pred = json.loads(capsys.readouterr().out)
    cal = pred["calibration"]
    lo, hi = cal["tpot_ms_ci95"]
    assert lo < pred["tpot_ms"] < hi and cal["tpot_ms_stderr"] > 0
    cost, plat = apply(truth, CostParams(), U280)
    d = build_design("chen2024-w8a8", get_model("gpt2-medium"), 36)
    true = simulate(d, plat, RunConfig(prompt_len=32, gen_len=4, layers=2, params=cost))
    print(f"predicted TPOT {pred['tpot_ms']:.4f} ms [{lo:.4f}, {hi:.4f}]; true {true.tpot_ms:.4f}")
    assert lo - (hi - lo) / 2 < true.tpot_ms < hi + (hi - lo) / 2  # within ~2 sigma of it
    # within 3 %: every board run has two GPT-2 layers, so the per-token host cost and the
    # HBM efficiency are seen together; a model with 2.3x the weights per layer
    # extrapolates their split
    assert true.tpot_ms == pytest.approx(pred["tpot_ms"], rel=0.03)


def test_run_with_a_profile_reports_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "run",
                "--prompt-len",
                "16",
                "--gen-len",
                "2",
                "--layers",
                "2",
                "--calibration",
                "u280",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "+-" in out and "calibration profile u280" in out
    with pytest.raises(SystemExit):
        main(["run", "--calibration"])
    assert (
        main(
            [
                "run",
                "--layers",
                "1",
                "--gen-len",
                "0",
                "--platform",
                "u55c",
                "--calibration",
                "u280",
            ]
        )
        == 2
    )
    assert "was fitted on u280" in capsys.readouterr().err


def test_shipped_profile_loads_and_says_what_it_could_not_fit() -> None:
    prof = load("u280")
    assert prof.platform == "u280"
    assert prof.values["hbm.read_bw_gbps"] == pytest.approx(13.2, rel=0.01)
    assert "cost.launch_overhead_us" not in prof.values
    assert any("no measurement depends on it" in why for why in prof.fixed.values())
    assert {n for names, _ in prof.blocks for n in names} == set(prof.values)


def test_shipped_profile_is_reproducible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command recorded in the profile re-derives it from the samples in examples/."""
    root = Path(__file__).resolve().parents[1]
    shipped = root / "spatialsim/calibration/data/u280.toml"
    ref = root / "examples"
    out = tmp_path / "u280.toml"
    assert (
        main(
            [
                "calibrate",
                "--hbm",
                str(ref / "calibration/u280_hbm.csv"),
                "--hls",
                *(
                    str(ref / f"vitis_reports/chen2024_w4a8_gpt2m/region_{i}_csynth.rpt")
                    for i in (1, 2, 3)
                ),
                "--hls-design",
                "chen2024-w4a8",
                "--hls-model",
                "gpt2-medium",
                "--hls-seq-len",
                "128",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    a, b = tomllib.loads(shipped.read_text()), tomllib.loads(out.read_text())
    assert a["parameters"].keys() == b["parameters"].keys()
    for name, p in a["parameters"].items():
        assert b["parameters"][name]["value"] == pytest.approx(p["value"], rel=1e-6), name
        assert b["parameters"][name]["ci95"] == pytest.approx(p["ci95"], rel=1e-5), name
    assert a["fixed"] == b["fixed"]
    assert a["summary"]["hls"]["rms_error"] < 0.002
