"""The command line as a user meets it: help, version, JSON, files, and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spatialsim import __version__
from spatialsim.cli.main import main

SUBCOMMANDS = ("analyze", "models", "platforms", "design", "run", "demo")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spatialsim.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_version_and_help_on_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and __version__ in capsys.readouterr().out
    for cmd in SUBCOMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
        assert f"usage: spatialsim {cmd}" in capsys.readouterr().out


def test_analyze_json_has_the_promised_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "analyze",
                "--model",
                "gpt2-medium",
                "--platform",
                "u280",
                "--design",
                "chen2024-w4a8",
                "--prompt-len",
                "128",
                "--clock-mhz",
                "250",
                "--json",
                "-",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert {"prefill_ms", "decode_ms_per_token", "clock_mhz", "stages", "bound"} <= set(out)
    assert out["prefill_ms"] == pytest.approx(251.65824)
    assert out["bound"] == "ffn1" and out["stages"]["ffn1"] == 2097152
    assert set(out["stages"]) >= {"qkv", "qk_matmul", "ffn1", "mem"}
    assert out["prefill"]["sync_cycles"] == 524288


def test_analyze_clock_and_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    main(["analyze", "--json", "-"])
    base = json.loads(capsys.readouterr().out)
    main(["analyze", "--clock-mhz", "125", "--set", "kernel.ffn1.cols=32", "--json", "-"])
    slow = json.loads(capsys.readouterr().out)
    assert slow["stages"]["ffn1"] == base["stages"]["ffn1"] / 2
    assert slow["prefill_ms"] == pytest.approx(2 * base["prefill_ms"])  # still FFN2-bound


def test_readable_output_and_balance() -> None:
    res = run("analyze")
    assert res.returncode == 0, res.stderr
    assert "prefill (Eq. 8)" in res.stdout and "bound by ffn1" in res.stdout
    res = run("analyze", "--balance", "--model", "llama2-7b", "--platform", "u280")
    assert res.returncode == 0, res.stderr
    assert "best M = " in res.stdout and "'compute'" in res.stdout


def test_design_export_loads_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "mine.toml"
    assert (
        main(
            [
                "design",
                "--design",
                "chen2024-w8a8",
                "--set",
                "kernel.ffn1.cols=32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "SLR2" in capsys.readouterr().out
    assert main(["analyze", "--design", str(out), "--json", "-"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    main(["analyze", "--design", "chen2024-w8a8", "--set", "kernel.ffn1.cols=32", "--json", "-"])
    assert json.loads(capsys.readouterr().out) == from_file
    assert [p.name for p in out.parent.iterdir()] == ["mine.toml"]  # no temporary files left


def test_models_and_platforms_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0 and "llama2-13b" in capsys.readouterr().out
    assert main(["models", "gpt2", "--phase", "decode", "--tokens", "10", "--json", "-"]) == 0
    ops = {o["name"]: o for o in json.loads(capsys.readouterr().out)["operators"]}
    assert ops["qk_matmul"]["macs"] == 11 * 768
    assert main(["platforms"]) == 0 and "vck5000" in capsys.readouterr().out
    assert main(["platforms", "u280"]) == 0
    assert "Shuhai" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (("analyze", "--model", "gpt5"), "unknown model 'gpt5'; valid: bert-base"),
        (("analyze", "--platform", "u999"), "unknown platform 'u999'; valid: u250, u280"),
        (("analyze", "--design", "nope"), "unknown design 'nope'; valid: chen2024-llama-w4a8"),
        (("analyze", "--design", "missing.toml"), "design file 'missing.toml' does not exist"),
        (("analyze", "--set", "kernel.ffn1.cols=0"), "cols = 0 is out of range [1, 256]"),
        (("analyze", "--set", "kernel.ffn1.colz=2"), "has no parameter 'colz'; valid:"),
        (("analyze", "--prompt-len", "0"), "--prompt-len: expected a positive integer"),
        (
            ("analyze", "--prompt-len", "600", "--model", "bert-base"),
            "exceeds bert-base's context of 512",
        ),
        (("analyze", "--platform", "u250"), "platform u250 has no HBM"),
        (("analyze", "--clock-mhz", "2000"), "above u280's fabric ceiling"),
        (("analyze", "--clock-mhz", "nan"), "--clock-mhz: expected a positive number, got 'nan'"),
        (("analyze", "--gen-len", "-1"), "--gen-len: expected an integer >= 0, got -1"),
        (
            ("analyze", "--link-efficiency", "1.5"),
            "--link-efficiency must be a share from 0.01 to 1",
        ),
        (("design", "--set", "kernel.ffn2.rows=64", "--set", "kernel.ffn2.cols=128"), "DSP demand"),
    ],
)
def test_user_errors_are_clear_and_without_traceback(args: tuple[str, ...], message: str) -> None:
    res = run(*args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_bad_design_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[model\n")
    res = run("analyze", "--design", str(bad))
    assert res.returncode == 2 and str(bad) in res.stderr and "not valid TOML" in res.stderr


def test_json_to_a_file_is_written_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    assert main(["analyze", "--json", str(target)]) == 0
    assert json.loads(target.read_text())["design"] == "chen2024-w8a8"  # the default
