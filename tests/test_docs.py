"""Every ``python`` block of docs/api.md runs as written (from the repository root)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.S)


def test_the_api_page_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_api_doc_block_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    old = os.getcwd()
    os.chdir(ROOT)  # the blocks name files relative to the repository, as a reader would
    try:
        exec(compile(code, "docs/api.md", "exec"), {"__name__": "__docs__"})
    finally:
        os.chdir(old)
    capsys.readouterr()
