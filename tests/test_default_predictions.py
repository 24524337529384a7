"""Every shipped template's default predictions are what was recorded (see
tests/default_predictions.py: numbers change only where a documented structure or
parameter changed, and the record changes with them in the same commit)."""

from __future__ import annotations

import tomllib

import pytest
from default_predictions import CASES, RECORD, predict


def test_every_template_has_a_recorded_default_prediction() -> None:
    recorded = tomllib.loads(RECORD.read_text(encoding="utf-8"))
    assert set(recorded) == set(CASES)
    designs = {c["design"] for c in CASES.values()}
    from spatialsim.design.templates import DESIGNS

    assert designs == set(DESIGNS)


@pytest.mark.parametrize("name", list(CASES))
def test_default_predictions_are_unchanged(name: str) -> None:
    recorded = tomllib.loads(RECORD.read_text(encoding="utf-8"))[name]
    case = {k: v for k, v in recorded.items() if k not in ("ttft_ms", "tpot_ms")}
    assert case == CASES[name]
    now = predict(case)
    assert now["ttft_ms"] == pytest.approx(recorded["ttft_ms"], rel=1e-9), name
    assert now["tpot_ms"] == pytest.approx(recorded["tpot_ms"], rel=1e-9), name
