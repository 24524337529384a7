"""``spatialsim run`` and ``spatialsim demo`` as a user meets them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spatialsim.cli.main import main

KEYS = {
    "model",
    "design",
    "platform",
    "clock_mhz",
    "layers",
    "prompt_len",
    "gen_len",
    "ttft_ms",
    "tpot_ms",
    "per_token_ms",
    "prefill_cycles",
    "kernels",
    "fifos",
    "hbm",
    "events",
    "wall_s",
}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spatialsim.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["run", *args, "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_run_json_has_the_promised_keys(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(
        capsys,
        "--model",
        "gpt2-medium",
        "--platform",
        "u280",
        "--design",
        "chen2024-w8a8",
        "--prompt-len",
        "32",
        "--gen-len",
        "3",
        "--layers",
        "2",
        "--clock-mhz",
        "250",
    )
    assert set(doc) >= KEYS
    assert doc["layers"] == 2 and doc["prompt_len"] == 32 and doc["gen_len"] == 3
    per_token = doc["per_token_ms"]
    assert isinstance(per_token, list) and len(per_token) == 3
    assert doc["tpot_ms"] == pytest.approx(sum(per_token) / 3)
    assert doc["ttft_ms"] == pytest.approx(doc["prefill_cycles"] / 250 / 1e3)  # type: ignore[operator]
    for k in doc["kernels"].values():  # type: ignore[attr-defined]
        assert set(k) >= {"busy", "starved", "blocked", "hbm_wait"}
        assert k["busy"] + k["starved"] + k["blocked"] + k["hbm_wait"] == pytest.approx(1, abs=1e-6)
    for f in doc["fifos"].values():  # type: ignore[attr-defined]
        assert set(f) == {"depth", "mean_occupancy", "max_occupancy"}
        assert 0 <= f["mean_occupancy"] <= f["max_occupancy"] <= f["depth"]
    assert all(0 < c["utilization"] <= 1 for c in doc["hbm"].values())  # type: ignore[attr-defined]
    assert doc["events"] > 0 and doc["wall_s"] > 0  # type: ignore[operator]


def test_prefill_only_run_has_null_tpot(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "--prompt-len", "16", "--gen-len", "0", "--layers", "1")
    assert doc["tpot_ms"] is None and doc["per_token_ms"] == []
    assert set(doc["phases"]) == {"prefill"}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "model", ["bert-base", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "llama2-7b"]
)
@pytest.mark.parametrize("design", ["chen2024-w4a8", "chen2024-w8a8"])
def test_run_works_for_the_supported_models(
    capsys: pytest.CaptureFixture[str], model: str, design: str
) -> None:
    # W8A8 keeps the prefill arrays' and the decode engines' weight layouts: LLaMA-2-7B's
    # two copies (12.2 GiB) need two U280s (8 GiB each)
    split = ["--tp", "2"] if (model, design) == ("llama2-7b", "chen2024-w8a8") else []
    doc = run_json(
        capsys,
        "--model",
        model,
        "--design",
        design,
        "--prompt-len",
        "16",
        "--gen-len",
        "2",
        "--layers",
        "1",
        *split,
    )
    assert doc["model"] == model and doc["design"] == design
    assert doc["ttft_ms"] > 0 and doc["tpot_ms"] > 0  # type: ignore[operator]
    if model == "llama2-7b":  # its weights overflow the 256 MiB pseudo-channels
        assert any("256 MiB" in w for w in doc["warnings"])  # type: ignore[attr-defined]


def test_identical_runs_write_byte_identical_json(tmp_path: Path) -> None:
    outs = []
    for i in range(2):
        path = tmp_path / f"r{i}.json"
        proc = cli(
            "run",
            "--prompt-len",
            "24",
            "--gen-len",
            "3",
            "--layers",
            "3",
            "--no-timing",
            "--json",
            str(path),
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(path.read_bytes())
    assert outs[0] == outs[1]
    assert json.loads(outs[0])["wall_s"] is None


def test_summary_names_latencies_and_stalls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--prompt-len", "32", "--gen-len", "2", "--layers", "2"]) == 0
    out = capsys.readouterr().out
    assert "TTFT (prefill)" in out and "TPOT (mean per token)" in out
    assert "Largest stalls" in out and "hbm_wait" in out
    assert "Kernels, prefill" in out and "Kernels, decode" in out


def test_out_folder_gets_result_and_summary(tmp_path: Path) -> None:
    proc = cli(
        "run",
        "--prompt-len",
        "16",
        "--gen-len",
        "1",
        "--layers",
        "1",
        "--out",
        str(tmp_path / "res"),
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "res" / "result.json").read_text())
    assert set(doc) >= KEYS
    assert "TTFT" in (tmp_path / "res" / "summary.txt").read_text()
    assert not list((tmp_path / "res").glob("*.tmp*"))


def test_demo_writes_its_results_folder(tmp_path: Path) -> None:
    proc = cli("demo", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "gpt2-medium on u280 with chen2024-w8a8" in proc.stdout
    doc = json.loads((tmp_path / "spatialsim-demo" / "result.json").read_text())
    assert doc["layers"] == 24 and doc["gen_len"] > 0 and doc["prompt_len"] > 0
    assert (tmp_path / "spatialsim-demo" / "summary.txt").read_text().startswith("gpt2-medium")


def test_deadlock_exits_3_with_the_cycle_and_no_traceback() -> None:
    proc = cli(
        "run",
        "--design",
        "chen2024-w4a8",
        "--prompt-len",
        "64",
        "--gen-len",
        "0",
        "--layers",
        "1",
        "--set",
        "fifo.ffn_residual_bypass.depth=16",
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "deadlock" in proc.stderr and "ffn_residual_bypass (depth 16 words" in proc.stderr
    assert "splitter" in proc.stderr and "residual1" in proc.stderr


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--prompt-len", "0"], "expected a positive integer"),
        (["--gen-len", "-1"], "expected an integer >= 0"),
        (["--prompt-len", "2000", "--max-seq-len", "2001"], "exceeds gpt2-medium's context"),
        (["--prompt-len", "64", "--max-seq-len", "32"], "exceeds the design's max_seq_len"),
        (["--layers", "30"], "exceeds gpt2-medium's 24 layers"),
        (["--design", "nope"], "unknown design 'nope'"),
        (["--model", "gpt5"], "unknown model 'gpt5'"),
        (["--set", "kernel.ffn1.cols=0"], "kernel ffn1: cols = 0 is out of range"),
        (["--set", 'kernel.ffn1.ports=["HBM[99]"]'], "HBM[99]"),
        (["--clock-mhz", "2000"], "above u280's fabric ceiling"),
        (["--launch-overhead-us", "-3"], "expected a number >= 0"),
        (["--granularity", "medium"], "invalid choice: 'medium'"),
        (["--cost", "bogus=1"], "unknown cost parameter 'bogus'"),
        (["--cost", "slr_crossing_cycles=abc"], "'abc' is not a number"),
        (
            ["--cost", "slr_crossing_cycles=-2"],
            "slr_crossing_cycles = -2.0 is out of range: a finite number in [0, 10000] cycles",
        ),
    ],
)
def test_bad_input_is_a_clear_error_without_traceback(args: list[str], needle: str) -> None:
    proc = cli("run", "--gen-len", "1", "--layers", "1", *args)
    assert proc.returncode == 2, proc.stdout
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cost_constants_change_the_simulation(capsys: pytest.CaptureFixture[str]) -> None:
    base = run_json(capsys, "--prompt-len", "16", "--gen-len", "1", "--layers", "2")
    slow = run_json(
        capsys,
        "--prompt-len",
        "16",
        "--gen-len",
        "1",
        "--layers",
        "2",
        "--cost",
        "layernorm_norm_depth_cycles=1153",
    )
    # 1,000 more cycles per row; each of the 2 layers has two LayerNorm rows on its
    # critical path (LayerNorm 0 and LayerNorm 1 of the last pack)
    extra = slow["prefill_cycles"] - base["prefill_cycles"]  # type: ignore[operator]
    assert extra == pytest.approx(2 * 2 * 1000, rel=0.1)
    assert slow["params"]["layernorm_norm_depth_cycles"] == 1153  # type: ignore[index]


def test_json_to_an_unwritable_place_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = cli(
        "run",
        "--layers",
        "1",
        "--gen-len",
        "0",
        "--prompt-len",
        "8",
        "--json",
        str(blocker / "r.json"),
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "a-file" in proc.stderr
    proc = cli("run", "--layers", "1", "--gen-len", "0", "--prompt-len", "8", "--out", str(blocker))
    assert proc.returncode == 2 and "not a directory" in proc.stderr
