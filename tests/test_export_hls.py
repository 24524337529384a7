"""``spatialsim export-hls``: files generated from the design graph, the connectivity file
against the real W4A8 one, and the generated top functions compile."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from spatialsim.cli.main import main
from spatialsim.design.templates import build_design
from spatialsim.hardware.platform import get_platform
from spatialsim.hls.export import export as hls_export
from spatialsim.workload.models import get_model


def export(tmp: Path, *args: str) -> Path:
    assert main(["export-hls", *args, "--out", str(tmp)]) == 0
    return tmp


def parse_cfg(text: str) -> dict[str, object]:
    sp: dict[int, set[str]] = {}
    slr: dict[int, str] = {}
    links: list[tuple[int, int, int]] = []
    for line in text.splitlines():
        if m := re.match(r"sp=\w+_region_(\d)_1\.\w+:(\w+\[\d+\])", line):
            sp.setdefault(int(m.group(1)), set()).add(m.group(2))
        elif m := re.match(r"slr=\w+_region_(\d)_1:(SLR\d)", line):
            slr[int(m.group(1))] = m.group(2)
        elif m := re.match(
            r"stream_connect=\w+_region_(\d)_1\.\w+:\w+_region_(\d)_1\.\w+:(\d+)", line
        ):
            links.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    return {"sp": sp, "slr": slr, "links": Counter(links)}


def test_w4a8_exports_every_file_from_the_graph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = export(
        tmp_path, "--model", "gpt2-medium", "--design", "chen2024-w4a8", "--seq-len", "128"
    )
    files = sorted(p.name for p in (out / "layer").iterdir())
    assert files == [
        "config.h",
        "connectivity.cfg",
        "cosim.tcl",
        "csim.tcl",
        "csynth.tcl",
        "top.cpp",
    ]
    header = (out / "layer" / "config.h").read_text()
    assert "static constexpr int DEPTH_ffn_residual_bypass = 16384;" in header
    assert "#define SPATIAL_DEPTH_softmax_to_sv_matmul 128" in header
    assert "static constexpr int W_BITS = 4;" in header
    tcl = (out / "layer" / "csynth.tcl").read_text()
    assert "set_part xcu280-fsvh2892-2L-e" in tcl and "create_clock -period 3.33" in tcl
    assert tcl.count("set_top GPT_layer_dataflow_region_") == 3
    # --set reaches the exported depth: one source of truth
    out2 = export(
        tmp_path / "b",
        "--design",
        "chen2024-w4a8",
        "--seq-len",
        "128",
        "--set",
        "fifo.ffn_residual_bypass.depth=16",
        "--set",
        "kernel.ffn1.cols=8",
        "--set",
        "kernel.ffn2.cols=8",
    )  # FFN_COLS is shared: both, or a refusal
    assert "DEPTH_ffn_residual_bypass = 16;" in (out2 / "layer" / "config.h").read_text()
    assert "FFN_COLS = 8;" in (out2 / "layer" / "config.h").read_text()


def test_w8a8_exports_both_bitstreams(tmp_path: Path) -> None:
    out = export(tmp_path, "--design", "chen2024-w8a8", "--seq-len", "64")
    for b in ("prefill", "decode"):
        assert sorted(p.name for p in (out / b).iterdir()) == [
            "config.h",
            "connectivity.cfg",
            "cosim.tcl",
            "csim.tcl",
            "csynth.tcl",
            "top.cpp",
        ]
    top = (out / "decode" / "top.cpp").read_text()
    assert "ffn1_addr_3" in top and "decode_region2<L>" in top  # 4 FFN engines, 4 ports
    assert "tb_layer_decode.cpp" in (out / "decode" / "csim.tcl").read_text()
    decode = (out / "decode" / "connectivity.cfg").read_text()
    cfg = parse_cfg(decode)
    assert cfg["sp"][1] >= {f"HBM[{i}]" for i in range(1, 7)}  # type: ignore[index]
    assert "HBM[16]" in cfg["sp"][3]  # type: ignore[index]
    assert "static constexpr int PES = 32;" in (out / "decode" / "config.h").read_text()


@pytest.mark.shared
def test_connectivity_has_the_structure_of_the_real_w4a8_file(shared: Path, tmp_path: Path) -> None:
    real = parse_cfg(
        (shared / "reference/vitis_reports/chen2024_w4a8_gpt2m/kernel.cfg").read_text()
    )
    out = export(
        tmp_path, "--model", "gpt2-medium", "--design", "chen2024-w4a8", "--seq-len", "128"
    )
    ours = parse_cfg((out / "layer" / "connectivity.cfg").read_text())
    assert ours["slr"] == real["slr"] == {1: "SLR0", 2: "SLR1", 3: "SLR2"}
    assert ours["links"] == real["links"] == Counter({(1, 2, 16): 4, (2, 3, 16): 1})
    for region, channels in real["sp"].items():  # type: ignore[attr-defined]
        extra = ours["sp"][region] - channels  # type: ignore[index]
        assert channels <= ours["sp"][region], region  # type: ignore[index]
        # the only additions are the off-chip K/V cache the artifact (prefill only) lacks
        assert extra <= {"HBM[17]", "HBM[18]"}, (region, extra)


@pytest.mark.hw
@pytest.mark.parametrize(
    "design,bitstream",
    [("chen2024-w4a8", "layer"), ("chen2024-w8a8", "prefill"), ("chen2024-w8a8", "decode")],
)
def test_generated_top_functions_compile(tmp_path: Path, design: str, bitstream: str) -> None:
    from hwutil import CXXFLAGS, ap_types_dir, compiler

    out = export(tmp_path, "--design", design, "--seq-len", "32")
    root = Path(__file__).resolve().parents[1] / "hw_kernels"
    proc = subprocess.run(
        [
            compiler(),
            *CXXFLAGS,
            "-fsyntax-only",
            f"-I{root / 'include'}",
            "-isystem",
            str(ap_types_dir()),
            f"-I{out / bitstream}",
            str(out / bitstream / "top.cpp"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.hw
def test_axi_stream_stand_in_declares_what_region_ports_use(tmp_path: Path) -> None:
    """hls::axis from the ap_axi_sdata.h stand-in carries data plus side channels."""
    from hwutil import CXXFLAGS, ap_types_dir, compiler

    src = tmp_path / "axis.cpp"
    src.write_text(
        '#include "spatial/ap_axi_sdata.h"\n#include "spatial/stream.h"\n'
        'int main() { spatial::stream<hls::axis<ap_uint<64>, 1, 1, 1>> s("l", 2);\n'
        "  hls::axis<ap_uint<64>, 1, 1, 1> w; w.data = 42; w.last = 1;\n"
        "  s.write(w); auto r = s.read();\n"
        "  return (r.data == 42 && r.last == 1) ? 0 : 1; }\n"
    )
    root = Path(__file__).resolve().parents[1] / "hw_kernels"
    exe = tmp_path / "axis"
    proc = subprocess.run(
        [
            compiler(),
            *CXXFLAGS,
            "-pthread",
            f"-I{root / 'include'}",
            "-isystem",
            str(ap_types_dir()),
            str(src),
            "-o",
            str(exe),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert subprocess.run([str(exe)], timeout=60).returncode == 0


@pytest.mark.parametrize(
    "sets, needle",
    [
        (
            ["kernel.ffn1.engines=8"],
            "kernel ffn2: engines = 4; the header's ENGINES_FFN is shared with ffn1 (engines = 8)",
        ),
        (
            ["kernel.ffn1.engines=8", "kernel.ffn2.engines=8"],
            "kernel ffn1: engines = 8; the GEMV template supports 1 to 4 engines",
        ),
        (
            [
                "kernel.q_proj.engines=1",
                "kernel.k_proj.engines=1",
                "kernel.v_proj.engines=1",
                "kernel.out_proj.engines=1",
            ],
            "kernel q_proj: ports = ['HBM[5]', 'HBM[6]']; each of its 1 engines needs its own port",
        ),
        (["kernel.ffn1.cols=32"], "kernel ffn2: cols = 16; the header's FFN_COLS is shared"),
        (["kernel.sv_matmul.pack=1"], "kernel sv_matmul: pack = 1; the header's ATTN_PACK"),
        (["kernel.q_proj.slr=1"], "kernel q_proj: slr = 1; the C++ places it in region 1"),
        (["kernel.mask.heads_parallel=2"], "kernel mask: heads_parallel = 2"),
        (["kernel.ffn2.order=column"], "kernel ffn2: order = 'column'; the header's GEMV_COLUMN"),
        (["kernel.ffn1.emit=pack"], "kernel ffn1: emit = 'pack'; linear.h drains each block"),
        (
            ["kernel.layernorm1.norm=rmsnorm"],
            "kernel layernorm1: norm = 'rmsnorm'; the header's RMSNORM is shared with layernorm0",
        ),
    ],
)
def test_designs_the_cxx_cannot_express_are_refused(
    tmp_path: Path, sets: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a for s in sets for a in ("--set", s)]
    code = main(
        [
            "export-hls",
            "--design",
            "chen2024-w8a8",
            "--seq-len",
            "64",
            "--out",
            str(tmp_path / "x"),
            *args,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and needle in err, err
    assert "cannot export design chen2024-w8a8" in err
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_export_takes_the_part_from_the_platform_and_the_clock_from_the_design(
    tmp_path: Path,
) -> None:
    out = export(
        tmp_path,
        "--design",
        "chen2024-w8a8",
        "--seq-len",
        "64",
        "--platform",
        "u55c",
        "--set",
        "design.hls_target_mhz=250",
    )
    tcl = (out / "decode" / "csynth.tcl").read_text()
    assert "set_part xcu55c-fsvh2892-2L-e" in tcl and "create_clock -period 4\n" in tcl
    # two FFN engines, each with its own port (ports differ per bitstream, so in Python)
    design = build_design("chen2024-w8a8", get_model("gpt2-medium"), 64)
    g = design.bitstreams["decode"]
    g.nodes["ffn1"].update(engines=2, ports=("HBM[13]", "HBM[14]"))
    g.nodes["ffn2"].update(engines=2, ports=("HBM[15]", "HBM[16]"))
    design.validate()
    hls_export(design, get_platform("u280"), tmp_path / "b")
    header = (tmp_path / "b" / "decode" / "config.h").read_text()
    assert "static constexpr int ENGINES_FFN = 2;" in header
    top = (tmp_path / "b" / "decode" / "top.cpp").read_text()
    assert "ffn1_addr_1" in top and "ffn1_addr_2" not in top
    assert (
        "sp=GPT_layer_dataflow_region_3_1.ffn2_addr_1:HBM[16]"
        in (tmp_path / "b" / "decode" / "connectivity.cfg").read_text()
    )


def test_the_generated_m_axi_ports_state_the_reads_the_memory_model_assumes() -> None:
    from spatialsim.costmodel.params import CostParams
    from spatialsim.hls.export import AXI_BURST_BEATS, AXI_OUTSTANDING_READS, top_cpp

    cost = CostParams()
    assert (
        cost.axi_burst_beats,
        cost.axi_outstanding_reads,
    ) == (AXI_BURST_BEATS, AXI_OUTSTANDING_READS)
    design = build_design("chen2024-w8a8", get_model("gpt2-medium"), 64)
    text = top_cpp(design, "prefill")
    assert "max_read_burst_length = 16 num_read_outstanding = 16" in text


LLAMA_1B = Path(__file__).resolve().parent / "data" / "hf_configs" / "llama-3.2-1b.json"


@pytest.mark.parametrize(("seq", "on_chip"), [("144", True), ("300", False)])
def test_a_llama_design_exports_to_the_llama_regions(
    tmp_path: Path, seq: str, on_chip: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """chen2024-llama-w4a8 (one bitstream for both phases): the header carries the K/V
    heads, the norm's epsilon and where the cache lives; the tops call regions_llama.h; a
    cache on chip has no HBM binding and a `layer` argument instead."""
    out = export(
        tmp_path, "--model", str(LLAMA_1B), "--design", "chen2024-llama-w4a8", "--max-seq-len", seq
    )
    header = (out / "layer" / "config.h").read_text()
    for line in (
        "static constexpr int KVH = 8;",
        "static constexpr int KVD = 512;",
        "static constexpr int LAYERS = 16;",
        f"static constexpr int MAXL = {seq};",
        "static constexpr float EPS = 1e-05f;",
        f"static constexpr bool KV_ON_CHIP = {str(on_chip).lower()};",
        "static constexpr int DEPTH_silu_mul_to_ffn2 = 8192;",
    ):
        assert line in header, line
    top = (out / "layer" / "top.cpp").read_text()
    assert '#include "spatial/regions_llama.h"' in top
    assert ("int layer," in top) == on_chip == ("k_store + layer" in top)
    cfg = (out / "layer" / "connectivity.cfg").read_text()
    assert ("HBM[17]" in cfg) == (not on_chip)
    assert "sp=GPT_layer_dataflow_region_3_1.ffn_gate_addr:HBM[7]" in cfg
    assert "tb_layer_llama.cpp" in (out / "layer" / "csim.tcl").read_text()
    capsys.readouterr()


def test_the_w8a8_llama_design_exports_its_decode_engines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = export(tmp_path, "--model", str(LLAMA_1B), "--design", "chen2024-llama-w8a8",
                 "--max-seq-len", "300")  # fmt: skip
    header = (out / "decode" / "config.h").read_text()
    for line in ("static constexpr int ENGINES_FFN = 4;", "static constexpr int HP = 4;",
                 "static constexpr int KVH = 8;", "static constexpr int P = 1;"):  # fmt: skip
        assert line in header, line
    top = (out / "decode" / "top.cpp").read_text()
    assert '#include "spatial/regions_llama_decode.h"' in top
    assert "w.wg.e[3] = (const gemv_traits<DLlamaGateUp<L>>::beat*)ffn_gate_addr_3;" in top
    cfg = (out / "decode" / "connectivity.cfg").read_text()
    assert "sp=GPT_layer_dataflow_region_3_1.ffn_gate_addr_3:HBM[22]" in cfg
    assert "tb_layer_llama_decode.cpp" in (out / "decode" / "csim.tcl").read_text()
    assert '#include "spatial/regions_llama.h"' in (out / "prefill" / "top.cpp").read_text()
    capsys.readouterr()


@pytest.mark.hw
@pytest.mark.parametrize(
    ("design", "seq"),
    [("chen2024-llama-w4a8", "144"), ("chen2024-llama-w4a8", "300"),
     ("chen2024-llama-w8a8", "144"), ("chen2024-llama-w8a8", "300")],
)  # fmt: skip
def test_the_generated_llama_tops_compile(tmp_path: Path, design: str, seq: str) -> None:
    from hwutil import CXXFLAGS, ap_types_dir, compiler

    out = export(tmp_path, "--model", str(LLAMA_1B), "--design", design, "--max-seq-len", seq)
    root = Path(__file__).resolve().parents[1] / "hw_kernels"
    for folder in sorted(p for p in out.iterdir() if p.is_dir()):
        proc = subprocess.run(
            [compiler(), *CXXFLAGS, "-fsyntax-only", f"-I{root / 'include'}", "-isystem",
             str(ap_types_dir()), f"-I{folder}", str(folder / "top.cpp")],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, (folder.name, proc.stderr[-3000:])


@pytest.mark.parametrize(
    ("design", "sets", "needle"),
    [
        (
            "chen2024-llama-w8a8",
            ["kernel.ffn2.order=column"],
            "kernel ffn2: order = 'column'; the header's GEMV_COLUMN is shared with q_proj",
        ),
        (
            "chen2024-w8a8",
            [],
            "kernel qk_matmul: kv_heads = 8; regions.h holds multi-head attention only",
        ),
        (
            "chen2024-llama-w4a8",
            ["kernel.v_writer.cache=hbm"],
            "kernel v_writer: cache = 'hbm'; the header's KV_ON_CHIP is shared with k_writer",
        ),
        (
            "chen2024-llama-w4a8",
            ["kernel.rope_k.max_seq_len=64"],
            "kernel rope_k: max_seq_len = 64; the angle table is sized by the header's MAXL",
        ),
        (
            "chen2024-llama-w4a8",
            ["kernel.layernorm1_q.norm=layernorm"],
            "kernel layernorm1_q: norm = 'layernorm'; the regions instantiate rmsnorm_quant<>",
        ),
    ],
)
def test_llama_designs_the_cxx_cannot_express_are_refused(
    tmp_path: Path, design: str, sets: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a for s in sets for a in ("--set", s)]
    target = tmp_path / "x"
    code = main(["export-hls", "--model", str(LLAMA_1B), "--design", design, "--out",
                 str(target), *args])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and needle in err, err
    assert not target.exists()
