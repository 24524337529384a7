"""RMSNorm, LLaMA's norm, through the tool: the golden model, the templates (a model's norm
is its norm kernels' form), export-hls (the header's RMSNORM picks the C++ form) and the
C++ kernel (tests/test_hw_kernels.py C-simulates it bit for bit against the golden model)."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from spatialsim.cli.main import main
from spatialsim.design.templates import build_design
from spatialsim.golden import ops
from spatialsim.workload.models import get_model


def test_golden_rmsnorm_by_hand() -> None:
    """x = (3, 4): mean of squares 12.5, so y = x / sqrt(12.5 + eps) * gamma."""
    y = ops.rmsnorm(np.array([[3.0, 4.0]], np.float32), np.array([1.0, 2.0], np.float32))
    inv = 1 / math.sqrt(12.5 + 1e-5)
    assert y.dtype == np.float32
    assert y[0].tolist() == pytest.approx([3 * inv, 8 * inv], rel=1e-6)
    # no mean is subtracted: a constant row normalises to gamma, not to zero
    const = ops.rmsnorm(np.full((1, 4), 5.0, np.float32), np.ones(4, np.float32), eps=0.0)
    assert const[0].tolist() == pytest.approx([1.0] * 4)


@pytest.mark.parametrize("design", ["chen2024-w4a8", "chen2024-w8a8"])
def test_a_models_norm_is_its_norm_kernels_form(design: str) -> None:
    for model, form in (("llama2-7b", "rmsnorm"), ("gpt2-medium", "layernorm")):
        d = build_design(design, get_model(model), 64)
        for phase in ("prefill", "decode"):
            g = d.graph(phase)
            assert g.nodes["layernorm0"]["norm"] == form and g.nodes["layernorm1"]["norm"] == form


RMS = ["--set", "kernel.layernorm0.norm=rmsnorm", "--set", "kernel.layernorm1.norm=rmsnorm"]


@pytest.mark.hw
@pytest.mark.parametrize(("design", "bitstream"), [("chen2024-w4a8", "layer"),
                                                   ("chen2024-w8a8", "decode")])  # fmt: skip
def test_export_writes_rmsnorm_into_the_header_and_the_tops_compile(
    tmp_path: Path, design: str, bitstream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from hwutil import CXXFLAGS, ap_types_dir, compiler

    out = tmp_path / "hls"
    args = ["export-hls", "--design", design, "--seq-len", "32", *RMS, "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    header = next((out / bitstream).glob("*config*.h")).read_text()
    assert "static constexpr bool RMSNORM = true;" in header
    root = Path(__file__).resolve().parents[1] / "hw_kernels"
    proc = subprocess.run(
        [compiler(), *CXXFLAGS, "-fsyntax-only", f"-I{root / 'include'}", "-isystem",
         str(ap_types_dir()), f"-I{out / bitstream}", str(out / bitstream / "top.cpp")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    plain = tmp_path / "plain"
    assert main(["export-hls", "--design", design, "--seq-len", "32", "--out", str(plain)]) == 0
    assert "RMSNORM = false;" in next((plain / bitstream).glob("*config*.h")).read_text()
