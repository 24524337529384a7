"""docs/calibration.md's "Calibrate here, predict there": the predictions it quotes lie
within 1 % of the hidden truth and inside their intervals, its board command is the board,
and the example board file is what its script makes. (That its commands print what it
quotes is tests/test_docs_run.py's.)"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "calibration"))

import make_board  # noqa: E402


def section() -> str:
    text = (ROOT / "docs" / "calibration.md").read_text()
    start = text.index("## Calibrate here, predict there")
    return text[start : text.index("\n## ", start + 3)]


def fenced(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced block of ``text``."""
    blocks, info, body, inside = [], "", [], False
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                blocks.append((info, "\n".join(body)))
            else:
                info, body = line[3:].strip(), []
            inside = not inside
        elif inside:
            body.append(line)
    return blocks


def test_the_example_board_file_is_what_its_script_makes(tmp_path: Path) -> None:
    make_board.main(tmp_path / "board.csv")
    shipped = ROOT / "examples" / "calibration" / "board.csv"
    assert (tmp_path / "board.csv").read_bytes() == shipped.read_bytes()


def _ms(block: str, label: str) -> tuple[float, float]:
    """(value, half-width or 0) of a TTFT or TPOT line a console block quotes."""
    m = re.search(rf"^{label} \(.*?\)\s+([\d.]+) ms(?: \+- ([\d.]+))?", block, re.M)
    assert m is not None, (label, block)
    return float(m.group(1)), float(m.group(2) or 0)


def test_the_quoted_predictions_hold_the_truth_the_board_command_gives() -> None:
    """The page's numbers are what its commands print (tests/test_docs_run.py runs them);
    here: the predictions it quotes lie within 1 % of the board and inside their
    intervals, and its board command is the board make_board.py made."""
    blocks = fenced(section())
    commands = [c.strip() for info, b in blocks if info == "bash" for c in b.strip().splitlines()]
    consoles = {b.strip().splitlines()[0][2:]: b for info, b in blocks if info == "console"}
    assert commands[0].startswith("spatialsim calibrate --board examples/calibration/board.csv")
    predictions = commands[1:]
    assert len(predictions) == 2 and all(p in consoles for p in predictions)
    hidden = " ".join(f"--cost {k}={v:g}" for k, v in make_board.TRUTH.items())
    for cmd in predictions:
        board = cmd.replace("--calibration my.toml", hidden)
        assert board in consoles, f"the page gives no board command for {cmd}"
        args = shlex.split(cmd)
        opt = dict(zip(args[2::2], args[3::2], strict=False))
        truth = make_board.truth(opt["--model"], int(opt["--layers"]), int(opt["--prompt-len"]),
                                 int(opt["--gen-len"]), int(opt.get("--tp", 1)))  # fmt: skip
        for label, true in zip(("TTFT", "TPOT"), truth, strict=True):
            shown_true, _ = _ms(consoles[board], label)
            assert shown_true == pytest.approx(true, abs=5e-4), (label, board)
            value, half = _ms(consoles[cmd], label)
            assert abs(value - true) < half, (label, value, half, true)
            assert value == pytest.approx(true, rel=0.01), (label, cmd)
    # the other sections quote the walk-through's calibration ("For the walk-through
    # below, `calibrate` prints:")
    page = (ROOT / "docs" / "calibration.md").read_text()
    elsewhere = [
        body
        for part in page.split("For the walk-through\nbelow, `calibrate` prints:")[1:]
        + page.split("For the walk-through below,\n`calibrate` prints:")[1:]
        for info, body in fenced(part)[:1]
    ]
    assert len(elsewhere) == 2
    for block in elsewhere:
        assert block.strip().splitlines()[0][2:] == commands[0]
