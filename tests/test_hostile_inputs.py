"""Every hostile input found so far (issue 12), as a regression test: each exits 2 with a
message naming the file or option and what is wrong, never a traceback, never exit 0 with
non-finite output."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spatialsim.cli.main import INTERNAL_ERROR, main

ROOT = Path(__file__).resolve().parents[1]
U280 = (ROOT / "spatialsim/hardware/data/u280.toml").read_text()
BOARD = "model,design,platform,layers,prompt_len,gen_len,clock_mhz,ttft_ms,tpot_ms\n"
TRACE = "request_id,arrival_s,prompt_tokens,output_tokens\n"
HBM = "quantity,value,unit,conditions,kind,source\n"
RUN = ["run", "--layers", "1", "--gen-len", "1", "--prompt-len", "8"]


def files(tmp: Path) -> dict[str, Path]:
    """The hostile files, written into ``tmp``."""
    out: dict[str, str | bytes] = {
        "binary.toml": bytes(range(256)) * 8,
        "binary.csv": bytes(range(256)) * 8,
        "binary.json": bytes(range(256)) * 8,
        "deep.toml": "a = " + "[" * 50_000 + "]" * 50_000 + "\n",
        "deep.json": '{"n_layer": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "nan_platform.toml": re.sub(r"(?m)^read_bw_gbps = .*$", "read_bw_gbps = nan", U280),
        "nan_clock_platform.toml": re.sub(r"(?m)^max_clock_mhz = .*$", "max_clock_mhz = nan", U280),
        "trace_inf.csv": TRACE + "r1,inf,10,5\n",
        "trace_missing.csv": TRACE + "r1,0.1,10\n",
        "hbm_missing.csv": HBM + "pc_seq_read_bw,13.2,GB/s\n",
        "board_long_field.csv": BOARD
        + "gpt2,chen2024-w8a8,u280,1,8,2,250,"
        + "1" * 200_000
        + ",1\n",
        "board_inf_ttft.csv": BOARD + "gpt2,chen2024-w8a8,u280,1,8,2,250,inf,1\n",
        "board_inf_clock.csv": BOARD + "gpt2,chen2024-w8a8,u280,1,8,2,inf,1,1\n",
        "board_huge_prompt.csv": BOARD + "gpt2-medium,chen2024-w8a8,u280,1,5000,2,250,1,1\n",
        "board_fast_clock.csv": BOARD + "gpt2-medium,chen2024-w8a8,u280,1,8,2,1500,1,1\n",
        "hf_layers.json": json.dumps(
            {
                "model_type": "gpt2",
                "n_embd": 768,
                "n_head": 12,
                "n_layer": 1_000_000_000,
                "vocab_size": 50257,
                "n_positions": 1024,
            }
        ),
        "hf_head_dim.json": json.dumps(
            {
                "model_type": "gpt2",
                "n_embd": 768,
                "n_head": 768,
                "n_layer": 2,
                "vocab_size": 50257,
                "n_positions": 1024,
            }
        ),
        "hf_nan.json": '{"model_type": "gpt2", "n_embd": NaN}',
    }
    paths = {}
    for name, data in out.items():
        path = tmp / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
        paths[name] = path
    return paths


def fill(arg: str, paths: dict[str, Path]) -> str:
    """``{name}`` in an argument replaced by that file's path."""
    for name, path in paths.items():
        arg = arg.replace("{" + name + "}", str(path))
    return arg


CASES = [
    (["--set", "design.clock_mhz=nan"], "not a finite number"),
    (["--clock-mhz", "1e-9"], "is not a fabric clock: give 1 to 2000 MHz"),
    (["--cost", "launch_overhead_us=1e30"], "launch_overhead_us = 1e+30 is out of range"),
    (["--set", "design.resident_layers=1000000"], "resident_layers = 1000000 exceeds"),
    (["--design", "{binary.toml}"], "not a text design file (not UTF-8)"),
    (["--platform", "{binary.toml}"], "not a text platform file (not UTF-8)"),
    (["--calibration", "{binary.toml}"], "not a text calibration profile (not UTF-8)"),
    (["--model", "{binary.json}"], "not a text model config (not UTF-8)"),
    (["--design", "{deep.toml}"], "nested too deeply"),
    (["--model", "{deep.json}"], "nested too deeply"),
    (["--model", "{hf_nan.json}"], "NaN is not a JSON number"),
    (["--model", "{hf_layers.json}"], "'n_layer' = 1,000,000,000 is out of range"),
    (["--model", "{hf_head_dim.json}"], "head_dim = 768 / 768 = 1 is below 8"),
    (["--platform", "{nan_platform.toml}"], "read_bw_gbps must be a number from"),
    (["--platform", "{nan_clock_platform.toml}"], "max_clock_mhz must be a number from"),
    (["--set", "kernel.ffn1.in_features=7"], "the sizes of the two kernels disagree"),
]


@pytest.mark.parametrize("extra,needle", CASES, ids=[c[1][:40] for c in CASES])
def test_run_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    paths = files(tmp_path)
    args = [fill(a, paths) for a in extra]
    assert main([*RUN, *args, "--json", str(tmp_path / "out.json")]) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert not (tmp_path / "out.json").exists()


OTHER = [
    (["replay", "--trace", "{binary.csv}"], "not a text trace (not UTF-8)"),
    (["replay", "--trace", "{trace_inf.csv}"], "arrival_s = 'inf' is not a number"),
    (["replay", "--trace", "{trace_missing.csv}"], "line 2: 3 cells, but the header has 4"),
    (["calibrate", "--board", "{binary.csv}"], "not a text CSV file (not UTF-8)"),
    (["calibrate", "--hbm", "{binary.csv}"], "not a text CSV file (not UTF-8)"),
    (["calibrate", "--hbm", "{hbm_missing.csv}"], "line 2: 3 cells, but the header has 6"),
    (["calibrate", "--board", "{board_long_field.csv}"], "field larger than field limit"),
    (["calibrate", "--board", "{board_inf_ttft.csv}"], "ttft_ms = 'inf' is not a number"),
    (["calibrate", "--board", "{board_inf_clock.csv}"], "clock_mhz = 'inf' is not a number"),
    (["calibrate", "--board", "{board_huge_prompt.csv}"], "exceeds gpt2-medium's 1,024"),
    (["calibrate", "--board", "{board_fast_clock.csv}"], "fabric ceiling of 891 MHz"),
    (["analyze", "--tp", "3"], "--tp 3 does not split gpt2-medium's 16 heads"),
]


@pytest.mark.parametrize("args,needle", OTHER, ids=[c[1][:40] for c in OTHER])
def test_other_commands_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    paths = files(tmp_path)
    argv = [fill(a, paths) for a in args]
    if argv[0] == "calibrate":
        argv += ["--out", str(tmp_path / "p.toml")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert not (tmp_path / "p.toml").exists()


def hls_report(latency: str, clock: str = "3.33") -> str:
    return f"""== Vitis HLS Report for 'Softmax_layer'
================================================================
== Performance Estimates
================================================================
+ Timing:
    * Summary:
    +--------+---------+----------+------------+
    |  Clock |  Target | Estimated| Uncertainty|
    +--------+---------+----------+------------+
    |ap_clk  |  {clock} ns|  2.433 ns|     0.90 ns|
    +--------+---------+----------+------------+

+ Latency:
    * Summary:
    +---------+---------+-----------+-----------+--------+--------+---------+
    |  Latency (cycles) |   Latency (absolute)  |     Interval    | Pipeline|
    |   min   |   max   |    min    |    max    |   min  |   max  |   Type  |
    +---------+---------+-----------+-----------+--------+--------+---------+
    |   {latency}|   {latency}|  0.585 ms |  0.585 ms |  175618|  175618|       no|
    +---------+---------+-----------+-----------+--------+--------+---------+

    + Detail:

================================================================
== Utilization Estimates
================================================================
"""


@pytest.mark.parametrize(
    "latency,needle",
    [("-175617", "latency = -175617 cycles is negative"), ("inf", None), ("9" * 400, None)],
)
def test_hls_reports_with_impossible_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], latency: str, needle: str | None
) -> None:
    path = tmp_path / "softmax_csynth.rpt"
    path.write_text(hls_report(latency))
    code = main(["report-hls", str(path), "--json", "-"])
    out, err = capsys.readouterr()
    if needle:
        assert code == 2 and needle in err
    else:  # not a number a report could hold: read as absent, never Infinity in JSON
        assert code == 0
        assert json.loads(out)["latency_cycles"] is None


def test_replay_of_single_token_requests_without_output(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(TRACE + "r1,0.1,1,0\nr2,0.2,1,0\n")
    assert main(["replay", "--trace", str(path), "--layers", "1", "--json", "-"]) == 0


def test_generated_code_only_takes_identifiers(tmp_path: Path) -> None:
    """A FIFO name carrying a newline and a C statement is refused when the design loads."""
    from spatialsim.design.fileio import dumps_design, load_design
    from spatialsim.design.templates import build_design
    from spatialsim.errors import UserError
    from spatialsim.workload.models import get_model

    text = dumps_design(build_design("chen2024-w8a8", get_model("gpt2"), 32))
    evil = text.replace('"splitter_to_ffn1"', '"x\\n#include </etc/passwd>\\nint y"', 1)
    assert evil != text
    path = tmp_path / "evil.toml"
    path.write_text(evil)
    with pytest.raises(UserError, match="is not an identifier"):
        load_design(path)
    kw = text.replace('"splitter_to_ffn1"', '"class"', 1)
    path.write_text(kw)
    with pytest.raises(UserError, match="not a C\\+\\+ keyword"):
        load_design(path)


def test_an_internal_error_is_not_a_user_error(tmp_path: Path) -> None:
    """A bug (here: a kernel body that raises) exits 70 and names a crash file holding the
    traceback, instead of a traceback on the terminal or an exit 2."""
    code = (
        "import sys\n"
        "from spatialsim.kinds import kind\n"
        "spec = kind('residual')\n"
        "def broken(k):\n"
        "    raise ZeroDivisionError('boom')\n"
        "    yield\n"
        "object.__setattr__(spec, 'body', broken)\n"
        "from spatialsim.cli.main import main\n"
        "sys.exit(main(['run', '--layers', '1', '--gen-len', '0', '--prompt-len', '8']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert proc.returncode == INTERNAL_ERROR
    assert "internal error (ZeroDivisionError: boom)" in proc.stderr
    assert "Traceback" not in proc.stderr
    crash = proc.stderr.rsplit("Details: ", 1)[1].strip()
    text = Path(crash).read_text()
    assert "Traceback" in text and "boom" in text
    Path(crash).unlink()


def strict(text: str) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"{name} in output")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    "argv",
    [
        [*RUN, "--json", "-"],
        ["analyze", "--json", "-"],
        ["analyze", "--balance", "--json", "-"],
        ["kernels", "--json", "-"],
        ["kernels", "--design", "chen2024-w8a8", "--phase", "decode", "--json", "-"],
        [
            "replay",
            "--trace",
            "traces/poisson_100.csv",
            "--layers",
            "1",
            "--limit",
            "5",
            "--json",
            "-",
        ],
        ["validate", "--json", "-"],
        ["models", "gpt2", "--json", "-"],
        ["platforms", "u280", "--json", "-"],
        ["design", "--json", "-"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_no_command_writes_nan_or_infinity(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command's JSON parses under a strict reader (NaN and Infinity refused), and
    the writer itself refuses a non-finite number rather than writing it."""
    monkeypatch.chdir(ROOT)
    assert main(argv) == 0
    strict(capsys.readouterr().out)


def test_the_json_writer_refuses_non_finite_numbers() -> None:
    from spatialsim.report.text import json_text

    with pytest.raises(ValueError, match=r"non-finite number in output: \.a\.b\[1\] = nan"):
        json_text({"a": {"b": [1.0, float("nan")]}})


PROFILE = (ROOT / "spatialsim/calibration/data/u280.toml").read_text()


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda t: re.sub(r"(?m)^value = .*$", "value = nan", t, count=1), "is out of range"),
        (lambda t: re.sub(r"(?m)^value = .*$", "value = inf", t, count=1), "is out of range"),
        (lambda t: re.sub(r"(?m)^value = .*$", "value = 1e308", t, count=1), "is out of range"),
        (lambda t: re.sub(r"(?m)^stderr = .*$", "stderr = nan", t, count=1), "stderr = nan"),
        (lambda t: re.sub(r"(?m)^stderr = .*$", "stderr = -1.0", t, count=1), "stderr = -1.0"),
        (
            lambda t: re.sub(r"matrix = \[\n\s+\[[^\]]*\],\n", "matrix = [\n", t, count=1),
            "must be 7 x 7, got shape (6, 7)",
        ),
        (lambda t: t[: t.index("value = ") + 20], "has no covariance: the profile is truncated"),
    ],
    ids=["nan", "inf", "1e308", "nan-stderr", "negative-stderr", "covariance-shape", "truncated"],
)
def test_broken_profiles_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: object, needle: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(edit(PROFILE))  # type: ignore[operator]
    assert main([*RUN, "--calibration", str(path)]) == 2
    assert needle in capsys.readouterr().err


def test_an_empty_platform_name_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*RUN, "--platform", ""]) == 2
    assert "--platform must be a name or a path, got ''" in capsys.readouterr().err


def test_a_report_clock_that_is_not_a_number_is_absent(tmp_path: Path) -> None:
    from spatialsim.calibration.hls_report import parse_report

    path = tmp_path / "x_csynth.rpt"
    path.write_text(hls_report("175617", clock="9" * 400))
    assert parse_report(path).clock_target_ns is None


def test_an_empty_model_name_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*RUN, "--model", ""]) == 2
    assert "--model must be a name or a path, got ''" in capsys.readouterr().err


def test_analyze_strict_exits_4_on_an_exceeded_constraint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The W8A8 decode GEMVs ask 16 GB/s of a 13.2 GB/s channel: reported, and with
    --strict the exit status says so."""
    args = ["analyze", "--design", "chen2024-w8a8", "--prompt-len", "64", "--gen-len", "4"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 constraint(s) EXCEEDED: decode: offchip_bandwidth" in out
    assert "--strict exits with status 4" in out
    assert main([*args, "--strict"]) == 4
    assert main(["analyze", "--strict", "--design", "chen2024-w4a8"]) == 0  # exceeds nothing
    assert main(["analyze", "--strict"]) == 4  # the default is this W8A8 design
