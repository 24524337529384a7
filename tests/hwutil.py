"""Build and run the hw_kernels testbenches with g++ against the Xilinx simulation headers
shipped in the hls4ml wheel (found without importing hls4ml)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "hw_kernels"
# Every warning is an error in our code; the Xilinx headers are system includes (their
# warnings are not ours). HLS pragmas are unknown to g++, and loop labels exist for the
# HLS reports (they name the loops), so those two warnings are off. The Xilinx ap_private
# default constructor masks its own uninitialised word (clearUnusedBits), which GCC reports
# as (maybe-)uninitialized wherever an ap_int is built once inlined at -O1; -isystem cannot
# silence a warning raised after inlining, so those two are off as well.
CXXFLAGS = (
    "-std=c++17",
    "-Wall",
    "-Werror",
    "-Wno-unknown-pragmas",
    "-Wno-unused-label",
    "-Wno-uninitialized",
    "-Wno-maybe-uninitialized",
)


def ap_types_dir() -> Path:
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(
            "the hls4ml wheel (Xilinx simulation headers) is not installed; pip install '.[test]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "templates/vivado/ap_types"
    assert (path / "ap_int.h").exists(), f"no ap_int.h in {path}"
    return path


def compiler() -> str:
    cxx = shutil.which("g++")
    if cxx is None:
        pytest.fail("g++ is needed for the hw tests (.ci/run installs it)")
    return cxx


def build(tb: str, work: Path, header_name: str, header: str) -> Path:
    """Compile hw_kernels/tb/<tb>.cpp with a generated cases header; return the binary."""
    work.mkdir(parents=True, exist_ok=True)
    (work / header_name).write_text(header)
    exe = work / tb
    cmd = [
        compiler(),
        *CXXFLAGS,
        "-O1",
        "-pthread",
        f"-I{HW / 'include'}",
        f"-I{HW / 'tb'}",
        "-isystem",
        str(ap_types_dir()),
        f"-I{work}",
        str(HW / "tb" / f"{tb}.cpp"),
        "-o",
        str(exe),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"g++ failed:\n{proc.stderr[-4000:]}"
    return exe


def run(exe: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=timeout)
    print(proc.stdout[-3000:], proc.stderr[-2000:])
    return proc


def write(dirpath: Path, **arrays: np.ndarray) -> None:
    dirpath.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        np.ascontiguousarray(arr).tofile(dirpath / f"{name}.bin")
