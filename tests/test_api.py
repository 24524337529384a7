"""The Python API: requests are validated values, and every command is a thin layer over
the same functions (the numbers match the CLI's)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import spatialsim as ss
from spatialsim.cli.main import main
from spatialsim.errors import UserError
from spatialsim.workload.traces import Request, Trace

ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "model": "gpt2-medium",
    "design": "chen2024-w8a8",
    "prompt_len": 16,
    "gen_len": 2,
    "layers": 2,
}


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main([*args, "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_simulate_matches_the_cli_document(capsys: pytest.CaptureFixture[str]) -> None:
    rep = ss.simulate(**SMALL, set={"kernel.ffn1.engines": 4})
    doc = cli_json(
        capsys,
        "run",
        "--model",
        "gpt2-medium",
        "--design",
        "chen2024-w8a8",
        "--prompt-len",
        "16",
        "--gen-len",
        "2",
        "--layers",
        "2",
        "--set",
        "kernel.ffn1.engines=4",
        "--no-timing",
    )
    assert rep.to_json(timing=False) == doc
    assert rep.ttft_ms == pytest.approx(doc["ttft_ms"], rel=1e-8)
    assert rep.tpot_ms == pytest.approx(doc["tpot_ms"], rel=1e-8)
    assert len(rep.per_token_ms) == 2
    k = rep.kernels["ffn1"]
    assert k.busy + k.starved + k.blocked + k.hbm_wait == pytest.approx(1.0)
    assert rep.analytical["prefill_ms"] > 0 and rep.request.layers == 2


def test_issue_command_prints_the_cli_numbers() -> None:
    code = (
        "import spatialsim as ss; r = ss.simulate(model='gpt2-medium', "
        "design='chen2024-w8a8', prompt_len=64, gen_len=8); print(r.ttft_ms, r.tpot_ms)"
    )
    api = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "spatialsim.cli.main",
            "run",
            "--model",
            "gpt2-medium",
            "--design",
            "chen2024-w8a8",
            "--prompt-len",
            "64",
            "--gen-len",
            "8",
            "--json",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    doc = json.loads(cli)
    assert float(api[0]) == pytest.approx(doc["ttft_ms"], rel=1e-8)
    assert float(api[1]) == pytest.approx(doc["tpot_ms"], rel=1e-8)


def test_request_is_a_value() -> None:
    a = ss.RunRequest(
        model="gpt2-medium",
        platform="u280",
        design="chen2024-w8a8",
        prompt_len=128,
        gen_len=32,
        set={"kernel.ffn1.cols": 32},
        cost={"slr_crossing_cycles": 6},
    )
    b = ss.RunRequest(
        model="gpt2-medium",
        prompt_len=128,
        gen_len=32,
        set=["kernel.ffn1.cols=32"],
        cost=["slr_crossing_cycles=6"],
    )
    assert a == b and hash(a) == hash(b) and a.key == b.key
    assert pickle.loads(pickle.dumps(a)) == a
    assert a.set == (("kernel.ffn1.cols", 32),) and a.cost == (("slr_crossing_cycles", 6.0),)
    assert a != a.replace(prompt_len=64) and a.key != a.replace(prompt_len=64).key
    with pytest.raises(AttributeError):
        a.prompt_len = 3  # type: ignore[misc]
    assert len({a, b, a.replace(gen_len=0)}) == 2


def test_hash_is_the_same_in_every_process() -> None:
    req = ss.RunRequest(prompt_len=100, set={"fifo.ffn_residual_bypass.depth": 99999})
    code = (
        "import spatialsim as ss; r = ss.RunRequest(prompt_len=100, "
        "set={'fifo.ffn_residual_bypass.depth': 99999}); print(hash(r), r.key)"
    )
    seen = set()
    for seed in ("1", "2", "random"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        seen.add(out.strip())
    assert seen == {f"{hash(req)} {req.key}"}


@pytest.mark.parametrize(
    "fields, field, needle",
    [
        ({"prompt_len": 0}, "prompt_len", "prompt_len must be an integer >= 1"),
        ({"gen_len": -1}, "gen_len", "gen_len must be an integer >= 0"),
        ({"prompt_len": 2.5}, "prompt_len", "got 2.5"),
        ({"clock_mhz": float("nan")}, "clock_mhz", "finite number > 0"),
        ({"clock_mhz": float("inf")}, "clock_mhz", "finite number > 0"),
        ({"launch_overhead_us": -1.0}, "launch_overhead_us", ">= 0"),
        ({"granularity": "medium"}, "granularity", "coarse, fine"),
        ({"model": "gpt5"}, "model", "unknown model 'gpt5'; valid: bert-base"),
        ({"design": "nope"}, "design", "unknown design 'nope'"),
        ({"platform": "u999"}, "platform", "unknown platform 'u999'"),
        ({"set": {"kernel.ffn1.cols": float("nan")}}, "set", "not a finite number"),
        ({"set": ["kernel.ffn1.cols"]}, "set", "expected <target>=<value>"),
        ({"set": "kernel.ffn1.cols=3"}, "set", "mapping or a list"),
        ({"every_layer": "yes"}, "every_layer", "true or false"),
        ({"bogus": 1}, "bogus", "unknown request field(s) bogus"),
    ],
)
def test_bad_fields_are_named(fields: dict[str, object], field: str, needle: str) -> None:
    with pytest.raises(UserError, match=None) as err:
        ss.simulate(**fields)  # type: ignore[arg-type]
    assert needle in str(err.value)
    assert err.value.field == field


def test_bad_cost_constants_are_refused_when_the_request_is_built() -> None:
    with pytest.raises(UserError, match="unknown cost parameter 'bogus'"):
        ss.RunRequest(cost={"bogus": 1.0})
    with pytest.raises(
        UserError,
        match=r"slr_crossing_cycles = nan is out of range: a finite number in \[0, 10000\] cycles",
    ):
        ss.RunRequest(cost={"slr_crossing_cycles": float("nan")})


def test_library_errors_name_fields_and_the_cli_names_flags(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(UserError) as err:
        ss.simulate(**SMALL, clock_mhz=2000.0)
    assert str(err.value).startswith("clock_mhz 2000") and err.value.field == "clock_mhz"
    assert main(["run", "--layers", "1", "--gen-len", "1", "--clock-mhz", "2000"]) == 2
    assert "error: --clock-mhz 2000 is above u280's fabric ceiling" in capsys.readouterr().err


def test_analyze_and_kernels_match_their_commands(capsys: pytest.CaptureFixture[str]) -> None:
    a = ss.analyze(design="chen2024-w4a8", prompt_len=256, gen_len=4, tp=2)
    assert a.to_json() == cli_json(
        capsys, "analyze", "--design", "chen2024-w4a8", "--prompt-len", "256", "--gen-len", "4",
        "--tp", "2",
    )  # fmt: skip
    assert a.prefill_ms == pytest.approx(a.to_json()["prefill_ms"])
    k = ss.kernels(design="chen2024-w4a8", phase="decode", seq_len=64)
    assert k.to_json() == cli_json(
        capsys, "kernels", "--design", "chen2024-w4a8", "--phase", "decode", "--seq-len", "64"
    )


def _trace() -> Trace:
    reqs = [Request("a", 0.0, 40, 3), Request("b", 0.01, 9, 2), Request("c", 5.0, 17, 0)]
    return Trace(reqs, dropped=0, clipped=0, source="test")


@pytest.mark.parametrize(
    "option",
    [
        {"clock_mhz": 125.0},
        {"cost": {"layernorm_norm_depth_cycles": 5000}},
        {"set": {"kernel.ffn1.cols": 8}},
        {"calibration": "u280"},
    ],
)
def test_replay_latencies_follow_the_same_options_as_run(option: dict[str, object]) -> None:
    """Each replay table point equals the run with the same option, and differs from the
    replay without it."""
    base = ss.RunRequest(layers=2, max_seq_len=43, **{"design": "chen2024-w8a8"})
    with_opt = base.replace(**option)
    plain = ss.replay(_trace(), base, samples=2)
    rep = ss.replay(_trace(), with_opt, samples=2)
    prompt = int(rep.latency.prefill_packs[-1]) * rep.latency.pack
    prompt = min(prompt, 40)
    run = ss.simulate(with_opt.replace(prompt_len=prompt, gen_len=0))
    assert rep.latency.prefill(prompt) == pytest.approx(run.ttft_ms, rel=1e-9)
    ctx = int(rep.latency.decode_ctx[-1])
    step = ss.simulate(with_opt.replace(prompt_len=ctx, gen_len=1))
    assert rep.latency.decode_step(ctx) == pytest.approx(step.per_token_ms[0], rel=1e-9)
    assert rep.latency.prefill(prompt) != pytest.approx(plain.latency.prefill(prompt), rel=1e-6)


def test_replay_command_takes_the_run_options(capsys: pytest.CaptureFixture[str]) -> None:
    common = [
        "replay",
        "--trace",
        "traces/poisson_100.csv",
        "--limit",
        "5",
        "--layers",
        "2",
        "--samples",
        "2",
    ]
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        base = cli_json(capsys, *common)
        slow = cli_json(
            capsys,
            *common,
            "--clock-mhz",
            "125",
            "--cost",
            "softmax_exp_depth_cycles=900",
            "--set",
            "kernel.ffn1.cols=16",
            "--calibration",
            "u280",
        )
    finally:
        os.chdir(old)
    assert slow["clock_mhz"] == 125.0 and base["clock_mhz"] == 250.0
    assert slow["ttft_ms"]["p50"] > base["ttft_ms"]["p50"]  # type: ignore[index]


@pytest.mark.parametrize(
    "flag, what",
    [
        ("--design", "design file"),
        ("--platform", "platform file"),
        ("--calibration", "calibration profile"),
    ],
)
def test_a_binary_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, what: str
) -> None:
    blob = tmp_path / "blob.toml"
    blob.write_bytes(bytes(range(256)) * 4)
    assert (
        main(["run", "--layers", "1", "--gen-len", "0", "--prompt-len", "8", flag, str(blob)]) == 2
    )
    err = capsys.readouterr().err
    assert f"not a text {what} (not UTF-8)" in err and "blob.toml" in err


def test_advice_names_the_option_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UserError, match="rebuild with max_seq_len 80") as err:
        ss.simulate(prompt_len=64, max_seq_len=32)
    assert err.value.field == "max_seq_len"
    assert main(["run", "--prompt-len", "64", "--max-seq-len", "32"]) == 2
    assert "rebuild with --max-seq-len 80" in capsys.readouterr().err


def test_optimize_from_python_keeps_the_undominated_trials() -> None:
    from spatialsim.experiment.optimize import pareto

    req = ss.RunRequest(design="chen2024-w4a8", prompt_len=64, gen_len=1)
    rep = ss.optimize(req, trials=8, objectives=("ttft_ms", "dsp"))
    assert rep.objectives == ("ttft_ms", "dsp") and len(rep.trials) == 8
    assert [t.number for t in rep.front] == [t.number for t in pareto(rep.trials)]
    assert rep.front and all(t.feasible for t in rep.front)
    with pytest.raises(UserError, match="unknown objective 'area'"):
        ss.optimize(req, trials=2, objectives=("area",))
