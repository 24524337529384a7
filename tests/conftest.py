"""Shared fixtures: the ../shared reference folder, skipped with a reason when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def shared() -> Path:
    if not (SHARED / "reference").is_dir():
        pytest.skip(f"needs the ../shared reference folder ({SHARED} not found)")
    return SHARED
