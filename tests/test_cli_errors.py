"""The newer subcommands refuse bad input with a clear message, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["calibrate", "--out", "x.toml"], "nothing to calibrate against"),
        (["calibrate", "--board", "missing.csv", "--out", "x.toml"], "missing.csv: cannot read"),
        (
            ["calibrate", "--hbm", "missing.csv", "--platform", "u999", "--out", "x.toml"],
            "unknown platform 'u999'",
        ),
        (
            [
                "calibrate",
                "--board",
                "traces/poisson_100.csv",
                "--choose",
                "kind.gemv.order=row",
                "--out",
                "x.toml",
            ],
            "give at least two alternatives",
        ),
        (
            [
                "calibrate",
                "--board",
                "b.csv",
                "--choose",
                "ffn1.cols=8,16",
                "--out",
                "x.toml",
            ],
            "expected kernel.<name>.<param>=V1,V2",
        ),
        (
            ["calibrate", "--board", "b.csv", "--noise", "board=2", "--out", "x.toml"],
            "1e-06 <= REL < 1",
        ),
        (
            ["calibrate", "--board", "b.csv", "--noise", "board=nan", "--out", "x.toml"],
            "1e-06 <= REL < 1",
        ),
        (["calibrate", "--xrt", "s.csv", "--out", "x.toml"], "--xrt needs --map CU=TARGET"),
        (
            ["calibrate", "--board", "b.csv", "--noise", "board=inf", "--out", "x.toml"],
            "1e-06 <= REL < 1",
        ),
        (
            [
                "calibrate",
                "--xrt",
                "README.md",
                "--map",
                "a=region_1",
                "--xrt-run",
                "clock_mhz=nan",
                "--out",
                "x.toml",
            ],
            "--xrt-run clock_mhz='nan': expected MHz in [1, 1000]",
        ),
        (
            [
                "calibrate",
                "--board",
                "traces/poisson_100.csv",
                "--choose",
                "design.launch_scope=bogus,region",
                "--out",
                "x.toml",
            ],
            "--choose design.launch_scope=bogus: after set: design chen2024-w8a8: unknown "
            "launch_scope 'bogus'",
        ),
        (
            ["calibrate", "--board", "b.csv", "--map", "cu=region_1", "--out", "x.toml"],
            "--map names compute units of an --xrt profile",
        ),
        (
            ["calibrate", "--xrt", "s.csv", "--map", "cu", "--out", "x.toml"],
            "--map 'cu': expected CU=TARGET",
        ),
        (["replay", "--trace", "missing.csv"], "missing.csv: cannot read trace"),
        (
            ["replay", "--trace", "traces/poisson_100.csv", "--limit", "0"],
            "expected a positive integer",
        ),
        (["replay", "--trace", "traces/poisson_100.csv", "--design", "nope"], "unknown design"),
        (["trace", "--prompt", "normal:3"], "lognormal:MEDIAN:SIGMA"),
        (["trace", "--rate", "0"], "expected a positive number"),
        (["trace", "--prompt", "uniform:50:10"], "upper bound 10 is below the lower bound 50"),
        (["plot", "no-such-folder"], "not a folder"),
        (["kernels", "--phase", "middle"], "invalid choice: 'middle'"),
        (
            ["export-hls", "--design", "chen2024-w4a8"],
            "the following arguments are required: --out",
        ),
        (["report-hls", "README.md"], "not a Vitis HLS synthesis report"),
        (
            ["run", "--calibration", "no-such-profile.toml", "--layers", "1"],
            "calibration profile 'no-such-profile.toml': cannot read",
        ),
    ],
)
def test_bad_input(args: list[str], needle: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "spatialsim.cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
