"""What the hw_kernels C++ can express, and the refusal of designs it cannot.

The region functions (``hw_kernels/include/spatial/regions.h`` and ``regions_decode.h``)
instantiate a fixed set of kernels in fixed regions from one ``LayerConfig`` whose fields
several kernels share: the four attention-block linears share ``QKVO_COLS``, the two FFN
linears ``FFN_COLS``, every linear ``W_BITS`` and ``BIAS``, both attention arrays
``ATTN_COLS`` and ``ATTN_PACK``; in the GEMV bitstream every engine ``PES``, the Q/K/V/out
engines ``ENGINES_QKVO``, the FFN engines ``ENGINES_FFN``, the attention engines ``HP``
and ``LANES``. Other values are fixed in the templates (two weights per DSP, a pack of P
rows, one to four GEMV engines with a port each, GeLU, LayerNorm). A design that differs
from that would be exported as something other than what was simulated, so
:func:`check_exportable` refuses it with the kernel, the field and the reason.

A chen2024-llama layer (a bitstream with ``rope_q``) is checked against
``regions_llama.h`` and ``regions_llama_decode.h`` instead (:data:`LLAMA`): its own
kernels, FIFOs and shared fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from spatialsim.design.graph import Design
from spatialsim.errors import UserError
from spatialsim.kinds import kind

# export-hook keys and the kernel parameters they come from (for messages)
_PARAM_OF = {
    "COLS": "cols",
    "PACK": "pack",
    "W_BITS": "weight_bits",
    "BIAS": "bias",
    "PES": "pes",
    "ENGINES": "engines",
    "HP": "heads_parallel",
    "LANES": "lanes",
    "COLUMN": "order",
}


def hls_values(name: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """What kernel ``name`` contributes to the HLS configuration (its kind's export hook)."""
    spec = kind(attrs["kind"])
    return spec.hls(spec.of(name, attrs))


# Kernels each region function instantiates (regions.h: region1/2/3; the decode tops the
# same names).
REGIONS: dict[int, tuple[str, ...]] = {
    1: ("input_loader", "input_loader_q", "input_loader_kv", "q_proj", "k_proj", "v_proj"),
    2: (
        "k_writer",
        "v_writer",
        "q_buffer",
        "qk_matmul",
        "mask",
        "softmax",
        "sv_matmul",
        "out_proj",
        "residual0",
        "layernorm0",
    ),
    3: ("splitter", "ffn1", "gelu", "ffn2", "residual1", "layernorm1", "output_writer"),
}

# The FIFOs the region functions declare, by the kernels they join: each is named
# <producer>_to_<consumer> in the C++ (its DEPTH_ constant, its stream, its stream_connect)
# but the FFN's residual bypass.
FIFOS: dict[tuple[str, str], str] = {
    (src, dst): f"{src}_to_{dst}"
    for src, dst in (
        ("input_loader", "residual0"),
        ("input_loader_q", "q_proj"),
        ("input_loader_kv", "k_proj"),
        ("input_loader_kv", "v_proj"),
        ("q_proj", "q_buffer"),
        ("k_proj", "k_writer"),
        ("v_proj", "v_writer"),
        ("q_buffer", "qk_matmul"),
        ("k_writer", "qk_matmul"),
        ("v_writer", "sv_matmul"),
        ("qk_matmul", "mask"),
        ("mask", "softmax"),
        ("softmax", "sv_matmul"),
        ("sv_matmul", "out_proj"),
        ("out_proj", "residual0"),
        ("residual0", "layernorm0"),
        ("layernorm0", "splitter"),
        ("splitter", "ffn1"),
        ("ffn1", "gelu"),
        ("gelu", "ffn2"),
        ("ffn2", "residual1"),
        ("residual1", "layernorm1"),
        ("layernorm1", "output_writer"),
    )
} | {("splitter", "residual1"): "ffn_residual_bypass"}

# header field -> (kernels sharing it, the key of their kinds' export hook)
SHARED_SYSTOLIC: dict[str, tuple[tuple[str, ...], str]] = {
    "QKVO_COLS": (("q_proj", "k_proj", "v_proj", "out_proj"), "COLS"),
    "FFN_COLS": (("ffn1", "ffn2"), "COLS"),
    "W_BITS": (("q_proj", "k_proj", "v_proj", "out_proj", "ffn1", "ffn2"), "W_BITS"),
    "BIAS": (("q_proj", "k_proj", "v_proj", "out_proj", "ffn1", "ffn2"), "BIAS"),
    "ATTN_COLS": (("qk_matmul", "sv_matmul"), "COLS"),
    "ATTN_PACK": (("qk_matmul", "sv_matmul"), "PACK"),
}
SHARED_GEMV: dict[str, tuple[tuple[str, ...], str]] = {
    "PES": (("q_proj", "k_proj", "v_proj", "out_proj", "ffn1", "ffn2"), "PES"),
    "ENGINES_QKVO": (("q_proj", "k_proj", "v_proj", "out_proj"), "ENGINES"),
    "ENGINES_FFN": (("ffn1", "ffn2"), "ENGINES"),
    "W_BITS": (("q_proj", "k_proj", "v_proj", "out_proj", "ffn1", "ffn2"), "W_BITS"),
    "HP": (("qk_matmul", "sv_matmul"), "HP"),
    "LANES": (("qk_matmul", "sv_matmul"), "LANES"),
    "GEMV_COLUMN": (("q_proj", "k_proj", "v_proj", "out_proj", "ffn1", "ffn2"), "COLUMN"),
}
MATRICES = ("q_proj", "k_proj", "v_proj", "out_proj", "ffn1", "ffn2")
MAX_GEMV_ENGINES = 4  # gemv.h: static_assert(ENGINES <= 4)


@dataclass(frozen=True)
class Layout:
    """What one family of region functions instantiates: kernels per region, FIFOs by the
    kernels they join, header fields several kernels share, the matrices, and values the
    C++ fixes (kernel, parameter, value, why)."""

    header: str
    regions: dict[int, tuple[str, ...]]
    fifos: dict[tuple[str, str], str]
    shared_systolic: dict[str, tuple[tuple[str, ...], str]]
    shared_gemv: dict[str, tuple[tuple[str, ...], str]] | None
    matrices: tuple[str, ...]
    fixed: tuple[tuple[str, str, Any, str], ...] = field(default=())


GPT = Layout(
    "regions.h",
    REGIONS,
    FIFOS,
    SHARED_SYSTOLIC,
    SHARED_GEMV,
    MATRICES,
    (("gelu", "fn", "gelu", "the regions instantiate gelu<>"),),
)

_LLAMA_MATRICES = ("q_proj", "k_proj", "v_proj", "out_proj", "ffn_gate", "ffn1", "ffn2")
_LLAMA_NORM = "the regions instantiate rmsnorm_quant<> (RMSNorm writing int8)"
LLAMA = Layout(
    "regions_llama.h",
    {
        1: (
            "input_loader", "input_loader_q", "input_loader_kv", "layernorm1_q",
            "layernorm1_kv", "q_proj", "k_proj", "v_proj", "rope_q", "rope_k",
        ),
        2: (
            "k_writer", "v_writer", "q_buffer", "qk_matmul", "mask", "softmax", "sv_matmul",
            "out_proj", "residual0",
        ),
        3: (
            "splitter", "layernorm0", "ffn_gate", "ffn1", "silu_mul", "ffn2", "residual1",
            "output_writer",
        ),
    },
    {
        (src, dst): f"{src}_to_{dst}"
        for src, dst in (
            ("input_loader", "residual0"), ("input_loader_q", "layernorm1_q"),
            ("input_loader_kv", "layernorm1_kv"), ("layernorm1_q", "q_proj"),
            ("layernorm1_kv", "k_proj"), ("layernorm1_kv", "v_proj"), ("q_proj", "rope_q"),
            ("k_proj", "rope_k"), ("rope_q", "q_buffer"), ("rope_k", "k_writer"),
            ("v_proj", "v_writer"), ("q_buffer", "qk_matmul"), ("k_writer", "qk_matmul"),
            ("v_writer", "sv_matmul"), ("qk_matmul", "mask"), ("mask", "softmax"),
            ("softmax", "sv_matmul"), ("sv_matmul", "out_proj"), ("out_proj", "residual0"),
            ("residual0", "splitter"), ("splitter", "layernorm0"), ("layernorm0", "ffn_gate"),
            ("layernorm0", "ffn1"), ("ffn_gate", "silu_mul"), ("ffn1", "silu_mul"),
            ("silu_mul", "ffn2"), ("ffn2", "residual1"), ("residual1", "output_writer"),
        )
    }
    | {("splitter", "residual1"): "ffn_residual_bypass"},
    {
        "QKVO_COLS": (("q_proj", "k_proj", "v_proj", "out_proj"), "COLS"),
        "FFN_COLS": (("ffn_gate", "ffn1", "ffn2"), "COLS"),
        "W_BITS": (_LLAMA_MATRICES, "W_BITS"),
        "BIAS": (_LLAMA_MATRICES, "BIAS"),
        "ATTN_COLS": (("qk_matmul", "sv_matmul"), "COLS"),
        "ATTN_PACK": (("qk_matmul", "sv_matmul"), "PACK"),
    },
    {
        "PES": (_LLAMA_MATRICES, "PES"),
        "ENGINES_QKVO": (("q_proj", "k_proj", "v_proj", "out_proj"), "ENGINES"),
        "ENGINES_FFN": (("ffn_gate", "ffn1", "ffn2"), "ENGINES"),
        "W_BITS": (_LLAMA_MATRICES, "W_BITS"),
        "HP": (("qk_matmul", "sv_matmul"), "HP"),
        "LANES": (("qk_matmul", "sv_matmul"), "LANES"),
        "GEMV_COLUMN": (_LLAMA_MATRICES, "COLUMN"),
    },
    _LLAMA_MATRICES,
    (
        ("silu_mul", "fn", "silu_mul", "the regions instantiate silu_mul_split<>"),
        ("silu_mul", "gate_up", "split", "gate and up arrive on their own streams"),
        ("layernorm1_q", "norm", "rmsnorm", _LLAMA_NORM),
        ("layernorm1_kv", "norm", "rmsnorm", _LLAMA_NORM),
        ("layernorm0", "norm", "rmsnorm", _LLAMA_NORM),
        ("layernorm1_q", "quantize", True, _LLAMA_NORM),
        ("layernorm1_kv", "quantize", True, _LLAMA_NORM),
        ("layernorm0", "quantize", True, _LLAMA_NORM),
        ("splitter", "quantize", False, "fork_fp32<> copies residual 0 in fp32"),
        ("input_loader_q", "quantize", False, "load_fp32<> feeds the input norm"),
        ("input_loader_kv", "quantize", False, "load_fp32<> feeds the input norm"),
        ("q_proj", "out_dtype", "fp32", "Q leaves its linear in fp32 for RoPE"),
        ("k_proj", "out_dtype", "fp32", "K leaves its linear in fp32 for RoPE"),
        ("v_proj", "out_dtype", "int8", "V is quantised by its linear"),
    ),
)  # fmt: skip


def layout_of(g: nx.DiGraph) -> Layout:
    """The region functions a bitstream is exported to."""
    return LLAMA if "rope_q" in g else GPT


def _fail(
    design: Design, bitstream: str, kernel: str, field: str, value: Any, why: str
) -> UserError:
    return UserError(
        f"cannot export design {design.name} (bitstream {bitstream!r}) "
        f"faithfully: kernel {kernel}: {field} = {value!r}; {why}",
        field="design",
    )


def check_exportable(design: Design, bitstream: str) -> None:
    """Raise :class:`UserError` naming the kernel and field if the C++ templates would
    build something else than ``bitstream`` of ``design``."""
    # the head (design.head) has no region functions: the export is the layer's
    g: nx.DiGraph = layer_part(design, bitstream)
    lay = layout_of(g)
    expected = {name: region for region, names in lay.regions.items() for name in names}
    for name in g.nodes:
        if name not in expected:
            raise _fail(
                design,
                bitstream,
                name,
                "kind",
                g.nodes[name]["kind"],
                f"the region functions ({lay.header}) have no such kernel",
            )
    for name, region in expected.items():
        if name not in g:
            raise _fail(
                design,
                bitstream,
                name,
                "present",
                False,
                f"region {region} of the C++ instantiates it",
            )
        slr = g.nodes[name]["slr"]
        if slr + 1 != region:
            raise _fail(
                design,
                bitstream,
                name,
                "slr",
                slr,
                f"the C++ places it in region {region} (SLR{region - 1})",
            )
    for src, dst, a in sorted(g.edges(data=True)):
        name = a["name"]
        if (src, dst) not in lay.fifos:
            raise _fail(
                design, bitstream, dst, "input FIFO", name,
                f"the region functions have no FIFO from {src} to {dst}",
            )  # fmt: skip
        if name != lay.fifos[src, dst]:
            raise _fail(
                design, bitstream, dst, "input FIFO", name,
                f"the C++ declares the FIFO from {src} to {dst} as {lay.fifos[src, dst]!r} (its "
                "DEPTH_ constant, stream and stream_connect); export it under that name",
            )  # fmt: skip
    for (src, dst), name in lay.fifos.items():
        if not g.has_edge(src, dst):
            raise _fail(
                design, bitstream, dst, "input FIFO", None,
                f"the region functions join {src} to {dst} by FIFO {name!r}; the design lacks it",
            )  # fmt: skip
    systolic = g.nodes["q_proj"]["kind"] == "linear"
    want = "linear" if systolic else "gemv"
    if not systolic and lay.shared_gemv is None:
        raise _fail(
            design, bitstream, "q_proj", "kind", "gemv",
            f"the region functions of {lay.header} build the systolic arrays only (no GEMV "
            "decode engines yet); chen2024-llama-w4a8 serves both phases with its arrays",
        )  # fmt: skip
    for name in lay.matrices:
        if g.nodes[name]["kind"] != want:
            raise _fail(
                design,
                bitstream,
                name,
                "kind",
                g.nodes[name]["kind"],
                f"the bitstream's q_proj is a {want}, and the regions use one family for all "
                "matrices",
            )
    _check_model_fields(design, bitstream, g, lay)
    hooks = {n: hls_values(n, g.nodes[n]) for n in g.nodes}
    shared = lay.shared_systolic if systolic else lay.shared_gemv
    assert shared is not None
    for header, (names, key) in shared.items():
        param = _PARAM_OF[key]
        first = hooks[names[0]][key]
        for name in names[1:]:
            if hooks[name][key] != first:
                raise _fail(
                    design,
                    bitstream,
                    name,
                    param,
                    g.nodes[name][param],
                    f"the header's {header} is shared with {names[0]} "
                    f"({param} = {g.nodes[names[0]][param]!r})",
                )
    pack = max(
        design.tokens_per_pack(ph) for ph, b in design.phases.items() if b.bitstream == bitstream
    )
    fixed: list[tuple[str, str, Any, str]] = list(lay.fixed)
    # both norms are LayerNorm or both RMSNorm: the header's RMSNORM picks rownorm<>'s form
    norm0 = g.nodes["layernorm0"]["norm"]
    if lay is GPT and g.nodes["layernorm1"]["norm"] != norm0:
        raise _fail(
            design,
            bitstream,
            "layernorm1",
            "norm",
            g.nodes["layernorm1"]["norm"],
            f"the header's RMSNORM is shared with layernorm0 (norm = {norm0!r})",
        )
    for name in lay.matrices:
        fixed.append((name, "pack", 2, "the C++ packs two weights per DSP (PACK = 2)"))
        if systolic:
            fixed.append((name, "emit", "block", "linear.h drains each block as the next runs"))
        fixed.append((name, "act_bits", 8, "activations are int8 in the C++"))
        if not systolic:
            fixed.append((name, "engine_group", "", "each GEMV kernel has its own engines"))
    if systolic:
        for name in (*lay.matrices, "qk_matmul", "sv_matmul"):
            fixed.append((name, "rows", pack, f"array rows are the pack size P = {pack}"))
        for name in ("mask", "softmax"):
            fixed.append(
                (
                    name,
                    "heads_parallel",
                    1,
                    "prefill attention runs one head at a time (AttnCfg HP = 1)",
                )
            )
        for name in ("qk_matmul", "sv_matmul"):
            fixed.append((name, "emit", "block", "attention.h drains each block as the next runs"))
    else:
        hp = g.nodes["qk_matmul"]["heads_parallel"]
        for name in ("mask", "softmax"):
            fixed.append(
                (
                    name,
                    "heads_parallel",
                    hp,
                    "decode attention shares HP with the attention engines",
                )
            )
    for name, param, value, why in fixed:
        if g.nodes[name][param] != value:
            raise _fail(design, bitstream, name, param, g.nodes[name][param], why)
    for name in lay.matrices:
        a = g.nodes[name]
        if systolic and len(a["ports"]) != 1:
            raise _fail(
                design,
                bitstream,
                name,
                "ports",
                list(a["ports"]),
                "a systolic linear reads its weights through one m_axi port",
            )
        if not systolic:
            if not 1 <= a["engines"] <= MAX_GEMV_ENGINES:
                raise _fail(
                    design,
                    bitstream,
                    name,
                    "engines",
                    a["engines"],
                    f"the GEMV template supports 1 to {MAX_GEMV_ENGINES} engines",
                )
            if len(a["ports"]) != a["engines"]:
                raise _fail(
                    design,
                    bitstream,
                    name,
                    "ports",
                    list(a["ports"]),
                    f"each of its {a['engines']} engines needs its own port",
                )


def _check_model_fields(design: Design, bitstream: str, g: nx.DiGraph, lay: Layout) -> None:
    """Kernel values the C++ takes from the model's shape in the header (heads, K/V heads,
    head width, the longest context) and the K/V writers' off-chip cache."""
    m = design.model
    k_cache = g.nodes["k_writer"].get("cache", "hbm")
    for name in ("k_writer", "v_writer"):
        cache = g.nodes[name].get("cache", "hbm")
        if lay is GPT and cache != "hbm":
            raise _fail(
                design, bitstream, name, "cache", cache,
                f"the K/V writers of {lay.header} load the layer's rows from the off-chip "
                "cache and write new ones back (kv.h); set kernel.k_writer.cache=hbm and "
                "kernel.v_writer.cache=hbm to export",
            )  # fmt: skip
        if cache != k_cache:
            raise _fail(
                design, bitstream, name, "cache", cache,
                f"the header's KV_ON_CHIP is shared with k_writer (cache = {k_cache!r})",
            )  # fmt: skip
        if cache == "chip" and g.nodes[name]["layers"] != m.layers:
            raise _fail(
                design, bitstream, name, "layers", g.nodes[name]["layers"],
                f"the on-chip store holds the header's LAYERS, the model's {m.layers}",
            )  # fmt: skip
    for name in ("qk_matmul", "sv_matmul"):
        kv = g.nodes[name].get("kv_heads", 0) or g.nodes[name]["heads"]
        if lay is GPT and m.kv_heads != m.heads:
            raise _fail(
                design, bitstream, name, "kv_heads", kv,
                f"{lay.header} holds multi-head attention only; grouped-query layers export "
                "with the chen2024-llama templates",
            )  # fmt: skip
        if lay is LLAMA and kv != m.kv_heads:
            raise _fail(
                design, bitstream, name, "kv_heads", kv,
                f"the header's KVH is the model's {m.kv_heads} K/V heads",
            )  # fmt: skip
    if lay is LLAMA:
        for name in ("rope_q", "rope_k"):
            a = g.nodes[name]
            for param, want, what in (
                ("head_dim", m.head_dim, "HD, the model's head width"),
                ("max_seq_len", design.max_seq_len, "MAXL, the design's longest context"),
            ):
                if a[param] != want:
                    raise _fail(
                        design, bitstream, name, param, a[param],
                        f"the angle table is sized by the header's {what} ({want})",
                    )  # fmt: skip


def layer_part(design: Design, bitstream: str) -> nx.DiGraph:
    """``bitstream``'s kernels without the head's (the layer the regions build)."""
    g: nx.DiGraph = design.bitstreams[bitstream]
    if not design.head:
        return g
    return g.subgraph([n for n in g.nodes if n not in design.head]).copy()
