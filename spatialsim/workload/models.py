"""Transformer model shapes: the built-in registry and loading Hugging Face ``config.json``.

A :class:`ModelConfig` holds only what the cost of one layer depends on: layer count,
hidden size, heads, FFN size and kind, vocabulary, context length and norm placement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from spatialsim.errors import UserError, choices_message
from spatialsim.tomlio import parse_json, read_text

NormPlacement = Literal["pre", "post"]
FfnKind = Literal["gelu", "swiglu", "relu"]
Positions = Literal["learned", "rope"]
NormKind = Literal["layernorm", "rmsnorm"]

_NORMS = ("pre", "post")
_FFNS = ("gelu", "swiglu", "relu")
_POSITIONS = ("learned", "rope")
_NORM_KINDS = ("layernorm", "rmsnorm")


# The largest shapes a model may have: four times today's largest dense models (Llama 3
# 405B has 126 layers, hidden 16,384, FFN 53,248, 128K positions, 128K vocabulary).
FIELD_MAX = 1 << 22
LAYERS_MAX = 1024


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a decoder or encoder transformer, batch 1.

    ``kv_heads`` equals ``heads`` except for grouped-query attention. ``causal`` is False
    for encoders (BERT), whose mask only hides padding.
    """

    name: str
    layers: int
    hidden: int
    heads: int
    head_dim: int
    ffn: int
    vocab: int
    max_positions: int
    norm: NormPlacement
    ffn_kind: FfnKind
    kv_heads: int
    causal: bool
    source: str
    positions: Positions = "learned"  # learned position embeddings, or rotary (RoPE)
    norm_kind: NormKind = "layernorm"  # LayerNorm (mean and variance) or RMSNorm (scale only)
    norm_eps: float | None = None  # the norms' epsilon, when the config gives it
    rope_theta: float | None = None  # RoPE's base (10,000 for LLaMA-2, 500,000 for LLaMA-3)
    tied_embeddings: bool = False  # the LM head shares the input embedding's weights

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not self.name.isprintable():
            raise UserError(
                f"model name {self.name!r} must be printable text (it is written into "
                "reports and generated files)"
            )
        for field in (
            "layers",
            "hidden",
            "heads",
            "head_dim",
            "ffn",
            "vocab",
            "max_positions",
            "kv_heads",
        ):
            value = getattr(self, field)
            high = LAYERS_MAX if field == "layers" else FIELD_MAX
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
                raise UserError(
                    f"model {self.name!r}: {field} must be an integer from 1 to {high:,}, "
                    f"got {value!r}"
                )
        if self.heads * self.head_dim != self.hidden:
            raise UserError(
                f"model {self.name!r}: heads x head_dim = {self.heads} x {self.head_dim} = "
                f"{self.heads * self.head_dim} must equal hidden = {self.hidden}"
            )
        if self.heads % self.kv_heads:
            raise UserError(
                f"model {self.name!r}: heads ({self.heads}) must be a multiple of "
                f"kv_heads ({self.kv_heads})"
            )
        if self.norm not in _NORMS:
            raise UserError(f"model {self.name!r}: norm {self.norm!r}; valid: pre, post")
        if self.ffn_kind not in _FFNS:
            raise UserError(
                f"model {self.name!r}: ffn_kind {self.ffn_kind!r}; valid: {', '.join(_FFNS)}"
            )
        if self.positions not in _POSITIONS:
            raise UserError(
                f"model {self.name!r}: positions {self.positions!r}; valid: {', '.join(_POSITIONS)}"
            )
        if self.norm_kind not in _NORM_KINDS:
            raise UserError(
                f"model {self.name!r}: norm_kind {self.norm_kind!r}; valid: "
                f"{', '.join(_NORM_KINDS)}"
            )
        for name, low, top in (("norm_eps", 1e-12, 1e-2), ("rope_theta", 1.0, 1e9)):
            number = getattr(self, name)
            ok = number is None or (isinstance(number, float) and low <= number <= top)
            if not ok:
                raise UserError(
                    f"model {self.name!r}: {name} must be a number from {low:g} to {top:g}, "
                    f"got {number!r}"
                )
        if self.positions != "rope" and self.rope_theta is not None:
            raise UserError(f"model {self.name!r}: rope_theta is given but positions are learned")

    @property
    def kv_hidden(self) -> int:
        """Width of the K and V projections (``hidden`` unless attention is grouped)."""
        return self.kv_heads * self.head_dim

    @property
    def ffn_matrices(self) -> int:
        """Weight matrices of size hidden x ffn: 2 for a GeLU MLP, 3 for SwiGLU."""
        return 3 if self.ffn_kind == "swiglu" else 2

    def weights_per_layer(self) -> int:
        """Weight elements of one layer's linears (biases and norms excluded)."""
        d = self.hidden
        return 2 * d * d + 2 * d * self.kv_hidden + self.ffn_matrices * d * self.ffn


_HF_GPT2 = "Hugging Face model card config.json (openai-community/{})"
_HF_BERT = "Hugging Face config.json (google-bert/{}); Devlin et al. 2019, Table 1"
_HF_LLAMA = "Hugging Face config.json (meta-llama/{}); Touvron et al. 2023, Table 1"
_HF_OPT = "Hugging Face config.json (facebook/{}); Zhang et al. 2022, Table 1"


def _builtin(
    name: str,
    layers: int,
    hidden: int,
    heads: int,
    ffn: int,
    vocab: int,
    max_positions: int,
    family: str,
    source_id: str,
) -> ModelConfig:
    positions: Positions = "learned"
    llama = family == "llama"
    if llama:
        norm: NormPlacement = "pre"
        ffn_kind: FfnKind = "swiglu"
        causal = True
        source = _HF_LLAMA.format(source_id)
        positions = "rope"
    elif family == "opt":
        norm, ffn_kind, causal, source = "pre", "relu", True, _HF_OPT.format(source_id)
    elif family == "gpt2":
        norm, ffn_kind, causal, source = "pre", "gelu", True, _HF_GPT2.format(source_id)
    else:
        norm, ffn_kind, causal, source = "post", "gelu", False, _HF_BERT.format(source_id)
    return ModelConfig(
        name=name,
        layers=layers,
        hidden=hidden,
        heads=heads,
        head_dim=hidden // heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_positions,
        norm=norm,
        ffn_kind=ffn_kind,
        kv_heads=heads,
        causal=causal,
        source=source,
        positions=positions,
        # LLaMA-2: RMSNorm with eps 1e-5 and RoPE base 10,000 (the Hugging Face configs)
        norm_kind="rmsnorm" if llama else "layernorm",
        norm_eps=1e-5 if llama else None,
        rope_theta=10_000.0 if llama else None,
    )


def _builtin_gqa(
    name: str,
    layers: int,
    hidden: int,
    heads: int,
    kv_heads: int,
    ffn: int,
    vocab: int,
    max_positions: int,
    rope_theta: float,
    norm_eps: float,
    tied: bool,
    source_id: str,
) -> ModelConfig:
    """Today's LLaMA-family layers: RMSNorm, RoPE, SwiGLU, grouped-query attention, from
    the model's Hugging Face config.json (``source_id``)."""
    return ModelConfig(
        name=name,
        layers=layers,
        hidden=hidden,
        heads=heads,
        head_dim=hidden // heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_positions,
        norm="pre",
        ffn_kind="swiglu",
        kv_heads=kv_heads,
        causal=True,
        source=f"Hugging Face config.json ({source_id})",
        positions="rope",
        norm_kind="rmsnorm",
        norm_eps=norm_eps,
        rope_theta=rope_theta,
        tied_embeddings=tied,
    )


MODELS: dict[str, ModelConfig] = {
    m.name: m
    for m in (
        _builtin("bert-base", 12, 768, 12, 3072, 30522, 512, "bert", "bert-base-uncased"),
        _builtin("bert-large", 24, 1024, 16, 4096, 30522, 512, "bert", "bert-large-uncased"),
        _builtin("gpt2", 12, 768, 12, 3072, 50257, 1024, "gpt2", "gpt2"),
        _builtin("gpt2-medium", 24, 1024, 16, 4096, 50257, 1024, "gpt2", "gpt2-medium"),
        _builtin("gpt2-large", 36, 1280, 20, 5120, 50257, 1024, "gpt2", "gpt2-large"),
        _builtin("gpt2-xl", 48, 1600, 25, 6400, 50257, 1024, "gpt2", "gpt2-xl"),
        _builtin("llama2-7b", 32, 4096, 32, 11008, 32000, 4096, "llama", "Llama-2-7b-hf"),
        _builtin("llama2-13b", 40, 5120, 40, 13824, 32000, 4096, "llama", "Llama-2-13b-hf"),
        # grouped-query LLaMA-family models; Mistral 7B v0.3 has no sliding window
        _builtin_gqa(
            "llama3.2-1b",
            16,
            2048,
            32,
            8,
            8192,
            128256,
            131072,
            5e5,
            1e-5,
            True,
            "meta-llama/Llama-3.2-1B",
        ),
        _builtin_gqa(
            "llama3.2-3b",
            28,
            3072,
            24,
            8,
            8192,
            128256,
            131072,
            5e5,
            1e-5,
            True,
            "meta-llama/Llama-3.2-3B",
        ),
        _builtin_gqa(
            "llama3-8b",
            32,
            4096,
            32,
            8,
            14336,
            128256,
            8192,
            5e5,
            1e-5,
            False,
            "meta-llama/Meta-Llama-3-8B",
        ),
        _builtin_gqa(
            "mistral-7b",
            32,
            4096,
            32,
            8,
            14336,
            32768,
            32768,
            1e6,
            1e-5,
            False,
            "mistralai/Mistral-7B-v0.3",
        ),
        _builtin_gqa(
            "qwen2-7b", 28, 3584, 28, 4, 18944, 152064, 131072, 1e6, 1e-6, False, "Qwen/Qwen2-7B"
        ),
        # OPT (pre-LayerNorm, ReLU FFN, learned positions; TeraFly repo for OPT-1.3B). OPT-350M
        # is left out: it projects a 512-wide embedding and normalises after each block.
        _builtin("opt-125m", 12, 768, 12, 3072, 50272, 2048, "opt", "opt-125m"),
        _builtin("opt-1.3b", 24, 2048, 32, 8192, 50272, 2048, "opt", "opt-1.3b"),
        _builtin("opt-2.7b", 32, 2560, 32, 10240, 50272, 2048, "opt", "opt-2.7b"),
        _builtin("opt-6.7b", 32, 4096, 32, 16384, 50272, 2048, "opt", "opt-6.7b"),
        _builtin("opt-13b", 40, 5120, 40, 20480, 50272, 2048, "opt", "opt-13b"),
    )
}


def _require(cfg: dict[str, Any], path: Path, *keys: str) -> Any:
    for key in keys:
        if key in cfg:
            return cfg[key]
    raise UserError(
        f"{path}: missing field {' or '.join(repr(k) for k in keys)} "
        f"needed for a {cfg.get('model_type', 'transformer')} config"
    )


# Upper bounds of a config's sizes: an order of magnitude beyond the largest published
# models (GPT-3 has 96 layers, 12,288 hidden, 96 heads; vocabularies reach ~256k).
MIN_HEAD_DIM = 8  # smaller heads exist in no transformer family here (GPT-2/BERT/LLaMA: 64+)


def _int_field(cfg: dict[str, Any], path: Path, *keys: str) -> int:
    value = _require(cfg, path, *keys)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"{path}: field {keys[0]!r} must be a positive integer, got {value!r}")
    high = LAYERS_MAX if "layer" in keys[0] else FIELD_MAX
    if value > high:
        raise UserError(f"{path}: field {keys[0]!r} = {value:,} is out of range [1, {high:,}]")
    return value


# The activation each family's kernels compute, by the config key that names it (Hugging
# Face's names: GELU's tanh approximation is gelu_new, gelu_fast or gelu_pytorch_tanh).
ACTIVATIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "gpt2": ("activation_function", "gelu_new",
             ("gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh")),
    "bert": ("hidden_act", "gelu", ("gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh")),
    "llama": ("hidden_act", "silu", ("silu", "swish")),
    "mistral": ("hidden_act", "silu", ("silu", "swish")),
    "qwen2": ("hidden_act", "silu", ("silu", "swish")),
    "opt": ("activation_function", "relu", ("relu",)),
}  # fmt: skip


def load_hf_config(path: Path) -> ModelConfig:
    """Read a Hugging Face ``config.json`` (see :func:`_load_hf_config`); a shape the model
    refuses (heads not a multiple of K/V heads, ...) is an error naming the file."""
    try:
        return _load_hf_config(path)
    except UserError as exc:
        if str(path) in str(exc):
            raise
        raise UserError(f"{path}: {exc}", field=exc.field) from None


def _load_hf_config(path: Path) -> ModelConfig:
    """Read a Hugging Face ``config.json`` of the GPT-2, BERT, OPT or LLaMA family (LLaMA,
    Mistral, Qwen2) from a local file (no network)."""
    cfg = parse_json(read_text(path, "model config"), str(path))
    if not isinstance(cfg, dict):
        raise UserError(f"{path}: expected a JSON object at the top level")
    model_type = cfg.get("model_type")
    name = path.parent.name if path.name == "config.json" else path.stem
    source = f"Hugging Face config {path}"
    if model_type in ACTIVATIONS:
        key, default, valid = ACTIVATIONS[model_type]
        act = cfg.get(key, default)
        if act not in valid:
            raise UserError(
                f"{path}: {key} {act!r} is not supported for {model_type}; valid: "
                f"{', '.join(valid)}"
            )
    if model_type == "gpt2":
        hidden = _int_field(cfg, path, "n_embd", "hidden_size")
        heads = _int_field(cfg, path, "n_head", "num_attention_heads")
        inner = cfg.get("n_inner")
        ffn = 4 * hidden if inner is None else _int_field(cfg, path, "n_inner")
        return ModelConfig(
            name=name,
            layers=_int_field(cfg, path, "n_layer", "num_hidden_layers"),
            hidden=hidden,
            heads=heads,
            head_dim=_head_dim(hidden, heads, path),
            ffn=ffn,
            vocab=_int_field(cfg, path, "vocab_size"),
            max_positions=_int_field(cfg, path, "n_positions", "n_ctx"),
            norm="pre",
            ffn_kind="gelu",
            kv_heads=heads,
            causal=True,
            source=source,
        )
    if model_type == "bert":
        return _hf_standard(
            cfg, path, name, source, "intermediate_size", norm="post", ffn_kind="gelu", causal=False
        )
    if model_type in LLAMA_LIKE:
        return _hf_llama_like(cfg, path, name, source)
    if model_type == "opt":
        hidden = _int_field(cfg, path, "hidden_size")
        proj = cfg.get("word_embed_proj_dim", hidden)
        if proj != hidden:
            raise UserError(
                f"{path}: word_embed_proj_dim {proj!r} differs from hidden_size {hidden} "
                "(OPT-350M's projected embedding); not supported"
            )
        pre = cfg.get("do_layer_norm_before", True)
        if not isinstance(pre, bool):
            raise UserError(f"{path}: do_layer_norm_before must be true or false, got {pre!r}")
        return _hf_standard(
            cfg,
            path,
            name,
            source,
            "ffn_dim",
            norm="pre" if pre else "post",
            ffn_kind="relu",
            causal=True,
        )
    raise UserError(
        f"{path}: model_type {model_type!r} is not supported; valid: bert, gpt2, "
        f"{', '.join(LLAMA_LIKE)}, opt"
    )


# Families whose layer is LLaMA's set of operators: RMSNorm before attention and before the
# FFN, rotary positions on Q and K, grouped-query attention, a SwiGLU FFN.
LLAMA_LIKE = ("llama", "mistral", "qwen2")


def _number(
    cfg: dict[str, Any], path: Path, key: str, default: float, low: float, high: float
) -> float:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise UserError(f"{path}: field {key!r} must be a number, got {value!r:.40}")
    if not low <= value <= high:
        raise UserError(f"{path}: field {key!r} = {value!r} is out of range [{low:g}, {high:g}]")
    return float(value)


def _hf_llama_like(cfg: dict[str, Any], path: Path, name: str, source: str) -> ModelConfig:
    """A LLaMA, Mistral or Qwen2 config; what would change the layer's operators (a
    sliding attention window, experts, a head width other than hidden / heads) is refused,
    naming the field."""
    hidden = _int_field(cfg, path, "hidden_size")
    heads = _int_field(cfg, path, "num_attention_heads")
    positions = _int_field(cfg, path, "max_position_embeddings")
    for key in ("num_local_experts", "num_experts"):
        experts = cfg.get(key)
        if experts not in (None, 0, 1):
            raise UserError(
                f"{path}: {key} = {experts!r}: mixture-of-experts layers are not supported "
                "(every layer here is one dense SwiGLU FFN)"
            )
    window = cfg.get("sliding_window")
    uses_window = cfg.get("use_sliding_window", cfg.get("model_type") == "mistral")
    short = not isinstance(window, int) or isinstance(window, bool) or window < positions
    if uses_window is True and window is not None and short:
        raise UserError(
            f"{path}: sliding_window = {window!r}: attention over a sliding window is not "
            f"supported (every query attends to its whole context); a window of at least "
            f"max_position_embeddings ({positions}) is the same as none"
        )
    head_dim = _head_dim(hidden, heads, path)
    given = cfg.get("head_dim")
    if given is not None and given != head_dim:
        raise UserError(
            f"{path}: head_dim = {given!r} differs from hidden_size / num_attention_heads = "
            f"{head_dim}; heads narrower or wider than hidden / heads are not supported"
        )
    tied = cfg.get("tie_word_embeddings", False)
    if not isinstance(tied, bool):
        raise UserError(f"{path}: tie_word_embeddings must be true or false, got {tied!r:.40}")
    kv = cfg.get("num_key_value_heads")
    return ModelConfig(
        name=name,
        layers=_int_field(cfg, path, "num_hidden_layers"),
        hidden=hidden,
        heads=heads,
        head_dim=head_dim,
        ffn=_int_field(cfg, path, "intermediate_size"),
        vocab=_int_field(cfg, path, "vocab_size"),
        max_positions=positions,
        norm="pre",
        ffn_kind="swiglu",
        kv_heads=heads if kv is None else _int_field(cfg, path, "num_key_value_heads"),
        causal=True,
        source=source,
        positions="rope",
        norm_kind="rmsnorm",
        norm_eps=_number(cfg, path, "rms_norm_eps", 1e-6, 1e-12, 1e-2),
        rope_theta=_number(cfg, path, "rope_theta", 10_000.0, 1.0, 1e9),
        tied_embeddings=tied,
    )


def _hf_standard(
    cfg: dict[str, Any],
    path: Path,
    name: str,
    source: str,
    ffn_key: str,
    norm: NormPlacement,
    ffn_kind: FfnKind,
    causal: bool,
    positions: Positions = "learned",
    kv_heads: int | None = None,
) -> ModelConfig:
    """A config in the fields BERT, LLaMA and OPT share (hidden_size, num_attention_heads,
    num_hidden_layers, vocab_size, max_position_embeddings; the FFN width under
    ``ffn_key``)."""
    hidden = _int_field(cfg, path, "hidden_size")
    heads = _int_field(cfg, path, "num_attention_heads")
    return ModelConfig(
        name=name,
        layers=_int_field(cfg, path, "num_hidden_layers"),
        hidden=hidden,
        heads=heads,
        head_dim=_head_dim(hidden, heads, path),
        ffn=_int_field(cfg, path, ffn_key),
        vocab=_int_field(cfg, path, "vocab_size"),
        max_positions=_int_field(cfg, path, "max_position_embeddings"),
        norm=norm,
        ffn_kind=ffn_kind,
        kv_heads=heads if kv_heads is None else kv_heads,
        causal=causal,
        source=source,
        positions=positions,
    )


def _head_dim(hidden: int, heads: int, path: Path) -> int:
    if hidden % heads:
        raise UserError(f"{path}: hidden size {hidden} is not divisible by {heads} heads")
    if hidden // heads < MIN_HEAD_DIM:
        raise UserError(
            f"{path}: head_dim = {hidden} / {heads} = {hidden // heads} is below "
            f"{MIN_HEAD_DIM}; GPT-2, BERT, LLaMA and OPT heads are 64 or 128 wide"
        )
    return hidden // heads


def get_model(spec: str) -> ModelConfig:
    """A built-in model by name, or a Hugging Face config from a path to a file or folder."""
    if spec in MODELS:
        return MODELS[spec]
    path = Path(spec)
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json" or path.exists():
        if not path.exists():
            raise UserError(f"model config file {str(path)!r} does not exist")
        return load_hf_config(path)
    raise UserError(
        choices_message("model", spec, MODELS) + " (or a path to a Hugging Face config.json)"
    )
