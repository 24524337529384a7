"""Outputs never half-written and never replacing what is not a file: links are followed,
devices and pipes written through, directories and empty paths refused; an --out set
appears whole or not at all."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from spatialsim.cli.main import main
from spatialsim.errors import UserError
from spatialsim.fileutil import MANIFEST, atomic_folder, atomic_write_text

RUN = ["run", "--layers", "1", "--gen-len", "1", "--prompt-len", "8"]


def test_a_symbolic_link_stays_a_link_and_its_target_is_written(tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert main([*RUN, "--json", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["layers"] == 1


def test_a_named_pipe_is_written_through_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert main([*RUN, "--json", str(fifo)]) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(got[0])["layers"] == 1


def test_dev_null_stays_a_character_device() -> None:
    assert main([*RUN, "--json", "/dev/null"]) == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_directory_or_an_empty_path_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*RUN, "--json", str(tmp_path)]) == 2
    assert "is a directory; give a file name inside it" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([*RUN, "--json", ""])
    assert exc.value.code == 2
    assert "argument --json: output path is empty" in capsys.readouterr().err
    board = tmp_path / "b.csv"
    board.write_text(
        "model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms\n"
        "gpt2,chen2024-w8a8,u280,1,8,2,250,1.5,0.3\n"
    )
    assert main(["calibrate", "--board", str(board), "--out", str(tmp_path)]) == 2
    assert "is a directory; give a file name inside it" in capsys.readouterr().err


def test_an_existing_file_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")
    path.chmod(0o640)
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_an_interrupted_folder_leaves_nothing_new(tmp_path: Path) -> None:
    out = tmp_path / "set"
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "result.json").write_text("{}")
        raise RuntimeError("killed half way")
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no partial sibling left either
    # an existing folder keeps its old set when the new one fails
    out.mkdir()
    (out / "result.json").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "result.json").write_text("new")
        raise RuntimeError("crash")
    assert (out / "result.json").read_text() == "old"


def test_run_out_writes_the_whole_set_with_a_manifest_last(tmp_path: Path) -> None:
    out = tmp_path / "d"
    assert main([*RUN, "--out", str(out)]) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["complete"] is True
    for name, size in manifest["files"].items():
        assert (out / name).stat().st_size == size
    assert [p.name for p in tmp_path.iterdir()] == ["d"]  # no temporary sibling left
    with (
        pytest.raises(UserError, match="exists and is not a directory"),
        atomic_folder(out / MANIFEST),
    ):
        pass
