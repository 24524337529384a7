"""Model shapes, Hugging Face config loading and the per-layer operator lists (Table 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatialsim.errors import UserError
from spatialsim.workload import MODELS, get_model, layer_macs, layer_operators
from spatialsim.workload.operators import Precision


def test_builtin_shapes_match_published_configs() -> None:
    # (layers, hidden, heads, ffn, vocab, positions) from the models' config.json files
    expected = {
        "bert-base": (12, 768, 12, 3072, 30522, 512),
        "bert-large": (24, 1024, 16, 4096, 30522, 512),
        "gpt2": (12, 768, 12, 3072, 50257, 1024),
        "gpt2-medium": (24, 1024, 16, 4096, 50257, 1024),
        "gpt2-large": (36, 1280, 20, 5120, 50257, 1024),
        "gpt2-xl": (48, 1600, 25, 6400, 50257, 1024),
        "llama2-7b": (32, 4096, 32, 11008, 32000, 4096),
        "llama2-13b": (40, 5120, 40, 13824, 32000, 4096),
        "llama3.2-1b": (16, 2048, 32, 8192, 128256, 131072),
        "llama3.2-3b": (28, 3072, 24, 8192, 128256, 131072),
        "llama3-8b": (32, 4096, 32, 14336, 128256, 8192),
        "mistral-7b": (32, 4096, 32, 14336, 32768, 32768),
        "qwen2-7b": (28, 3584, 28, 18944, 152064, 131072),
        "opt-125m": (12, 768, 12, 3072, 50272, 2048),
        "opt-1.3b": (24, 2048, 32, 8192, 50272, 2048),
        "opt-2.7b": (32, 2560, 32, 10240, 50272, 2048),
        "opt-6.7b": (32, 4096, 32, 16384, 50272, 2048),
        "opt-13b": (40, 5120, 40, 20480, 50272, 2048),
    }
    assert set(MODELS) == set(expected)
    for name, (layers, hidden, heads, ffn, vocab, pos) in expected.items():
        m = MODELS[name]
        assert (m.layers, m.hidden, m.heads, m.ffn, m.vocab, m.max_positions) == (
            layers,
            hidden,
            heads,
            ffn,
            vocab,
            pos,
        ), name
        assert m.head_dim * m.heads == m.hidden
    assert MODELS["bert-base"].norm == "post" and not MODELS["bert-base"].causal
    assert MODELS["gpt2"].norm == "pre" and MODELS["gpt2"].ffn_kind == "gelu"
    assert MODELS["llama2-7b"].ffn_kind == "swiglu" and MODELS["llama2-7b"].head_dim == 128


@pytest.mark.parametrize("l", [1, 64, 128, 500])
def test_prefill_operators_follow_table_1(l: int) -> None:
    m = MODELS["gpt2-medium"]
    d, f = m.hidden, m.ffn
    ops = {o.name: o for o in layer_operators(m, "prefill", l)}
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        assert ops[name].macs == l * d * d
    assert ops["qk_matmul"].macs == ops["sv_matmul"].macs == l * l * d
    assert ops["ffn1"].macs == ops["ffn2"].macs == l * d * f
    assert ops["softmax"].elements == m.heads * l * l
    # W4A8: half a byte per weight, one byte per streamed activation
    assert ops["ffn1"].weight_bytes == d * f / 2
    assert ops["q_proj"].input_bytes == l * d
    assert layer_macs(m, "prefill", l) == 4 * l * d * d + 2 * l * l * d + 2 * l * d * f


def test_decode_operators_attend_to_the_growing_cache() -> None:
    m = MODELS["gpt2"]
    d = m.hidden
    for c in (0 + 1, 10, 1000):
        ops = {o.name: o for o in layer_operators(m, "decode", c)}
        assert ops["q_proj"].macs == d * d
        assert ops["qk_matmul"].macs == (c + 1) * d
        assert ops["qk_matmul"].kv_bytes == (c + 1) * d  # int8 K rows read from the cache
        assert ops["ffn2"].macs == d * m.ffn


def test_swiglu_has_a_gate_projection_and_precision_scales_bytes() -> None:
    m = MODELS["llama2-7b"]
    names = [o.name for o in layer_operators(m, "prefill", 8)]
    assert "ffn_gate" in names and "silu_mul" in names and names[0] == "layernorm1"
    ops8 = {o.name: o for o in layer_operators(m, "decode", 8, Precision(8, 8))}
    ops4 = {o.name: o for o in layer_operators(m, "decode", 8, Precision(4, 8))}
    assert ops8["ffn1"].weight_bytes == 2 * ops4["ffn1"].weight_bytes
    assert m.weights_per_layer() == 4 * 4096 * 4096 + 3 * 4096 * 11008


def _write(tmp_path: Path, cfg: dict[str, object]) -> Path:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def test_hf_gpt2_config(tmp_path: Path) -> None:
    folder = _write(
        tmp_path,
        {
            "model_type": "gpt2",
            "n_layer": 24,
            "n_embd": 1024,
            "n_head": 16,
            "n_positions": 1024,
            "vocab_size": 50257,
            "n_inner": None,
        },
    )
    m = get_model(str(folder))
    assert (m.name, m.layers, m.hidden, m.ffn, m.head_dim) == ("my-model", 24, 1024, 4096, 64)
    base = MODELS["gpt2-medium"]
    assert (m.norm, m.ffn_kind, m.causal) == (base.norm, base.ffn_kind, base.causal)


def test_hf_bert_and_llama_configs(tmp_path: Path) -> None:
    bert = tmp_path / "bert.json"
    bert.write_text(
        json.dumps(
            {
                "model_type": "bert",
                "num_hidden_layers": 12,
                "hidden_size": 768,
                "num_attention_heads": 12,
                "intermediate_size": 3072,
                "vocab_size": 30522,
                "max_position_embeddings": 512,
            }
        )
    )
    m = get_model(str(bert))
    assert m.norm == "post" and not m.causal and m.ffn == 3072
    llama = tmp_path / "llama.json"
    llama.write_text(
        json.dumps(
            {
                "model_type": "llama",
                "num_hidden_layers": 80,
                "hidden_size": 8192,
                "num_attention_heads": 64,
                "num_key_value_heads": 8,
                "intermediate_size": 28672,
                "vocab_size": 32000,
                "max_position_embeddings": 4096,
            }
        )
    )
    m = get_model(str(llama))
    assert m.kv_heads == 8 and m.kv_hidden == 1024 and m.ffn_kind == "swiglu"
    ops = {o.name: o for o in layer_operators(m, "prefill", 4)}
    assert ops["k_proj"].macs == 4 * 8192 * 1024  # grouped-query K projection


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"model_type": "t5"}), "model_type 't5' is not supported; valid: bert, gpt2"),
        (
            json.dumps({"model_type": "gpt2", "n_layer": 2, "n_embd": 64}),
            "missing field 'n_head' or 'num_attention_heads'",
        ),
        (
            json.dumps(
                {
                    "model_type": "bert",
                    "num_hidden_layers": -1,
                    "hidden_size": 64,
                    "num_attention_heads": 2,
                    "intermediate_size": 8,
                    "vocab_size": 8,
                    "max_position_embeddings": 8,
                }
            ),
            "'num_hidden_layers' must be a positive",
        ),
    ],
)
def test_bad_hf_configs_name_file_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(UserError) as err:
        get_model(str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(UserError, match="unknown model 'gpt5'; valid: bert-base, bert-large"):
        get_model("gpt5")
