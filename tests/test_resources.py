"""Resource estimates side by side with the Vitis HLS reports of the W4A8 artifact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spatialsim.design.resources import estimate, fifo_resources
from spatialsim.design.templates import build_design
from spatialsim.workload import MODELS

REPORTS = "reference/vitis_reports/chen2024_w4a8_gpt2m"


def _hls_totals(path: Path) -> dict[str, float]:
    """The 'Total' row of the report's utilisation summary: BRAM_18K, DSP, FF, LUT, URAM."""
    text = path.read_text()
    summary = text[text.index("== Utilization Estimates") :]
    m = re.search(r"\|Total\s*\|\s*(\d+)\|\s*(\d+)\|\s*(\d+)\|\s*(\d+)\|\s*(\d+)\|", summary)
    assert m is not None, path
    bram18, dsp, ff, lut, uram = (int(x) for x in m.groups())
    return {"bram36": bram18 / 2, "dsp": dsp, "ff": ff, "lut": lut, "uram": uram}


@pytest.mark.shared
def test_estimates_track_the_hls_reports(shared: Path) -> None:
    d = build_design("chen2024-w4a8", MODELS["gpt2-medium"], 128)
    est = estimate(d, "layer").slrs
    print("\nregion  resource   HLS  estimate")
    for region in (1, 2, 3):
        hls = _hls_totals(shared / REPORTS / f"region_{region}_csynth.rpt")
        mine = est[region - 1]
        for r in ("dsp", "lut", "ff", "uram", "bram36"):
            print(f"R{region}      {r:8} {hls[r]:>8,.0f} {mine[r]:>9,.0f}")
        assert mine["dsp"] == pytest.approx(hls["dsp"], rel=0.02)
        assert mine["lut"] == pytest.approx(hls["lut"], rel=0.12)
        assert mine["ff"] == pytest.approx(hls["ff"], rel=0.12)
        assert abs(mine["uram"] - hls["uram"]) <= 2


def test_fifo_storage_follows_size() -> None:
    assert fifo_resources(4, 64)["uram"] == 0 and fifo_resources(4, 64)["lut"] > 0
    assert fifo_resources(16384, 256)["uram"] == 16  # the W4A8 bypass: 4 x 72-bit x 4 deep
    assert fifo_resources(4096, 64)["uram"] == 1  # GeLU -> FFN2
    assert fifo_resources(1024, 64)["bram36"] == 2 and fifo_resources(1024, 64)["uram"] == 0


def test_resources_scale_with_array_size() -> None:
    from spatialsim.design.overrides import apply_overrides

    d = build_design("chen2024-w4a8", MODELS["gpt2-medium"], 128)
    e = apply_overrides(d, ["kernel.ffn1.cols=32"])
    before, after = estimate(d, "layer"), estimate(e, "layer")
    assert after.kernels["ffn1"]["dsp"] - before.kernels["ffn1"]["dsp"] == 8 * 16
    assert after.slrs[0] == before.slrs[0] and after.slrs[1] == before.slrs[1]
