"""The chen2024-llama templates: a LLaMA layer's own operators (RMSNorm, RoPE, SwiGLU,
grouped-query attention) as kernels, simulated and estimated; K/V heads, cache placement,
card capacity and multi-card splits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import spatialsim as ss
from spatialsim.analytical.latency import channel_bytes, kernel_macs
from spatialsim.cli.main import main
from spatialsim.design.llama_templates import KV_CHIP_URAM, kv_cache_placement
from spatialsim.design.resources import estimate as resource_estimate
from spatialsim.design.templates import build_design
from spatialsim.workload.models import get_model

CONFIGS = Path(__file__).resolve().parent / "data" / "hf_configs"
LLAMA_1B = CONFIGS / "llama-3.2-1b.json"
LLAMA_8B = CONFIGS / "llama-3-8b.json"
TEMPLATES = ("chen2024-llama-w8a8", "chen2024-llama-w4a8")


def small_llama(tmp_path: Path, kv_heads: int) -> Path:
    """A LLaMA-shaped config small enough for long contexts on one card: d = 512, eight
    heads of 64, ``kv_heads`` K/V heads, four layers."""
    cfg = json.loads(LLAMA_1B.read_text())
    cfg.update(
        hidden_size=512,
        intermediate_size=1408,
        num_attention_heads=8,
        head_dim=64,
        num_hidden_layers=4,
        num_key_value_heads=kv_heads,
    )
    path = tmp_path / f"small-llama-kv{kv_heads}.json"
    path.write_text(json.dumps(cfg))
    return path


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_layer_is_built_from_the_models_own_operators(template: str) -> None:
    model = get_model(str(LLAMA_1B))
    d = build_design(template, model, 144)
    for phase in ("prefill", "decode"):
        g = d.graph(phase)
        nodes = g.nodes
        # RMSNorm before the projections (int8 out) and before the FFN; no norm at the end
        for n in ("layernorm1_q", "layernorm1_kv", "layernorm0"):
            assert (nodes[n]["kind"], nodes[n]["norm"], nodes[n]["quantize"]) == (
                "layernorm",
                "rmsnorm",
                True,
            ), n
        assert list(g.predecessors("output_writer")) == ["residual1"]
        # pre-norm: the residuals add the un-normalised input and attention output
        assert list(g.predecessors("residual0")) == ["out_proj", "input_loader"]
        assert list(g.predecessors("residual1")) == ["ffn2", "splitter"]
        assert list(g.predecessors("splitter")) == ["residual0"]
        # RoPE on Q (32 heads) and K (8 K/V heads), fp32 projections in, int8 out
        for n, src, dst, width in (
            ("rope_q", "q_proj", "q_buffer", 2048),
            ("rope_k", "k_proj", "k_writer", 512),
        ):
            a = nodes[n]
            assert (a["kind"], a["features"], a["head_dim"], a["theta"]) == (
                "rope",
                width,
                64,
                500000.0,
            )
            assert a["max_seq_len"] == 144
            assert list(g.predecessors(n)) == [src] and list(g.successors(n)) == [dst]
            assert nodes[src]["out_dtype"] == "fp32"
        assert nodes["v_proj"]["out_dtype"] == "int8"
        # SwiGLU: gate and up linears, each d -> f, feeding silu_mul in that order
        for n in ("ffn_gate", "ffn1"):
            assert (nodes[n]["in_features"], nodes[n]["out_features"]) == (2048, 8192)
        act = nodes["silu_mul"]
        assert (act["fn"], act["gate_up"], act["features"]) == ("silu_mul", "split", 8192)
        assert list(g.predecessors("silu_mul")) == ["ffn_gate", "ffn1"]
        assert (nodes["ffn2"]["in_features"], nodes["ffn2"]["out_features"]) == (8192, 2048)
        # grouped-query attention: 8 K/V heads of 64 in the projections, buffers, arrays
        assert nodes["k_proj"]["out_features"] == nodes["v_proj"]["out_features"] == 512
        assert nodes["k_writer"]["features"] == nodes["v_writer"]["features"] == 512
        for n in ("qk_matmul", "sv_matmul"):
            assert (nodes[n]["heads"], nodes[n]["kv_heads"]) == (32, 8)


def test_the_run_simulates_those_kernels_in_both_phases() -> None:
    r = ss.simulate(model=str(LLAMA_1B), design="chen2024-llama-w8a8", prompt_len=32,
                    gen_len=2, layers=1)  # fmt: skip
    phases = r.to_json()["phases"]
    for phase in ("prefill", "decode"):
        kernels = phases[phase]["kernels"]
        for n, kind in (
            ("layernorm1_q", "layernorm"),
            ("rope_q", "rope"),
            ("rope_k", "rope"),
            ("ffn_gate", "linear" if phase == "prefill" else "gemv"),
            ("silu_mul", "activation"),
        ):
            assert kernels[n]["kind"] == kind
            assert kernels[n]["busy"] * kernels[n]["active_cycles"] > 0, (phase, n)


def test_a_model_that_is_not_llama_shaped_is_refused_naming_what_differs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ss.UserError) as err:
        build_design("chen2024-llama-w8a8", get_model("gpt2-medium"), 64)
    msg = str(err.value)
    for part in ("positions = learned", "norm_kind = layernorm", "ffn_kind = gelu"):
        assert part in msg
    assert "Use chen2024-w8a8 or chen2024-w4a8" in msg
    assert main(["run", "--design", "chen2024-llama-w8a8", "--model", "bert-base"]) == 2
    out = capsys.readouterr().err
    assert "an encoder (needs a causal decoder)" in out and "Traceback" not in out


def test_kv_heads_change_kv_bytes_projection_work_and_tpot_as_eq9_says(tmp_path: Path) -> None:
    """Eight K/V heads (multi-head attention) against two (groups of four) at a 2,048-token
    context: the K projection's MACs and the cache bytes shrink four-fold, and the TPOT
    the simulation loses to the cache load is the one Eq. 9's memory term gives."""
    ctx, runs = 2048, {}
    for kv in (8, 2):
        path = small_llama(tmp_path, kv)
        sim = ss.simulate(model=str(path), design="chen2024-llama-w8a8", prompt_len=ctx,
                          gen_len=2, layers=1, max_seq_len=ctx + 2)  # fmt: skip
        ana = ss.analyze(model=str(path), design="chen2024-llama-w8a8", prompt_len=ctx,
                         gen_len=2, max_seq_len=ctx + 2)  # fmt: skip
        design = build_design("chen2024-llama-w8a8", get_model(str(path)), ctx + 2)
        runs[kv] = (sim, ana, design)
    (s8, a8, d8), (s2, a2, d2) = runs[8], runs[2]
    # K/V projection work: 512 -> 512 vs 512 -> 128 per token
    for phase, tokens in (("prefill", ctx), ("decode", ctx)):
        m8, m2 = (kernel_macs(d, phase, "k_proj", tokens) for d in (d8, d2))
        assert m8 == 4 * m2 == (ctx if phase == "prefill" else 1) * 512 * 512
    # K/V bytes: eight heads do not fit on chip at this context, two do
    assert [kv_cache_placement(d.model, ctx + 2) for d in (d8, d2)] == ["hbm", "chip"]
    dec8 = s8.to_json()["phases"]["decode"]["hbm"]
    expected = sum(channel_bytes(d8, "decode", c)["HBM[17]"] for c in (ctx, ctx + 1))
    assert dec8["HBM[17]"]["bytes"] == expected == (ctx + 1 + ctx + 2) * 512
    assert "HBM[17]" not in s2.to_json()["phases"]["decode"]["hbm"]
    assert "HBM[17]" not in channel_bytes(d2, "decode", ctx)
    # TPOT: what the cache load adds per layer, simulated and by Eq. 9
    layers = 4
    sim_delta = s8.result.tpot_ms - s2.result.tpot_ms
    eq9_delta = (a8.to_json()["decode"]["ms"] - a2.to_json()["decode"]["ms"]) / layers
    print(f"TPOT per layer, 8 vs 2 K/V heads: simulated +{sim_delta:.4f} ms, Eq. 9 "
          f"+{eq9_delta:.4f} ms")  # fmt: skip
    assert a8.to_json()["decode"]["mem_channel"] == "HBM[17]"
    assert sim_delta > 0 and eq9_delta > 0
    assert sim_delta == pytest.approx(eq9_delta, rel=0.15)


def test_the_cache_goes_to_hbm_when_every_layers_rows_no_longer_fit_on_chip() -> None:
    """Llama-3.2-1B: 16 layers x 2 x 512 int8 per token; on chip up to 160 tokens."""
    model = get_model(str(LLAMA_1B))
    assert kv_cache_placement(model, 160) == "chip"
    assert kv_cache_placement(model, 161) == "hbm"
    for seq, cache in ((160, "chip"), (161, "hbm")):
        d = build_design("chen2024-llama-w8a8", model, seq)
        g = d.graph("decode")
        assert g.nodes["k_writer"]["cache"] == g.nodes["v_writer"]["cache"] == cache
        urams = resource_estimate(d, "decode").kernels["k_writer"]["uram"]
        if cache == "chip":  # 16 x 160 x 512 int8 = 163,840 64-bit words: 40 deep, 1R1W x 2
            assert urams == 80 and 2 * urams == KV_CHIP_URAM
            assert "every layer's K and V rows on chip" in d.notes["kv_cache"]
        else:  # one layer's rows: 161 x 512 / 8 words, 3 URAM deep, 1R1W
            assert urams == 6
            assert "caches in HBM[17] and HBM[18]" in d.notes["kv_cache"]
    short = ss.simulate(model=str(LLAMA_1B), design="chen2024-llama-w8a8", prompt_len=64,
                        gen_len=2, layers=1, max_seq_len=160)  # fmt: skip
    long = ss.simulate(model=str(LLAMA_1B), design="chen2024-llama-w8a8", prompt_len=64,
                       gen_len=2, layers=1, max_seq_len=300)  # fmt: skip
    assert "HBM[17]" not in short.to_json()["phases"]["decode"]["hbm"]
    # two decode steps read 64 and 65 cached rows and write one each
    assert long.to_json()["phases"]["decode"]["hbm"]["HBM[17]"]["bytes"] == (65 + 66) * 512


@pytest.mark.parametrize("template", TEMPLATES)
def test_analyze_and_run_agree_on_the_template_as_on_gpt2(template: str) -> None:
    """Simulated prefill per layer over the extended Eq. 8, against GPT-2-medium on the
    chen2024 template of the same precision: the same pipeline fill and drain."""
    gpt2_template = template.replace("llama-", "")
    for prompt in (128, 512):
        ratios = []
        for model, design in ((str(LLAMA_1B), template), ("gpt2-medium", gpt2_template)):
            # the layers alone: the head (once per step) is the next test's
            head = {"design.head": False} if "llama" in design else {}
            run = ss.simulate(model=model, design=design, prompt_len=prompt, gen_len=0,
                              layers=1, max_seq_len=prompt + 1, set=head)  # fmt: skip
            ana = ss.analyze(model=model, design=design, prompt_len=prompt, gen_len=0,
                             max_seq_len=prompt + 1, set=head)  # fmt: skip
            layers = run.to_json()["model_layers"]
            ratios.append(run.result.ttft_ms / (ana.prefill_ms / layers))
        llama, gpt2 = ratios
        print(f"{template} l={prompt}: LLaMA {llama:.4f}, GPT-2 {gpt2:.4f}")
        assert 1.0 <= llama <= gpt2 + 0.01, (prompt, llama, gpt2)


def test_a_model_too_large_for_one_card_is_refused_and_splits_over_cards(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Llama-3-8B at W8A8 needs 14 GiB (the prefill arrays' and the decode engines' weight
    layouts, the head) against the U280's 8 GiB: refused, naming both; two cards fit."""
    args = ["analyze", "--design", "chen2024-llama-w8a8", "--model", str(LLAMA_8B)]
    assert main(args) == 2
    err = capsys.readouterr().err
    # 32 layers' two weight layouts (13.01 GiB), the LM head's matrix and the untied
    # embedding table once each (2 x 128,256 x 4,096 bytes)
    assert "13.99 GiB of weights and K/V cache (32 layers of llama-3-8b)" in err
    assert "u280 has 8.00 GiB of HBM" in err and "at least 2 cards" in err
    assert main([*args, "--tp", "2"]) == 0
    assert main([*args, "--pp", "2"]) == 0
    assert main([*args, "--platform", "u55c", "--tp", "2"]) == 0
    capsys.readouterr()
    one = ss.analyze(model=str(LLAMA_1B), design="chen2024-llama-w8a8")
    assert one.prefill_ms > 0


def test_tensor_and_pipeline_splits_simulate() -> None:
    """Heads and K/V heads split with the cards (8 K/V heads over 2: 4 each); a streamed
    pipeline stage feeds the input norms, not the residual's copy."""
    tp = ss.simulate(model=str(LLAMA_8B), design="chen2024-llama-w8a8", tp=2, prompt_len=16,
                     gen_len=1, layers=2)  # fmt: skip
    pp = ss.simulate(model=str(LLAMA_8B), design="chen2024-llama-w8a8", pp=2, prompt_len=16,
                     gen_len=1, layers=2)  # fmt: skip
    assert tp.result.ttft_ms > 0 and pp.result.ttft_ms > 0
    from spatialsim.design.parallel import shard

    card = shard(build_design("chen2024-llama-w8a8", get_model(str(LLAMA_8B)), 32), 2)
    g = card.graph("prefill")
    assert (g.nodes["qk_matmul"]["heads"], g.nodes["qk_matmul"]["kv_heads"]) == (16, 4)
    assert g.nodes["rope_k"]["features"] == 512


def test_the_head_runs_once_per_step_as_eq9_says() -> None:
    """Final RMSNorm, LM head over 128,256 ids (4 GEMV engines on HBM[23..26]), argmax and
    the next embedding (tied: read from the LM head's channels): simulated once after the
    last layer of each step, adding to TTFT once and to every TPOT what Eq. 9's head term
    gives (the LM head's 262 MB over four 13.2 GB/s channels: 4.97 ms)."""
    common = {"model": "llama3.2-1b", "design": "chen2024-llama-w8a8", "prompt_len": 32,
              "gen_len": 3, "layers": 2}  # fmt: skip
    full = ss.simulate(**common)
    bare = ss.simulate(**common, set={"design.head": False})
    ana = ss.analyze(**common).to_json()
    head_ms = ana["decode"]["head_cycles"] / 250e3
    assert head_ms == pytest.approx(128256 * 2048 / (4 * 13.2e9) * 1e3, rel=0.01)
    tpot_gain = full.result.tpot_ms - bare.result.tpot_ms
    ttft_gain = full.result.ttft_ms - bare.result.ttft_ms
    print(f"head: TPOT +{tpot_gain:.3f} ms, TTFT +{ttft_gain:.3f} ms, Eq. 9 {head_ms:.3f} ms")
    assert tpot_gain == pytest.approx(head_ms, rel=0.05)
    assert ttft_gain == pytest.approx(head_ms, rel=0.05)
    phases = full.to_json()["phases"]
    for phase in ("prefill", "decode"):
        kernels = phases[phase]["kernels"]
        for n in ("final_norm", "lm_head", "argmax", "embedding"):
            assert kernels[n]["busy"] * kernels[n]["active_cycles"] > 0, (phase, n)
    # tied embeddings read the LM head's channels and take no HBM of their own
    d = build_design("chen2024-llama-w8a8", get_model("llama3.2-1b"), 64)
    g = d.graph("decode")
    assert g.nodes["embedding"]["ports"] == g.nodes["lm_head"]["ports"]
    assert g.nodes["embedding"]["tied"] and not get_model("llama3-8b").tied_embeddings
    untied = build_design("chen2024-llama-w8a8", get_model("llama3-8b"), 64)
    assert untied.graph("decode").nodes["embedding"]["ports"] == ("HBM[31]",)


def test_the_head_is_checked_and_survives_a_design_file(tmp_path: Path) -> None:
    from spatialsim.design.fileio import load_design, save_design
    from spatialsim.design.graph import add_fifo
    from spatialsim.design.overrides import apply_overrides

    d = build_design("chen2024-llama-w4a8", get_model("llama3.2-1b"), 64)
    path = tmp_path / "llama.toml"
    save_design(d, path)
    back = load_design(path)
    assert back.head == d.head and set(back.head) <= set(back.graph("prefill").nodes)
    bad = d.copy()
    add_fifo(bad.bitstreams["layer"], "argmax", "q_proj", 4, 32)
    with pytest.raises(ss.UserError, match="FIFO argmax_to_q_proj joins head kernel argmax"):
        bad.validate()
    gone = d.copy()
    gone.head = (*d.head, "lm_tail")
    with pytest.raises(ss.UserError, match="lacks head kernel 'lm_tail'"):
        gone.validate()
    bare = apply_overrides(d, ["design.head=false"])
    assert bare.head == () and "lm_head" not in bare.graph("decode")
    with pytest.raises(ss.UserError, match=r"design\.head takes true or false"):
        apply_overrides(d, ["design.head=maybe"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"lm_head"', "head must be a list of kernel names"),
        ("[1, 2]", "head must be a list of kernel names"),
        ('["lm_tail"]', "lacks head kernel 'lm_tail'"),
    ],
)
def test_a_design_files_bad_head_is_refused_naming_the_file(
    tmp_path: Path, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from spatialsim.design.fileio import save_design

    path = tmp_path / "llama.toml"
    save_design(build_design("chen2024-llama-w4a8", get_model("llama3.2-1b"), 64), path)
    text = path.read_text()
    bad = re.sub(r"^head = \[.*?\]$", f"head = {value}", text, count=1, flags=re.M | re.S)
    assert bad != text
    path.write_text(bad)
    assert main(["analyze", "--design", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "Traceback" not in err
