"""The code passes the project's linters: ruff (lint and format) and mypy --strict.

They run as tests so that README's one test command, and so CI, checks them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TREES = ["spatialsim", "tests", "bench", "plots", "examples"]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=ROOT, capture_output=True, text=True, timeout=600)


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed; it is in the test extra (pip install '.[test]')"
    return found


@pytest.mark.parametrize("args", [["check"], ["format", "--check", "--diff"]])
def test_ruff(args: list[str]) -> None:
    proc = _run(_tool("ruff"), *args, *TREES)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_mypy_strict(tmp_path: Path) -> None:
    proc = _run(sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Success" in proc.stdout
