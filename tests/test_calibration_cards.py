"""Calibration absorbs board runs on several cards: the links' parameters move only when
some run used more than one card, and a hop latency hidden in synthetic runs is found."""

from __future__ import annotations

from pathlib import Path

import pytest

import spatialsim as ss
from spatialsim.calibration.job import CARD_CANDIDATES, OVERLAY_CANDIDATES, candidates

HEADER = "model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms,tp,pp\n"
TRUE_HOP_NS = 3000.0


def _row(design: str, tp: int, pp: int, prompt: int, gen: int, **cost: float) -> str:
    rep = ss.simulate(
        model="gpt2", design=design, prompt_len=prompt, gen_len=gen, layers=2, tp=tp, pp=pp,
        cost=cost,
    )  # fmt: skip
    r = rep.result
    return (
        f"gpt2,{design},u280,2,{prompt},{gen},{r.clock_mhz:g},{r.ttft_ms!r},{r.tpot_ms!r},"
        f"{tp},{pp}\n"
    )


def test_link_parameters_are_board_candidates_only_for_runs_on_several_cards() -> None:
    assert not set(CARD_CANDIDATES) & set(candidates("board"))
    assert set(CARD_CANDIDATES) <= set(candidates("board", multi_card=True))
    assert set(OVERLAY_CANDIDATES) <= set(candidates("board", overlay=True))
    assert not set(CARD_CANDIDATES + OVERLAY_CANDIDATES) & set(candidates("hls"))


def test_a_hop_latency_hidden_in_multi_card_runs_is_found(tmp_path: Path) -> None:
    """Runs on 2 and 4 cards generated with a 3 us hop latency (the default is 500 ns);
    single-card runs pin the rest."""
    rows = [
        _row("chen2024-w8a8", 1, 1, 16, 4),
        _row("chen2024-w8a8", 1, 1, 32, 4),
        _row("chen2024-w8a8", 2, 1, 16, 4, link_hop_latency_ns=TRUE_HOP_NS),
        _row("chen2024-w8a8", 4, 1, 32, 4, link_hop_latency_ns=TRUE_HOP_NS),
        _row("chen2024-w8a8", 1, 2, 16, 4, link_hop_latency_ns=TRUE_HOP_NS),
    ]
    csv = tmp_path / "cards.csv"
    csv.write_text(HEADER + "".join(rows), encoding="utf-8")
    cal = ss.calibrate(board=csv, loo=False)
    res = cal.fits["board"]
    hop = res.values["cost.link_hop_latency_ns"]
    lo, hi = res.ci95["cost.link_hop_latency_ns"]
    print(f"hop latency {hop:,.0f} ns, interval [{lo:,.0f}, {hi:,.0f}], truth {TRUE_HOP_NS:,.0f}")
    assert "cost.link_hop_latency_ns" in res.fitted
    assert hop == pytest.approx(TRUE_HOP_NS, rel=0.15)
    assert lo <= TRUE_HOP_NS <= hi
    # within 1.5 %: the runs hold no host costs, which the priors (log-normal) keep above 0
    assert all(abs(r.error) < 0.015 for r in res.residuals)


@pytest.mark.parametrize("cell", ["x", "nan", "0", "-2", "1e30", "inf"])
def test_bad_tp_cells_are_refused_naming_row_and_column(tmp_path: Path, cell: str) -> None:
    from spatialsim.calibration.measurements import load_board_csv
    from spatialsim.errors import UserError

    csv = tmp_path / "runs.csv"
    csv.write_text(HEADER + f"gpt2,chen2024-w8a8,u280,2,16,4,250,1.0,0.5,{cell},1\n",
                   encoding="utf-8")  # fmt: skip
    with pytest.raises(UserError, match=r"runs.csv: row \d+: tp"):
        load_board_csv(csv)


def test_a_missing_tp_cell_means_one_card(tmp_path: Path) -> None:
    from spatialsim.calibration.measurements import load_board_csv

    csv = tmp_path / "runs.csv"
    csv.write_text(HEADER + "gpt2,chen2024-w8a8,u280,2,16,4,250,1.0,0.5,,\n", encoding="utf-8")
    (run,) = load_board_csv(csv)
    assert (run.tp, run.pp) == (1, 1)
