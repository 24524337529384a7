"""Commands pay only for what they use: the CLI and a default run never import scipy or
matplotlib (bench/startup.py times it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import contextlib, io, sys
from spatialsim.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main({argv!r})
    except SystemExit:
        pass
print(sorted(m for m in ("scipy", "matplotlib") if m in sys.modules))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["run", "--layers", "1", "--prompt-len", "8", "--gen-len", "1"],
        ["analyze"],
        ["kernels"],
    ],
)
def test_commands_do_not_load_scipy_or_matplotlib(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
