"""The chen2024 spatial pattern applied to a LLaMA-family layer (``chen2024-llama-w8a8``,
``chen2024-llama-w4a8``).

Chen et al. built GPT-2 and BERT; this is their recipe (one kernel per operator, three
regions on three SLRs, weights streamed from HBM, the same linear arrays and decode GEMV
engines, the same FIFO depths) for the operators of a LLaMA layer, which differ from
GPT-2's in four places:

- **pre-norm with RMSNorm**: the residual adds the layer's input, not its norm, so the
  input norms sit in R1 (``layernorm1_q``, ``layernorm1_kv``: the operator list's
  ``layernorm1``, which in a pre-norm model is the input norm) and write int8 straight
  into the projections; R3's ``splitter`` forks the attention residual to the FFN norm
  (``layernorm0``) and to the bypass that residual 1 adds back;
- **rotary positions**: Q and K leave their projections in fp32 and are rotated by
  ``rope_q`` and ``rope_k`` (kinds/rope.py, the angle table sized by the design's longest
  context) before the Q buffer and the K writer;
- **SwiGLU**: separate gate (``ffn_gate``) and up (``ffn1``) linears, both fed by the FFN
  norm, meet in ``silu_mul``; ``ffn2`` is the down projection;
- **grouped-query attention**: the K/V projections, writers and cache hold ``kv_heads``
  heads; the attention kernels index Q head h's group (kinds/attention.py).

W8A8 uses the authors' W8A8 prefill arrays and decode GEMV engines; W4A8 the W4A8 artifact's
arrays for both phases (like chen2024-w4a8). The gate linear gets its own weight port
(HBM[7] for the arrays; four GEMV engines on HBM[19..22], beside the K/V cache on 17-18).
SiLU's arithmetic chain is taken to be as long as the build's GeLU (an assumption; no
report of a SiLU kernel exists). The linears have no bias (LLaMA's and Mistral's have none;
Qwen2's Q/K/V biases, one add per output, are left out).

**Where the K/V cache lives** is chosen from the design's longest context: on chip when
every layer's K and V rows fit in half of one SLR's URAM (160 of the U280's and U55C's 320
per SLR; the rest is left to the FIFOs and buffers R2 already holds), so decode steps read
nothing from HBM; otherwise in HBM (HBM[17], HBM[18]) as chen2024's, each decode step
loading the layer's rows into the on-chip buffer. Llama-3.2-1B (16 layers, 8 K/V heads of
64) keeps its cache on chip up to 160 tokens and in HBM beyond; `--set
kernel.k_writer.cache=...` overrides the choice.
"""

from __future__ import annotations

from collections.abc import Callable
from math import ceil

import networkx as nx

from spatialsim.constants import PACK_TOKENS
from spatialsim.design.graph import BYPASS_FIFO, Design, PhaseBinding, add_fifo, add_kernel
from spatialsim.design.templates import (
    CLOCK_MHZ,
    DECODE_HEADS_PARALLEL,
    FP32_BITS,
    GEMV_ENGINES,
    GEMV_PORTS,
    HLS_TARGET_MHZ,
    INT8_BITS,
    KV_PORTS,
    LAUNCH_SCOPE,
    LINK_DEPTH,
    PORT_BITS,
    STREAM_DEPTH,
    SYSTOLIC_PORTS,
    W4A8,
    W8A8,
    W8A8_DECODE,
    Nonlinear,
    SystolicConfig,
    attention_region,
    gemv_attention,
    gemv_linear,
    systolic_attention,
    systolic_linear,
)
from spatialsim.errors import UserError
from spatialsim.kinds.buffers import KvWriterParams, kv_resources
from spatialsim.workload.models import ModelConfig

KV_CHIP_URAM = 160  # half of an SLR's URAM on the U280 and U55C (320 per SLR)
# The head: the LM head's GEMV, four engines on channels of their own (HBM[23..26]), on
# SLR1, the SLR with the most room; an untied embedding table on HBM[31]. An assumption:
# Chen 2024 leaves the head to the host.
HEAD_GEMV_PORTS = list(range(23, 27))
HEAD_SLR = 1
EMBEDDING_PORT = ["HBM[31]"]
HEAD = ("head_loader", "final_norm", "lm_head", "argmax", "embedding", "embedding_writer")
GATE_SYSTOLIC_PORTS = ["HBM[7]"]
GATE_GEMV_PORTS = [19, 20, 21, 22]
GATE_GEMV_ENGINES = GEMV_ENGINES["ffn1"]

Matrix = Callable[[str, int, int, int, bool], None]
Attention = Callable[[str, str], None]


def check_llama(model: ModelConfig, template: str) -> None:
    """Refuse a model whose layer is not LLaMA's set of operators, naming what differs."""
    wrong = []
    if model.positions != "rope" or model.rope_theta is None:
        wrong.append(f"positions = {model.positions} (needs rope with a rope_theta)")
    if model.norm_kind != "rmsnorm":
        wrong.append(f"norm_kind = {model.norm_kind} (needs rmsnorm)")
    if model.norm != "pre":
        wrong.append(f"norm = {model.norm} (needs pre)")
    if model.ffn_kind != "swiglu":
        wrong.append(f"ffn_kind = {model.ffn_kind} (needs swiglu)")
    if not model.causal:
        wrong.append("an encoder (needs a causal decoder)")
    if wrong:
        raise UserError(
            f"template {template} builds LLaMA-family layers; model {model.name} has "
            + "; ".join(wrong)
            + ". Use chen2024-w8a8 or chen2024-w4a8 for it",
            field="design",
        )


def kv_cache_placement(model: ModelConfig, max_seq_len: int) -> str:
    """'chip' when every layer's K and V rows fit in :data:`KV_CHIP_URAM`, else 'hbm'."""
    p = KvWriterParams(
        slr=1,
        target="k",
        ii=1,
        features=model.kv_hidden,
        max_seq_len=max_seq_len,
        act_bits=INT8_BITS,
        ports=tuple(KV_PORTS["k"]),
        port_bits=PORT_BITS,
        cache="chip",
        layers=model.layers,
    )
    return "chip" if 2 * kv_resources(p)["uram"] <= KV_CHIP_URAM else "hbm"


def _llama_layer(
    g: nx.DiGraph,
    model: ModelConfig,
    max_seq_len: int,
    lanes: int,
    matrix: Matrix,
    attention: Attention,
    v_writer_ii: int,
    bypass_tokens: int,
    heads_parallel: int,
    nonlinear: Nonlinear,
) -> None:
    """The three regions of a LLaMA layer (see the module docstring)."""
    d, dkv, f = model.hidden, model.kv_hidden, model.ffn
    i8, f32 = INT8_BITS * lanes, FP32_BITS * lanes
    s, link = STREAM_DEPTH, LINK_DEPTH
    hbm0 = ["HBM[0]"]
    theta = float(model.rope_theta or 0.0)
    cache = kv_cache_placement(model, max_seq_len)

    def loader(name: str) -> None:
        add_kernel(
            g,
            name,
            "loader",
            0,
            ports=hbm0,
            port_bits=PORT_BITS,
            lanes=lanes,
            features=d,
            quantize=False,
        )

    def norm(name: str, slr: int) -> None:
        add_kernel(
            g,
            name,
            "layernorm",
            slr,
            lanes=lanes,
            features=d,
            reduction_ii=4,
            norm="rmsnorm",
            quantize=True,
        )

    def rope(name: str, features: int) -> None:
        add_kernel(
            g,
            name,
            "rope",
            0,
            lanes=lanes,
            features=features,
            head_dim=model.head_dim,
            max_seq_len=max_seq_len,
            theta=theta,
        )

    # R1, SLR0: the input (fp32 for the residual; normalised to int8 for Q and for K/V),
    # the projections and the rotations.
    loader("input_loader")
    loader("input_loader_q")
    loader("input_loader_kv")
    norm("layernorm1_q", 0)
    norm("layernorm1_kv", 0)
    add_fifo(g, "input_loader_q", "layernorm1_q", s, f32)
    add_fifo(g, "input_loader_kv", "layernorm1_kv", s, f32)
    matrix("q_proj", 0, d, d, True)
    matrix("k_proj", 0, d, dkv, True)
    matrix("v_proj", 0, d, dkv, False)
    add_fifo(g, "layernorm1_q", "q_proj", s, i8)
    add_fifo(g, "layernorm1_kv", "k_proj", s, i8)
    add_fifo(g, "layernorm1_kv", "v_proj", s, i8)
    rope("rope_q", d)
    rope("rope_k", dkv)
    add_fifo(g, "q_proj", "rope_q", s, f32)
    add_fifo(g, "k_proj", "rope_k", s, f32)
    # R2, SLR1: K/V writers and the Q buffer, attention, output projection, residual 0.
    attention_region(
        g, model, max_seq_len, lanes, matrix, attention, v_writer_ii, heads_parallel,
        nonlinear, ("rope_q", "rope_k", "v_proj"), cache=cache, layers=model.layers,
    )  # fmt: skip
    # R3, SLR2: the fork to the FFN norm and the bypass, SwiGLU, residual 1, the output.
    add_kernel(g, "splitter", "splitter", 2, lanes=lanes, features=d, quantize=False)
    add_fifo(g, "residual0", "splitter", link, f32)
    norm("layernorm0", 2)
    add_fifo(g, "splitter", "layernorm0", s, f32)
    matrix("ffn_gate", 2, d, f, True)
    matrix("ffn1", 2, d, f, True)
    add_fifo(g, "layernorm0", "ffn_gate", s, i8)
    add_fifo(g, "layernorm0", "ffn1", s, i8)
    add_kernel(
        g,
        "silu_mul",
        "activation",
        2,
        lanes=lanes,
        features=f,
        fn="silu_mul",
        gate_up="split",
        act_depth_cycles=nonlinear.gelu_depth,
    )
    add_fifo(g, "ffn_gate", "silu_mul", s, f32)  # gate first: the kind reads graph order
    add_fifo(g, "ffn1", "silu_mul", s, f32)
    matrix("ffn2", 2, f, d, True)
    add_fifo(g, "silu_mul", "ffn2", f, i8)  # a whole row before FFN2 starts (templates.py)
    add_kernel(g, "residual1", "residual", 2, lanes=lanes, features=d)
    add_fifo(g, "ffn2", "residual1", s, f32)
    add_fifo(g, "splitter", "residual1", ceil(bypass_tokens / lanes) * d, f32, name=BYPASS_FIFO)
    add_kernel(
        g, "output_writer", "writer", 2, ports=hbm0, port_bits=PORT_BITS, lanes=lanes, features=d
    )
    add_fifo(g, "residual1", "output_writer", s, f32)


def _head(g: nx.DiGraph, model: ModelConfig, weight_bits: int) -> None:
    """The model's head, once per step on the last token: the final RMSNorm (int8 out),
    the LM head over the vocabulary (GEMV engines: one token), the argmax, and the next
    token's embedding row written back as the next step's input. Tied embeddings read
    the LM head's matrix through its m_axi masters; untied ones a table of their own."""
    d, v = model.hidden, model.vocab
    s = STREAM_DEPTH
    add_kernel(
        g, "head_loader", "loader", HEAD_SLR, ports=["HBM[0]"], port_bits=PORT_BITS, lanes=1,
        features=d, quantize=False,
    )  # fmt: skip
    add_kernel(
        g, "final_norm", "layernorm", HEAD_SLR, lanes=1, features=d, reduction_ii=4,
        norm="rmsnorm",
        quantize=True,
    )  # fmt: skip
    gemv_linear(g, "lm_head", HEAD_SLR, d, v, True, len(HEAD_GEMV_PORTS), HEAD_GEMV_PORTS)
    g.nodes["lm_head"]["weight_bits"] = weight_bits
    g.nodes["lm_head"]["engine_group"] = "lm_head"  # its masters, shared with a tied table
    add_kernel(g, "argmax", "argmax", HEAD_SLR, lanes=1, features=v)
    table = g.nodes["lm_head"]["ports"] if model.tied_embeddings else EMBEDDING_PORT
    add_kernel(
        g, "embedding", "embedding", HEAD_SLR, lanes=1, features=d, vocab=v,
        table_bits=weight_bits if model.tied_embeddings else INT8_BITS,
        tied=model.tied_embeddings, ports=list(table), port_bits=PORT_BITS,
        axi_group="lm_head" if model.tied_embeddings else "",
    )  # fmt: skip
    add_kernel(
        g, "embedding_writer", "writer", HEAD_SLR, ports=["HBM[0]"], port_bits=PORT_BITS, lanes=1,
        features=d,
    )  # fmt: skip
    add_fifo(g, "head_loader", "final_norm", s, FP32_BITS)
    add_fifo(g, "final_norm", "lm_head", s, INT8_BITS)
    add_fifo(g, "lm_head", "argmax", s, FP32_BITS)
    add_fifo(g, "argmax", "embedding", s, FP32_BITS)
    add_fifo(g, "embedding", "embedding_writer", s, FP32_BITS)


def _systolic(model: ModelConfig, max_seq_len: int, cfg: SystolicConfig) -> nx.DiGraph:
    g = nx.DiGraph()

    def matrix(name: str, slr: int, k: int, n: int, fp32_out: bool) -> None:
        ports = GATE_SYSTOLIC_PORTS if name == "ffn_gate" else SYSTOLIC_PORTS[name]
        # LLaMA's and Mistral's linears have no bias
        systolic_linear(g, name, slr, k, n, fp32_out, cfg, ports, bias=False)

    def attention(name: str, op: str) -> None:
        systolic_attention(g, name, op, model, cfg)

    _llama_layer(
        g,
        model,
        max_seq_len,
        PACK_TOKENS,
        matrix,
        attention,
        cfg.v_writer_ii,
        max_seq_len,
        heads_parallel=1,
        nonlinear=cfg.nonlinear,
    )
    _head(g, model, cfg.weight_bits)
    return g


def _gemv(model: ModelConfig, max_seq_len: int) -> nx.DiGraph:
    g = nx.DiGraph()

    def matrix(name: str, slr: int, k: int, n: int, fp32_out: bool) -> None:
        if name == "ffn_gate":
            gemv_linear(g, name, slr, k, n, fp32_out, GATE_GEMV_ENGINES, GATE_GEMV_PORTS)
        else:
            gemv_linear(g, name, slr, k, n, fp32_out, GEMV_ENGINES[name], GEMV_PORTS[name])

    def attention(name: str, op: str) -> None:
        gemv_attention(g, name, op, model)

    _llama_layer(
        g,
        model,
        max_seq_len,
        1,
        matrix,
        attention,
        W8A8.v_writer_ii,
        1,
        heads_parallel=DECODE_HEADS_PARALLEL,
        nonlinear=W8A8_DECODE,
    )
    _head(g, model, INT8_BITS)
    return g


NOTES = {
    "source": "Chen 2024 prefill-3.2/3.3 (the spatial pattern and its arrays) applied to the "
    "LLaMA layer (Touvron et al. 2023): spatialsim/design/llama_templates.py",
    "assumption": "RoPE's ROT latency 18 cycles and SiLU's chain as long as the build's "
    "GeLU: no HLS report of either kernel exists",
}


def _notes(model: ModelConfig, max_seq_len: int) -> dict[str, str]:
    cache = kv_cache_placement(model, max_seq_len)
    where = (
        "every layer's K and V rows on chip in the writers' buffers (they fit in "
        f"{KV_CHIP_URAM} URAM at {max_seq_len} tokens)"
        if cache == "chip"
        else "every layer's K and V caches in HBM[17] and HBM[18], the layer's rows loaded "
        f"on chip for its launch (on chip they would not fit in {KV_CHIP_URAM} URAM at "
        f"{max_seq_len} tokens)"
    )
    return {**NOTES, "kv_cache": where}


def build_llama_w8a8(model: ModelConfig, max_seq_len: int) -> Design:
    """W8A8 prefill arrays and GEMV decode engines over a LLaMA layer."""
    check_llama(model, "chen2024-llama-w8a8")
    return Design(
        name="chen2024-llama-w8a8",
        model=model,
        clock_mhz=CLOCK_MHZ,
        max_seq_len=max_seq_len,
        resident_layers=1,
        hls_target_mhz=HLS_TARGET_MHZ,
        launch_scope=LAUNCH_SCOPE,
        phases={
            "prefill": PhaseBinding("prefill", PACK_TOKENS),
            "decode": PhaseBinding("decode", 1),
        },
        bitstreams={
            "prefill": _systolic(model, max_seq_len, W8A8),
            "decode": _gemv(model, max_seq_len),
        },
        description="Chen et al. 2024 W8A8 pattern on a LLaMA layer: RMSNorm, RoPE, SwiGLU "
        "(gate, up, down), grouped-query attention; prefill arrays as chen2024-w8a8, decode "
        "GEMV engines (4 per FFN linear)",
        notes=_notes(model, max_seq_len),
        head=HEAD,
    )


def build_llama_w4a8(model: ModelConfig, max_seq_len: int) -> Design:
    """The W4A8 artifact's arrays over a LLaMA layer, one bitstream for both phases."""
    check_llama(model, "chen2024-llama-w4a8")
    return Design(
        name="chen2024-llama-w4a8",
        model=model,
        clock_mhz=CLOCK_MHZ,
        max_seq_len=max_seq_len,
        resident_layers=1,
        hls_target_mhz=HLS_TARGET_MHZ,
        launch_scope=LAUNCH_SCOPE,
        phases={"prefill": PhaseBinding("layer", PACK_TOKENS), "decode": PhaseBinding("layer", 1)},
        bitstreams={"layer": _systolic(model, max_seq_len, W4A8)},
        description="Chen et al. 2024 W4A8 pattern on a LLaMA layer: RMSNorm, RoPE, SwiGLU "
        "(gate, up, down), grouped-query attention; all linears 8x16 PEs x 2 MACs/DSP, decode "
        "reuses the arrays with 1-token packs",
        notes=_notes(model, max_seq_len),
        head=HEAD,
    )
