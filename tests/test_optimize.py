"""``spatialsim optimize``: NSGA-II over the arrays; the front fits, beats the design as
built in prefill at no more DSPs, and every front design loads as a design file."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

import spatialsim as ss
from spatialsim.design.fileio import load_design
from spatialsim.design.resources import check_fit
from spatialsim.experiment.optimize import Trial, pareto
from spatialsim.hardware.platform import get_platform


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("opt") / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "spatialsim.cli.main", "optimize", "--model", "gpt2-medium",
         "--platform", "u280", "--design", "chen2024-w4a8", "--prompt-len", "128",
         "--gen-len", "2", "--trials", "48", "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "faster in prefill than the design as built" in proc.stdout
    assert "balanced design" in proc.stdout
    return out


def test_every_front_design_fits_and_one_beats_the_design_as_built(front: Path) -> None:
    with open(front / "pareto.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 3
    for col in ("ttft_ms", "tpot_ms", "dsp", "lut", "qkvo_cols", "attn_cols", "ffn_cols"):
        assert col in rows[0]
    u280 = get_platform("u280")
    for i, r in enumerate(rows):
        assert r["feasible"] == "true"
        design = load_design(front / f"pareto_{i}.toml")
        check_fit(design, u280)  # raises if it does not fit
    ref = ss.simulate(model="gpt2-medium", design="chen2024-w4a8", prompt_len=128, gen_len=2)
    from spatialsim.design.resources import estimate
    from spatialsim.experiment.session import prepare

    prep = prepare(ref.request)
    ref_dsp = max(estimate(prep.design, b).total["dsp"] for b in prep.design.bitstreams)
    better = [r for r in rows if float(r["dsp"]) <= ref_dsp and
              float(r["ttft_ms"]) < 0.95 * ref.ttft_ms]  # fmt: skip
    print(f"as built: {ref.ttft_ms:.1f} ms at {ref_dsp:,.0f} DSP; better: {better}")
    assert better


def test_a_front_design_file_runs_as_the_search_saw_it(front: Path) -> None:
    with open(front / "pareto.csv", encoding="utf-8", newline="") as f:
        row = next(csv.DictReader(f))
    rep = ss.simulate(design=str(front / "pareto_0.toml"), prompt_len=128, gen_len=2)
    assert rep.ttft_ms == pytest.approx(float(row["ttft_ms"]), rel=1e-9)


def test_the_front_keeps_only_undominated_feasible_trials() -> None:
    req = ss.RunRequest()

    def t(n: int, ttft: float, tpot: float, dsp: float, ok: bool = True) -> Trial:
        row = {"feasible": ok, "ttft_ms": ttft, "tpot_ms": tpot, "dsp": dsp}
        return Trial(n, {}, row, req)

    trials = [t(0, 1, 1, 5), t(1, 2, 2, 6), t(2, 0.5, 3, 4), t(3, 0.1, 0.1, 0.1, ok=False),
              t(4, 1, 1, 5)]  # fmt: skip
    assert [x.number for x in pareto(trials)] == [2, 0]


def test_the_objectives_are_a_choice_and_the_front_is_undominated_in_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from spatialsim.cli.main import main

    out = tmp_path / "two"
    args = ["optimize", "--prompt-len", "64", "--gen-len", "1", "--trials", "16"]
    assert main([*args, "--objectives", "ttft_ms,dsp", "--out", str(out)]) == 0
    assert "on the front of ttft_ms, dsp" in capsys.readouterr().out
    with open(out / "pareto.csv", encoding="utf-8", newline="") as f:
        rows = [(float(r["ttft_ms"]), float(r["dsp"])) for r in csv.DictReader(f)]
    with open(out / "trials.csv", encoding="utf-8", newline="") as f:
        fits = [(float(r["ttft_ms"]), float(r["dsp"])) for r in csv.DictReader(f)
                if r["feasible"] == "true"]  # fmt: skip
    assert len(rows) >= 2
    for a in rows:  # nothing that fits is at least as good in both and better in one
        assert not any(b[0] <= a[0] and b[1] <= a[1] and b != a for b in fits), a


@pytest.mark.parametrize(
    ("objectives", "says"),
    [
        ("ttft_ms,speed", "unknown objective 'speed'; valid: ttft_ms, tpot_ms, dsp"),
        ("dsp,dsp", "names one twice"),
        (",", "give at least one of"),
    ],
)
def test_bad_objectives_are_refused(
    objectives: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from spatialsim.cli.main import main

    assert main(["optimize", "--objectives", objectives, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
