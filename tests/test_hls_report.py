"""``spatialsim report-hls`` on every real report in ../shared: values checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialsim.calibration.hls_report import parse_report
from spatialsim.cli.main import main
from spatialsim.errors import UserError

pytestmark = pytest.mark.shared
W4A8 = "reference/vitis_reports/chen2024_w4a8_gpt2m"
ATAX = "reference/vitis_reports/allo_atax_gemv"


def test_region_reports(shared: Path) -> None:
    r1 = parse_report(shared / W4A8 / "region_1_csynth.rpt")
    assert (r1.top, r1.part) == ("Bert_layer_dataflow_region_1", "xcu280-fsvh2892-2L-e")
    assert (r1.clock_target_ns, r1.clock_estimated_ns) == (3.33, 2.433)
    assert (r1.latency_cycles, r1.interval_cycles) == (528900, 528823)
    assert r1.modules["Linear_layer_qkv_74_1"] == {
        "latency_cycles": 528822,
        "interval_cycles": 528822,
    }
    assert r1.modules["weight_loader_r1_1"] == {"latency_cycles": 524361, "interval_cycles": 524362}
    assert r1.modules["input_loader_q_1"]["latency_cycles"] == 16464
    assert len(r1.modules) == 7 and r1.loops == {}
    assert r1.resources == {"BRAM_18K": 0, "DSP": 576, "FF": 205511, "LUT": 257971, "URAM": 3}
    r2 = parse_report(shared / W4A8 / "region_2_csynth.rpt")
    assert (r2.latency_cycles, r2.interval_cycles, r2.clock_estimated_ns) == (602718, 528822, 2.939)
    assert r2.modules["Softmax_layer_1"]["latency_cycles"] == 175617
    assert r2.modules["V_writer"] == {"latency_cycles": 73873, "interval_cycles": 73873}
    assert r2.resources["URAM"] == 18 and r2.resources["DSP"] == 590
    r3 = parse_report(shared / W4A8 / "region_3_csynth.rpt")
    assert r3.modules["Linear_layer_ds1_1"]["latency_cycles"] == 2110901
    assert r3.modules["weight_loader_r3_1"]["interval_cycles"] == 2097226
    assert r3.modules["entry_proc536"]["latency_cycles"] == 0
    assert (r3.latency_cycles, r3.clock_estimated_ns) == (2110967, 2.47)


def test_module_report_with_a_loop(shared: Path) -> None:
    for name in (
        "stage_M_Pipeline_l_S_m_0_r_l_m_csynth.rpt",
        "stage_M_Pipeline_l_S_m_0_r_l_m_csynth.xml",
    ):
        r = parse_report(shared / ATAX / name)
        assert r.top == "stage_M_Pipeline_l_S_m_0_r_l_m"
        assert (r.clock_target_ns, r.clock_estimated_ns) == (2.5, 2.231)
        assert (r.latency_cycles, r.interval_cycles) == (4122, 4122)
        loop = r.loops["l_S_m_0_r_l_m"]
        assert (loop.trip_count, loop.ii, loop.iteration_latency, loop.latency_cycles) == (
            4100,
            1,
            22,
            4120,
        )
        # Vitis 2022.1 counts a pipelined loop as II x (trips - 1) + iteration latency - 1,
        # and the function around it adds 2 cycles
        assert loop.ii * (loop.trip_count - 1) + loop.iteration_latency - 1 == loop.latency_cycles
        assert r.latency_cycles == loop.latency_cycles + 2
        assert r.resources["DSP"] == 119 and r.resources["LUT"] == 18318


def test_dataflow_top_text_and_xml(shared: Path) -> None:
    text = parse_report(shared / ATAX / "kernel_atax_csynth.rpt")
    assert (text.latency_cycles, text.interval_cycles) == (4912, 4913)
    assert text.modules == {
        "stage_M": {"latency_cycles": 4912, "interval_cycles": 4912},
        "stage_N": {"latency_cycles": 4316, "interval_cycles": 4316},
    }
    xml = parse_report(shared / ATAX / "kernel_atax_csynth.xml")
    assert (xml.latency_cycles, xml.interval_cycles, xml.clock_estimated_ns) == (4912, 4913, 2.231)
    assert xml.resources == text.resources


def test_summary_reports_text_and_xml_agree(shared: Path) -> None:
    text = parse_report(shared / ATAX / "csynth.rpt")
    xml = parse_report(shared / ATAX / "csynth.xml")
    assert text.top == xml.top == "kernel_atax"
    assert text.latency_cycles == xml.latency_cycles == 4912
    assert text.interval_cycles == xml.interval_cycles == 4913
    assert text.clock_target_ns == xml.clock_target_ns == 2.5  # derived from ns / cycles
    assert "clock_target_ns" in text.derived[0]
    assert text.clock_estimated_ns is None and xml.clock_estimated_ns == 2.231
    for name in ("stage_M", "stage_N", "stage_M_Pipeline_l_S_m_0_r_l_m"):
        assert text.modules[name]["latency_cycles"] == xml.modules[name]["latency_cycles"]
    assert text.modules["stage_N_Pipeline_l_S_n_0_k_l_n"]["latency_cycles"] == 3920
    for name in ("VITIS_LOOP_25_1", "l_S_m_0_r_l_m", "l_S_n_0_k_l_n"):
        assert text.loops[name] == xml.loops[name], name
    assert text.loops["l_S_n_0_k_l_n"].trip_count == 3900
    assert text.loops["l_S_n_0_k_l_n"].iteration_latency == 20
    for name, lp in text.loops.items():  # the same loop-latency rule for all five loops
        assert lp.ii * (lp.trip_count - 1) + lp.iteration_latency - 1 == lp.latency_cycles, name


def test_cli_json(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report-hls", str(shared / W4A8 / "region_3_csynth.rpt"), "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {
        "top",
        "part",
        "clock_target_ns",
        "clock_estimated_ns",
        "latency_cycles",
        "interval_cycles",
        "modules",
        "loops",
        "resources",
    } <= set(doc)
    assert doc["modules"]["Gelu_layer_1"] == {"latency_cycles": 68212, "interval_cycles": 68212}


def test_non_reports_are_refused(shared: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a Vitis HLS synthesis report"):
        parse_report(shared / W4A8 / "impl_slr_util_routed.rpt")
    bad = tmp_path / "x.xml"
    bad.write_text("<profile><oops>")
    with pytest.raises(UserError, match="not well-formed XML"):
        parse_report(bad)
    with pytest.raises(UserError, match="cannot read"):
        parse_report(tmp_path / "missing.rpt")
