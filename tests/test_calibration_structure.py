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
TRUTH = {"cost.launch_overhead_us": 20.0, "cost.hbm_efficiency": 0.87}
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
    run = BoardRun(
        str(path), 0, "gpt2-medium", "chen2024-w8a8", "u280", 4, 64, 8, 250.0, None, None
    )
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
    return "model=gpt2-medium,design=chen2024-w8a8,layers=4,prompt_len=64,gen_len=8"


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


def one_run_csv(path: Path, ttft_scale: float, tpot_scale: float) -> tuple[float, float]:
    """One GPT-2-medium W8A8 board run (24 layers, l = 128, 8 tokens): the truth with
    launch and wait costs, its times scaled."""
    cost, plat = apply({"cost.launch_overhead_us": 20.0}, CostParams(), U280)
    d = build_design("chen2024-w8a8", get_model("gpt2-medium"), 136)
    r = simulate(d, plat, RunConfig(prompt_len=128, gen_len=8, layers=24, params=cost))
    assert r.tpot_ms is not None
    ttft, tpot = r.ttft_ms * ttft_scale, r.tpot_ms * tpot_scale
    path.write_text(HEADER + f"gpt2-medium,chen2024-w8a8,u280,24,128,8,250,{ttft:.6f},{tpot:.6f}\n")
    return ttft, tpot


def predict_that_run(capsys: pytest.CaptureFixture[str], prof: Path) -> dict[str, object]:
    args = ["run", "--prompt-len", "128", "--gen-len", "8", "--calibration", str(prof)]
    assert main([*args, "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_a_single_consistent_board_run_moves_what_it_determines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ttft, tpot = one_run_csv(tmp_path / "one.csv", 1.0, 1.0)
    prof = tmp_path / "one.toml"
    assert main(["calibrate", "--board", str(tmp_path / "one.csv"), "--out", str(prof)]) == 0
    out = capsys.readouterr().out
    doc = tomllib.loads(prof.read_text())
    params = doc["parameters"]
    # two numbers: the host cost and the HBM rate they determine move; the rest stay at
    # their priors, and the report says which
    moved = {n for n, p in params.items() if p["status"] == "fitted"}
    assert moved and moved <= {
        "cost.launch_overhead_us",
        "cost.hbm_efficiency",
        "cost.wait_overhead_us",
        "cost.token_overhead_us",
    }
    assert "at their priors" in out and "cost.slr_crossing_cycles" in doc["fixed"]
    assert (
        params["cost.launch_overhead_us"]["ci95"][0]
        < 20.0
        < params["cost.launch_overhead_us"]["ci95"][1]
    )
    # both numbers reproduced within the 1 % noise, no discrepancy
    for r in doc["residuals"]:
        assert abs(r["error"]) < 0.01, r
    assert doc["discrepancy"]["board"]["relative"] < 0.005
    pred = predict_that_run(capsys, prof)
    assert pred["ttft_ms"] == pytest.approx(ttft, rel=0.01)
    assert pred["tpot_ms"] == pytest.approx(tpot, rel=0.01)


def test_a_board_run_faster_than_the_model_reports_its_discrepancy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A board 25 % faster in prefill than any parameter of this structure allows: the fit
    does what the priors let it and reports the rest as discrepancy, which then widens the
    prediction intervals of run --calibration so that they cover the measurement."""
    ttft, tpot = one_run_csv(tmp_path / "fast.csv", 0.75, 1.0)
    prof = tmp_path / "fast.toml"
    assert main(["calibrate", "--board", str(tmp_path / "fast.csv"), "--out", str(prof)]) == 0
    out = capsys.readouterr().out
    doc = tomllib.loads(prof.read_text())
    delta = doc["discrepancy"]["board"]["relative"]
    assert delta > 0.05, delta
    assert f"model discrepancy beyond the noise: {delta:.2%}" in out
    pred = predict_that_run(capsys, prof)
    cal = pred["calibration"]
    lo, hi = cal["ttft_ms_ci95"]
    assert lo < ttft < hi  # the interval includes what the model could not explain
    assert (hi - lo) / 2 > 1.9 * delta * pred["ttft_ms"]
    lo, hi = cal["tpot_ms_ci95"]
    assert lo < tpot < hi


def test_xrt_inputs_are_checked_against_the_profile_and_the_design(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xrun = xrt_summary(tmp_path / "summary.csv")
    base = ["calibrate", "--xrt", str(tmp_path / "summary.csv"), "--xrt-run", xrun]
    out = ["--out", str(tmp_path / "p.toml")]
    assert main([*base, "--map", "nope_1=region_1", *out]) == 2
    assert "no compute unit 'nope_1' in the profile; compute units: GPT_region_1_1" in (
        capsys.readouterr().err
    )
    assert main([*base, "--map", "GPT_region_1_1=region_9", *out]) == 2
    assert "--map target 'region_9' names no kernel" in capsys.readouterr().err
    assert (
        main(
            [
                "calibrate",
                "--xrt",
                str(tmp_path / "summary.csv"),
                "--map",
                "GPT_region_1_1=region_1",
                "--xrt-run",
                "layers=0",
                *out,
            ]
        )
        == 2
    )
    assert "--xrt-run layers='0'" in capsys.readouterr().err
    # a profile does not say which run it is of: the command asks instead of guessing
    for given in ("", "prompt_len=64,gen_len=8", "model=gpt2-medium,design=chen2024-w8a8"):
        run = ["--xrt-run", given] if given else []
        args = ["calibrate", "--xrt", str(tmp_path / "summary.csv"), "--map",
                "GPT_region_1_1=region_1", *run, *out]  # fmt: skip
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "does not say which run it is of; give" in err and "Traceback" not in err
        missing = [k for k in ("model", "design", "prompt_len", "gen_len") if k not in given]
        assert f"give {', '.join(missing)} (" in err, err
    assert not (tmp_path / "p.toml").exists()


def test_a_profiles_kernel_values_apply_only_to_the_build_they_were_fitted_to() -> None:
    """The shipped profile's design.* values come from the W4A8 report; the W8A8 GeLU keeps
    its own depth under it."""
    from spatialsim.calibration.profile import load

    prof = load("u280")
    assert prof.meta["hls_design"] == "chen2024-w4a8"
    w8 = build_design("chen2024-w8a8", get_model("gpt2-medium"), 64)
    w4 = build_design("chen2024-w4a8", get_model("gpt2-medium"), 64)
    assert prof.apply_design(w8).bitstreams["decode"].nodes["gelu"]["act_depth_cycles"] == 38.0
    fitted = prof.values["design.act_depth_cycles"]
    assert prof.apply_design(w4).bitstreams["layer"].nodes["gelu"]["act_depth_cycles"] == fitted


def device_trace(path: Path, calls: int, mean_ms: float, gap_ms: float) -> None:
    """A VTF device trace (xrt_profile.md) of one compute unit: ``calls`` executions of
    ``mean_ms`` separated by ``gap_ms``."""
    lines = [
        "HEADER",
        "VTF File Version,1.0",
        "Resolution,ms",
        "STRUCTURE",
        "Group_Start,Device,u280",
        "Group_Start,GPT_region_3_1,Compute Unit",
        "Dynamic_Row_Summary,3,Executions,",
        "Group_End,GPT_region_3_1",
        "Group_End,Device",
        "MAPPING",
        "10,GPT_region_3",
        "11,GPT_region_3_1",
        "EVENTS",
    ]
    t, eid = 0.0, 1
    for _ in range(calls):
        lines.append(f"{eid},0,{t:.6f},3,KERNEL,10,11,")
        lines.append(f"{eid + 1},{eid},{t + mean_ms:.6f},3,KERNEL,10,11,")
        eid += 2
        t += mean_ms + gap_ms
    path.write_text("\n".join(lines) + "\n")


def test_a_device_trace_gives_calls_durations_and_gaps_that_fit_the_host_costs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The gap between one region's executions is the layer time it does not cover, in
    which the host launches and waits: a trace measures the host costs directly."""
    run = BoardRun("t", 0, "gpt2-medium", "chen2024-w8a8", "u280", 4, 64, 8, 250.0, None, None)
    truth = {"cost.launch_overhead_us": 30.0, "cost.wait_overhead_us": 10.0}
    cost, plat = apply(truth, CostParams(), U280)
    calls, mean, gap = _cu_model(RunPredictor(run, cost, plat), "region_3", {})
    device_trace(tmp_path / "device_trace_0.csv", int(calls), mean, gap)
    prof = tmp_path / "p.toml"
    args = [
        "calibrate",
        "--xrt",
        str(tmp_path / "device_trace_0.csv"),
        "--map",
        "GPT_region_3_1=region_3",
        "--xrt-run",
        "model=gpt2-medium,design=chen2024-w8a8,layers=4,prompt_len=64,gen_len=8",
        "--out",
        str(prof),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "gap between calls (region_3)" in out
    doc = tomllib.loads(prof.read_text())
    rows = {r["label"].split(" ", 1)[1]: r for r in doc["residuals"]}
    assert rows["GPT_region_3_1 calls (region_3)"]["observed"] == calls
    assert abs(rows["GPT_region_3_1 gap between calls (region_3)"]["error"]) < 0.02
    params = {n: p["value"] for n, p in doc["parameters"].items()}
    assert doc["parameters"]["cost.launch_overhead_us"]["status"] == "fitted"
    # the host time per call: launch and wait each call, the per-token cost once per 4-layer
    # decode step (8 of the 36 calls' gaps hold one); the gaps determine this sum
    total = (
        params["cost.launch_overhead_us"]
        + params["cost.wait_overhead_us"]
        + params["cost.token_overhead_us"] * 8 / 36
    )
    assert total == pytest.approx(40.0, rel=0.1)


def test_every_calibratable_parameter_has_a_documented_prior() -> None:
    from spatialsim.calibration.fit import PARAMS
    from spatialsim.calibration.priors import PRIORS

    assert set(PRIORS) == set(PARAMS)
    for name, p in PRIORS.items():
        lo, hi = p.interval95()
        assert PARAMS[name].lower <= lo < hi <= PARAMS[name].upper * 10, name
        assert len(p.source) > 10, name


def test_board_rows_may_name_a_design_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user's own design file in the board CSV is simulated (and checked like a run)."""
    design = tmp_path / "mine.toml"
    assert (
        main(
            [
                "design",
                "--model",
                "gpt2",
                "--max-seq-len",
                "64",
                "--seq-len",
                "64",
                "--out",
                str(design),
            ]
        )
        == 0
    )
    board = tmp_path / "b.csv"
    board.write_text(HEADER + f"gpt2,{design},u280,2,16,3,250,2.7,0.44\n")
    assert main(["calibrate", "--board", str(board), "--out", str(tmp_path / "p.toml")]) == 0
    board.write_text(HEADER + f"gpt2,{design},u280,2,100,3,250,2.7,0.44\n")
    capsys.readouterr()
    assert main(["calibrate", "--board", str(board), "--out", str(tmp_path / "p.toml")]) == 2
    assert "exceeds the design file's max_seq_len 64" in capsys.readouterr().err


def test_plot_into_a_file_is_refused_and_the_profile_is_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board_csv(tmp_path / "board.csv")
    (tmp_path / "afile").write_text("x")
    args = ["calibrate", "--board", str(tmp_path / "board.csv"), "--no-loo"]
    assert main([*args, "--plot", str(tmp_path / "afile"), "--out", str(tmp_path / "p.toml")]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert not (tmp_path / "p.toml").exists()


def test_a_structure_fitted_over_several_designs_skips_kernels_a_design_lacks() -> None:
    """A search over a board's W8A8 design and an HLS report's W4A8 design proposes the
    GEMVs' loop order; on the W4A8 design (whose ffn1 is an array) it changes nothing, where
    a user's `--set` of the same would be refused, naming the parameter."""
    from spatialsim.design.overrides import apply_settings
    from spatialsim.design.templates import build_design
    from spatialsim.errors import UserError
    from spatialsim.workload.models import get_model

    w4 = build_design("chen2024-w4a8", get_model("gpt2-medium"), 64)
    w8 = build_design("chen2024-w8a8", get_model("gpt2-medium"), 64)
    settings = [("kernel.ffn1.order", "column")]
    same = apply_settings(w4, settings, every_kind=False)
    assert dict(same.graph("prefill").nodes["ffn1"]) == dict(w4.graph("prefill").nodes["ffn1"])
    moved = apply_settings(w8, settings, every_kind=False)
    assert moved.graph("decode").nodes["ffn1"]["order"] == "column"
    with pytest.raises(UserError, match="kernel ffn1 \\(linear\\) has no parameter 'order'"):
        apply_settings(w4, settings)
