"""``spatialsim compare``: a spatial design and the DFX overlay simulated side by side."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spatialsim.errors import UserError
from spatialsim.experiment.compare import compare


def test_rows_are_full_simulations_and_speedups_their_ratios() -> None:
    rep = compare(model="gpt2", prompt_len=16, gen_len=4, layers=2, cards=(1, 2))
    doc = rep.to_json()
    assert [(r["design"], r["cards"]) for r in doc["rows"]] == [
        ("chen2024-w8a8", 1),
        ("chen2024-w8a8", 2),
        ("dfx", 1),
        ("dfx", 2),
    ]
    by = {(r["design"], r["cards"]): r for r in doc["rows"]}
    for s in doc["speedups"]:
        a, b = by[("chen2024-w8a8", s["cards"])], by[("dfx", s["cards"])]
        assert s["prefill_speedup"] == pytest.approx(b["ttft_ms"] / a["ttft_ms"], rel=1e-12)
        assert s["decode_speedup"] == pytest.approx(b["tpot_ms"] / a["tpot_ms"], rel=1e-12)
    for r in doc["rows"]:
        assert r["decode_tokens_per_s"] == pytest.approx(1e3 / r["tpot_ms"], rel=1e-12)
        assert r["resources_per_card"]["dsp"] > 0 and r["decode_j_per_token"] > 0
    # DFX's matrix unit: 16 lanes x (64 multipliers + 63 two-DSP adds + accumulator)
    assert by[("dfx", 1)]["resources_per_card"]["dsp"] >= 3072
    # two cards: each holds the share, so the spatial card's DSPs barely change (the
    # arrays keep their size; the all-reduce adds a little)
    assert by[("chen2024-w8a8", 2)]["ttft_ms"] < by[("chen2024-w8a8", 1)]["ttft_ms"]


def test_bad_card_counts_and_too_many_rows_are_refused() -> None:
    with pytest.raises(UserError, match="positive integers"):
        compare(model="gpt2", prompt_len=8, gen_len=1, cards=(0,))
    with pytest.raises(UserError, match="at most 16"):
        compare(model="gpt2", prompt_len=8, gen_len=1, cards=tuple(range(1, 10)))


def test_cli_prints_the_table_and_writes_json_text_and_figure(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    proc = subprocess.run(
        [sys.executable, "-m", "spatialsim.cli.main", "compare", "--model", "gpt2",
         "--prompt-len", "16", "--gen-len", "2", "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "chen2024-w8a8 over dfx on 1 card(s): prefill" in proc.stdout
    doc = json.loads((out / "compare.json").read_text())
    assert len(doc["rows"]) == 2
    png = (out / "compare.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    bad = subprocess.run(
        [sys.executable, "-m", "spatialsim.cli.main", "compare", "--cards", "1,x"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "1,x" in bad.stderr


def test_readme_shows_what_the_comparison_prints(tmp_path: Path) -> None:
    """README's spatial-vs-temporal table is this command's output, row for row."""
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-m", "spatialsim.cli.main", "compare", "--model", "gpt2-medium",
         "--prompt-len", "32", "--gen-len", "64", "--cards", "1,2,4", "--json", "-",
         "--out", str(tmp_path / "cmp")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    from spatialsim.cli.compare import _text

    readme = (root / "README.md").read_text(encoding="utf-8")
    lines = _text(json.loads(proc.stdout)).splitlines()
    table = [ln for ln in lines if ln.startswith(("chen2024-w8a8 ", "dfx "))]
    assert len(table) == 9  # six rows and three speedups
    for line in table[:7]:
        assert line in readme, f"README's comparison is stale: {line}"
