"""The scripts in examples/ run and print what their saved .out files hold (as SimPy checks
its documentation examples): the API they show keeps working and keeps its numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_every_example_has_its_expected_output() -> None:
    assert len(EXAMPLES) >= 4
    for script in EXAMPLES:
        assert script.with_suffix(".out").exists(), script.name


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_prints_its_expected_output(script: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == script.with_suffix(".out").read_text()
    for line in proc.stdout.splitlines():
        if line.startswith("wrote "):  # a figure: a real PNG in the folder it was given
            png = tmp_path / line.split()[1]
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert png.stat().st_size > 10_000
