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
"""

from __future__ import annotations

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
    g: nx.DiGraph = design.bitstreams[bitstream]
    expected = {name: region for region, names in REGIONS.items() for name in names}
    for name in g.nodes:
        if name not in expected:
            raise _fail(
                design,
                bitstream,
                name,
                "kind",
                g.nodes[name]["kind"],
                "the region functions have no such kernel",
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
        if (src, dst) not in FIFOS:
            raise _fail(
                design, bitstream, dst, "input FIFO", name,
                f"the region functions have no FIFO from {src} to {dst}",
            )  # fmt: skip
        if name != FIFOS[src, dst]:
            raise _fail(
                design, bitstream, dst, "input FIFO", name,
                f"the C++ declares the FIFO from {src} to {dst} as {FIFOS[src, dst]!r} (its "
                "DEPTH_ constant, stream and stream_connect); export it under that name",
            )  # fmt: skip
    for (src, dst), name in FIFOS.items():
        if not g.has_edge(src, dst):
            raise _fail(
                design, bitstream, dst, "input FIFO", None,
                f"the region functions join {src} to {dst} by FIFO {name!r}; the design lacks it",
            )  # fmt: skip
    systolic = g.nodes["q_proj"]["kind"] == "linear"
    want = "linear" if systolic else "gemv"
    for name in MATRICES:
        if g.nodes[name]["kind"] != want:
            raise _fail(
                design,
                bitstream,
                name,
                "kind",
                g.nodes[name]["kind"],
                f"the bitstream's q_proj is a {want}, and the regions use one family for all six",
            )
    hooks = {n: hls_values(n, g.nodes[n]) for n in g.nodes}
    shared = SHARED_SYSTOLIC if systolic else SHARED_GEMV
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
    fixed: list[tuple[str, str, Any, str]] = [
        ("gelu", "fn", "gelu", "the regions instantiate gelu<>"),
    ]
    # both norms are LayerNorm or both RMSNorm: the header's RMSNORM picks rownorm<>'s form
    norm0 = g.nodes["layernorm0"]["norm"]
    if g.nodes["layernorm1"]["norm"] != norm0:
        raise _fail(
            design,
            bitstream,
            "layernorm1",
            "norm",
            g.nodes["layernorm1"]["norm"],
            f"the header's RMSNORM is shared with layernorm0 (norm = {norm0!r})",
        )
    for name in MATRICES:
        fixed.append((name, "pack", 2, "the C++ packs two weights per DSP (PACK = 2)"))
        if systolic:
            fixed.append((name, "emit", "block", "linear.h drains each block as the next runs"))
        fixed.append((name, "act_bits", 8, "activations are int8 in the C++"))
        if not systolic:
            fixed.append((name, "engine_group", "", "each GEMV kernel has its own engines"))
    if systolic:
        for name in (*MATRICES, "qk_matmul", "sv_matmul"):
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
    for name in MATRICES:
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
