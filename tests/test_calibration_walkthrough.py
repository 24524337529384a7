"""docs/calibration.md's "Calibrate here, predict there" runs as written: its commands give
the lines it quotes, the predictions lie within 3 % of the hidden truth and inside their
intervals, and the example board file is what its script makes."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from spatialsim.cli.main import main

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


def test_walkthrough_commands_give_the_quoted_lines_and_predict_the_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = section()
    blocks = fenced(text)
    commands = [body for info, body in blocks if info == "bash"]
    quoted = [body for info, body in blocks if info == ""]
    assert len(commands) == 1 and len(quoted) == 2
    (tmp_path / "examples" / "calibration").mkdir(parents=True)
    shutil.copy(ROOT / "examples/calibration/board.csv", tmp_path / "examples/calibration")
    monkeypatch.chdir(tmp_path)
    outputs = []
    for line in commands[0].strip().splitlines():
        args = shlex.split(line)
        assert args[0] == "spatialsim"
        assert main(args[1:]) == 0, line
        outputs.append(capsys.readouterr().out)
    for want in quoted[0].strip().splitlines():
        assert want in outputs[0], want
    runs = outputs[1] + outputs[2]
    for want in quoted[1].strip().splitlines():
        assert want in runs, want
    assert (tmp_path / "report" / "explained.png").is_file()
    # the other sections quote the walk-through's calibration too ("For the walk-through
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
        for want in block.strip().splitlines():
            assert want in outputs[0], want
    # the truth: what the hidden settings give, inside each interval and within 3 %
    for out, case in (
        (outputs[1], ("gpt2", 4, 256, 8, 1)),
        (outputs[2], ("gpt2-medium", 2, 64, 8, 2)),
    ):
        model, layers, prompt, gen, tp = case
        truth = make_board.truth(model, layers, prompt, gen, tp)
        for label, true in zip(("TTFT", "TPOT"), truth, strict=True):
            m = re.search(rf"{label} \(.*?\)\s+([\d.]+) ms \+- ([\d.]+)", out)
            assert m is not None, out
            value, half = float(m.group(1)), float(m.group(2))
            assert abs(value - true) < half, (label, value, half, true)
            assert value == pytest.approx(true, rel=0.03), (label, case)
        assert f"{truth[0]:.3f}" in text and f"{truth[1]:.3f}" in text  # quoted in the page
