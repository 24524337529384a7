"""Timelines: the Perfetto trace's structure, the plots of a results folder, progress."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from spatialsim.cli.main import main
from spatialsim.cli.progress import progress_bar
from spatialsim.design.templates import build_design
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.hardware.platform import get_platform
from spatialsim.report.perfetto import perfetto_trace
from spatialsim.workload.models import get_model

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def test_perfetto_trace_has_a_track_per_kernel_with_state_spans_and_counters() -> None:
    design = build_design("chen2024-w8a8", get_model("gpt2-medium"), 40)
    r = simulate(
        design, get_platform("u280"), RunConfig(prompt_len=32, gen_len=3, layers=4, timeline=True)
    )
    tr = json.loads(json.dumps(perfetto_trace(r)))  # plain JSON, as written to disk
    ev = tr["traceEvents"]
    threads = {
        e["tid"]: e["args"]["name"]
        for e in ev
        if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == 1
    }
    kernels = set(design.graph("prefill").nodes) | set(design.graph("decode").nodes)
    assert set(threads.values()) == kernels
    spans = [e for e in ev if e["ph"] == "X" and e["pid"] == 1]
    by_track: dict[int, set[str]] = {}
    for e in spans:
        assert e["dur"] > 0 and e["ts"] >= 0
        by_track.setdefault(e["tid"], set()).add(e["name"])
    assert set(by_track) == set(threads)  # every kernel has spans
    states = {n for names in by_track.values() for n in names if not n.startswith("replayed")}
    assert states == {"busy", "starved", "blocked", "hbm_wait"}
    # prefill + 3 decode steps, each: one simulated layer and 3 replayed ones
    host = [e for e in ev if e["ph"] == "X" and e["pid"] == 0]
    assert len([e for e in host if e["cat"] == "replayed"]) == 4
    assert all(e["args"]["copies"] == 3 for e in host if e["cat"] == "replayed")
    fifo = [e for e in ev if e["ph"] == "C" and e["pid"] == 2]
    hbm = [e for e in ev if e["ph"] == "C" and e["pid"] == 3]
    assert {e["name"] for e in fifo} >= {"ffn_residual_bypass", "gelu_to_ffn2"}
    assert {e["name"] for e in hbm} >= {"HBM[5]", "HBM[9]"}
    assert max(e["args"]["GB/s"] for e in hbm) <= 13.2 * 1.001  # never above a channel
    # busy time on the first layer's spans equals the simulated busy cycles of that launch
    q = next(t for t, n in threads.items() if n == "q_proj")
    first = next(e for e in host if e["cat"] == "prefill")
    busy_us = sum(
        e["dur"]
        for e in spans
        if e["tid"] == q and e["name"] == "busy" and e["ts"] < first["ts"] + first["dur"]
    )
    stats = r.phases["prefill"].kernels["q_proj"]
    assert busy_us * 250 == pytest.approx(
        stats.fractions["busy"] * stats.active_cycles / 4, rel=1e-6
    )


def test_run_out_and_plot_write_every_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "res"
    assert (
        main(["run", "--prompt-len", "24", "--gen-len", "4", "--layers", "2", "--out", str(out)])
        == 0
    )
    trace = json.loads((out / "trace.perfetto.json").read_text())
    assert trace["otherData"]["model"] == "gpt2-medium"
    assert (
        main(
            [
                "replay",
                "--model",
                "gpt2",
                "--trace",
                str(ROOT / "traces/poisson_100.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["plot", str(out)]) == 0
    names = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert names == [
        "decode_latency.png",
        "fifo_occupancy.png",
        "gantt_layer.png",
        "gantt_run.png",
        "hbm_utilization.png",
        "replay_cdf.png",
        "sim_vs_analytical.png",
        "stalls.png",
    ]
    for p in (out / "plots").glob("*.png"):
        data = p.read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, p.name


def test_plot_needs_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(tmp_path)]) == 2
    assert "no result.json, replay.json, compare.json or sweep table" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "missing")]) == 2


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_only() -> None:
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = progress_bar(stream, width=10)
        for i in range(1, 5):
            bar(i, 4, "work")
    assert tty.getvalue().endswith("\rwork [##########] 4/4\n")
    assert "\rwork [#####     ] 2/4" in tty.getvalue()
    assert pipe.getvalue() == ""


def _small_timeline_run() -> object:
    design = build_design("chen2024-w8a8", get_model("gpt2-medium"), 40)
    return simulate(
        design, get_platform("u280"), RunConfig(prompt_len=32, gen_len=3, layers=2, timeline=True)
    )


def test_written_trace_is_the_trace_to_the_nanosecond_without_repeated_counter_samples(
    tmp_path: Path,
) -> None:
    from spatialsim.report.perfetto import write_perfetto

    r = _small_timeline_run()
    write_perfetto(r, tmp_path / "t.json")  # type: ignore[arg-type]
    written = json.loads((tmp_path / "t.json").read_text())
    assert written == perfetto_trace(r)  # type: ignore[arg-type]
    ev = written["traceEvents"]
    tl = r.timeline  # type: ignore[attr-defined]
    us = 1.0 / r.clock_mhz  # type: ignore[attr-defined]
    # every recorded span appears with its start and length rounded to the nanosecond
    shown = {(e["ts"], e["dur"], e["name"]) for e in ev if e["ph"] == "X" and e["pid"] == 1}
    for _, state, start, end in tl.spans:
        assert (round(start * us, 3), round((end - start) * us, 3), state) in shown
    # a counter sample never repeats the value its track already holds
    last: dict[tuple[int, str], object] = {}
    samples = 0
    for e in ev:
        if e["ph"] != "C":
            continue
        key, value = (e["pid"], e["name"]), next(iter(e["args"].values()))
        assert last.get(key) != value, e
        last[key] = value
        samples += 1
    assert samples > 0


def test_a_non_finite_time_in_a_timeline_is_refused_not_written(tmp_path: Path) -> None:
    from spatialsim.report.perfetto import write_perfetto

    r = _small_timeline_run()
    r.timeline.spans.append(["q_proj", "busy", 1.0, float("inf")])  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="non-finite"):
        perfetto_trace(r)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-finite"):
        write_perfetto(r, tmp_path / "t.json")  # type: ignore[arg-type]


def _written_trace(tmp_path: Path, gen_len: int = 6, layers: int = 4) -> tuple[Path, dict]:  # type: ignore[type-arg]
    from spatialsim.report.perfetto import write_perfetto

    design = build_design("chen2024-w8a8", get_model("gpt2-medium"), 64)
    r = simulate(
        design,
        get_platform("u280"),
        RunConfig(
            prompt_len=32, gen_len=gen_len, layers=layers, timeline=True, replay_layers=False
        ),
    )
    path = tmp_path / "trace.perfetto.json"
    write_perfetto(r, path)
    return path, json.loads(path.read_text())


def test_the_figures_trace_keeps_the_first_layer_whole_and_every_kernels_active_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spatialsim.report.trace_reader as reader
    from spatialsim.report import plots

    path, full = _written_trace(tmp_path)
    monkeypatch.setattr(reader, "RESOLUTION", 40)  # few slices: the bound is visible
    small = reader.read_trace(path)
    assert small["otherData"] == full["otherData"]
    ev, kept = full["traceEvents"], small["traceEvents"]
    host = [e for e in ev if e["ph"] == "X" and e["pid"] == 0]
    first = next(e for e in host if e["cat"] == "prefill")
    cut = first["ts"] + first["dur"]
    run_end = max(e["ts"] + e["dur"] for e in host)

    def before(events: list) -> list:  # type: ignore[type-arg]
        return [e for e in events if not (e["ph"] in "XC" and e.get("pid") and e["ts"] >= cut)]

    assert before(kept) == before(ev)  # up to the first layer's end, every event as written
    spans = [e for e in ev if e["ph"] == "X" and e["pid"] != 0 and e["ts"] >= cut]
    sliced = [e for e in kept if "occupancy" in e.get("args", {})]
    tracks = {(e["pid"], e["tid"]) for e in spans}
    assert len(spans) > len(sliced) and len(sliced) <= 40 * len(tracks)
    assert not [e for e in kept if e["ph"] == "C" and e["ts"] >= cut]
    width = run_end / 40
    for track in tracks:  # each kernel's active time after the first layer is kept
        active = sum(e["dur"] for e in spans if (e["pid"], e["tid"]) == track)
        shown = sum(e["args"]["occupancy"] * width for e in sliced if (e["pid"], e["tid"]) == track)
        assert shown == pytest.approx(active, rel=1e-6, abs=1e-6)
    # the first layer's chart is the same figure, byte for byte
    plots.gantt(full, tmp_path / "a", first_layer=True)
    plots.gantt(small, tmp_path / "b", first_layer=True)
    assert (tmp_path / "a" / "gantt_layer.png").read_bytes() == (
        tmp_path / "b" / "gantt_layer.png"
    ).read_bytes()


def test_the_figures_trace_reader_refuses_damaged_files_and_reads_other_layouts(
    tmp_path: Path,
) -> None:
    from spatialsim.errors import UserError
    from spatialsim.report.trace_reader import read_trace

    path, full = _written_trace(tmp_path, gen_len=1, layers=2)
    text = path.read_text()
    damaged = {  # file contents and what the error says
        "cut": (text[: len(text) // 2].encode(), r"truncated|malformed"),
        "bad": (text.replace('"ph":"X"', '"ph":"X",,', 1).encode(), "malformed event at character"),
        "binary": (b'{"traceEvents":[\xff\xfe]}', "not UTF-8"),
        "nan": (text.replace('"ts":0.000', '"ts":"x"', 1).encode(), "not a number"),
    }
    for name, (data, message) in damaged.items():
        (tmp_path / f"{name}.json").write_bytes(data)
        with pytest.raises(UserError, match=message):
            read_trace(tmp_path / f"{name}.json")
    # another tool's layout (pretty-printed, keys in another order) is read whole
    other = tmp_path / "other.json"
    other.write_text(
        json.dumps({"otherData": full["otherData"], "traceEvents": full["traceEvents"]}, indent=1)
    )
    assert read_trace(other)["traceEvents"] == full["traceEvents"]
