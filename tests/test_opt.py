"""The OPT family: built-in shapes (terafly.md for OPT-1.3B), Hugging Face configs, and
the ReLU FFN through the designs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import spatialsim as ss
from spatialsim.cli.main import main
from spatialsim.design.templates import build_design
from spatialsim.workload.models import get_model

OPT_1_3B = {  # facebook/opt-1.3b config.json, the fields spatialsim reads
    "model_type": "opt",
    "hidden_size": 2048,
    "num_attention_heads": 32,
    "num_hidden_layers": 24,
    "ffn_dim": 8192,
    "vocab_size": 50272,
    "max_position_embeddings": 2048,
    "activation_function": "relu",
    "do_layer_norm_before": True,
    "word_embed_proj_dim": 2048,
}


def test_opt_1_3b_is_the_model_terafly_runs() -> None:
    """terafly.md: 24 layers, hidden 2,048, 32 heads of 64, FFN 8,192, ReLU, pre-LN,
    vocabulary 50,272."""
    m = get_model("opt-1.3b")
    assert (m.layers, m.hidden, m.heads, m.head_dim, m.ffn, m.vocab) == (
        24,
        2048,
        32,
        64,
        8192,
        50272,
    )
    assert (m.ffn_kind, m.norm, m.positions, m.causal) == ("relu", "pre", "learned", True)
    assert get_model("llama2-7b").positions == "rope"


def test_a_hugging_face_opt_config_loads_like_the_builtin(tmp_path: Path) -> None:
    path = tmp_path / "opt-1.3b" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(OPT_1_3B))
    m, b = get_model(str(path.parent)), get_model("opt-1.3b")
    for field in ("layers", "hidden", "heads", "head_dim", "ffn", "vocab", "max_positions"):
        assert getattr(m, field) == getattr(b, field), field
    assert m.ffn_kind == "relu" and m.norm == "pre"
    path.write_text(json.dumps({**OPT_1_3B, "word_embed_proj_dim": 512}))
    with pytest.raises(ss.UserError, match="OPT-350M's projected embedding"):
        get_model(str(path))
    path.write_text(json.dumps({**OPT_1_3B, "activation_function": "gelu"}))
    with pytest.raises(ss.UserError, match="activation_function 'gelu' is not supported"):
        get_model(str(path))


def test_the_ffn_activation_of_an_opt_design_is_a_relu() -> None:
    d = build_design("chen2024-w8a8", get_model("opt-125m"), 64)
    act = d.bitstreams["prefill"].nodes["gelu"]
    assert act["fn"] == "relu" and act["act_depth_cycles"] == 3.0
    rep = ss.simulate(model="opt-125m", prompt_len=16, gen_len=2, layers=2)
    assert rep.result.ttft_ms > 0 and rep.result.tpot_ms
    gelu = ss.simulate(model="gpt2", prompt_len=16, gen_len=2, layers=2)
    # same shapes as GPT-2 small except the activation: the ReLU pipeline is shorter
    a = rep.result.phases["prefill"].kernels["gelu"]
    b = gelu.result.phases["prefill"].kernels["gelu"]
    assert a.busy * a.active_cycles < b.busy * b.active_cycles


def test_export_refuses_a_relu_the_cxx_does_not_have(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["export-hls", "--model", "opt-125m", "--seq-len", "64", "--out", str(tmp_path / "x")]
    )
    assert code == 2
    assert "kernel gelu: fn = 'relu'; the regions instantiate gelu<>" in capsys.readouterr().err


def test_the_u50lv_platform_holds_the_numbers_dfx_md_gives() -> None:
    """dfx.md's U50/U50LV row: 2 SLRs, HBM on SLR0, 32 x 256 MB at a 400 MHz AXI clock,
    device totals, the shell, one QSFP28 port, PCIe Gen3 x4."""
    from spatialsim.hardware.platform import get_platform

    p = get_platform("u50lv")
    assert len(p.slrs) == 2
    totals = {r: sum(getattr(s, r) for s in p.slrs) for r in ("lut", "ff", "dsp", "bram36", "uram")}
    assert totals == {"lut": 870720, "ff": 1743360, "dsp": 5952, "bram36": 1344, "uram": 640}
    assert p.hbm is not None
    assert (p.hbm.channels, p.hbm.channel_mb, p.hbm.axi_clock_mhz) == (32, 256, 400.0)
    assert p.hbm.peak_bw_gbps * p.hbm.channels == pytest.approx(409.6)
    assert p.hbm.attached_slr == 0
    assert (p.pcie.gen, p.pcie.lanes) == (3, 4)
    assert p.links is not None and p.links.ports == 1
    for field in ("slr", "reserved", "hbm", "pcie.lanes", "links.ports"):
        assert field in p.sources, field
