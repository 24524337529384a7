"""Every kind of results folder gets a report.html that is one self-contained file, and that
a real browser (Debian's headless Chromium, driven by Playwright) renders without a console
error or a failed request, showing the folder's headline numbers. Screenshots are saved
next to each report (and copied to $SPATIALSIM_SCREENSHOTS when set, to look at)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from spatialsim.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_or_skip() -> Any:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on this machine (.ci/run installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (it is in the test extra)")
    return sync_playwright, chromium


def render(html: Path, shot: Path) -> tuple[str, list[str]]:
    """(the page's visible text, console errors and failed requests) of ``html``."""
    sync_playwright, chromium = _browser_or_skip()
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)  # fmt: skip
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(html.as_uri())
            page.wait_for_load_state("load")
            page.screenshot(path=str(shot), full_page=True)
            text = page.inner_text("body")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => e.complete && e.naturalWidth > 0)"
            )
        finally:
            browser.close()
    problems += [f"image {i} did not decode" for i, ok in enumerate(images) if not ok]
    keep = os.environ.get("SPATIALSIM_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return text, problems


def self_contained(html: Path) -> str:
    """The page's text, after checking it loads nothing from anywhere."""
    text = html.read_text(encoding="utf-8")
    assert "<script" not in text and "<link" not in text and "@import" not in text
    for src in re.findall(r'src="([^"]*)"', text):
        assert src.startswith("data:image/png;base64,"), src[:60]
    return text


def check(folder: Path, name: str, tmp_path: Path, shown: list[str]) -> str:
    html = folder / "report.html"
    self_contained(html)
    text, problems = render(html, tmp_path / f"report-{name}.png")
    assert problems == [], problems
    for s in shown:
        assert s in text, f"{name} report does not show {s!r}"
    assert (tmp_path / f"report-{name}.png").stat().st_size > 20_000
    return text


def test_run_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = ["run", "--layers", "2", "--prompt-len", "32", "--gen-len", "4", "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    doc = json.loads((out / "result.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert "report.html" in manifest["written"] and "report.html" in manifest["files"]
    text = check(out, "run", tmp_path, [
        f"{doc['ttft_ms']:.3f} ms", f"{doc['tpot_ms']:.3f} ms",
        f"{doc['analytical']['prefill_ms']:.3f} ms", "Largest stalls", "Kernels, prefill",
        "trace.perfetto.json",
    ])  # fmt: skip
    # the largest stalls of the kernels doing the work, in words
    from spatialsim.report.run_summary import largest_stalls

    phase, kernel, _, on, share, _ = largest_stalls(doc)[0]
    assert f"In {phase}, {kernel} waited" in text and on in text and share in text
    assert (out / "report.html").read_text().count("data:image/png;base64,") >= 6


def test_replay_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "replay"
    trace = str(ROOT / "traces/burst_fixed_50.csv")
    assert main(["replay", "--trace", trace, "--layers", "2", "--workers", "1",
                 "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    doc = json.loads((out / "replay.json").read_text())
    check(out, "replay", tmp_path, [f"{doc['ttft_ms']['p50']:,.3f}", "Latency CDFs"])


def test_sweep_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[base]\nmodel = "gpt2"\nlayers = 2\nprompt_len = 32\ngen_len = 2\n'
        '[axes]\n"kernel.ffn1.cols" = [8, 16]\nclock_mhz = [200, 300]\n'
    )
    out = tmp_path / "sweep"
    assert main(["sweep", str(spec), "--workers", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    text = check(out, "sweep", tmp_path, ["gpt2 on u280 with chen2024-w8a8", "4 points"])
    assert "Pareto front" in text


def test_compare_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "compare"
    assert main(["compare", "--model", "gpt2", "--prompt-len", "16", "--gen-len", "2",
                 "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    doc = json.loads((out / "compare.json").read_text())
    check(out, "compare", tmp_path, [f"{r['ttft_ms']:.3f}" for r in doc["rows"]])


def test_calibration_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = sorted((ROOT / "examples/vitis_reports/chen2024_w4a8_gpt2m").glob("*.rpt"))
    out = tmp_path / "calib"
    args = ["calibrate", "--hls", *map(str, reports), "--hls-design", "chen2024-w4a8",
            "--plot", str(out), "--out", str(tmp_path / "p.toml"), "--no-loo"]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()
    text = check(out, "calibration", tmp_path, ["Parameters (95 % intervals)", "Measurements"])
    assert "design.reduction_ii" in text


def test_the_check_catches_a_page_that_reaches_out(tmp_path: Path) -> None:
    """The browser check fails a page that loads from a network or logs an error."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><p>x</p><img src="http://example.invalid/a.png">'
                   '<script>console.error("boom")</script></body></html>')  # fmt: skip
    _, problems = render(bad, tmp_path / "bad.png")
    assert any("boom" in p for p in problems)
    assert any("example.invalid" in p for p in problems)
    with pytest.raises(AssertionError):
        self_contained(bad)
