"""GPU runs through `calibrate --board`: the batch-1 GPU model's parameters fitted like
the FPGA's, recovered from synthetic runs with a known answer, and used by `compare`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import spatialsim as ss
from spatialsim.analytical.gpu import gpu_params, run
from spatialsim.calibration.job import calibrate
from spatialsim.calibration.profile import dumps
from spatialsim.cli.main import main
from spatialsim.hardware.gpu import get_gpu
from spatialsim.workload.models import get_model

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "examples" / "calibration" / "gpu_runs.csv"
HEADER = "model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms\n"


def maker():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_gpu_runs", RUNS.with_name(
        "make_gpu_runs.py"))  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_runs_are_what_their_script_makes() -> None:
    assert RUNS.read_text(encoding="utf-8") == maker().make()


def test_calibration_recovers_the_hidden_gpu_parameters() -> None:
    truth = maker().TRUTH
    cal = calibrate(board=RUNS, loo=False)
    res = cal.fits["board"]
    for name, value in truth.items():
        lo, hi = res.ci95[f"gpu.{name}"]
        assert lo <= value <= hi, (name, value, lo, hi)
        assert res.values[f"gpu.{name}"] == pytest.approx(value, rel=0.03), name
    assert cal.doc["profile"]["platform"] == "a100-80gb"
    assert res.discrepancy < 0.01


def write(tmp: Path, *rows: str) -> Path:
    path = tmp / "runs.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        (
            ["gpt2,eager,a100-80gb,12,32,8,1410,1.37,1.38",
             "gpt2,chen2024-w8a8,u280,4,32,8,250,8.95,0.95"],
            "row 3: platform u280 is an FPGA among GPU runs",
        ),
        (
            ["gpt2,eager,a100-80gb,12,32,8,1410,1.37,1.38", "gpt2,eager,l4,12,32,8,1410,2,2"],
            "GPU runs on a100-80gb, l4; a profile describes one GPU",
        ),
        (
            ["gpt2,turbo,a100-80gb,12,32,8,1410,1.37,1.38"],
            "row 2: design = 'turbo': a GPU run's design is its execution mode, one of eager, "
            "graphs",
        ),
        (["gpt2,eager,a100-80gb,13,32,8,1410,1.37,1.38"], "layers = 13, but gpt2 has 12"),
    ],
)  # fmt: skip
def test_bad_gpu_runs_are_refused_naming_the_row(
    tmp_path: Path, rows: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, *rows)
    assert main(["calibrate", "--board", str(path), "--out", str(tmp_path / "p.toml")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err, err
    assert not (tmp_path / "p.toml").exists()


def test_compare_uses_the_fitted_gpu_and_refuses_another_gpus_profile(tmp_path: Path) -> None:
    cal = calibrate(board=RUNS, loo=False)
    profile = tmp_path / "a100.toml"
    profile.write_text(dumps(cal.doc), encoding="utf-8")
    rep = ss.compare(model="gpt2", prompt_len=32, gen_len=4, designs=("chen2024-w8a8",),
                     gpu="a100-80gb", gpu_mode="eager", gpu_calibration=str(profile))  # fmt: skip
    fitted = {k[4:]: v for k, v in cal.fits["board"].values.items()}
    want = run(get_model("gpt2"), get_gpu("a100-80gb"), 32, 4, "eager", "fp16",
               gpu_params(fitted))  # fmt: skip
    assert rep.gpu is not None and rep.gpu.tpot_ms == pytest.approx(want.tpot_ms, rel=1e-12)
    row = rep.to_json()["rows"][-1]
    assert row["gpu"]["calibration"] == str(profile)
    # --gpu-param still wins over the profile
    over = ss.compare(model="gpt2", prompt_len=32, gen_len=4, designs=("chen2024-w8a8",),
                      gpu="a100-80gb", gpu_mode="eager", gpu_calibration=str(profile),
                      gpu_params=["eager_launch_us=20"])  # fmt: skip
    assert over.gpu is not None and over.gpu.params.eager_launch_us == 20
    with pytest.raises(ss.UserError, match="fitted to runs on a100-80gb, but the GPU is l4"):
        ss.compare(model="gpt2", prompt_len=32, gen_len=4, designs=("chen2024-w8a8",),
                   gpu="l4", gpu_calibration=str(profile))  # fmt: skip
    with pytest.raises(ss.UserError, match="holds no GPU parameters"):
        ss.compare(model="gpt2", prompt_len=32, gen_len=4, designs=("chen2024-w8a8",),
                   gpu="a100-80gb", gpu_calibration="u280")  # fmt: skip
