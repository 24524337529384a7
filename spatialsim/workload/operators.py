"""The operators of one transformer layer, with MACs and bytes moved, for prefill and decode.

This is the paper's Table 1 (Chen et al. 2024, §3) extended with the non-linear operators
(mask, softmax, residual adds, norms, activation). Operator names are the canonical kernel
names used everywhere in spatialsim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spatialsim.constants import FP32_BYTES
from spatialsim.errors import UserError
from spatialsim.workload.models import ModelConfig

OpKind = Literal["matmul", "elementwise", "reduction"]
Phase = Literal["prefill", "decode"]


def matmul_macs(rows: int, k: int, n: int) -> int:
    """MACs of ``rows`` tokens through a K x N weight matrix (Table 1's linears)."""
    return rows * k * n


def attention_macs(rows: int, keys: int, heads: int, head_dim: int) -> int:
    """MACs of Q.K^T (or softmax.V): every query row against ``keys`` keys, every head."""
    return rows * keys * heads * head_dim


def weight_bytes(k: int, n: int, weight_bits: int) -> float:
    """Bytes of a K x N weight matrix of ``weight_bits`` weights."""
    return k * n * weight_bits / 8


@dataclass(frozen=True)
class Precision:
    """Bit widths of weights (``weight_bits``) and of streamed activations (``act_bits``)."""

    weight_bits: int = 4
    act_bits: int = 8

    def __post_init__(self) -> None:
        for field in ("weight_bits", "act_bits"):
            value = getattr(self, field)
            if value not in (2, 4, 8, 16, 32):
                raise UserError(f"precision {field} must be one of 2, 4, 8, 16, 32; got {value}")


@dataclass(frozen=True)
class Operator:
    """One operator of one layer for one phase step.

    ``macs`` counts multiply-accumulates; ``elements`` counts the values an element-wise or
    reduction operator touches. Bytes: ``weight_bytes`` read from off-chip memory,
    ``input_bytes`` and ``output_bytes`` streamed in and out, ``kv_bytes`` read from (decode)
    or written to (prefill) the KV cache.
    """

    name: str
    kind: OpKind
    macs: int
    elements: int
    weight_bytes: float
    input_bytes: float
    output_bytes: float
    kv_bytes: float = 0.0


def _check(l: int, what: str) -> None:
    if not isinstance(l, int) or isinstance(l, bool) or l < 1:
        raise UserError(f"{what} must be a positive integer, got {l!r}")


def layer_operators(
    model: ModelConfig, phase: Phase, tokens: int, precision: Precision | None = None
) -> list[Operator]:
    """Operators of one layer.

    For ``prefill``, ``tokens`` is the prompt length l (every token attends to l keys, as the
    hardware computes the full l x l score matrix and masks it). For ``decode``, ``tokens`` is
    the context c already in the KV cache; the new token attends to c + 1 keys.
    """
    if phase not in ("prefill", "decode"):
        raise UserError(f"phase {phase!r}; valid: prefill, decode")
    _check(tokens, "prefill length" if phase == "prefill" else "decode context")
    p = precision or Precision()
    d, dkv, f, h, hd = model.hidden, model.kv_hidden, model.ffn, model.heads, model.head_dim
    ab = p.act_bits / 8
    rows = tokens if phase == "prefill" else 1  # tokens flowing through the layer
    keys = tokens if phase == "prefill" else tokens + 1  # keys each query attends to

    def linear(name: str, k: int, n: int, out_bytes: float) -> Operator:
        return Operator(
            name,
            "matmul",
            matmul_macs(rows, k, n),
            rows * n,
            weight_bytes(k, n, p.weight_bits),
            rows * k * ab,
            rows * n * out_bytes,
        )

    def ew(name: str, n: int, kind: OpKind = "elementwise", inputs: int = 1) -> Operator:
        return Operator(name, kind, 0, n, 0.0, inputs * n * FP32_BYTES, n * FP32_BYTES)

    kv_write = rows * dkv * ab  # K or V written into the cache (one row per token)
    kv_read = keys * dkv * ab if phase == "decode" else 0.0
    scores = h * rows * keys
    ops = [
        linear("q_proj", d, d, ab),
        Operator(
            "k_proj",
            "matmul",
            matmul_macs(rows, d, dkv),
            rows * dkv,
            weight_bytes(d, dkv, p.weight_bits),
            rows * d * ab,
            rows * dkv * ab,
            kv_write,
        ),
        Operator(
            "v_proj",
            "matmul",
            matmul_macs(rows, d, dkv),
            rows * dkv,
            weight_bytes(d, dkv, p.weight_bits),
            rows * d * ab,
            rows * dkv * ab,
            kv_write,
        ),
        *(
            [ew("rope", rows * (d + dkv))]  # Q and K rotated by position (kinds/rope.py)
            if model.positions == "rope"
            else []
        ),
        Operator(
            "qk_matmul",
            "matmul",
            attention_macs(rows, keys, h, hd),
            scores,
            0.0,
            rows * d * ab,
            scores * FP32_BYTES,
            kv_read,
        ),
        ew("mask", scores),
        ew("softmax", scores, "reduction"),
        Operator(
            "sv_matmul",
            "matmul",
            attention_macs(rows, keys, h, hd),
            rows * d,
            0.0,
            scores * ab,
            rows * d * ab,
            kv_read,
        ),
        linear("out_proj", d, d, FP32_BYTES),
        ew("residual0", rows * d, inputs=2),
        ew("layernorm0", rows * d, "reduction"),
    ]
    if model.ffn_kind == "swiglu":
        ops.append(linear("ffn_gate", d, f, ab))
    ops += [
        linear("ffn1", d, f, FP32_BYTES if model.ffn_kind == "swiglu" else ab),
        ew(
            "silu_mul" if model.ffn_kind == "swiglu" else model.ffn_kind,
            rows * f,
            inputs=2 if model.ffn_kind == "swiglu" else 1,
        ),
        linear("ffn2", f, d, FP32_BYTES),
        ew("residual1", rows * d, inputs=2),
        ew("layernorm1", rows * d, "reduction"),
    ]
    if model.norm == "pre":
        # Pre-norm models normalise before attention and before the FFN. Names mean one
        # thing everywhere (models, run, kernels, validate): layernorm0 is the norm between
        # attention and the FFN, layernorm1 the one between the FFN and the next attention,
        # which in a pre-norm model is the next layer's input norm, listed first here.
        by_name = {op.name: op for op in ops}
        order = [
            "layernorm1",
            "q_proj",
            "k_proj",
            "v_proj",
            *(["rope"] if model.positions == "rope" else []),
            "qk_matmul",
            "mask",
            "softmax",
            "sv_matmul",
            "out_proj",
            "residual0",
            "layernorm0",
        ]
        order += [op.name for op in ops if op.name.startswith(("ffn", "gelu", "silu"))]
        order.append("residual1")
        ops = [by_name[n] for n in order]
    return ops


def head_operators(model: ModelConfig, precision: Precision | None = None) -> list[Operator]:
    """The model's head for one token (the last of a prompt, or a generated one): the final
    norm, the LM head over the vocabulary, the argmax and the next token's embedding row."""
    p = precision or Precision()
    d, v, ab = model.hidden, model.vocab, p.act_bits / 8
    return [
        Operator("final_norm", "reduction", 0, d, 0.0, d * FP32_BYTES, d * ab),
        Operator(
            "lm_head",
            "matmul",
            matmul_macs(1, d, v),
            v,
            weight_bytes(d, v, p.weight_bits),
            d * ab,
            v * FP32_BYTES,
        ),
        Operator("argmax", "elementwise", 0, v, 0.0, v * FP32_BYTES, 4.0),
        Operator("embedding", "elementwise", 0, d, 0.0, 4.0, d * FP32_BYTES, d * p.weight_bits / 8),
    ]


def layer_macs(model: ModelConfig, phase: Phase, tokens: int) -> int:
    """Total MACs of one layer (sum over its matmul operators)."""
    return sum(op.macs for op in layer_operators(model, phase, tokens))
