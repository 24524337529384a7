"""The plain install and the dse extra (issue 22): a single run, analyze, plots and
calibration need only the core dependencies; Dask, Optuna and pyarrow are the dse extra,
and a command that needs one says which extra to install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from spatialsim.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
DSE = ("distributed", "optuna", "pyarrow")
RUN = ["run", "--layers", "1", "--gen-len", "1", "--prompt-len", "8"]


def test_the_core_install_leaves_out_the_dse_libraries() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(meta["dependencies"])
    extras = meta["optional-dependencies"]
    for lib in DSE:
        assert lib not in core
        assert any(d.startswith(lib) for d in extras["dse"])
    assert "spatialsim[dse]" in extras["test"]  # the test command installs everything


def test_a_run_and_analyze_import_none_of_them() -> None:
    probe = (
        "import sys; from spatialsim.cli.main import main; "
        f"rc = main({RUN!r}) + main(['analyze']); "
        f"print(rc, [m for m in {DSE!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=300, check=True).stdout  # fmt: skip
    assert out.strip().splitlines()[-1] == "0 []"


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> object:
    """Make the named libraries unimportable, as in a plain install."""

    def hide(*names: str) -> None:
        for name in names:
            monkeypatch.setitem(sys.modules, name, None)

    return hide


def test_commands_that_need_the_extra_say_so(
    without: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without("optuna", "distributed", "dask")  # type: ignore[operator]
    assert main(["optimize", "--trials", "2", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "optimize needs optuna" in err and "pip install 'spatialsim[dse]'" in err
    spec = tmp_path / "s.toml"
    spec.write_text('[base]\nmodel = "gpt2"\nlayers = 1\nprompt_len = 8\ngen_len = 1\n'
                    "[axes]\nclock_mhz = [200, 250]\n")  # fmt: skip
    assert main(["sweep", str(spec), "--out", str(tmp_path / "s"), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "needs distributed" in err and "spatialsim[dse]" in err
    assert not (tmp_path / "s").exists()  # refused before any work


def test_a_sweep_without_the_extra_runs_in_this_process(
    without: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without("distributed", "pyarrow")  # type: ignore[operator]
    spec = tmp_path / "s.toml"
    spec.write_text('[base]\nmodel = "gpt2"\nlayers = 1\nprompt_len = 8\ngen_len = 1\n'
                    "[axes]\nclock_mhz = [200, 250]\n")  # fmt: skip
    assert main(["sweep", str(spec), "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "2 computed now" in out and "results.parquet not written" in out
    assert (tmp_path / "s" / "results.csv").is_file()
    assert not (tmp_path / "s" / "results.parquet").exists()
