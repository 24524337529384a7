"""--out DIR on an existing folder: the command replaces what it owns (its own files and what
derives from them), keeps what others wrote, and lists everything in manifest.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialsim.cli.main import main
from spatialsim.fileutil import atomic_folder

RUN = ["run", "--layers", "1", "--prompt-len", "16", "--gen-len", "2", "--out"]


def test_a_second_run_replaces_its_set_and_the_plots_derived_from_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    assert main([*RUN, str(out)]) == 0
    assert main(["plot", str(out)]) == 0
    (out / "notes.txt").write_text("mine\n")
    first = (out / "result.json").read_text()
    assert (out / "plots" / "stalls.png").exists()
    assert main(["run", "--layers", "1", "--prompt-len", "32", "--gen-len", "2", "--out",
                 str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    assert (out / "result.json").read_text() != first
    assert not (out / "plots").exists()  # figures of the earlier run would be stale
    assert (out / "notes.txt").read_text() == "mine\n"  # not the run's: kept
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "run" and manifest["complete"] is True
    assert set(manifest["written"]) == {"result.json", "summary.txt", "trace.perfetto.json",
                                        "report.html"}  # fmt: skip
    on_disk = {p.relative_to(out).as_posix(): p.stat().st_size
               for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}  # fmt: skip
    assert manifest["files"] == on_disk


def test_owned_patterns_remove_what_a_larger_earlier_set_left(tmp_path: Path) -> None:
    folder = tmp_path / "opt"
    with atomic_folder(folder, owns=("pareto_*.toml",), command="optimize") as tmp:
        for i in range(3):
            (tmp / f"pareto_{i}.toml").write_text(str(i))
    (folder / "keep.txt").write_text("x")
    with atomic_folder(folder, owns=("pareto_*.toml",), command="optimize") as tmp:
        (tmp / "pareto_0.toml").write_text("new")
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt", "manifest.json",
                                                         "pareto_0.toml"]  # fmt: skip
    assert (folder / "pareto_0.toml").read_text() == "new"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["written"] == ["pareto_0.toml"]
    assert set(manifest["files"]) == {"keep.txt", "pareto_0.toml"}


def test_a_failed_command_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    with atomic_folder(folder, owns=("a.txt",), command="x") as tmp:
        (tmp / "a.txt").write_text("1")
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    with pytest.raises(RuntimeError), atomic_folder(folder, owns=("a.txt",), command="x") as tmp:
        (tmp / "a.txt").write_text("2")
        raise RuntimeError("interrupted")
    assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before
