"""XRT profile files (written here from ../shared/reference/xrt_profile.md): the profile
summary and the device trace, parsed by section title and column name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialsim.calibration.xrt import DeviceTrace, ProfileSummary, read_xrt
from spatialsim.cli.main import main
from spatialsim.errors import UserError

SUMMARY = """Profile Summary
Generated on: 2026-11-30 10:12:44
Profiled application: gpt2_host
Tool version: 2023.2
XRT build version: 2.16.204
Target devices: xilinx_u280_gen3x16_xdma_base_1
Flow mode: System Run

OpenCL API Calls
API Name,Number Of Calls,Total Time (ms),Minimum Time (ms),Average Time (ms),Maximum Time (ms),
clEnqueueTask,72,1.25,0.01,0.017,0.05,

Compute Unit Utilization
Device,Compute Unit,Kernel,Global Work Size,Local Work Size,Number Of Calls,Dataflow Execution,Max Overlapping Executions,Dataflow Acceleration,Total Time (ms),Minimum Time (ms),Average Time (ms),Maximum Time (ms),Clock Frequency (MHz),Extra Column,
xilinx_u280,GPT_layer_dataflow_region_1_1,GPT_layer_dataflow_region_1,1:1:1,1:1:1,24,Yes,1,1.000000x,50.8,2.1,2.1166667,2.2,250,x,
xilinx_u280,GPT_layer_dataflow_region_3_1,GPT_layer_dataflow_region_3,1:1:1,1:1:1,24,Yes,1,1.000000x,171.6,7.1,7.15,7.3,250,y,

Guidance Parameters
Parameter,Element,Value,
MEMORY_USAGE,DEVICE|HBM[3],1,
XRT_INI_SETTING,opencl_summary,true,
"""

KERNEL_EXECUTION = """
Kernel Execution
Kernel,Number Of Enqueues,Total Time (ms),Minimum Time (ms),Average Time (ms),Maximum Time (ms),
GPT_layer_dataflow_region_1,24,55.2,2.2,2.3,2.5,
"""

TRACE = """HEADER
VTF File Version,1.0
Resolution,ms
Min Resolution,ns
XRT  Version,2.16.204
Platform,xilinx_u280_gen3x16_xdma_base_1
Target,System Run
STRUCTURE
Group_Start,Device,u280
Group_Start,GPT.xclbin
Group_Start,GPT_layer_dataflow_region_1_1,Compute Unit
Dynamic_Row_Summary,3,Executions,
Group_End,GPT_layer_dataflow_region_1_1
Group_Start,GPT_layer_dataflow_region_3_1,Compute Unit
Dynamic_Row_Summary,5,Executions,
Group_End,GPT_layer_dataflow_region_3_1
Group_End,GPT.xclbin
Group_End,Device
MAPPING
10,GPT_layer_dataflow_region_1
11,GPT_layer_dataflow_region_1_1
12,GPT_layer_dataflow_region_3
EVENTS
1,0,0.000000,3,KERNEL,10,11,
2,1,2.100000,3,KERNEL,10,11,
3,0,2.150000,3,KERNEL,10,11,
4,3,4.250000,3,KERNEL,10,11,
5,0,0.500000,5,KERNEL,12,
6,5,7.600500,5,KERNEL,12,
7,0,1.000000,9,HOST_READ,
DEPENDENCIES
SOMETHING_NEW
a,b,c
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_summary_by_column_name_ignoring_unknown_sections_and_columns(tmp_path: Path) -> None:
    prof = read_xrt(write(tmp_path, "summary.csv", SUMMARY))
    assert isinstance(prof, ProfileSummary)
    doc = prof.to_json()
    assert doc["application"] == "gpt2_host"
    assert doc["device"] == "xilinx_u280_gen3x16_xdma_base_1"
    assert doc["compute_units"]["GPT_layer_dataflow_region_3_1"] == {
        "kernel": "GPT_layer_dataflow_region_3",
        "calls": 24,
        "total_ms": 171.6,
        "min_ms": 7.1,
        "avg_ms": 7.15,
        "max_ms": 7.3,
        "clock_mhz": 250.0,
    }
    assert "kernel_execution" not in doc  # the section is missing: fine
    prof2 = read_xrt(write(tmp_path, "s2.csv", SUMMARY + KERNEL_EXECUTION))
    assert prof2.to_json()["kernel_execution"]["GPT_layer_dataflow_region_1"] == {
        "enqueues": 24,
        "total_ms": 55.2,
        "min_ms": 2.2,
        "avg_ms": 2.3,
        "max_ms": 2.5,
    }


def test_reordered_columns_are_read_by_name(tmp_path: Path) -> None:
    header = (
        "Kernel,Compute Unit,Clock Frequency (MHz),Number Of Calls,Total Time (ms),"
        "Minimum Time (ms),Average Time (ms),Maximum Time (ms)"
    )
    text = f"Compute Unit Utilization\n{header}\nk,k_1,300,2,4.0,1.5,2.0,2.5\n"
    cu = read_xrt(write(tmp_path, "s.csv", text)).to_json()["compute_units"]["k_1"]
    assert cu == {
        "kernel": "k",
        "calls": 2,
        "total_ms": 4.0,
        "min_ms": 1.5,
        "avg_ms": 2.0,
        "max_ms": 2.5,
        "clock_mhz": 300.0,
    }


def test_trace_executions_and_gaps_per_compute_unit(tmp_path: Path) -> None:
    prof = read_xrt(write(tmp_path, "device_trace_0.csv", TRACE))
    assert isinstance(prof, DeviceTrace)
    cus = prof.to_json()["compute_units"]
    r1 = cus["GPT_layer_dataflow_region_1_1"]
    assert r1["kernel"] == "GPT_layer_dataflow_region_1" and r1["executions"] == 2
    assert r1["mean_ms"] == pytest.approx(2.1) and r1["min_ms"] == pytest.approx(2.1)
    assert r1["mean_gap_ms"] == pytest.approx(0.05)
    # no CU id on the event: the row's compute unit group names it
    r3 = cus["GPT_layer_dataflow_region_3_1"]
    assert r3["executions"] == 1 and r3["mean_ms"] == pytest.approx(7.1005)
    assert r3["mean_gap_ms"] is None


@pytest.mark.parametrize(
    "text, needle",
    [
        (
            SUMMARY.replace("24,Yes,1,1.000000x,50.8", "24,Yes,1,1.000000x,abc"),
            "summary.csv:15: Total Time (ms) = 'abc' is not a number",
        ),
        (
            SUMMARY.replace("24,Yes,1,1.000000x,50.8", "24,Yes,1,1.000000x,nan"),
            "summary.csv:15: Total Time (ms) = 'nan' is not a number",
        ),
        (
            SUMMARY.replace(",Clock Frequency (MHz),", ",Clock (MHz),"),
            "summary.csv:14: section 'Compute Unit Utilization' lacks column(s) Clock Frequency",
        ),
        (
            SUMMARY.replace("Compute Unit Utilization\n", "Compute Units\n"),
            "no 'Compute Unit Utilization' section",
        ),
        ("just some text\n", "not an XRT profile summary"),
        (
            SUMMARY.replace(",250,y,", ","),
            "summary.csv:16: 'Compute Unit Utilization' row has 13 cells, the header 15",
        ),
    ],
)
def test_malformed_summaries_name_the_line(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(UserError) as err:
        read_xrt(write(tmp_path, "summary.csv", text))
    assert needle in str(err.value)


@pytest.mark.parametrize(
    "text, needle",
    [
        (
            TRACE.replace("2,1,2.100000", "2,99,2.100000"),
            "trace.csv:25: end event of start event 99, never seen",
        ),
        (TRACE.replace("4,3,4.250000", "4,3,1.0"), "trace.csv:27: execution ends at 1.0 ms"),
        (
            TRACE.replace("1,0,0.000000,3,KERNEL", "1,0,x,3,KERNEL"),
            "trace.csv:24: TIMESTAMP_MS = 'x' is not a number",
        ),
        (TRACE.replace("7,0,1.000000,9,HOST_READ,", "7,0"), "trace.csv:30: an event needs"),
        (TRACE.split("EVENTS")[0], "no EVENTS block"),
    ],
)
def test_malformed_traces_name_the_line(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(UserError) as err:
        read_xrt(write(tmp_path, "trace.csv", text))
    assert needle in str(err.value)


def test_report_xrt_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "summary.csv", SUMMARY)
    assert main(["report-xrt", str(path), "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["compute_units"]) == {
        "GPT_layer_dataflow_region_1_1",
        "GPT_layer_dataflow_region_3_1",
    }
    trace = write(tmp_path, "device_trace_0.csv", TRACE)
    assert main(["report-xrt", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "device trace, 2 compute units" in out and "GPT_layer_dataflow_region_3_1" in out
    blob = tmp_path / "blob.csv"
    blob.write_bytes(bytes(range(256)))
    assert main(["report-xrt", str(blob)]) == 2
    assert "not a text XRT profile file" in capsys.readouterr().err
