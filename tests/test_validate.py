"""``spatialsim validate``: every shipped reference number next to the models."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from spatialsim.calibration.validate import reference_data
from spatialsim.cli.main import main


def rows(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert main(["validate", "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)["rows"]  # type: ignore[no-any-return]


def test_every_reference_number_is_shown_with_signed_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = rows(capsys)
    ref = reference_data()
    # resources: five per region (DSP, LUT, FF, BRAM, URAM; R1 has no BRAM to compare) and
    # the routed DSPs
    resources = sum(5 + (r["bram18"] > 0) for r in ref["resources"]["regions"])
    assert len(out) == (
        len(ref["hls"]["modules"]) + len(ref["hls_w8a8"]["rows"]) + resources + len(ref["memory"])
    )
    hls = [r for r in out if r["section"] == "hls"]
    for r in hls:
        err = r["errors"]["model"]  # type: ignore[index]
        assert abs(err) < 0.02, r["name"]
        assert err == pytest.approx((r["model"] - r["reference"]) / r["reference"])  # type: ignore[operator]
    qk = next(r for r in hls if str(r["name"]).startswith("Attention_layer"))
    assert qk["analytical"] == 262144 and qk["errors"]["analytical"] < -0.1  # type: ignore[index,operator]
    mem = {r["name"]: r for r in out if r["section"] == "memory"}
    assert mem["ddr4_channel_read_bw"]["simulator"] == pytest.approx(17.94, rel=1e-3)
    assert abs(mem["all_pc_read_bw"]["errors"]["simulator"]) < 0.01  # type: ignore[index]
    # the switch is always on in simulated designs; the measurement had it off
    lat = mem["read_latency_page_hit"]
    assert lat["simulator"] == pytest.approx(48 + 7, rel=0.01)
    assert "switch" in str(lat["note"])
    assert mem["small_burst_wide_bw"]["model"] is None and mem["small_burst_wide_bw"]["note"]


def test_every_w8a8_kernel_is_within_3_percent_of_its_hls_estimate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """chen2024.md 3.3a: the W8A8 prefill (l = 512) and decode builds, kernel by kernel."""
    w8 = [r for r in rows(capsys) if r["section"] == "hls_w8a8"]
    kernels = {str(r["name"]).split()[1] for r in w8}
    assert {"softmax", "qk_matmul", "sv_matmul", "ffn1", "ffn2", "gelu", "layernorm0"} <= kernels
    for r in w8:
        if "context is not stated" in str(r["note"]):
            continue  # decode attention depends on the build's context, which is not known
        assert abs(r["errors"]["model"]) <= 0.03, r  # type: ignore[index]
    # rows a constant was read from are marked fitted: the buffered softmax's OUT depth
    # (l/2 + 4 cycles per row at l = 512: 255 + 5) and each build's GeLU depth
    fitted = sorted(str(r["name"]) for r in w8 if str(r["note"]).startswith("fitted:"))
    assert fitted == ["decode gelu", "prefill gelu", "prefill softmax"]
    soft = next(r for r in w8 if r["name"] == "prefill softmax")
    assert "cost.softmax_out_depth_cycles" in str(soft["note"])


def test_every_region_row_is_simulated_and_every_miss_is_explained(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each HLS region row (W4A8 and W8A8) against the region simulated alone; where the
    simulation misses by more than 5 %, the row says what the simulated region waited on."""
    regions = [r for r in rows(capsys) if "region_" in str(r["name"])]
    names = {str(r["name"]) for r in regions}
    assert {"region_1 (region_1)", "region_2 (region_2)", "region_3 (region_3)"} <= names
    assert {"decode region_1", "decode region_2", "decode region_3"} <= names
    for r in regions:
        err = r["errors"]["simulator"]  # type: ignore[index]
        assert r["simulator"] is not None and err is not None, r
        note = str(r["note"])
        if abs(err) > 0.05:
            # "decode region_3, +75%: in the simulated region ffn2 (... cycles of work) waits
            # ... cycles on gelu_to_ffn2, ..."
            assert f"{err:+.0%}: in the simulated region" in note, r
            assert " waits " in note and " cycles on " in note, r
        else:
            assert note.startswith("simulator: the region alone"), r
    # the W4A8 region 1 (three parallel linears) is reproduced; W8A8 region 3 is not in the
    # structure as built, where FFN2 (row order) waits for FFN1's whole output
    by = {r["name"]: r for r in regions}
    assert abs(by["region_1 (region_1)"]["errors"]["simulator"]) < 0.01  # type: ignore[index]
    assert "ffn2" in str(by["decode region_3"]["note"])


def test_a_column_order_ffn2_brings_the_w8a8_region_3_towards_vitis() -> None:
    """What the note says: with FFN2 consuming FFN1's rows as they come, region 3 overlaps
    the two GEMVs as Vitis's estimate assumes."""
    from spatialsim.calibration.validate import w8a8_rows

    ref = reference_data()["hls_w8a8"]

    def r3(settings: tuple[tuple[str, str], ...]) -> float:
        row = next(r for r in w8a8_rows(ref, settings=settings) if r.name == "decode region_3")
        err = row.errors()["simulator"]
        assert err is not None
        return err

    row_order, column = r3(()), r3((("kernel.ffn2.order", "column"),))
    assert row_order > 0.5 and 0 < column < row_order / 2, (row_order, column)


def test_text_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "HLS estimates, W4A8 GPT-2-medium layer" in out
    assert "Memory microbenchmarks on the U280" in out and "Shuhai" in out


@pytest.mark.shared
def test_shipped_reference_numbers_match_the_shared_files(shared: Path) -> None:
    ref = reference_data()
    cal = shared / "reference" / "calibration"
    with (cal / "hls_w4a8_gpt2m_layer.csv").open(newline="") as f:
        hls = {(r["module"], int(r["latency_cycles"])) for r in csv.DictReader(f)}
    assert {(m["module"], m["latency_cycles"]) for m in ref["hls"]["modules"]} == hls
    with (cal / "u280_hbm.csv").open(newline="") as f:
        hbm = [(r["quantity"], float(r["value"]), r["unit"]) for r in csv.DictReader(f)]
    for m in ref["memory"]:
        assert (m["quantity"], m["value"], m["unit"]) in hbm, m["quantity"]


def test_the_kernel_margins_readme_quotes(capsys: pytest.CaptureFixture[str]) -> None:
    """README and docs/design-decisions.md: every W4A8 kernel within 0.52 % of its report (in
    sample), every W8A8 kernel row not marked fitted within 1.5 % (predicted)."""
    out = rows(capsys)

    def err(r: dict[str, object]) -> float:
        return abs(float(r["errors"]["model"]))  # type: ignore[index]

    w4 = [err(r) for r in out if r["section"] == "hls"]
    w8 = [
        err(r)
        for r in out
        if r["section"] == "hls_w8a8"
        and "region" not in str(r["name"])
        and not str(r["note"]).startswith("fitted")
    ]
    assert max(w4) <= 0.0052 and max(w8) <= 0.015
    for page in ("README.md", "docs/design-decisions.md"):
        text = " ".join((Path(__file__).resolve().parents[1] / page).read_text().split())
        assert "within 0.52 %" in text and "within 1.5 %" in text, page
