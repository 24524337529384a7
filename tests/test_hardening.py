"""Issue 21, hardening round two: one section per class of input that reached further than
it should. Every case exits 2 (or raises ``UserError``) naming what is wrong, before any
work it could not bound, and never with a traceback."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from spatialsim.cli.main import main
from spatialsim.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
BOARD = "model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms\n"
RUN = ["run", "--layers", "1", "--gen-len", "1", "--prompt-len", "8"]


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], *needles: str) -> str:
    """Run the CLI in process; it must exit 2 with every needle in its message."""
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, (argv, rc, err)
    assert "Traceback" not in err and "internal error" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


# ---- 2. every read is bounded, whatever the path is ------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A named pipe with an endless writer (``yes``) on the other end."""
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    writer = subprocess.Popen(["sh", "-c", f"yes 1,2,3,4 > {path}"], stderr=subprocess.DEVNULL)
    yield path
    writer.kill()
    writer.wait()


def test_a_named_pipe_is_refused_wherever_a_file_is_expected(
    fifo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused(capsys, ["replay", "--trace", str(fifo), "--layers", "1"], str(fifo), "named pipe")
    refused(capsys, [*RUN, "--model", str(fifo)], "named pipe")
    refused(capsys, [*RUN, "--design", str(fifo)], "named pipe")
    refused(capsys, ["calibrate", "--board", str(fifo), "--out", str(tmp_path / "p")], "pipe")


@pytest.mark.parametrize(
    "argv",
    [
        [*RUN, "--model", "/dev/zero"],
        [*RUN, "--platform", "/dev/zero"],
        [*RUN, "--design", "/dev/urandom"],
        [*RUN, "--calibration", "/dev/zero"],
        ["replay", "--trace", "/dev/zero", "--layers", "1"],
        ["calibrate", "--board", "/dev/zero", "--out", "OUT"],
        ["calibrate", "--hls", "/dev/zero", "--out", "OUT"],
        ["report-hls", "/dev/zero"],
        ["report-xrt", "/dev/zero"],
        ["sweep", "/dev/zero", "--out", "OUT"],
        ["platforms", "--toml", "/dev/zero"],
    ],
)
def test_a_device_is_refused_before_a_byte_is_read(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    refused(capsys, argv, "/dev/", "device")


def test_paths_inside_files_and_options_are_bounded_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = tmp_path / "board.csv"
    board.write_text(BOARD + "/dev/zero,chen2024-w8a8,u280,1,8,2,250,1,1\n")
    out = ["--out", str(tmp_path / "p.toml")]
    refused(capsys, ["calibrate", "--board", str(board), *out], "/dev/zero", "device")
    xrt = ROOT / "examples/calibration/board.csv"  # any existing file: the run is refused first
    refused(
        capsys,
        ["calibrate", "--xrt", str(xrt), "--xrt-run", "model=/dev/zero", "--map", "a=layer", *out],
        "/dev/zero",
    )
    spec = tmp_path / "spec.toml"
    spec.write_text('[base]\ngen_len = 1\nlayers = 1\n[axes]\nmodel = ["gpt2", "/dev/zero"]\n')
    refused(capsys, ["sweep", str(spec), "--out", str(tmp_path / "s")], "/dev/zero", "device")


def test_a_file_over_the_cap_is_refused_even_when_it_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spatialsim import tomlio

    monkeypatch.setattr(tomlio, "MAX_INPUT_BYTES", 1000)
    big = tmp_path / "big.json"
    big.write_text("{" + " " * 2000 + "}")
    with pytest.raises(UserError, match="too large"):
        tomlio.read_text(big, "model config")
    # a file that claims a small size as it is opened but keeps growing (a log being
    # written): the read stops at the cap
    real_fstat = os.fstat

    class Small:
        def __init__(self, st: os.stat_result) -> None:
            self.st_mode, self.st_size = st.st_mode, 10

    monkeypatch.setattr(tomlio.os, "fstat", lambda fd: Small(real_fstat(fd)))
    with pytest.raises(UserError, match="more than 1,000 bytes"):
        tomlio.read_text(big, "model config")
    ok = tmp_path / "ok.json"
    ok.write_text("{}")
    assert tomlio.read_text(ok, "model config") == "{}"


def test_a_directory_is_named_as_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d.json").mkdir()
    refused(capsys, [*RUN, "--model", str(tmp_path / "d.json")], "directory")
