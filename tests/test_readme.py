"""README's quoted outputs are what the tool prints now (a saved-output check, as SimPy's
examples do): the demo summary's first lines and the validation table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def block_after(text: str, marker: str) -> str:
    i = text.index(marker)
    a = text.index("```\n", i) + 4
    b = text.index("```", a)
    return text[a:b]


def cli(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "spatialsim.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_quick_start_demo_excerpt_matches_the_demo(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    quoted = block_after(readme, "The summary\nbegins:").replace("...\n", "")
    out = cli("demo", cwd=tmp_path)
    assert out.startswith(quoted), "README's demo excerpt is stale: rerun spatialsim demo"


def test_validation_table_matches_spatialsim_validate(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    quoted = block_after(readme, "## Validation")
    assert cli("validate", cwd=tmp_path) == quoted, (
        "README's validation table is stale: rerun spatialsim validate"
    )
