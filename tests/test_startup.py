"""Commands pay only for what they use: the CLI and a default run never import scipy or
matplotlib (bench/startup.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import contextlib, io, json, sys
from spatialsim.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        rc = main({argv!r})
    except SystemExit as stop:
        rc = stop.code
print(json.dumps([rc, sorted(m for m in ("scipy", "matplotlib") if m in sys.modules)]))
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
    rc, heavy = json.loads(proc.stdout.strip().splitlines()[-1])
    assert rc in (0, None), (argv, rc, proc.stderr[-2000:])  # a command failing early fails
    assert heavy == [], proc.stdout


LOADED = """
import json, sys
from spatialsim.cli.main import main
try:
    rc = main({argv!r})
except SystemExit as stop:
    rc = stop.code
mods = [m for m in sys.modules if m.startswith("spatialsim.cli.")]
heavy = [m for m in ("networkx", "numpy", "simpy", "scipy", "matplotlib") if m in sys.modules]
print(json.dumps([rc, sorted(mods), heavy]))
"""


def _loaded(argv: list[str]) -> tuple[int, list[str], list[str]]:
    """(exit status, spatialsim.cli modules, heavy libraries) after ``main(argv)``."""
    out = subprocess.run([sys.executable, "-c", LOADED.format(argv=argv)], capture_output=True,
                         text=True, timeout=300, check=True).stdout  # fmt: skip
    rc, mods, heavy = json.loads(out.strip().splitlines()[-1])
    return rc, mods, heavy


def test_version_and_help_import_no_command_and_no_library() -> None:
    for argv in (["--version"], ["--help"]):
        rc, mods, heavy = _loaded(argv)
        assert rc == 0
        assert set(mods) <= {"spatialsim.cli.main", "spatialsim.cli.commands",
                             "spatialsim.cli.paths"}, mods  # fmt: skip
        assert heavy == [], heavy


def test_a_command_imports_its_own_module_only() -> None:
    rc, mods, _ = _loaded(["run", "--layers", "1", "--gen-len", "1", "--prompt-len", "8"])
    assert rc == 0
    commands = {m.rsplit(".", 1)[1] for m in mods} - {"main", "commands", "paths", "common",
                                                       "progress"}  # fmt: skip
    assert commands == {"run"}, commands
