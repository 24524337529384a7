"""The number tables of docs/ that are not command output: each recomputed, so a change
that moves a number fails here until the page is updated. (Console blocks are
tests/test_docs_run.py's; benchmark timings say they are measurements of one machine.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import spatialsim as ss
from spatialsim.calibration.validate import validation_rows

ROOT = Path(__file__).resolve().parents[1]


def _table(page: str, header: str) -> list[list[str]]:
    """The rows of the markdown table whose header line starts with ``header``."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _eq8_ratio(design: str, prompt: int) -> float:
    run = ss.simulate(model="gpt2-medium", design=design, prompt_len=prompt, gen_len=0,
                      layers=1, max_seq_len=prompt + 1)  # fmt: skip
    ana = ss.analyze(model="gpt2-medium", design=design, prompt_len=prompt, gen_len=0,
                     max_seq_len=prompt + 1)  # fmt: skip
    return run.result.ttft_ms / (ana.prefill_ms / 24)


def test_engine_md_prefill_ratios_are_the_simulators() -> None:
    rows = _table("docs/engine.md", "| design, prompt | simulated / Eq. 8")
    seen = 0
    for name, ratio, _ in rows:
        m = re.fullmatch(r"(W4A8|W8A8), l = (\d+)", name)
        if m is None:
            continue  # the decode row is a factor, explained, not a ratio of one layer
        design = f"chen2024-{m.group(1).lower()}"
        digits = len(ratio.split(".")[1])  # as many decimals as the page shows
        assert f"{_eq8_ratio(design, int(m.group(2))):.{digits}f}" == ratio, name
        seen += 1
    assert seen == 5


def test_engine_md_kernel_table_is_validates_numbers() -> None:
    """Every cycle count in the kernel-by-kernel table is a cost-model estimate or an HLS
    value that `spatialsim validate` shows for the W4A8 layer."""
    known = set()
    for r in validation_rows():
        if r.section == "hls":
            known |= {round(r.reference), round(r.model or -1)}
    rows = _table("docs/engine.md", "| kernel |")
    numbers = [int(n.replace(",", "")) for row in rows for cell in row[1:3]
               for n in re.findall(r"\d[\d,]*\d", cell)]  # fmt: skip
    assert numbers and not [n for n in numbers if n not in known]


def test_calibration_md_fit_summary_is_the_shipped_profiles() -> None:
    profile = tomllib.loads(
        (ROOT / "spatialsim" / "calibration" / "data" / "u280.toml").read_text(encoding="utf-8")
    )["summary"]
    names = {"HLS modules": "hls", "HBM/DDR": "hbm", "HLS regions": "regions"}
    rows = _table("docs/calibration.md", "| fit | measurements |")
    assert [r[0] for r in rows] == list(names)
    for fit, n, moved, prior, rms, loo in rows:
        s = profile[names[fit]]
        digits = 1 if s["rms_error"] >= 0.1 else 3
        assert (int(n), int(moved), int(prior)) == (s["observations"], s["fitted"], s["at_prior"])
        assert rms == f"{s['rms_error'] * 100:.{digits}f} %", fit
        assert loo == f"{s['loo_rms_error'] * 100:.{digits}f} %", fit


def _number(text: str) -> float:
    return float(re.sub(r"[^\d.]", "", text))


def test_gpu_md_tables_are_the_built_in_gpus_and_the_models_defaults() -> None:
    from dataclasses import asdict

    from spatialsim.analytical.gpu import GpuParams
    from spatialsim.hardware.gpu import get_gpu

    for name, mem, bw, fp16, int8, tdp in _table("docs/gpu.md", "| GPU | memory |"):
        gpu = get_gpu(name.split("`")[1])
        assert [_number(c) for c in (mem, bw, fp16, int8, tdp)] == [
            gpu.memory_gb, gpu.bandwidth_gbps, gpu.fp16_tflops, gpu.int8_tops, gpu.tdp_w
        ], name  # fmt: skip
    defaults = asdict(GpuParams())
    rows = _table("docs/gpu.md", "| parameter | default |")
    assert {r[0].strip("`"): float(r[1]) for r in rows} == defaults


def test_calibration_md_priors_are_the_priors() -> None:
    """Each example prior: its 95 % interval and centre as priors.py gives them, to the
    digits the page shows (an interval the bound cuts says so)."""
    from spatialsim.calibration.fit import PARAMS
    from spatialsim.calibration.priors import PRIORS

    rows = _table("docs/calibration.md", "| parameter | prior (95 %) |")
    assert len(rows) >= 10
    for name, prior, _ in rows:
        key = name.split("`")[1]
        m = re.match(r"([\d.]+) (?:\w+ )?to ([\d.]+) .*around ([\d.]+)", prior)
        assert m is not None, prior
        lo, hi = PRIORS[key].interval95()
        hi = min(hi, PARAMS[key].upper)
        unit = 1000.0 if " s " in prior.split(" to ")[1] + " " else 1.0  # "4 s" for ms
        for shown, value in zip(m.groups(), (lo, hi / unit, PRIORS[key].center), strict=True):
            digits = len(shown.split(".")[1]) if "." in shown else 0
            assert float(shown) == pytest.approx(value, abs=0.51 * 10**-digits, rel=0.02), (
                key, shown, value)  # fmt: skip
