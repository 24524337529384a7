"""Every recorded configuration simulates to the same document, byte for byte (wall time and
event counts aside): see tests/engine_goldens.py for what is recorded and how."""

from __future__ import annotations

import difflib

import pytest
from engine_goldens import CASES, FOLDER, document


def test_every_configuration_is_recorded() -> None:
    assert sorted(p.stem for p in FOLDER.glob("*.json")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_results_are_identical_to_the_recorded_ones(name: str) -> None:
    expected = (FOLDER / f"{name}.json").read_text()
    got = document(CASES[name])
    if got != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), got.splitlines(True),
                                            "recorded", "now", n=1))  # fmt: skip
        pytest.fail(f"{name} moved:\n{diff[:4000]}")
