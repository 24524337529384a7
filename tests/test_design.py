"""Design templates, design files (exact round trip), --set overrides and the fit check."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from spatialsim.analytical.latency import matmul_rates
from spatialsim.design.fileio import dumps_design, load_design, loads_design, save_design
from spatialsim.design.graph import BYPASS_FIFO, CANONICAL_KERNELS
from spatialsim.design.overrides import apply_overrides
from spatialsim.design.resources import check_fit, estimate
from spatialsim.design.templates import build_design
from spatialsim.errors import UserError
from spatialsim.hardware import get_platform
from spatialsim.workload import MODELS

GPT2M = MODELS["gpt2-medium"]


def test_w4a8_template_matches_the_artifact() -> None:
    d = build_design("chen2024-w4a8", GPT2M, 128)
    assert d.phases["prefill"].bitstream == d.phases["decode"].bitstream
    g = d.graph("prefill")
    assert set(CANONICAL_KERNELS) <= set(g.nodes)
    assert nx.is_directed_acyclic_graph(g)
    rates = matmul_rates(d, "prefill")
    for k in ("q_proj", "k_proj", "v_proj", "out_proj", "ffn1", "ffn2"):
        assert rates[k] == 8 * 16 * 2 == 256
    assert rates["qk_matmul"] == rates["sv_matmul"] == 8 * 8
    # Decode reuses the arrays with single-token packs: one of eight rows works.
    assert matmul_rates(d, "decode")["ffn1"] == 32
    # kernel.cfg: Wk HBM[1], Wv HBM[2], Wq HBM[3], Wo HBM[4], FFN HBM[5], HBM[6]
    ports = {
        k: g.nodes[k]["ports"] for k in ("k_proj", "v_proj", "q_proj", "out_proj", "ffn1", "ffn2")
    }
    assert ports == {
        "k_proj": ("HBM[1]",),
        "v_proj": ("HBM[2]",),
        "q_proj": ("HBM[3]",),
        "out_proj": ("HBM[4]",),
        "ffn1": ("HBM[5]",),
        "ffn2": ("HBM[6]",),
    }
    assert [g.nodes[k]["slr"] for k in ("q_proj", "out_proj", "ffn1")] == [0, 1, 2]
    edges = {a["name"]: (s, t, a) for s, t, a in g.edges(data=True)}
    # the bypass holds the whole l x d activation: 128 / 8 packs x 1024 features of 8 fp32
    src, dst, bypass = edges[BYPASS_FIFO]
    assert (src, dst, bypass["depth_words"], bypass["width_bits"]) == (
        "splitter",
        "residual1",
        16 * 1024,
        256,
    )
    assert edges["gelu_to_ffn2"][2]["depth_words"] == GPT2M.ffn
    assert edges["softmax_to_sv_matmul"][2]["depth_words"] == 128
    for s, t, a in g.edges(data=True):  # links between regions are 16 deep, inner FIFOs 4+
        assert (a["depth_words"] == 16) == (d.crosses_slr("layer", s, t)), a["name"]


def test_w8a8_has_systolic_prefill_and_gemv_decode() -> None:
    d = build_design("chen2024-w8a8", GPT2M, 256)
    pre, dec = matmul_rates(d, "prefill"), matmul_rates(d, "decode")
    assert pre["q_proj"] == pre["out_proj"] == 128 and pre["ffn1"] == pre["ffn2"] == 256
    assert dec["q_proj"] == 2 * 32 * 2 and dec["ffn2"] == 4 * 32 * 2
    g = d.graph("decode")
    assert g.nodes["ffn1"]["ports"] == tuple(f"HBM[{i}]" for i in (9, 10, 11, 12))
    assert g.nodes["out_proj"]["ports"] == ("HBM[7]", "HBM[8]")
    assert g.nodes["ffn2"]["ports"] == tuple(f"HBM[{i}]" for i in (13, 14, 15, 16))
    # one 512-bit beat per engine per cycle
    assert g.nodes["q_proj"]["pes"] * 16 == g.nodes["q_proj"]["port_bits"]


@pytest.mark.parametrize("name", ["chen2024-w4a8", "chen2024-w8a8"])
@pytest.mark.parametrize("model", ["gpt2", "bert-base", "llama2-7b"])
def test_design_file_round_trips_exactly(tmp_path: Path, name: str, model: str) -> None:
    d = build_design(name, MODELS[model], 64)
    path = tmp_path / "d.toml"
    save_design(d, path)
    back = load_design(path)
    assert dumps_design(back) == path.read_text()
    for b, g in d.bitstreams.items():
        h = back.bitstreams[b]
        assert list(g.nodes(data=True)) == list(h.nodes(data=True))
        assert list(g.edges(data=True)) == list(h.edges(data=True))
    assert (back.model, back.phases, back.max_seq_len) == (d.model, d.phases, d.max_seq_len)


def test_hand_edited_design_file_is_honoured(tmp_path: Path) -> None:
    text = dumps_design(build_design("chen2024-w4a8", GPT2M, 128))
    text = text.replace(
        '[bitstreams.layer.kernels.ffn1]\nkind = "linear"\nslr = 2\nrows = 8\ncols = 16',
        '[bitstreams.layer.kernels.ffn1]\nkind = "linear"\nslr = 2\nrows = 8\ncols = 32',
    )
    d = loads_design(text, "edited.toml")
    assert matmul_rates(d, "prefill")["ffn1"] == 512


@pytest.mark.parametrize(
    "edit, message",
    [
        (("rows = 8", "rowz = 8"), "has no parameter 'rowz'"),
        (("clock_mhz = 250.0", "clock_mhz = 250.0\ncolour = 1"), "unknown key design.colour"),
        (('kind = "mask"', 'kind = "masker"'), "unknown kind 'masker'; valid: activation"),
        (("depth_words = 4", "depth_words = 0"), "depth_words must be a positive integer"),
        (('src = "mask"', 'src = "nowhere"'), "src kernel 'nowhere' is not defined"),
        (("weight_bits = 4", "weight_bits = 5"), "weight_bits = 5 is not allowed; valid: 2, 4"),
    ],
)
def test_bad_design_files(edit: tuple[str, str], message: str) -> None:
    text = dumps_design(build_design("chen2024-w4a8", GPT2M, 128)).replace(*edit, 1)
    with pytest.raises(UserError) as err:
        loads_design(text, "mine.toml")
    assert "mine.toml" in str(err.value) and message in str(err.value)


def test_set_overrides_change_only_what_they_name() -> None:
    d = build_design("chen2024-w4a8", GPT2M, 128)
    e = apply_overrides(
        d,
        [
            "kernel.ffn1.cols=32",
            "fifo.ffn_residual_bypass.depth=16",
            'kernel.out_proj.ports=["HBM[9]"]',
            "design.clock_mhz=300",
        ],
    )
    assert matmul_rates(e, "prefill")["ffn1"] == 2 * matmul_rates(d, "prefill")["ffn1"]
    assert matmul_rates(e, "prefill")["ffn2"] == matmul_rates(d, "prefill")["ffn2"]
    src, dst = e.fifo("layer", BYPASS_FIFO)
    assert e.bitstreams["layer"].edges[src, dst]["depth_words"] == 16
    assert e.graph("prefill").nodes["out_proj"]["ports"] == ("HBM[9]",)
    assert e.clock_mhz == 300.0
    assert d.graph("prefill").nodes["ffn1"]["cols"] == 16  # the original is untouched


def test_set_on_w8a8_reaches_the_bitstream_that_has_the_parameter() -> None:
    d = build_design("chen2024-w8a8", GPT2M, 128)
    e = apply_overrides(d, ["kernel.ffn1.engines=8"])
    assert matmul_rates(e, "decode")["ffn1"] == 2 * matmul_rates(d, "decode")["ffn1"]
    assert matmul_rates(e, "prefill")["ffn1"] == matmul_rates(d, "prefill")["ffn1"]


@pytest.mark.parametrize(
    "item, message",
    [
        ("kernel.ffn9.cols=2", "has no kernel 'ffn9'"),
        ("kernel.ffn1.cols=abc", "cols must be an integer, got 'abc'"),
        ("kernel.ffn1.cols=-3", "cols = -3 is out of range"),
        ("kernel.ffn1.ports=HBM", "port 'HBM' is not 'HBM[i]' or 'DDR[i]'"),
        ("fifo.ffn_residual_bypass.depth=0", "must be a positive integer"),
        ("fifo.ffn_residual_bypass.colour=1", "has no field 'colour'"),
        ("kernel.ffn1", "expected <target>=<value>"),
        ("widget.x=1", "unknown target 'widget.x'"),
    ],
)
def test_bad_overrides(item: str, message: str) -> None:
    d = build_design("chen2024-w4a8", GPT2M, 128)
    with pytest.raises(UserError, match=None) as err:
        apply_overrides(d, [item])
    assert message in str(err.value)


def test_fit_check_accepts_the_paper_designs_and_refuses_oversized_ones() -> None:
    u280 = get_platform("u280")
    for name in ("chen2024-w4a8", "chen2024-w8a8"):
        for model in ("gpt2-medium", "gpt2-xl", "llama2-7b"):
            check_fit(build_design(name, MODELS[model], 128), u280)
    big = apply_overrides(
        build_design("chen2024-w4a8", GPT2M, 128), ["kernel.ffn1.rows=32", "kernel.ffn1.cols=128"]
    )
    with pytest.raises(UserError) as err:
        check_fit(big, u280)
    msg = str(err.value)
    assert "SLR2" in msg and "DSP demand" in msg and "capacity 3,072" in msg
    demand = estimate(big, "layer").slrs[2]["dsp"]
    assert f"{demand:,.0f}" in msg


def test_fit_check_refuses_missing_memory_channels() -> None:
    d = apply_overrides(
        build_design("chen2024-w4a8", GPT2M, 128), ['kernel.ffn2.ports=["HBM[32]"]']
    )
    with pytest.raises(
        UserError,
        match=r"binds HBM\[32\], but platform u280 has 32 HBM "
        r"channels \(HBM\[0\]..HBM\[31\]\)",
    ):
        check_fit(d, get_platform("u280"))
    with pytest.raises(UserError, match="platform u250 has no HBM"):
        check_fit(build_design("chen2024-w4a8", GPT2M, 128), get_platform("u250"))
    moved = apply_overrides(build_design("chen2024-w4a8", GPT2M, 128), ["kernel.mask.slr=3"])
    with pytest.raises(UserError, match="placed in SLR3, but platform u280 has 3 SLR"):
        check_fit(moved, get_platform("u280"))


def test_longer_sequences_need_more_on_chip_memory() -> None:
    short = estimate(build_design("chen2024-w4a8", GPT2M, 128), "layer").total
    long = estimate(build_design("chen2024-w4a8", GPT2M, 1024), "layer").total
    assert long["uram"] > short["uram"] and long["dsp"] == short["dsp"]


@pytest.mark.parametrize("name", ["chen2024-w4a8", "chen2024-w8a8", "dfx"])
def test_a_saved_design_simulates_exactly_like_the_template(name: str, tmp_path: Path) -> None:
    """A file keeps each kernel's input order (a residual adds its inputs in order), so a
    saved design runs cycle for cycle like the one it was saved from."""
    import spatialsim as ss
    from spatialsim.workload.models import get_model

    model = "gpt2"
    path = tmp_path / "d.toml"
    save_design(build_design(name, get_model(model), 40), path)
    a = ss.simulate(model=model, design=name, prompt_len=24, gen_len=4, max_seq_len=40)
    b = ss.simulate(design=str(path), prompt_len=24, gen_len=4)
    assert (a.ttft_ms, a.tpot_ms) == (b.ttft_ms, b.tpot_ms)
