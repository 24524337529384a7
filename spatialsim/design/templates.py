"""Design templates: the Chen et al. 2024 three-region transformer layer, built for a model.

Sources are Chen 2024 designs and the authors' ``kernel.cfg``. R1 (SLR0) loads the input and
runs Q/K/V; R2 (SLR1) holds the KV buffers, attention, output projection, residual 0 and
LayerNorm 0; R3 (SLR2) runs the FFN, residual 1, LayerNorm 1 and writes the output.
FIFOs inside a region are 4 deep; region-to-region AXI-stream links are 16 deep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import ceil

import networkx as nx

from spatialsim.constants import PACK_TOKENS
from spatialsim.design.graph import BYPASS_FIFO, Design, PhaseBinding, add_fifo, add_kernel
from spatialsim.design.overlay_templates import build_dfx
from spatialsim.design.terafly import build_terafly
from spatialsim.errors import UserError, choices_message
from spatialsim.kinds.activation import RELU_DEPTH
from spatialsim.workload.models import ModelConfig

STREAM_DEPTH = 4  # Chen 2024 designs: most hls::stream FIFOs are 4 deep
LINK_DEPTH = 16  # kernel.cfg: stream_connect depth between region kernels
PORT_BITS = 512  # m_axi width of the loaders and GEMV engines (Chen 2024 decode)
# One output block costs K + 6 cycles: the three W4A8 linears' reports fit K + 6 per block
# exactly (with a per-row prologue, see costmodel/params.py); Chen 2024 prefill gives 6..9.
LINEAR_BLOCK_OVERHEAD = 6
ATTN_BLOCK_OVERHEAD = 6  # same array structure as the linears
FP32_BITS = 32
INT8_BITS = 8
CLOCK_MHZ = 250.0  # Chen 2024 decode/3.4: GPT-2 designs link at 250 MHz
HLS_TARGET_MHZ = 300.0  # Chen 2024 clocks: HLS target 3.33 ns
# How the host launches a layer. Chen 2024 W8A8 says the authors' hosts enqueue the three
# region kernels once per layer ("region"); whether those enqueues delay each other on the
# board is what calibration should decide, so the templates keep one launch per layer
# ("layer", the model every earlier result used) and "region" is a --set away.
LAUNCH_SCOPE = "layer"


@dataclass(frozen=True)
class LinearShape:
    """Array shape of a systolic linear: rows x cols PEs, ``pack`` MACs per DSP."""

    rows: int
    cols: int
    pack: int


@dataclass(frozen=True)
class Nonlinear:
    """How a build's softmax emits its row and how deep its GeLU pipeline is (both differ
    between the chen2024 builds: see spatialsim/kinds/softmax.py and activation.py)."""

    softmax_output: str
    gelu_depth: float


@dataclass(frozen=True)
class SystolicConfig:
    """What distinguishes the W4A8 and W8A8 prefill bitstreams (Chen 2024 prefill-3.2)."""

    weight_bits: int
    qkvo: LinearShape
    ffn: LinearShape
    attn: LinearShape
    v_writer_ii: int
    bias: bool
    nonlinear: Nonlinear


W4A8 = SystolicConfig(
    weight_bits=4,
    qkvo=LinearShape(8, 16, 2),
    ffn=LinearShape(8, 16, 2),
    attn=LinearShape(8, 8, 1),
    v_writer_ii=4,
    bias=False,
    nonlinear=Nonlinear("streamed", 168.0),  # Chen 2024 W4A8: softmax, GeLU rows
)
W8A8 = SystolicConfig(
    weight_bits=8,
    qkvo=LinearShape(8, 8, 2),
    ffn=LinearShape(8, 16, 2),
    attn=LinearShape(8, 8, 2),
    v_writer_ii=8,
    bias=True,
    nonlinear=Nonlinear("buffered", 73.0),  # Chen 2024 W8A8: softmax, GeLU rows
)
# The W8A8 decode build: GeLU 4,133 = 4,095 + 38 (Chen 2024 W8A8). Its softmax has no row
# of its own there, so it is assumed to stream like the W4A8 one.
W8A8_DECODE = Nonlinear("streamed", 38.0)

# Weight ports of the W4A8 artifact (kernel.cfg): Wk HBM[1], Wv HBM[2], Wq HBM[3], Wo HBM[4],
# FFN1 HBM[5], FFN2 HBM[6]; activations in and out on HBM[0].
SYSTOLIC_PORTS = {
    "k_proj": ["HBM[1]"],
    "v_proj": ["HBM[2]"],
    "q_proj": ["HBM[3]"],
    "out_proj": ["HBM[4]"],
    "ffn1": ["HBM[5]"],
    "ffn2": ["HBM[6]"],
}
# Decode GEMV ports (Chen 2024 decode): Wk/Wv/Wq on HBM[1..6] (2 each), Wo HBM[7..8],
# FFN1 HBM[9..12], FFN2 HBM[13..16].
GEMV_ENGINES = {"k_proj": 2, "v_proj": 2, "q_proj": 2, "out_proj": 2, "ffn1": 4, "ffn2": 4}
GEMV_PORTS = {
    "k_proj": [1, 2],
    "v_proj": [3, 4],
    "q_proj": [5, 6],
    "out_proj": [7, 8],
    "ffn1": [9, 10, 11, 12],
    "ffn2": [13, 14, 15, 16],
}
# The off-chip KV cache: Chen 2024 does not say where the authors keep it. With C = 1 the
# K/V writers serve every layer, so each layer's cache must live off chip; this assumes two
# channels free in both chen2024 bitstreams (the decode GEMVs use HBM[0..16]).
KV_PORTS = {"k": ["HBM[17]"], "v": ["HBM[18]"]}
GEMV_PES = 32  # Chen 2024 decode: 32 PEs, one 16-bit int8 weight pair each
DECODE_HEADS_PARALLEL = 4  # Chen 2024 decode: 4 heads in parallel against the KV cache
# MAC lanes per decode attention head: one cached row of a 64-wide head (GPT-2, the model
# the authors built) per cycle; wider heads take several cycles per row. An assumption:
# Chen 2024 gives the head parallelism only.
DECODE_ATTN_LANES = 64


def attention_region(
    g: nx.DiGraph,
    model: ModelConfig,
    max_seq_len: int,
    lanes: int,
    matrix: Callable[[str, int, int, int, bool], None],
    attention: Callable[[str, str], None],
    v_writer_ii: int,
    heads_parallel: int,
    nonlinear: Nonlinear,
    sources: tuple[str, str, str],
    **kv: object,
) -> None:
    """R2 (SLR1) of every chen2024 layer: the K/V writers and the Q buffer fed over the
    region links from ``sources`` (what writes Q, K and V), Q.K^T, mask, softmax, softmax.V,
    the output projection and residual 0 with the layer's input. ``kv`` adds parameters
    to both writers (the LLaMA templates' cache placement)."""
    d, dkv = model.hidden, model.kv_hidden
    i8, f32 = INT8_BITS * lanes, FP32_BITS * lanes
    s, link = STREAM_DEPTH, LINK_DEPTH
    for target, ii in (("k", 1), ("v", v_writer_ii)):
        add_kernel(
            g,
            f"{target}_writer",
            "kv_writer",
            1,
            target=target,
            ii=ii,
            features=dkv,
            max_seq_len=max_seq_len,
            act_bits=INT8_BITS,
            ports=KV_PORTS[target],
            port_bits=PORT_BITS,
            **kv,
        )
    add_kernel(g, "q_buffer", "buffer", 1, features=d, lanes=lanes)
    q_src, k_src, v_src = sources
    add_fifo(g, q_src, "q_buffer", link, i8)
    add_fifo(g, k_src, "k_writer", link, i8)
    add_fifo(g, v_src, "v_writer", link, i8)
    attention("qk_matmul", "qk")
    add_fifo(g, "q_buffer", "qk_matmul", s, i8)
    add_fifo(g, "k_writer", "qk_matmul", s, i8)
    add_kernel(
        g,
        "mask",
        "mask",
        1,
        lanes=lanes,
        heads=model.heads,
        causal=model.causal,
        heads_parallel=heads_parallel,
    )
    add_kernel(
        g,
        "softmax",
        "softmax",
        1,
        lanes=lanes,
        heads=model.heads,
        reduction_ii=4,
        heads_parallel=heads_parallel,
        output=nonlinear.softmax_output,
    )
    attention("sv_matmul", "sv")
    add_fifo(g, "qk_matmul", "mask", s, f32)
    add_fifo(g, "mask", "softmax", s, f32)
    # softmax -> softmax.V holds a whole row of probabilities (Chen 2024 attention: depth 128
    # at seq 128), so it scales with the longest sequence the design supports.
    add_fifo(g, "softmax", "sv_matmul", max_seq_len, i8)
    add_fifo(g, "v_writer", "sv_matmul", s, i8)
    matrix("out_proj", 1, d, d, True)
    add_fifo(g, "sv_matmul", "out_proj", s, i8)
    add_kernel(g, "residual0", "residual", 1, lanes=lanes, features=d)
    add_fifo(g, "out_proj", "residual0", s, f32)
    add_fifo(g, "input_loader", "residual0", link, f32)


def _region_layer(
    g: nx.DiGraph,
    model: ModelConfig,
    max_seq_len: int,
    lanes: int,
    matrix: Callable[[str, int, int, int, bool], None],
    attention: Callable[[str, str], None],
    v_writer_ii: int,
    bypass_tokens: int,
    heads_parallel: int,
    nonlinear: Nonlinear,
) -> None:
    """The layer topology shared by every chen2024 bitstream.

    ``matrix(name, slr, k, n, fp32_out)`` adds a linear; ``attention(name, op)`` adds Q.K^T
    or softmax.V. ``lanes`` is the tokens per pack (FIFO words carry one feature of each).
    """
    d, dkv, f = model.hidden, model.kv_hidden, model.ffn
    i8, f32 = INT8_BITS * lanes, FP32_BITS * lanes
    s, link = STREAM_DEPTH, LINK_DEPTH
    hbm0 = ["HBM[0]"]
    # R1, SLR0: input loaders (fp32 copy for the residual, int8 for Q and for K/V) and Q/K/V.
    add_kernel(
        g,
        "input_loader",
        "loader",
        0,
        ports=hbm0,
        port_bits=PORT_BITS,
        lanes=lanes,
        features=d,
        quantize=False,
    )
    add_kernel(
        g,
        "input_loader_q",
        "loader",
        0,
        ports=hbm0,
        port_bits=PORT_BITS,
        lanes=lanes,
        features=d,
        quantize=True,
    )
    add_kernel(
        g,
        "input_loader_kv",
        "loader",
        0,
        ports=hbm0,
        port_bits=PORT_BITS,
        lanes=lanes,
        features=d,
        quantize=True,
    )
    matrix("q_proj", 0, d, d, False)
    matrix("k_proj", 0, d, dkv, False)
    matrix("v_proj", 0, d, dkv, False)
    add_fifo(g, "input_loader_q", "q_proj", s, i8)
    add_fifo(g, "input_loader_kv", "k_proj", s, i8)
    add_fifo(g, "input_loader_kv", "v_proj", s, i8)
    # R2, SLR1: KV buffers, attention, output projection, residual 0, LayerNorm 0.
    attention_region(
        g, model, max_seq_len, lanes, matrix, attention, v_writer_ii, heads_parallel,
        nonlinear, ("q_proj", "k_proj", "v_proj"),
    )  # fmt: skip
    add_kernel(
        g,
        "layernorm0",
        "layernorm",
        1,
        lanes=lanes,
        features=d,
        reduction_ii=4,
        norm=model.norm_kind,
    )
    add_fifo(g, "residual0", "layernorm0", s, f32)
    # R3, SLR2: splitter, FFN, residual 1 through the bypass, LayerNorm 1, output writer.
    add_kernel(g, "splitter", "splitter", 2, lanes=lanes, features=d, quantize=True)
    add_fifo(g, "layernorm0", "splitter", link, f32)
    fused = model.ffn_kind == "swiglu"  # gate and up projections share one kernel
    matrix("ffn1", 2, d, 2 * f if fused else f, True)
    add_fifo(g, "splitter", "ffn1", s, i8)
    add_kernel(
        g,
        "gelu",
        "activation",
        2,
        lanes=lanes,
        features=f,
        fn="silu_mul" if fused else model.ffn_kind,
        act_depth_cycles=RELU_DEPTH if model.ffn_kind == "relu" else nonlinear.gelu_depth,
    )
    add_fifo(g, "ffn1", "gelu", s, f32)
    matrix("ffn2", 2, f, d, True)
    # FFN2 needs a whole FFN1 row before it starts (Chen 2024 attention: depth d_FFN).
    add_fifo(g, "gelu", "ffn2", f, i8)
    add_kernel(g, "residual1", "residual", 2, lanes=lanes, features=d)
    add_fifo(g, "ffn2", "residual1", s, f32)
    # The bypass must hold the whole activation or the layer deadlocks (Chen 2024 model).
    add_fifo(g, "splitter", "residual1", ceil(bypass_tokens / lanes) * d, f32, name=BYPASS_FIFO)
    add_kernel(
        g,
        "layernorm1",
        "layernorm",
        2,
        lanes=lanes,
        features=d,
        reduction_ii=4,
        norm=model.norm_kind,
    )
    add_fifo(g, "residual1", "layernorm1", s, f32)
    add_kernel(
        g, "output_writer", "writer", 2, ports=hbm0, port_bits=PORT_BITS, lanes=lanes, features=d
    )
    add_fifo(g, "layernorm1", "output_writer", s, f32)


def systolic_linear(
    g: nx.DiGraph, name: str, slr: int, k: int, n: int, fp32_out: bool, cfg: SystolicConfig,
    ports: list[str], bias: bool,
) -> None:  # fmt: skip
    """A linear on a build's systolic array (the FFN shape for ffn*, else Q/K/V/O's)."""
    shape = cfg.ffn if name.startswith("ffn") else cfg.qkvo
    add_kernel(
        g,
        name,
        "linear",
        slr,
        rows=shape.rows,
        cols=shape.cols,
        pack=shape.pack,
        in_features=k,
        out_features=n,
        weight_bits=cfg.weight_bits,
        act_bits=INT8_BITS,
        out_dtype="fp32" if fp32_out else "int8",
        bias=bias,
        block_overhead_cycles=LINEAR_BLOCK_OVERHEAD,
        ports=ports,
        port_bits=PORT_BITS,
    )


def systolic_attention(
    g: nx.DiGraph, name: str, op: str, model: ModelConfig, cfg: SystolicConfig
) -> None:
    """Q.K^T or softmax.V on a build's attention array (R2, SLR1)."""
    a = cfg.attn
    add_kernel(
        g,
        name,
        "attn_matmul",
        1,
        op=op,
        rows=a.rows,
        cols=a.cols,
        pack=a.pack,
        heads=model.heads,
        head_dim=model.head_dim,
        act_bits=INT8_BITS,
        block_overhead_cycles=ATTN_BLOCK_OVERHEAD,
        kv_heads=model.kv_heads,
    )


def gemv_linear(
    g: nx.DiGraph, name: str, slr: int, k: int, n: int, fp32_out: bool, engines: int,
    channels: list[int],
) -> None:  # fmt: skip
    """A decode GEMV kernel: ``engines`` engines of 32 PEs, one HBM channel each."""
    add_kernel(
        g,
        name,
        "gemv",
        slr,
        engines=engines,
        pes=GEMV_PES,
        pack=2,
        in_features=k,
        out_features=n,
        weight_bits=INT8_BITS,
        act_bits=INT8_BITS,
        out_dtype="fp32" if fp32_out else "int8",
        ports=[f"HBM[{i}]" for i in channels],
        port_bits=PORT_BITS,
    )


def gemv_attention(g: nx.DiGraph, name: str, op: str, model: ModelConfig) -> None:
    """The decode attention engines (Chen 2024 decode): 4 heads side by side."""
    add_kernel(
        g,
        name,
        "attn_gemv",
        1,
        op=op,
        heads_parallel=DECODE_HEADS_PARALLEL,
        lanes=min(model.head_dim, DECODE_ATTN_LANES),
        heads=model.heads,
        head_dim=model.head_dim,
        act_bits=INT8_BITS,
        kv_heads=model.kv_heads,
    )


def _systolic_bitstream(model: ModelConfig, max_seq_len: int, cfg: SystolicConfig) -> nx.DiGraph:
    g = nx.DiGraph()
    lanes = PACK_TOKENS

    def matrix(name: str, slr: int, k: int, n: int, fp32_out: bool) -> None:
        systolic_linear(g, name, slr, k, n, fp32_out, cfg, SYSTOLIC_PORTS[name], cfg.bias)

    def attention(name: str, op: str) -> None:
        systolic_attention(g, name, op, model, cfg)

    _region_layer(
        g,
        model,
        max_seq_len,
        lanes,
        matrix,
        attention,
        cfg.v_writer_ii,
        max_seq_len,
        heads_parallel=1,
        nonlinear=cfg.nonlinear,
    )
    return g


def _gemv_bitstream(model: ModelConfig, max_seq_len: int) -> nx.DiGraph:
    g = nx.DiGraph()

    def matrix(name: str, slr: int, k: int, n: int, fp32_out: bool) -> None:
        gemv_linear(g, name, slr, k, n, fp32_out, GEMV_ENGINES[name], GEMV_PORTS[name])

    def attention(name: str, op: str) -> None:
        gemv_attention(g, name, op, model)

    # The mask and softmax keep pace with the attention GEMVs: 4 heads side by side.
    _region_layer(
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
    return g


def build_w4a8(model: ModelConfig, max_seq_len: int) -> Design:
    """The W4A8 artifact design: one bitstream for prefill (P = 8) and decode (P = 1)."""
    return Design(
        name="chen2024-w4a8",
        model=model,
        clock_mhz=CLOCK_MHZ,
        max_seq_len=max_seq_len,
        resident_layers=1,
        hls_target_mhz=HLS_TARGET_MHZ,
        launch_scope=LAUNCH_SCOPE,
        phases={"prefill": PhaseBinding("layer", PACK_TOKENS), "decode": PhaseBinding("layer", 1)},
        bitstreams={"layer": _systolic_bitstream(model, max_seq_len, W4A8)},
        description="Chen et al. 2024 W4A8 spatial layer (Allo PLDI'24 artifact): all linears "
        "8x16 PEs x 2 MACs/DSP, attention 8x8; decode reuses it with 1-token packs",
        notes={
            "source": "Chen 2024 prefill-3.2; kernel.cfg of the W4A8 GPT-2-medium artifact",
            "kv_cache": "K and V caches of every layer off chip on HBM[17] and HBM[18] "
            "(an assumption: the artifact runs prefill only)",
        },
    )


def build_w8a8(model: ModelConfig, max_seq_len: int) -> Design:
    """The authors' W8A8 GPT-2 setup: systolic prefill bitstream and GEMV decode bitstream."""
    return Design(
        name="chen2024-w8a8",
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
            "prefill": _systolic_bitstream(model, max_seq_len, W8A8),
            "decode": _gemv_bitstream(model, max_seq_len),
        },
        description="Chen et al. 2024 W8A8 GPT-2 design: prefill Q/K/V/O 8x8x2 = 128 MAC/cycle, "
        "FFN 8x16x2 = 256; decode GEMV engines (2 per Q/K/V/O, 4 per FFN linear)",
        notes={
            "source": "Chen 2024 prefill-3.3",
            "assumption": "decode attention: min(head_dim, 64) MAC lanes per head; "
            "Chen 2024 gives only the 4-head parallelism",
            "kv_cache": "K and V caches of every layer off chip on HBM[17] and HBM[18] "
            "(an assumption: the sources do not give the binding)",
        },
    )


def _per_card(build: Callable[[ModelConfig, int], Design]) -> Callable[..., Design]:
    """A template split over the cards afterwards (spatialsim/design/parallel.py)."""

    def built(model: ModelConfig, max_seq_len: int, devices: int = 1) -> Design:
        return build(model, max_seq_len)

    return built


def _llama(builder: str) -> Callable[..., Design]:
    """A LLaMA template (design/llama_templates.py, which reuses this module's constants
    and is therefore imported when the template is built)."""

    def built(model: ModelConfig, max_seq_len: int, devices: int = 1) -> Design:
        from spatialsim.design import llama_templates

        build: Callable[[ModelConfig, int], Design] = getattr(llama_templates, builder)
        return build(model, max_seq_len)

    return built


DESIGNS: dict[str, Callable[..., Design]] = {
    "chen2024-w4a8": _per_card(build_w4a8),
    "chen2024-w8a8": _per_card(build_w8a8),
    "chen2024-llama-w4a8": _llama("build_llama_w4a8"),
    "chen2024-llama-w8a8": _llama("build_llama_w8a8"),
    "dfx": build_dfx,
    "terafly-opt1.3b": build_terafly,
}


def build_design(name: str, model: ModelConfig, max_seq_len: int, devices: int = 1) -> Design:
    """Build the named template for ``model`` with room for ``max_seq_len`` tokens; a
    template built per card count (``dfx``) is built for ``devices`` cards."""
    if name not in DESIGNS:
        raise UserError(choices_message("design", name, DESIGNS) + " (or a design .toml file)")
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1:
        raise UserError(f"max sequence length must be a positive integer, got {max_seq_len!r}")
    return DESIGNS[name](model, max_seq_len, devices)
