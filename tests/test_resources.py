"""Resource estimates side by side with the Vitis HLS reports of the W4A8 artifact (shipped
in examples/vitis_reports) and the routed artifact's DSPs, held to the margins `spatialsim
validate` and README state."""

from __future__ import annotations

import re
from pathlib import Path

from spatialsim.calibration.validate import reference_data, resource_rows
from spatialsim.design.resources import estimate, fifo_resources
from spatialsim.design.templates import build_design
from spatialsim.workload import MODELS

REPORTS = Path(__file__).resolve().parents[1] / "examples" / "vitis_reports" / "chen2024_w4a8_gpt2m"


def _hls_totals(path: Path) -> dict[str, float]:
    """The 'Total' row of the report's utilisation summary: BRAM_18K, DSP, FF, LUT, URAM."""
    text = path.read_text()
    summary = text[text.index("== Utilization Estimates") :]
    m = re.search(r"\|Total\s*\|\s*(\d+)\|\s*(\d+)\|\s*(\d+)\|\s*(\d+)\|\s*(\d+)\|", summary)
    assert m is not None, path
    bram18, dsp, ff, lut, uram = (int(x) for x in m.groups())
    return {"bram36": bram18 / 2, "dsp": dsp, "ff": ff, "lut": lut, "uram": uram}


def test_the_shipped_resource_references_are_the_reports_totals() -> None:
    """`validate`'s resource references (spatialsim/calibration/data/reference.toml) are the
    utilisation totals of the shipped region reports."""
    ref = reference_data()["resources"]
    for r in ref["regions"]:
        hls = _hls_totals(REPORTS / f"region_{r['region']}_csynth.rpt")
        assert (r["dsp"], r["lut"], r["ff"], r["bram18"] / 2, r["uram"]) == (
            hls["dsp"], hls["lut"], hls["ff"], hls["bram36"], hls["uram"]
        )  # fmt: skip


def test_estimates_are_held_to_the_margins_validate_states() -> None:
    """In sample (the coefficients were fitted to these reports): DSP exact, LUT and FF
    within 12 %, URAM within 2 blocks, BRAM exact for R2 and within a factor of 2 for R3
    (what else R3 maps to BRAM is not modelled, and the row says so). Out of sample: the
    routed DSPs within 20 %."""
    rows = {r.name: r for r in resource_rows(reference_data()["resources"])}
    print("\nrow               reference  estimate   error")
    for r in rows.values():
        print(f"{r.name:17} {r.reference:>9,.0f} {r.model:>9,.0f} {r.errors()['model']:+.1%}")
        assert r.note.startswith(("fitted", "predicted")), r.name
    for n in (1, 2, 3):
        assert rows[f"R{n} DSP"].model == rows[f"R{n} DSP"].reference
        for key in ("LUT", "FF"):
            assert abs(rows[f"R{n} {key}"].errors()["model"]) <= 0.12  # type: ignore[arg-type]
        assert abs(rows[f"R{n} URAM"].model - rows[f"R{n} URAM"].reference) <= 2  # type: ignore[operator]
        routed = rows[f"R{n} DSP routed"]
        assert routed.note.startswith("predicted")
        assert abs(routed.errors()["model"]) <= 0.20  # type: ignore[arg-type]
    assert rows["R2 BRAM36"].model == rows["R2 BRAM36"].reference
    r3 = rows["R3 BRAM36"]
    assert 0.5 <= r3.model / r3.reference < 1 and "not modelled" in r3.note  # type: ignore[operator]


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
