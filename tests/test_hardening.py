"""Issue 21, hardening round two: one section per class of input that reached further than
it should. Every case exits 2 (or raises ``UserError``) naming what is wrong, before any
work it could not bound, and never with a traceback."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
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


# ---- 1. generated scripts and code take only what they were validated for --------------

U280 = (ROOT / "spatialsim/hardware/data/u280.toml").read_text()
VITIS = ("open_project", "set_top", "add_files", "open_solution", "set_part", "create_clock",
         "csim_design", "csynth_design", "cosim_design", "close_project")  # fmt: skip


def _platform(tmp: Path, part: str) -> Path:
    path = tmp / "card.toml"
    path.write_text(U280.replace('part = "xcu280-fsvh2892-2L-e"', f"part = {part}", 1))
    return path


@pytest.mark.parametrize(
    "part",
    [
        '"xcu280[exec touch PWNED]"',
        '"xcu280-fsvh2892-2L-e; exec touch PWNED"',
        '"xcu280-fsvh2892-2L-e\\nexec touch PWNED"',
        '"$env(HOME)"',
        '"xcu280 -fsvh2892"',
        '"{xcu280}"',
        '""',
    ],
)
def test_a_part_number_is_held_to_its_grammar(
    part: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = _platform(tmp_path, part)
    out = tmp_path / "hls"
    refused(capsys, ["export-hls", "--platform", str(card), "--out", str(out)], "part number")
    assert not out.exists()


def _vitis_log(script: Path, tmp: Path) -> list[str]:
    """Source a generated Tcl script in tclsh with the Vitis commands recorded, not run."""
    stubs = "".join(f'proc {c} {{args}} {{puts "{c} [list {{*}}$args]"}}\n' for c in VITIS)
    proc = subprocess.run(
        ["tclsh"], input=stubs + f"source {{{script}}}\nputs hw=$hw\n", text=True,
        capture_output=True, cwd=tmp, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.skipif(
    not shutil.which("tclsh"), reason="tclsh is not installed (.ci/run installs it)"
)
def test_the_generated_tcl_runs_only_vitis_commands_with_literal_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from spatialsim.hls import export

    evil = tmp_path / "hw $(touch PWNED) [exec touch PWNED2] ;x"
    monkeypatch.setattr(export, "hw_kernels_dir", lambda: evil)
    monkeypatch.delenv("SPATIAL_HW_KERNELS", raising=False)
    out = tmp_path / "hls"
    assert (
        main(["export-hls", "--design", "chen2024-w8a8", "--seq-len", "32", "--out", str(out)]) == 0
    )
    capsys.readouterr()
    for step in ("csim", "csynth", "cosim"):
        log = _vitis_log(out / "decode" / f"{step}.tcl", tmp_path)
        assert {line.split()[0] for line in log} <= {*VITIS, "hw=" + str(evil).split()[0]}
        assert f"hw={evil}" in log
        assert "set_part xcu280-fsvh2892-2L-e" in log
    assert not list(tmp_path.glob("PWNED*"))
    # a path Tcl cannot hold literally is refused, not written
    monkeypatch.setattr(export, "hw_kernels_dir", lambda: tmp_path / "a{b")
    refused(capsys, ["export-hls", "--seq-len", "32", "--out", str(tmp_path / "h2")], "Tcl")


def _design_file(tmp: Path, edit: Callable[[str], str], name: str = "d.toml") -> Path:
    from spatialsim.design.fileio import dumps_design
    from spatialsim.design.templates import build_design
    from spatialsim.workload.models import get_model

    text = dumps_design(build_design("chen2024-w8a8", get_model("gpt2"), 32))
    edited = edit(text)
    assert edited != text
    path = tmp / name
    path.write_text(edited)
    return path


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda t: t.replace('"splitter_to_ffn1"', '"split_ffn1"'), "'splitter_to_ffn1'"),
        (lambda t: t.replace('"ffn_residual_bypass"', '"bypass"'), "'ffn_residual_bypass'"),
        (lambda t: t.replace('"mask_to_softmax"', '"softmax_in"'), "'mask_to_softmax'"),
    ],
)
def test_renamed_fifos_are_refused_naming_the_fifo(
    edit: Callable[[str], str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    design = _design_file(tmp_path, edit)
    out = tmp_path / "hls"
    argv = ["export-hls", "--design", str(design), "--seq-len", "32", "--out", str(out)]
    refused(capsys, argv, needle)
    assert not out.exists()
    # the same design still simulates: only the export cannot express it
    assert main([*RUN, "--design", str(design)]) == 0


@pytest.mark.parametrize(
    "value",
    ["a\\n#error boom", "x /* open", "grp\\\\", "has space", "9starts", "é", "a" * 65],
)
def test_free_text_kernel_parameters_are_names(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused(
        capsys,
        [*RUN, "--set", f"kernel.input_loader.axi_group={value}"],
        "is not a name",
    )
    design = _design_file(
        tmp_path, lambda t: t.replace('axi_group = ""', f'axi_group = "{value}"', 1)
    )
    argv = ["export-hls", "--design", str(design), "--seq-len", "32", "--out", str(tmp_path / "o")]
    refused(capsys, argv, "name")


@pytest.mark.parametrize("port", ['"HBM[3]\\n#error x"', '"HBM[٣]"', '"HBM[3] "', '"DDR[00001]x"'])
def test_memory_ports_are_bindings_and_nothing_else(
    port: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    design = _design_file(tmp_path, lambda t: t.replace('"HBM[0]",', f"{port},", 1))
    refused(capsys, [*RUN, "--design", str(design)], "is not 'HBM[i]' or 'DDR[i]'")


def test_text_in_generated_comments_cannot_leave_the_comment() -> None:
    from spatialsim.hls.export import comment

    for text in ("a\nb", "a\\", "x\r\n#error", "%0A", "é\u2028"):
        safe = comment(text)
        assert all(" " <= c <= "~" for c in safe) and "\\" not in safe, safe
    assert comment("a\nb\\%") == "a%0Ab%5C%25"
    assert comment("plain text, 12 = 3 x 4") == "plain text, 12 = 3 x 4"


# ---- 3. no request can ask for unbounded work -------------------------------------------


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["replay", "--trace", "T", "--samples", "1000000000"], "--samples must be an integer"),
        (["replay", "--trace", "T", "--limit", "0"], "positive integer"),
        (["trace", "--requests", "10000000"], "--requests must be an integer from 1 to 1,000,000"),
        (["trace", "--seed", "99999999999999999999"], "--seed must be an integer from 0 to"),
        (["optimize", "--trials", "1000000000"], "--trials must be an integer from 1 to 10,000"),
        (["optimize", "--trials", "600"], "the search space has 512 designs"),
        (["models", "gpt2", "--tokens", "1000000000000"], "exceeds gpt2's context of 1,024"),
        (["calibrate", "--out", "P", "--hls", *["H"] * 1025], "1,025 files; at most 1,024"),
        (["optimize", "--seed", "18446744073709551616"], "--seed must be an integer from 0"),
        (["calibrate", "--hls", "H", "--hls-seq-len", "1000000000", "--out", "P"],
         "--hls-seq-len must be an integer from 1 to 1,024 (gpt2-medium's context)"),
    ],
)  # fmt: skip
def test_counts_have_ceilings_checked_before_work(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subst = {
        "T": str(ROOT / "traces/burst_fixed_50.csv"),
        "H": str(tmp_path / "never-read.csv"),
        "P": str(tmp_path / "p.toml"),
    }
    argv = [subst.get(a, a) for a in argv]
    try:
        refused(capsys, argv, needle)
    except SystemExit as stop:  # refused by argparse while reading the options
        assert stop.code == 2
        assert needle in capsys.readouterr().err


@pytest.mark.parametrize("command", ["sweep", "replay", "calibrate", "optimize"])
def test_workers_are_at_most_the_cores(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from spatialsim.limits import max_workers

    with pytest.raises(SystemExit) as stop:
        main([command, "--workers", str(max_workers() + 1)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"must be an integer from 1 to {max_workers()}" in err and "cores" in err
    with pytest.raises(UserError, match="workers must be an integer from 1"):
        from spatialsim.executor import Executor

        Executor(100_000)


@pytest.mark.parametrize(
    "field,value",
    [
        ("channels", "100000000"),
        ("channels", "0"),
        ("read_bw_gbps", "5e-324"),
        ("read_bw_gbps", "1e-300"),
        ("latency_ns", "1e300"),
        ("switch_group", "1000"),
        ("attached_slr", "3"),
        ("attached_slr", "-1"),
    ],
)
def test_platform_numbers_are_in_their_physical_range(
    field: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    text = re.sub(rf"(?m)^{field} = .*$", f"{field} = {value}", U280, count=1)
    card = tmp_path / "card.toml"
    card.write_text(text)
    refused(capsys, [*RUN, "--platform", str(card)], field)


@pytest.mark.parametrize(
    "edit,needle",
    [
        (("sll_per_boundary = 23040", "sll_per_boundary = -5"), "sll_per_boundary"),
        (("[pcie]\ngen = 3", "[pcie]\ngen = 99"), "pcie.gen"),
        (("[links]\nports = 2", "[links]\nports = 0"), "links.ports"),
        (("[reserved]\nlut = 132845", "[reserved]\nlut = 99999999"), "reserved.lut"),
    ],
)
def test_more_platform_ranges(
    edit: tuple[str, str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edit[0] in U280
    card = tmp_path / "card.toml"
    card.write_text(U280.replace(*edit))
    refused(capsys, [*RUN, "--platform", str(card)], needle)


def test_duplicate_workloads_are_sized_once_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from spatialsim.experiment.fifo_size import size_fifos
    from spatialsim.hardware.platform import get_platform
    from spatialsim.limits import MAX_WORKLOADS

    many = [w for i in range(MAX_WORKLOADS + 1) for w in ("--workload", f"{8 + i}+1")]
    out = str(tmp_path / "s.toml")
    refused(capsys, ["fifo-size", "--out", out, *many], f"at most {MAX_WORKLOADS}")
    from spatialsim.design.templates import build_design
    from spatialsim.workload.models import get_model

    design = build_design("chen2024-w8a8", get_model("gpt2"), 64)
    with pytest.raises(UserError, match=f"40 distinct workloads; at most {MAX_WORKLOADS}"):
        size_fifos(design, get_platform("u280"), [(8 + i, 1) for i in range(40)])
    # hundreds of copies of one workload are one workload, sized once
    copies = [w for _ in range(300) for w in ("--workload", "8+1")]
    argv = ["fifo-size", "--prompt-len", "8", "--gen-len", "1", "--layers", "1"]
    assert main([*argv, "--out", out, *copies]) == 0
    printed = capsys.readouterr().out
    assert "8+1" in printed and "8+1, 8+1" not in printed


# ---- 4. schedulers that never answer ------------------------------------------------------


def _listener(behaviour: str) -> tuple[str, Callable[[], None]]:
    """A local TCP server that accepts and then says nothing, speaks HTTP, or sends noise."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)
            if behaviour == "noise":
                conn.sendall(b"\xff" * 64 + os.urandom(4096))
            elif behaviour == "http":
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join()
        for c in held:
            c.close()
        server.close()

    return f"tcp://127.0.0.1:{server.getsockname()[1]}", close


@pytest.mark.parametrize(
    "behaviour,needle",
    [
        ("silent", "sent nothing in 2 s"),
        ("noise", "does not speak Dask's protocol"),
        ("http", "does not speak Dask's protocol"),
    ],
)
def test_a_peer_that_is_not_a_scheduler_is_refused_in_time(
    behaviour: str, needle: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import time

    from spatialsim import executor

    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 2.0)
    address, close = _listener(behaviour)
    try:
        t0 = time.monotonic()
        trace = str(ROOT / "traces/burst_fixed_50.csv")
        argv = ["replay", "--trace", trace, "--layers", "1", "--samples", "1"]
        refused(capsys, [*argv, "--scheduler", address], needle, address)
        assert time.monotonic() - t0 < 10
    finally:
        close()


@pytest.mark.parametrize(
    "address",
    ["ftp://127.0.0.1:8786", "garbage!!", "tcp://host", "tcp://h:99999", "tcp://a b:1",
     "tcp://h:1/path", "inproc://x", "tcp://h:1\n"],
)  # fmt: skip
def test_malformed_scheduler_addresses_are_refused(
    address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from spatialsim.executor import Executor

    with pytest.raises(UserError, match="is not a Dask scheduler address"):
        Executor(scheduler=address)
    with pytest.raises(SystemExit) as stop:
        main(["sweep", str(ROOT / "examples/sweep.toml"), "--scheduler", address])
    assert stop.value.code == 2
    assert "not a Dask scheduler address" in capsys.readouterr().err


# ---- 5. numbers that pass validation and then overflow -----------------------------------


@pytest.mark.parametrize(
    "option,value,needle",
    [
        ("--link-gbps", "5e-324", "not a link's line rate"),
        ("--link-gbps", "1e-300", "not a link's line rate"),
        ("--link-gbps", "1e300", "not a link's line rate"),
        ("--clock-mhz", "5e-324", "not a fabric clock"),
        ("--chunks-per-row", "1000000000", "from 1 to 1,024"),
        ("--link-depth", "1000000000000", "from 1 to 1,048,576"),
        ("--layers", "1000000000", "from 1 to 1,024"),
        ("--cost", "hbm_efficiency=5e-324", "out of range"),
        ("--cost", "link_efficiency=1e-300", "out of range"),
    ],
)
def test_tiny_and_huge_values_are_outside_physical_ranges(
    option: str, value: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    refused(capsys, ["run", "--tp", "2", option, value], needle)


@pytest.mark.parametrize(
    "cells,needle",
    [
        ("1,8,2,250,1e-300,1", "ttft_ms = 1e-300 must be from 1e-06 to"),
        ("1,8,2,250,1,1e300", "tpot_ms = 1e300 must be from"),
        ("1,8,2,1e-300,1,1", "clock_mhz = 1e-300 must be from 1 to 2000 MHz"),
        ("1,8,2,250,5e-324,1", "ttft_ms = 5e-324 must be from"),
        ("1000000000,8,2,250,1,1", "layers = 1000000000 must be from 1 to 1024"),
        ("1,8,99999999999,250,1,1", "gen_len = 99999999999 must be from"),
    ],
)
def test_board_numbers_are_in_physical_ranges(
    cells: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = tmp_path / "b.csv"
    board.write_text(BOARD + f"gpt2,chen2024-w8a8,u280,{cells}\n")
    refused(capsys, ["calibrate", "--board", str(board), "--out", str(tmp_path / "p")], needle)


@pytest.mark.parametrize(
    "old,new,needle",
    [
        (",250,x,", ",0,x,", "Clock Frequency (MHz) = '0' must be from 1 to 2000 MHz"),
        (",250,x,", ",1e-300,x,", "Clock Frequency (MHz) = '1e-300' must be from 1"),
        ("1.000000x,50.8,", "1.000000x,1e300,", "Total Time (ms) = '1e300' must be from 0 to"),
        (",1:1:1,24,Yes", ",1:1:1,1e300,Yes", "Number Of Calls = '1e300' must be from 0 to"),
    ],
)
def test_xrt_numbers_are_in_physical_ranges(old: str, new: str, needle: str) -> None:
    from test_xrt import SUMMARY

    from spatialsim.calibration.xrt import parse_summary

    assert old in SUMMARY
    with pytest.raises(UserError, match=re.escape(needle)):
        parse_summary(SUMMARY.replace(old, new, 1).splitlines(), "summary.csv")


@pytest.mark.parametrize("noise", ["board=1e-300", "board=5e-324", "hls=0", "board=1_0e-2"])
def test_measurement_noise_is_physical(
    noise: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = str(ROOT / "examples/calibration/board.csv")
    argv = ["calibrate", "--board", board, "--noise", noise, "--out", str(tmp_path / "p")]
    refused(capsys, argv, "1e-06 <= REL < 1")


def test_a_sweep_row_that_overflows_is_an_error_never_feasible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dataclasses

    from spatialsim.experiment import session, sweep
    from spatialsim.experiment.request import RunRequest

    real = session.simulate_prepared

    class Overflowed:
        """A result whose TTFT overflowed (as 1e299 ms answers did)."""

        ttft_ms = math.inf

        def __init__(self, real: object) -> None:
            self._real = real

        def __getattr__(self, name: str) -> object:
            return getattr(self._real, name)

    def overflowing(req: RunRequest, prep: object) -> object:
        rep = real(req, prep)  # type: ignore[arg-type]
        return dataclasses.replace(rep, result=Overflowed(rep.result))

    monkeypatch.setattr(session, "simulate_prepared", overflowing)
    row = sweep.run_point(RunRequest(model="gpt2", layers=1, prompt_len=8, gen_len=1))
    assert row["feasible"] is False and row["ttft_ms"] is None
    assert "non-finite ttft_ms" in row["error"]
    assert row["tpot_ms"] is not None and math.isfinite(row["tpot_ms"])


# ---- 6. other internal errors reached from user input ------------------------------------

SPEC = (
    '[base]\nmodel = "gpt2"\nlayers = 1\nprompt_len = 8\ngen_len = 1\n'
    "[axes]\nclock_mhz = [200, 250]\n"
)


def _sweep(tmp: Path, out: Path, spec_text: str = SPEC) -> list[str]:
    spec = tmp / "spec.toml"
    spec.write_text(spec_text)
    return ["sweep", str(spec), "--out", str(out), "--workers", "1"]


@pytest.mark.parametrize(
    "name,content,needle",
    [
        ("sweep.json", b"{not json", "sweep.json: not valid JSON"),
        ("sweep.json", b"", "sweep.json: not valid JSON"),
        ("sweep.json", b"[1, 2]", "sweep.json is damaged"),
        ("sweep.json", b'{"spec": 5}', "sweep.json is damaged"),
        ("sweep.json", bytes(range(256)), "not UTF-8"),
        ("results.csv", bytes(range(256)) * 4, "results.csv: not a text"),
        ("results.csv", b"key,clock_mhz\n", "its columns are not this sweep's"),
    ],
)
def test_a_damaged_sweep_folder_is_refused_naming_the_file(
    name: str, content: bytes, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(_sweep(tmp_path, out)) == 0
    capsys.readouterr()
    (out / name).write_bytes(content)
    refused(capsys, _sweep(tmp_path, out), needle)


@pytest.mark.parametrize(
    "axis,needle",
    [
        ("clock_mhz = {range = [0, 1e308, 1e-308]}", "has more than 1,000,000 values"),
        ("clock_mhz = {range = [-1e308, 1e308, 1]}", "has more than 1,000,000 values"),
        ("clock_mhz = {range = [1, 2, 5e-324]}", "has more than 1,000,000 values"),
        ("clock_mhz = {low = -1e308, high = 1e308}", "wider than a float can hold"),
    ],
)
def test_ranges_near_the_float_limits_are_refused(
    axis: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SPEC.replace("clock_mhz = [200, 250]", axis)
    if "low" in axis:
        text += "[sample]\npoints = 2\n"
    refused(capsys, _sweep(tmp_path, tmp_path / "o", text), needle)


def test_plot_refuses_what_it_cannot_draw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    cases = [
        ("result.json", "[1, 2, 3]", "a JSON list, not the object"),
        ("result.json", '{"model": "m"}', "field 'design' is missing"),
        ("result.json", "", "not valid JSON"),
    ]
    for name, text, needle in cases:
        (folder / name).write_text(text)
        refused(capsys, ["plot", str(folder)], needle)
        (folder / name).unlink()
    # a sweep interrupted before its first row leaves the header alone
    out = tmp_path / "s"
    assert main(_sweep(tmp_path, out)) == 0
    table = out / "results.csv"
    table.write_text(table.read_text().splitlines()[0] + "\n")
    refused(capsys, ["plot", str(out)], "no rows yet")
    table.write_bytes(b"\x00\x01\xff" * 100)
    refused(capsys, ["plot", str(out)], "not UTF-8")
    # a result with the right fields but a malformed inside
    good = tmp_path / "run"
    assert main([*RUN, "--out", str(good)]) == 0
    doc = json.loads((good / "result.json").read_text())
    capsys.readouterr()
    (good / "plots").write_text("a file where the figures' folder goes")
    refused(capsys, ["plot", str(good)], "plots: exists and is not a folder")
    (good / "plots").unlink()
    doc["phases"] = {"prefill": "nonsense"}
    (good / "result.json").write_text(json.dumps(doc))
    refused(capsys, ["plot", str(good)], "malformed")


def test_standard_output_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "spatialsim.cli.main", *RUN]
    for argv, kwargs in (
        ([*cmd, "--json", "-"], {"stdout": open("/dev/full", "w")}),  # noqa: SIM115
        (cmd, {"stdout": open("/dev/full", "w")}),  # noqa: SIM115
        ([*cmd, "--json", "-"], {"preexec_fn": lambda: os.close(1)}),
        (
            [sys.executable, "-m", "spatialsim.cli.main", "models"],
            {"preexec_fn": lambda: os.close(1)},
        ),
    ):
        proc = subprocess.run(argv, stderr=subprocess.PIPE, text=True, timeout=120, **kwargs)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
        assert "standard output" in proc.stderr


# ---- 7. one writer per results table -----------------------------------------------------


def test_a_second_writer_is_refused_naming_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("pid 4242 on somehost since 2026-12-06 07:00:00\n")
        held.flush()
        refused(capsys, _sweep(tmp_path, out), "being written by another sweep", "pid 4242")
    assert not (out / "results.csv").exists()
    # once the holder is gone (its lock released with it), the folder is free
    assert main(_sweep(tmp_path, out)) == 0


def test_concurrent_sweeps_write_every_row_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "spatialsim.cli.main", *_sweep(tmp_path, out)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]  # fmt: skip
    results = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    assert set(codes) <= {0, 2} and 0 in codes, results
    for code, (_, err) in zip(codes, results, strict=True):
        if code == 2:
            assert "being written by another sweep" in err, err
    # however the three interleaved, a rerun completes the table: each point once
    assert main(_sweep(tmp_path, out)) == 0
    lines = (out / "results.csv").read_text().splitlines()
    keys = [line.split(",")[0] for line in lines[1:]]
    assert len(keys) == 2 and len(set(keys)) == 2


def test_a_damaged_line_is_refused_by_number_never_hidden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    three = SPEC.replace("[200, 250]", "[200, 250, 300]")
    assert main(_sweep(tmp_path, out, three)) == 0
    table = out / "results.csv"
    lines = table.read_text().splitlines(keepends=True)
    assert len(lines) == 4
    # an unterminated quote on line 2 would make the csv module swallow lines 3 and 4
    table.write_text(lines[0] + '"' + lines[1] + lines[2] + lines[3])
    refused(capsys, _sweep(tmp_path, out, three), "line 2 is damaged")
    table.write_text(lines[0] + lines[1] + "a,b\n" + lines[3])
    refused(capsys, _sweep(tmp_path, out, three), "line 3 is damaged (2 cells")
    # a last line cut short by a kill is dropped and its point computed again
    table.write_text(lines[0] + lines[1] + lines[2] + lines[3][:20])
    capsys.readouterr()
    assert main(_sweep(tmp_path, out, three)) == 0
    assert "1 computed now, 2 already" in capsys.readouterr().out
    assert table.read_text().count("\n") == 4


# ---- 8. nonsense accepted with exit 0 ----------------------------------------------------

TRACE_HEADER = "request_id,arrival_s,prompt_tokens,output_tokens\n"


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["trace", "--prompt", "lognormal:nan:0.8"], "expected fixed:N"),
        (["trace", "--prompt", "lognormal:inf:0.8"], "expected fixed:N"),
        (["trace", "--output", "uniform:0:1e21"], "HI = 1e+21 must be from 0 to 1,048,576"),
        (["trace", "--prompt", "fixed:-3"], "N = -3.0 must be from 0"),
        (["trace", "--prompt", "fixed:1_0"], "expected fixed:N"),
        (["trace", "--rate", "1e-300"], "arrival rate must be from"),
        (["trace", "--requests", "1000", "--rate", "1e-6"], "arrive over"),
        ([*RUN, "--set", "kind.gemv.order=column", "--design", "chen2024-w4a8"],
         "has no kernel of kind gemv"),
        ([*RUN, "--set", "kind.collective.devices=2"], "has no kernel of kind collective"),
        ([*RUN, "--prompt-len", "1_0"], "expected a positive integer"),
        ([*RUN, "--prompt-len", "\u0663"], "expected a positive integer"),
    ],
)  # fmt: skip
def test_nonsense_options_are_refused(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        refused(capsys, argv, needle)
    except SystemExit as stop:
        assert stop.code == 2
        assert needle in capsys.readouterr().err


@pytest.mark.parametrize(
    "row,needle",
    [
        ("r1,1e308,10,5", "arrival_s = 1e+308 must be from 0 to 1e+09 seconds"),
        ("r1,1_0,10,5", "arrival_s = '1_0' is not a number"),
        ("r1,0.5,1_0,5", "prompt_tokens = '1_0' is not an integer"),
        ("r1,0.5,\u0661\u0660,5", "prompt_tokens = '\u0661\u0660' is not an integer"),
        ("r1,\u0660.5,10,5", "is not a number"),
        ("r1,0x10,10,5", "is not a number"),
    ],
)
def test_nonsense_trace_rows_are_refused(
    row: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(TRACE_HEADER + row + "\n", encoding="utf-8")
    refused(capsys, ["replay", "--trace", str(trace), "--layers", "1"], needle)


@pytest.mark.parametrize(
    "cells,needle",
    [
        ("1_0,8,2,250,1,1", "layers = '1_0' is not an integer"),
        ("1,\u0668,2,250,1,1", "prompt_len = '\u0668' is not an integer"),
        ("1,8,2,2_50,1,1", "clock_mhz = '2_50' is not a number"),
        ("1,8,2,250,\uff11,1", "ttft_ms = '\uff11' is not a number"),
    ],
)
def test_board_cells_in_other_digits_are_refused(
    cells: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = tmp_path / "b.csv"
    board.write_text(BOARD + f"gpt2,chen2024-w8a8,u280,{cells}\n", encoding="utf-8")
    refused(capsys, ["calibrate", "--board", str(board), "--out", str(tmp_path / "p")], needle)


def test_a_design_file_with_a_billion_layers_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for layers in ("1000000000", "0", "1025"):
        design = _design_file(
            tmp_path, lambda t, n=layers: t.replace("layers = 12", f"layers = {n}", 1)
        )
        refused(
            capsys, [*RUN, "--design", str(design)], "layers must be an integer from 1 to 1,024"
        )


@pytest.mark.parametrize(
    "model_type,key,value",
    [
        ("gpt2", "activation_function", "rm -rf"),
        ("gpt2", "activation_function", "relu"),
        ("bert", "hidden_act", "tanh"),
        ("llama", "hidden_act", "gelu"),
        ("opt", "activation_function", "gelu"),
    ],
)
def test_an_activation_the_kernels_do_not_compute_is_refused(
    model_type: str, key: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = {
        "model_type": model_type, "n_embd": 64, "n_head": 2, "n_layer": 1, "vocab_size": 100,
        "n_positions": 64, "hidden_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1,
        "intermediate_size": 128, "max_position_embeddings": 64, "ffn_dim": 128, key: value,
    }  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    refused(capsys, [*RUN, "--model", str(path)], f"{key} {value!r} is not supported")
    from spatialsim.workload.models import load_hf_config

    cfg.pop(key)  # absent: the family's own activation, accepted
    path.write_text(json.dumps(cfg))
    assert load_hf_config(path).layers == 1


def test_one_compute_unit_maps_to_one_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xrt = tmp_path / "summary.csv"
    xrt.write_text("x")
    argv = ["calibrate", "--xrt", str(xrt), "--out", str(tmp_path / "p"),
            "--map", "cu1=region_1", "--map", "cu1=region_2"]  # fmt: skip
    refused(capsys, argv, "compute unit cu1 two targets, region_1 and region_2")


# ---- 9. inputs and outputs that collide ---------------------------------------------------


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["calibrate", "--board", "B", "--out", "B"], "--out B is the input --board B"),
        (["calibrate", "--board", "B", "--out", "P", "--plot", "P"], "--out and --plot both name"),
        (["calibrate", "--hbm", "B", "--board", "B2", "--out", "B"], "is the input --hbm"),
        (["fifo-size", "--design", "D", "--out", "D"], "--out D is the input --design D"),
        ([*RUN, "--design", "D", "--json", "D"], "--json D is the input --design D"),
        ([*RUN, "--json", "X", "--out", "X"], "--out and --json both name X"),
        ([*RUN, "--json", "A/"], "names a folder"),
        (["trace", "--out", "A/"], "names a folder"),
        (["replay", "--trace", "T", "--json", "T"], "--json T is the input --trace T"),
        (["sweep", "S", "--out", "S"], "is the input spec file"),
    ],
)
def test_an_output_never_replaces_an_input(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = tmp_path / "b.csv"
    board.write_bytes((ROOT / "examples/calibration/board.csv").read_bytes())
    design = _design_file(tmp_path, lambda t: t.replace("depth_words = 4", "depth_words = 5", 1))
    trace = tmp_path / "t.csv"
    trace.write_bytes((ROOT / "traces/burst_fixed_50.csv").read_bytes())
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    board2 = tmp_path / "b2.csv"
    board2.write_bytes(board.read_bytes())
    names = {"B": board, "B2": board2, "P": tmp_path / "p.toml", "D": design, "T": trace,
             "X": tmp_path / "x", "A/": str(tmp_path / "a") + "/", "S": spec}  # fmt: skip
    before = {p: p.read_bytes() for p in (board, design, trace, spec)}
    argv = [str(names.get(a, a)) for a in argv]
    needle = needle.replace(" B", f" {board}").replace(" D", f" {design}")
    needle = needle.replace(" T", f" {trace}").replace(" X", f" {names['X']}")
    needle = needle.replace(" S", f" {spec}")
    refused(capsys, argv, needle)
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "a").exists() and not (tmp_path / "p.toml").exists()


def test_missing_parent_folders_are_created(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b"
    assert main([*RUN, "--out", str(deep / "run"), "--json", str(deep / "j" / "r.json")]) == 0
    assert (deep / "run" / "result.json").is_file() and (deep / "j" / "r.json").is_file()


def test_a_killed_run_leaves_nothing_the_next_run_keeps(tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "spatialsim.cli.main", "run", "--every-layer", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(tmp_path.glob(".out.*.partial")), "the run wrote no partial folder to kill"
    # someone else's partial folder, still being written, is left alone
    alive = tmp_path / f".out.{os.getpid()}.keep.partial"
    alive.mkdir()
    assert main([*RUN, "--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.glob(".out.*.partial")) == [alive.name]
    assert (out / "result.json").is_file()


# ---- 10. terminal escapes ---------------------------------------------------------------

TITLE = "\x1b]0;owned\x07\x1b[2J"  # retitle the terminal, clear the screen


def _no_raw_controls(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, repr(text)


def test_names_from_reports_are_printed_visibly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_hostile_inputs import hls_report

    report = tmp_path / "r_csynth.rpt"
    report.write_text(hls_report("175617").replace("Softmax_layer", "Soft" + TITLE + "max"))
    assert main(["report-hls", str(report)]) == 0
    out = capsys.readouterr().out
    _no_raw_controls(out)
    assert "\\u001b]0;owned\\u0007" in out  # shown, not acted on
    assert main(["report-hls", str(report), "--json", "-"]) == 0
    printed = capsys.readouterr().out
    _no_raw_controls(printed)
    assert TITLE in json.loads(printed)["top"]  # JSON still carries the name exactly


def test_names_from_xrt_profiles_and_csv_cells_are_printed_visibly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_xrt import SUMMARY

    xrt = tmp_path / "summary.csv"
    xrt.write_text(SUMMARY.replace("GPT_layer_dataflow_region_1_1", "cu" + TITLE, 1))
    assert main(["report-xrt", str(xrt)]) == 0
    _no_raw_controls(capsys.readouterr().out)
    board = tmp_path / "b.csv"
    board.write_text(BOARD + f"gpt2{TITLE}\u202e,chen2024-w8a8,u280,1,8,2,250,1,1\n")
    err = refused(capsys, ["calibrate", "--board", str(board), "--out", str(tmp_path / "p")])
    _no_raw_controls(err)
    assert "owned" in err  # the name is shown, escaped (by repr or by the printer)
    trace = tmp_path / "t.csv"
    trace.write_text(TRACE_HEADER + f"r{TITLE},0.5,x{TITLE},1\n")
    err = refused(capsys, ["replay", "--trace", str(trace)])
    _no_raw_controls(err)


def test_visible_keeps_text_and_layout() -> None:
    from spatialsim.cli.main import visible

    text = "TTFT 12.3 ms\tTPOT 1.0 ms\n\rprogress 50 %, 45 µs, 例\n"
    assert visible(text) == text
    assert visible("a\x00b\x7fc\x9bd\u2066e") == "a\\u0000b\\u007fc\\u009bd\\u2066e"


# ---- 11. the Python API is held to the CLI's standard -------------------------------------

TRACE_FILE = ROOT / "traces/burst_fixed_50.csv"


@pytest.mark.parametrize(
    "call,field,needle",
    [
        (lambda ss: ss.replay(TRACE_FILE, limit=-5, layers=1), "limit", "from 1 to"),
        (lambda ss: ss.replay(TRACE_FILE, samples=10**9, layers=1), "samples", "from 1 to 100"),
        (lambda ss: ss.replay(TRACE_FILE, workers=10**5, layers=1), "workers", "cores"),
        (lambda ss: ss.optimize(ss.RunRequest(), seed=-1), "seed", "from 0 to"),
        (lambda ss: ss.optimize(ss.RunRequest(), trials=10**9), "trials", "from 1 to"),
        (lambda ss: ss.optimize(ss.RunRequest(), objectives=5), "objectives", "names of"),
        (lambda ss: ss.optimize(ss.RunRequest(), objectives="speed"), "objectives", "unknown"),
        (lambda ss: ss.sweep(5, "out"), "spec", "must be a path"),
        (lambda ss: ss.sweep(str(ROOT / "examples/sweep.toml"), 5), "out", "must be a path"),
        (lambda ss: ss.simulate("gpt2"), "req", "must be a RunRequest"),
        (lambda ss: ss.analyze(5), "req", "must be a RunRequest"),
        (lambda ss: ss.kernels(["gpt2"]), "req", "must be a RunRequest"),
        (lambda ss: ss.simulate(model=5), "model", "must be a name or a path"),
        (lambda ss: ss.load_trace(5), "trace", "must be a path"),
        (lambda ss: ss.load_trace(TRACE_FILE, overlong="cut"), "overlong", "not one of"),
        (lambda ss: ss.load_spec(None), "spec", "must be a path"),
        (lambda ss: ss.parse_spec(b"[base]"), "text", "TOML text"),
        (lambda ss: ss.calibrate(board=5), "board", "must be a path"),
        (lambda ss: ss.calibrate(board="b.csv", platform=5), "platform", "must be a name"),
        (lambda ss: ss.calibrate(xrt="x", cu_map=["a=1", "a=2"]), None, "`cu_map` gives"),
        (lambda ss: ss.calibrate(board="b.csv", choose="kind.gemv.order"), "choose", "K=V"),
        (lambda ss: ss.compare(designs=5), "designs", "list of design names"),
        (lambda ss: ss.kernels(seq_len="5"), "seq_len", "integer from 1"),
        (lambda ss: ss.simulate(model="gpt2", progress=5), "progress", "a function"),
        (lambda ss: ss.replay(object()), "trace", "must be a path"),
    ],
)
def test_public_functions_raise_user_errors_naming_the_argument(
    call: Callable[[object], object], field: str | None, needle: str
) -> None:
    import spatialsim as ss

    with pytest.raises(UserError) as info:
        call(ss)
    assert needle in str(info.value)
    if field is not None:
        assert info.value.field == field, (info.value.field, str(info.value))
    assert "--" not in str(info.value), "a library message names a command-line flag"


def test_paths_are_what_path_fields_take(tmp_path: Path) -> None:
    import spatialsim as ss

    card = tmp_path / "card.toml"
    card.write_text(U280)
    req = ss.RunRequest(platform=card, model="gpt2", layers=1, prompt_len=8, gen_len=1)
    assert req.platform == str(card)
    assert ss.simulate(req).ttft_ms > 0
    assert ss.load_trace(TRACE_FILE).requests
    out = tmp_path / "sweep"
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    assert ss.sweep(spec, out).computed == 2  # a spec file and a Path, as the CLI's
    assert ss.sweep(ss.load_spec(str(spec)), str(out)).skipped == 2


def _flag_strings(path: Path) -> list[str]:
    """String literals (docstrings aside) of ``path`` that name a --flag."""
    import ast

    tree = ast.parse(path.read_text())
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        literal = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if literal and id(node) not in docs and re.search(r"(^|[\s(])--[a-z]", node.value):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.strip()}")
    return found


def test_library_messages_never_name_command_line_flags() -> None:
    """The CLI turns `argument` names into flags; the package below it never writes one."""
    offenders = [
        hit
        for path in (ROOT / "spatialsim").rglob("*.py")
        if "cli" not in path.parts
        for hit in _flag_strings(path)
    ]
    assert not offenders, "\n".join(offenders)


# ---- the limits page says what the code enforces -----------------------------------------


def test_the_limits_page_states_every_ceiling() -> None:
    """docs/limits.md quotes each ceiling; a changed constant fails here until it follows."""
    from test_fuzz_hostile import MEMORY_CEILING

    from spatialsim.calibration.job import MAX_ALTERNATIVES, MAX_HLS_FILES, MAX_SEARCH, MIN_NOISE
    from spatialsim.executor import CONNECT_TIMEOUT_S
    from spatialsim.experiment.compare import MAX_ROWS
    from spatialsim.experiment.optimize import MAX_TRIALS
    from spatialsim.experiment.request import LINK_GBPS, MAX_CHUNKS_PER_ROW, MAX_LINK_DEPTH
    from spatialsim.experiment.sweep import MAX_POINTS
    from spatialsim.hardware.cluster import MAX_DEVICES
    from spatialsim.hardware.platform import MAX_SLRS, RANGES
    from spatialsim.limits import (
        MAX_ARRIVAL_S,
        MAX_REQUESTS,
        MAX_SAMPLES,
        MAX_SEED,
        MAX_WORKLOADS,
    )  # fmt: skip
    from spatialsim.tomlio import MAX_INPUT_BYTES
    from spatialsim.workload.models import FIELD_MAX, LAYERS_MAX
    from spatialsim.workload.traces import MAX_RATE, MAX_SIGMA, MAX_TOKENS, MIN_RATE

    page = (ROOT / "docs/limits.md").read_text()
    quoted = {
        "input bytes": f"{MAX_INPUT_BYTES // 2**20} MiB ({MAX_INPUT_BYTES:,} bytes)",
        "samples": f"| `replay --samples` | {MAX_SAMPLES} |",
        "requests": f"| {MAX_REQUESTS:,} |",
        "arrivals": f"| {MAX_ARRIVAL_S:g} s |",
        "rate": f"| {MIN_RATE:g} to {MAX_RATE:g} requests per second |",
        "lengths": "| 1,048,576 tokens |",
        "sigma": f"| {MAX_SIGMA:g} |",
        "seed": f"| 0 to {MAX_SEED:,} |",
        "trials": f"| {MAX_TRIALS:,}, and at most the search space's size",
        "search": f"| {MAX_SEARCH} fits |",
        "choose": f"| {MAX_ALTERNATIVES} combinations |",
        "hls files": f"| `calibrate --hls` files | {MAX_HLS_FILES:,} |",
        "noise": f"| {MIN_NOISE:g} to below 1 (relative) |",
        "workloads": f"| {MAX_WORKLOADS} distinct workloads",
        "points": f"| {MAX_POINTS:,} |",
        "compare": f"| {MAX_ROWS} simulations |",
        "tokens": f"| {MAX_TOKENS:,} tokens |",
        "layers": f"| {LAYERS_MAX:,} |",
        "shapes": f"| {FIELD_MAX:,} |",
        "chunks": f"| {MAX_CHUNKS_PER_ROW:,} |",
        "link depth": f"| {MAX_LINK_DEPTH:,} words |",
        "link rate": f"| {LINK_GBPS[0]:g} to {LINK_GBPS[1]:,.0f} Gb/s |",
        "cards": f"| {MAX_DEVICES} cards |",
        "slrs": f"at most {MAX_SLRS} SLRs",
        "channels": f"{RANGES['hbm.channels'][1]:.0f} HBM pseudo-channels",
        "timeout": f"at most **{CONNECT_TIMEOUT_S:g} s**",
        "memory": f"allocate at most {MEMORY_CEILING // 2**20} MiB",
    }
    missing = {k: v for k, v in quoted.items() if v not in page}
    assert not missing, missing
    assert "1,048,576" in page and (1 << 20) == 1_048_576  # LengthDist's high


def test_a_tls_scheduler_without_dask_tls_settings_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    address, close = _listener("silent")
    tls = address.replace("tcp://", "tls://")
    try:
        trace = str(ROOT / "traces/burst_fixed_50.csv")
        argv = ["replay", "--trace", trace, "--layers", "1", "--samples", "1"]
        refused(capsys, [*argv, "--scheduler", tls], "TLS address", "client certificate")
    finally:
        close()


@pytest.mark.parametrize(
    "argv",
    [
        [*RUN, "--model", "a\x00b.json"],
        [*RUN, "--design", "d\x00.toml"],
        ["sweep", "s\x00.toml"],
        [*RUN, "--json", "o\x00.json"],
        [*RUN, "--out", "o\x00"],
        ["trace", "--out", "t\x00.csv"],
    ],
)
def test_a_nul_byte_in_a_path_is_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(capsys, argv)
    assert "NUL byte" in err or "does not exist" in err, err


def test_the_api_refuses_nul_bytes_in_paths() -> None:
    import spatialsim as ss

    for call in (
        lambda: ss.sweep("\x00", "out"),
        lambda: ss.load_trace("t\x00.csv"),
        lambda: ss.simulate(model="m\x00.json", layers=1),
    ):
        with pytest.raises(UserError, match=r"NUL byte|does not exist"):
            call()


def test_the_limits_page_states_the_fuzz_budget() -> None:
    from test_fuzz_hostile import EXAMPLES, FUZZ_API

    page = (ROOT / "docs/limits.md").read_text()
    if "SPATIALSIM_FUZZ_HOSTILE" not in os.environ:  # the CI budget, as the page says
        assert f"{EXAMPLES} examples per reader and {FUZZ_API.max_examples}" in page


def test_an_unwritable_standard_error_still_gives_the_exit_status() -> None:
    cmd = [sys.executable, "-m", "spatialsim.cli.main", *RUN]
    with open("/dev/full", "w") as full:
        bad = subprocess.run([*cmd, "--layers", "0"], stderr=full, stdout=subprocess.DEVNULL,
                             timeout=120)  # fmt: skip
        good = subprocess.run(cmd, stderr=full, stdout=subprocess.DEVNULL, timeout=120)
    assert bad.returncode == 2 and good.returncode == 0
