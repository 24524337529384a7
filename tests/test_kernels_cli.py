"""``spatialsim kernels`` against the real HLS numbers of the W4A8 GPT-2-medium layer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from spatialsim.cli.main import main


def kernels_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["kernels", *args, "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.mark.shared
def test_every_kernel_of_the_hls_csv_is_within_two_percent(
    shared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = kernels_json(
        capsys, "--model", "gpt2-medium", "--design", "chen2024-w4a8", "--seq-len", "128"
    )
    kernels, aliases = doc["kernels"], doc["hls_aliases"]
    assert isinstance(kernels, dict) and isinstance(aliases, dict)
    path = shared / "reference/calibration/hls_w4a8_gpt2m_layer.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 20
    for row in rows:
        name = aliases[row["module"]]
        ours = kernels[name]["cycles"]
        hls = int(row["latency_cycles"])
        print(
            f"{row['module']:24s} -> {name:18s} {ours:12,.0f} vs {hls:12,} ({ours / hls - 1:+.3%})"
        )
        assert ours == pytest.approx(hls, rel=0.02), row["module"]


def test_decode_estimates_the_gemv_engines(capsys: pytest.CaptureFixture[str]) -> None:
    doc = kernels_json(
        capsys,
        "--model",
        "gpt2-medium",
        "--design",
        "chen2024-w8a8",
        "--seq-len",
        "256",
        "--phase",
        "decode",
    )
    k = doc["kernels"]
    assert isinstance(k, dict)
    ffn1 = k["ffn1"]
    # buffer K = 1024 inputs, then 16 passes (4 engines x 32 PEs x 2 = 256 outputs each)
    assert ffn1["loops"]["BUFFER"]["trips"] == 1024
    assert ffn1["loops"]["MAC"]["entries"] == 4096 // 256
    # BUFFER 1,025 + 16 passes of (1,023 + 7) + FLUSH of the last 256 outputs + call
    assert ffn1["cycles"] == pytest.approx(1025 + 16 * (1023 + 7) + 257 + 2)
    # decode attention walks all 257 keys, 4 heads at a time
    assert k["qk_matmul"]["loops"]["ROW"]["trips"] == 257
    assert k["qk_matmul"]["loops"]["ROW"]["entries"] == 16 // 4
    assert k["k_writer"]["loops"]["CACHE_LOAD"]["trips"] == 256 * 1024 * 8 // 512


def test_kernels_text_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kernels", "--design", "chen2024-w8a8", "--seq-len", "64"]) == 0
    out = capsys.readouterr().out
    assert "region_2" in out and "MAC" in out and "q_proj" in out
