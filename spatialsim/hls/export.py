"""``spatialsim export-hls``: one source of truth for the simulator and the HLS kernels.

From the same design graph the simulator runs, per bitstream:

- ``config.h``: the layer configuration struct ``regions.h`` is instantiated with (sizes,
  array shapes, a ``DEPTH_<fifo>`` constant for every FIFO of the graph) and matching
  ``SPATIAL_DEPTH_<fifo>`` macros for the STREAM pragmas;
- ``connectivity.cfg``: v++ ``sp=`` HBM bindings of every region port, ``slr=`` placement
  and ``stream_connect=`` links with their depths;
- ``top.cpp``: the region top functions with their interface pragmas;
- ``csim.tcl``, ``csynth.tcl``, ``cosim.tcl``: Vitis HLS scripts per region, for the
  platform's part at the design's HLS target clock.

A design the C++ templates cannot express exactly is refused before anything is written
(:mod:`spatialsim.hls.fidelity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from pathlib import Path
from typing import Any

import networkx as nx

from spatialsim.design.graph import Design
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_text
from spatialsim.hardware.platform import Platform
from spatialsim.hls.fidelity import check_exportable, hls_values, layer_part

PREFIX = "GPT_layer_dataflow"


def comment(text: object) -> str:
    """``text`` made safe inside a ``//`` or ``#`` comment of C++, Tcl or a v++ config:
    anything but printable ASCII (a newline would end the comment, a trailing backslash
    continue it onto the next line) and ``%`` itself become ``%XX``."""
    return "".join(
        c if " " <= c <= "~" and c not in "\\%" else "".join(f"%{b:02X}" for b in c.encode())
        for c in str(text)
    )


def tcl_word(text: str) -> str:
    """``text`` as one literal Tcl word: braced, which stops every substitution; a value
    that cannot be braced literally (braces, backslashes, control characters) is refused."""
    if any(c in "{}\\" or not " " <= c <= "~" for c in text):
        raise UserError(
            f"{text!r} cannot be written into a Tcl script literally (braces, backslashes "
            "or control characters); move it to a path without them"
        )
    return "{" + text + "}"


@dataclass(frozen=True)
class Link:
    """A FIFO between kernels of two regions: an AXI stream joined by stream_connect."""

    fifo: str
    src_region: int
    dst_region: int
    depth: int


def region_of(g: nx.DiGraph, node: str) -> int:
    return int(g.nodes[node]["slr"]) + 1


def kernel_instance(region: int) -> str:
    return f"{PREFIX}_region_{region}_1"


def port_bindings(g: nx.DiGraph) -> list[tuple[int, str, str]]:
    """(region, port name, channel) for every memory port of every kernel (a K/V writer
    whose cache stays on chip has none)."""
    out = []
    for node in g.nodes:
        if g.nodes[node].get("cache") == "chip":
            continue
        ports = g.nodes[node].get("ports", ())
        for i, ch in enumerate(ports):
            name = f"{node}_addr" if len(ports) == 1 else f"{node}_addr_{i}"
            out.append((region_of(g, node), name, ch))
    return sorted(out, key=lambda t: (t[0], t[1]))


def links(g: nx.DiGraph) -> list[Link]:
    out = []
    for src, dst, a in g.edges(data=True):
        rs, rd = region_of(g, src), region_of(g, dst)
        if rs != rd:
            out.append(Link(a["name"], rs, rd, int(a["depth_words"])))
    return sorted(out, key=lambda lk: (lk.src_region, lk.fifo))


def connectivity_cfg(design: Design, bitstream: str) -> str:
    g = layer_part(design, bitstream)
    lines = [
        f"# v++ connectivity of {comment(design.name)} ({comment(design.model.name)}), "
        f"bitstream '{comment(bitstream)}', written by spatialsim export-hls from the "
        "design graph",
        "[connectivity]",
    ]
    for region, port, ch in port_bindings(g):
        lines.append(f"sp={kernel_instance(region)}.{port}:{ch}")
    lines.append("")
    for region in sorted({region_of(g, n) for n in g.nodes}):
        slr = region - 1
        lines.append(f"slr={kernel_instance(region)}:SLR{slr}")
    for lk in links(g):
        lines.append(
            f"stream_connect={kernel_instance(lk.src_region)}.{lk.fifo}:"
            f"{kernel_instance(lk.dst_region)}.{lk.fifo}:{lk.depth}"
        )
    return "\n".join(lines) + "\n"


def _node(g: nx.DiGraph, name: str) -> dict[str, Any]:
    if name not in g:
        raise UserError(f"export-hls needs kernel {name!r} in the bitstream")
    return dict(g.nodes[name])


def config_header(design: Design, bitstream: str) -> str:
    """The layer configuration for ``regions.h`` (systolic bitstreams) and, for every
    kernel, its parameters; DEPTH_<fifo> for every FIFO."""
    g = layer_part(design, bitstream)
    phases = [ph for ph, b in design.phases.items() if b.bitstream == bitstream]
    pack = max(design.tokens_per_pack(ph) for ph in phases)
    m = design.model
    lines = [
        "// Generated by spatialsim export-hls from the design graph; do not edit.",
        f"// design {comment(design.name)}, model {comment(m.name)}, bitstream "
        f"'{comment(bitstream)}' (phases: {comment(', '.join(phases))})",
        "#pragma once",
        "",
    ]
    for _, _, a in sorted(g.edges(data=True), key=lambda e: e[2]["name"]):
        lines.append(f"#define SPATIAL_DEPTH_{a['name']} {a['depth_words']}")
    lines += ["", "struct LayerConfig {"]
    fields: dict[str, Any] = {
        "P": pack,
        "D": m.hidden,
        "H": m.heads,
        "HD": m.head_dim,
        "FFN": m.ffn,
        "MAXL": design.max_seq_len,
        "MAXPACKS": ceil(design.max_seq_len / pack),
    }
    kinds = {n: g.nodes[n]["kind"] for n in g.nodes}
    floats: dict[str, float] = {}
    if "rope_q" in g:  # a chen2024-llama layer (regions_llama.h, regions_llama_decode.h)
        q, f1, att = _node(g, "q_proj"), _node(g, "ffn1"), _node(g, "qk_matmul")
        fields.update(
            {"KVH": m.kv_heads, "KVD": m.kv_hidden, "LAYERS": m.layers,
             "W_BITS": q["weight_bits"], "V_II": _node(g, "v_writer")["ii"]}
        )  # fmt: skip
        if q["kind"] == "linear":
            fields.update(
                {"QKVO_COLS": q["cols"], "FFN_COLS": f1["cols"], "ATTN_COLS": att["cols"],
                 "ATTN_PACK": att["pack"]}
            )  # fmt: skip
        else:
            fields.update(
                {"PES": q["pes"], "ENGINES_QKVO": q["engines"], "ENGINES_FFN": f1["engines"],
                 "HP": att["heads_parallel"], "LANES": att["lanes"]}
            )  # fmt: skip
        bools = {
            "BIAS": bool(q.get("bias", False)),
            "CAUSAL": True,
            "KV_ON_CHIP": _node(g, "k_writer").get("cache", "hbm") == "chip",
            "GEMV_COLUMN": q.get("order") == "column",
        }
        floats["EPS"] = m.norm_eps if m.norm_eps is not None else 1e-5
    elif kinds.get("q_proj") == "linear":
        q, f1, att = _node(g, "q_proj"), _node(g, "ffn1"), _node(g, "qk_matmul")
        fields.update(
            {
                "W_BITS": q["weight_bits"],
                "QKVO_COLS": q["cols"],
                "FFN_COLS": f1["cols"],
                "ATTN_COLS": att["cols"],
                "ATTN_PACK": att["pack"],
                "V_II": _node(g, "v_writer")["ii"],
            }
        )
        bools = {"BIAS": bool(q["bias"]), "CAUSAL": bool(m.causal)}
    else:
        q, f1, att = _node(g, "q_proj"), _node(g, "ffn1"), _node(g, "qk_matmul")
        fields.update(
            {
                "W_BITS": q["weight_bits"],
                "PES": q["pes"],
                "ENGINES_QKVO": q["engines"],
                "ENGINES_FFN": f1["engines"],
                "HP": att["heads_parallel"],
                "LANES": att["lanes"],
                "V_II": _node(g, "v_writer")["ii"],
            }
        )
        bools = {
            "BIAS": False,
            "CAUSAL": bool(m.causal),
            "GEMV_COLUMN": q.get("order") == "column",
        }
    bools["SOFTMAX_BUFFERED"] = _node(g, "softmax").get("output") == "buffered"
    bools["RMSNORM"] = _node(g, "layernorm0").get("norm") == "rmsnorm"  # rownorm<> in regions
    for k, v in fields.items():
        lines.append(f"    static constexpr int {k} = {v};")
    for k, b in bools.items():
        lines.append(f"    static constexpr bool {k} = {str(b).lower()};")
    for k, f in floats.items():
        lines.append(f"    static constexpr float {k} = {float(f)!r}f;")
    for _, _, a in sorted(g.edges(data=True), key=lambda e: e[2]["name"]):
        lines.append(f"    static constexpr int DEPTH_{a['name']} = {a['depth_words']};")
    lines.append("};")
    if design.head:
        lines.append("")
        lines.append(
            "// The model's head ("
            + comment(", ".join(design.head))
            + ") has no region functions: export-hls writes the layer's regions; the head's "
            "cost is simulated"
        )
    lines.append("")
    lines.append("// Every kernel's parameters, as in the design graph, and what its kind")
    lines.append("// contributes to the configuration above:")
    for n in g.nodes:
        a = g.nodes[n]
        params = ", ".join(
            f"{k}={','.join(v) if isinstance(v, tuple) else v}"
            for k, v in a.items()
            if k not in ("kind",)
        )
        lines.append(f"//   {n} ({a['kind']}): {comment(params)}")
        hook = hls_values(n, a)
        if hook:
            lines.append("//     -> " + comment(", ".join(f"{k}={v}" for k, v in hook.items())))
    return "\n".join(lines) + "\n"


# Which region function argument each canonical memory port feeds (systolic bitstreams).
_TOP_PORTS = {
    "input_loader": "x",
    "input_loader_q": "x_q",
    "input_loader_kv": "x_kv",
    "q_proj": "wq",
    "k_proj": "wk",
    "v_proj": "wv",
    "out_proj": "wo",
    "ffn1": "w1",
    "ffn2": "w2",
    "k_writer": "k_cache",
    "v_writer": "v_cache",
    "output_writer": "y",
}


# The m_axi read behaviour the simulator's memory model assumes by default (the Vitis
# defaults, CostParams.axi_burst_beats and axi_outstanding_reads; a test keeps them equal),
# stated in the generated C++.
AXI_BURST_BEATS = 16
AXI_OUTSTANDING_READS = 16
AXI_READS = (
    f"offset = slave max_read_burst_length = {AXI_BURST_BEATS} "
    f"num_read_outstanding = {AXI_OUTSTANDING_READS}"
)


def top_cpp(design: Design, bitstream: str) -> str:
    """The region top functions of a systolic bitstream: extern "C" wrappers with one
    m_axi bundle per memory port of the graph, s_axilite scalars and axis links."""
    g = layer_part(design, bitstream)
    if "rope_q" in g:
        return top_cpp_llama(design, bitstream)
    if g.nodes["q_proj"]["kind"] == "gemv":
        return top_cpp_decode(design, bitstream)
    bound = {}
    for node in g.nodes:
        ports = g.nodes[node].get("ports", ())
        if ports:
            bound[node] = f"{node}_addr"
    r1, r2, r3 = (kernel_instance(i) for i in (1, 2, 3))

    def maxi(var: str, bundle: str) -> str:
        return f"#pragma HLS INTERFACE m_axi port = {var} bundle = {bundle} {AXI_READS}"

    def axis(var: str) -> str:
        return f"#pragma HLS INTERFACE axis port = {var}"

    lines = [
        "// Generated by spatialsim export-hls from the design graph; do not edit.",
        f"// {comment(design.name)} for {comment(design.model.name)}, bitstream "
        f"'{comment(bitstream)}'.",
        '#include "config.h"',
        '#include "spatial/regions.h"',
        "",
        "using L = LayerConfig;",
        "using namespace spatial;",
        "using P8 = pack_i8<L::P>;",
        "using PF = pack_f32<L::P>;",
        "",
        'extern "C" {',
        "",
    ]
    # region 1
    lines += [
        f"void {r1}(const float* {bound['input_loader']}, const float* "
        f"{bound['input_loader_q']}, const float* {bound['input_loader_kv']}, "
        "const float* x_scale, int tokens, const void* "
        f"{bound['q_proj']}, const void* {bound['k_proj']}, const void* "
        f"{bound['v_proj']}, const float* scales, const ap_int<16>* biases, "
        "const float* consts, stream<P8>& q_proj_to_q_buffer, "
        "stream<P8>& k_proj_to_k_writer, stream<P8>& v_proj_to_v_writer, "
        "stream<PF>& input_loader_to_residual0) {"
    ]
    for node in ("input_loader", "input_loader_q", "input_loader_kv", "q_proj", "k_proj", "v_proj"):
        lines.append(maxi(bound[node], bound[node]))
    lines += [
        maxi("x_scale", "input_loader_q_addr"),
        maxi("scales", "params"),
        maxi("biases", "params"),
        maxi("consts", "params"),
        "#pragma HLS INTERFACE s_axilite port = tokens",
        axis("q_proj_to_q_buffer"),
        axis("k_proj_to_k_writer"),
        axis("v_proj_to_v_writer"),
        axis("input_loader_to_residual0"),
        f"    LayerWeights<L> w = bind_weights<L>({bound['q_proj']}, {bound['k_proj']}, "
        f"{bound['v_proj']}, nullptr, nullptr, nullptr, scales, biases, nullptr, consts);",
        f"    region1<L>({bound['input_loader']}, {bound['input_loader_q']}, "
        f"{bound['input_loader_kv']}, x_scale, tokens, w, q_proj_to_q_buffer, "
        "k_proj_to_k_writer, v_proj_to_v_writer, input_loader_to_residual0);",
        "}",
        "",
    ]
    # region 2
    lines += [
        f"void {r2}(stream<P8>& q_proj_to_q_buffer, stream<P8>& k_proj_to_k_writer, "
        "stream<P8>& v_proj_to_v_writer, stream<PF>& input_loader_to_residual0, "
        f"int tokens, int first_position, ap_int<8>* {bound['k_writer']}, "
        f"ap_int<8>* {bound['v_writer']}, const void* {bound['out_proj']}, "
        "const float* scales, const ap_int<16>* biases, const float* norms, "
        "const float* consts, stream<PF>& layernorm0_to_splitter) {"
    ]
    for node in ("k_writer", "v_writer", "out_proj"):
        lines.append(maxi(bound[node], bound[node]))
    lines += [
        maxi("scales", "params"),
        maxi("biases", "params"),
        maxi("norms", "params"),
        maxi("consts", "params"),
        "#pragma HLS INTERFACE s_axilite port = tokens",
        "#pragma HLS INTERFACE s_axilite port = first_position",
        axis("q_proj_to_q_buffer"),
        axis("k_proj_to_k_writer"),
        axis("v_proj_to_v_writer"),
        axis("input_loader_to_residual0"),
        axis("layernorm0_to_splitter"),
        f"    LayerWeights<L> w = bind_weights<L>(nullptr, nullptr, nullptr, "
        f"{bound['out_proj']}, nullptr, nullptr, scales, biases, norms, consts);",
        "    region2<L>(q_proj_to_q_buffer, k_proj_to_k_writer, v_proj_to_v_writer, "
        f"input_loader_to_residual0, tokens, first_position, {bound['k_writer']}, "
        f"{bound['v_writer']}, w, layernorm0_to_splitter);",
        "}",
        "",
    ]
    # region 3
    lines += [
        f"void {r3}(stream<PF>& layernorm0_to_splitter, int tokens, const void* "
        f"{bound['ffn1']}, const void* {bound['ffn2']}, const float* scales, "
        "const ap_int<16>* biases, const float* norms, const float* consts, "
        f"float* {bound['output_writer']}, float* y_scale) {{"
    ]
    for node in ("ffn1", "ffn2", "output_writer"):
        lines.append(maxi(bound[node], bound[node]))
    lines += [
        maxi("y_scale", bound["output_writer"]),
        maxi("scales", "params"),
        maxi("biases", "params"),
        maxi("norms", "params"),
        maxi("consts", "params"),
        "#pragma HLS INTERFACE s_axilite port = tokens",
        axis("layernorm0_to_splitter"),
        f"    LayerWeights<L> w = bind_weights<L>(nullptr, nullptr, nullptr, nullptr, "
        f"{bound['ffn1']}, {bound['ffn2']}, scales, biases, norms, consts);",
        f"    region3<L>(layernorm0_to_splitter, tokens, w, {bound['output_writer']}, y_scale);",
        "}",
        "",
        '}  // extern "C"',
    ]
    return "\n".join(lines) + "\n"


def top_cpp_llama(design: Design, bitstream: str) -> str:
    """The region top functions of a chen2024-llama bitstream: the systolic arrays
    (regions_llama.h) or the decode GEMV engines (regions_llama_decode.h, one m_axi port
    per engine)."""
    g = layer_part(design, bitstream)
    gemv = g.nodes["q_proj"]["kind"] == "gemv"
    r1, r2, r3 = (kernel_instance(i) for i in (1, 2, 3))
    configs = {
        "q_proj": "DLlamaQ", "k_proj": "DLlamaK", "v_proj": "DLlamaV", "out_proj": "DLlamaO",
        "ffn_gate": "DLlamaGateUp", "ffn1": "DLlamaGateUp", "ffn2": "DLlamaDown",
    }  # fmt: skip
    fields = {"q_proj": "wq", "k_proj": "wk", "v_proj": "wv", "out_proj": "wo",
              "ffn_gate": "wg", "ffn1": "wu", "ffn2": "wd"}  # fmt: skip

    def maxi(var: str, bundle: str | None = None) -> str:
        return f"#pragma HLS INTERFACE m_axi port = {var} bundle = {bundle or var} {AXI_READS}"

    def axis(*names: str) -> list[str]:
        return [f"#pragma HLS INTERFACE axis port = {n}" for n in names]

    def scalars(*names: str) -> list[str]:
        return [f"#pragma HLS INTERFACE s_axilite port = {n}" for n in names]

    def ports(node: str) -> list[str]:
        n = len(g.nodes[node]["ports"]) if gemv else 1
        return [f"{node}_addr_{i}" for i in range(n)] if gemv else [f"{node}_addr"]

    def matrix_args(*nodes: str) -> str:
        return "".join(f"const void* {a}, " for n in nodes for a in ports(n))

    def matrix_pragmas(*nodes: str) -> list[str]:
        return [maxi(a) for n in nodes for a in ports(n)]

    def weights(nodes: tuple[str, ...], **extra: str) -> list[str]:
        args = [extra.get(k, "nullptr") for k in ("scales", "norms", "rope", "consts")]
        if not gemv:
            order = ("q_proj", "k_proj", "v_proj", "out_proj", "ffn_gate", "ffn1", "ffn2")
            mats = [f"{n}_addr" if n in nodes else "nullptr" for n in order]
            return [f"    LlamaWeights<L> w = bind_llama_weights<L>({', '.join(mats + args)});"]
        out = ["    LlamaDecodeWeights<L> w;"]
        for n in nodes:
            beat = f"gemv_traits<{configs[n]}<L>>::beat"
            out += [f"    w.{fields[n]}.e[{i}] = (const {beat}*){a};" for i, a in
                    enumerate(ports(n))]  # fmt: skip
        out.append(f"    bind_llama_scalars<L>(w, {', '.join(args)});")
        return out

    links1 = ("rope_q_to_q_buffer", "rope_k_to_k_writer", "v_proj_to_v_writer")
    on_chip = g.nodes["k_writer"].get("cache") == "chip"
    slice_ = "layer * L::MAXL * L::KVD"
    caches = (
        f"k_store + {slice_}, v_store + {slice_}" if on_chip else "k_writer_addr, v_writer_addr"
    )
    word = "1" if gemv else "L::P"
    position = "int cached" if gemv else "int tokens, int first_position"
    position_args = "cached" if gemv else "tokens, first_position"
    prefix = "llama_decode_region" if gemv else "llama_region"
    header = "regions_llama_decode.h" if gemv else "regions_llama.h"
    lines = [
        "// Generated by spatialsim export-hls from the design graph; do not edit.",
        f"// {comment(design.name)} for {comment(design.model.name)}, bitstream "
        f"'{comment(bitstream)}' (a LLaMA-family layer"
        + (", decode GEMV engines)." if gemv else ")."),
        '#include "config.h"',
        f'#include "spatial/{header}"',
        "",
        "using L = LayerConfig;",
        "using namespace spatial;",
        f"using P8 = pack_i8<{word}>;",
        f"using PF = pack_f32<{word}>;",
        "",
        'extern "C" {',
        "",
        f"void {r1}(const float* input_loader_addr, const float* input_loader_q_addr, "
        f"const float* input_loader_kv_addr, {position}, "
        + matrix_args("q_proj", "k_proj", "v_proj")
        + "const float* scales, const float* norms, const float* rope_table, "
        "const float* consts, "
        + ", ".join(f"stream<P8>& {n}" for n in links1)
        + ", stream<PF>& input_loader_to_residual0) {",
        *(maxi(f"{n}_addr") for n in ("input_loader", "input_loader_q", "input_loader_kv")),
        *matrix_pragmas("q_proj", "k_proj", "v_proj"),
        maxi("scales", "params"),
        maxi("norms", "params"),
        maxi("rope_table", "params"),
        maxi("consts", "params"),
        *scalars(*position_args.split(", ")),
        *axis(*links1, "input_loader_to_residual0"),
        *weights(
            ("q_proj", "k_proj", "v_proj"),
            scales="scales",
            norms="norms",
            rope="rope_table",
            consts="consts",
        ),
        f"    {prefix}1<L>(input_loader_addr, input_loader_q_addr, input_loader_kv_addr, "
        f"{position_args}, w, {', '.join(links1)}, input_loader_to_residual0);",
        "}",
        "",
        f"void {r2}("
        + ", ".join(f"stream<P8>& {n}" for n in links1)
        + f", stream<PF>& input_loader_to_residual0, {position}, "
        + ("int layer, " if on_chip else "ap_int<8>* k_writer_addr, ap_int<8>* v_writer_addr, ")
        + matrix_args("out_proj")
        + "const float* scales, const float* consts, stream<PF>& residual0_to_splitter) {",
        *(
            [
                "    // every layer's K and V rows stay on chip (the writers' cache = chip)",
                "    static ap_int<8> k_store[L::LAYERS * L::MAXL * L::KVD];",
                "    static ap_int<8> v_store[L::LAYERS * L::MAXL * L::KVD];",
                "#pragma HLS BIND_STORAGE variable = k_store type = ram_2p impl = uram",
                "#pragma HLS BIND_STORAGE variable = v_store type = ram_2p impl = uram",
                *scalars("layer"),
            ]
            if on_chip
            else [maxi("k_writer_addr"), maxi("v_writer_addr")]
        ),
        *matrix_pragmas("out_proj"),
        maxi("scales", "params"),
        maxi("consts", "params"),
        *scalars(*position_args.split(", ")),
        *axis(*links1, "input_loader_to_residual0", "residual0_to_splitter"),
        *weights(("out_proj",), scales="scales", consts="consts"),
        f"    {prefix}2<L>({', '.join(links1)}, input_loader_to_residual0, "
        + ("cached" if gemv else "tokens, first_position")
        + f", {caches}, w, residual0_to_splitter);",
        "}",
        "",
        f"void {r3}(stream<PF>& residual0_to_splitter, "
        + ("" if gemv else "int tokens, ")
        + matrix_args("ffn_gate", "ffn1", "ffn2")
        + "const float* scales, const float* norms, const float* consts, "
        "float* output_writer_addr, float* y_scale) {",
        *matrix_pragmas("ffn_gate", "ffn1", "ffn2"),
        maxi("output_writer_addr"),
        maxi("y_scale", "output_writer_addr"),
        maxi("scales", "params"),
        maxi("norms", "params"),
        maxi("consts", "params"),
        *([] if gemv else scalars("tokens")),
        *axis("residual0_to_splitter"),
        *weights(("ffn_gate", "ffn1", "ffn2"), scales="scales", norms="norms", consts="consts"),
        f"    {prefix}3<L>(residual0_to_splitter, "
        + ("" if gemv else "tokens, ")
        + "w, output_writer_addr, y_scale);",
        "}",
        "",
        '}  // extern "C"',
    ]
    return "\n".join(lines) + "\n"


def hw_kernels_dir() -> Path | None:
    """The hw_kernels folder of this checkout, if spatialsim runs from one."""
    path = Path(__file__).resolve().parents[2] / "hw_kernels"
    return path if (path / "include" / "spatial" / "regions.h").exists() else None


def top_cpp_decode(design: Design, bitstream: str) -> str:
    """Region tops of a GEMV (decode) bitstream: one m_axi bundle per engine's port."""
    g = layer_part(design, bitstream)
    r1, r2, r3 = (kernel_instance(i) for i in (1, 2, 3))

    def engine_args(node: str) -> list[str]:
        return [f"{node}_addr_{i}" for i in range(len(g.nodes[node]["ports"]))]

    def maxi(var: str) -> str:
        return f"#pragma HLS INTERFACE m_axi port = {var} bundle = {var} {AXI_READS}"

    def axis(var: str) -> str:
        return f"#pragma HLS INTERFACE axis port = {var}"

    def bind(field: str, cfg: str, node: str) -> list[str]:
        return [
            f"    w.{field}.e[{i}] = (const gemv_traits<{cfg}<L>>::beat*){a};"
            for i, a in enumerate(engine_args(node))
        ]

    lines = [
        "// Generated by spatialsim export-hls from the design graph; do not edit.",
        f"// {comment(design.name)} for {comment(design.model.name)}, bitstream "
        f"'{comment(bitstream)}' (decode).",
        '#include "config.h"',
        '#include "spatial/regions_decode.h"',
        "",
        "using L = LayerConfig;",
        "using namespace spatial;",
        "using P8 = pack_i8<1>;",
        "using PF = pack_f32<1>;",
        "",
        "static void bind_common(DecodeWeights<L>& w, const float* scales, "
        "const ap_int<16>* biases, const float* norms, const float* consts) {",
        "    using PL = ParamLayout<L>;",
        "    w.sq = scales + PL::SQ; w.sk = scales + PL::SK; w.sv = scales + PL::SV;",
        "    w.so = scales + PL::SO; w.s1 = scales + PL::S1; w.s2 = scales + PL::S2;",
        "    w.bq = biases + PL::SQ; w.bk = biases + PL::SK; w.bv = biases + PL::SV;",
        "    w.bo = biases + PL::SO; w.b1 = biases + PL::S1; w.b2 = biases + PL::S2;",
        "    if (norms) {",
        "        w.ln0_gamma = norms + PL::G0; w.ln0_beta = norms + PL::B0;",
        "        w.ln1_gamma = norms + PL::G1; w.ln1_beta = norms + PL::B1;",
        "    }",
        "    w.q_inv = consts[0]; w.k_inv = consts[1]; w.v_inv = consts[2];",
        "    w.qk_scale = consts[3]; w.v_scale = consts[4]; w.f1_scale = consts[5];",
        "    w.f1_inv = consts[6]; w.f2_scale = consts[7]; w.f2_inv = consts[8];",
        "}",
        "",
        'extern "C" {',
        "",
    ]
    qkv = engine_args("q_proj") + engine_args("k_proj") + engine_args("v_proj")
    loaders = ["input_loader_addr", "input_loader_q_addr", "input_loader_kv_addr"]
    lines += [
        f"void {r1}("
        + ", ".join(f"const float* {a}" for a in loaders)
        + ", const float* x_scale, "
        + ", ".join(f"const void* {a}" for a in qkv)
        + ", const float* scales, const ap_int<16>* biases, const float* consts, "
        "stream<P8>& q_proj_to_q_buffer, stream<P8>& k_proj_to_k_writer, "
        "stream<P8>& v_proj_to_v_writer, stream<PF>& input_loader_to_residual0) {"
    ]
    lines += [maxi(a) for a in loaders + qkv]
    lines += [
        maxi("x_scale"),
        maxi("scales"),
        maxi("biases"),
        maxi("consts"),
        axis("q_proj_to_q_buffer"),
        axis("k_proj_to_k_writer"),
        axis("v_proj_to_v_writer"),
        axis("input_loader_to_residual0"),
        "    DecodeWeights<L> w;",
        *bind("wq", "DQkv", "q_proj"),
        *bind("wk", "DQkv", "k_proj"),
        *bind("wv", "DQkv", "v_proj"),
        "    bind_common(w, scales, biases, nullptr, consts);",
        f"    decode_region1<L>({', '.join(loaders)}, x_scale, w, q_proj_to_q_buffer, "
        "k_proj_to_k_writer, v_proj_to_v_writer, input_loader_to_residual0);",
        "}",
        "",
    ]
    out = engine_args("out_proj")
    lines += [
        f"void {r2}(stream<P8>& q_proj_to_q_buffer, stream<P8>& k_proj_to_k_writer, "
        "stream<P8>& v_proj_to_v_writer, stream<PF>& input_loader_to_residual0, "
        "int cached, ap_int<8>* k_writer_addr, ap_int<8>* v_writer_addr, "
        + ", ".join(f"const void* {a}" for a in out)
        + ", const float* scales, const ap_int<16>* biases, const float* norms, "
        "const float* consts, stream<PF>& layernorm0_to_splitter) {"
    ]
    lines += [maxi(a) for a in ["k_writer_addr", "v_writer_addr", *out]]
    lines += [
        maxi("scales"),
        maxi("biases"),
        maxi("norms"),
        maxi("consts"),
        "#pragma HLS INTERFACE s_axilite port = cached",
        axis("q_proj_to_q_buffer"),
        axis("k_proj_to_k_writer"),
        axis("v_proj_to_v_writer"),
        axis("input_loader_to_residual0"),
        axis("layernorm0_to_splitter"),
        "    DecodeWeights<L> w;",
        *bind("wo", "DOut", "out_proj"),
        "    bind_common(w, scales, biases, norms, consts);",
        "    decode_region2<L>(q_proj_to_q_buffer, k_proj_to_k_writer, "
        "v_proj_to_v_writer, input_loader_to_residual0, cached, k_writer_addr, "
        "v_writer_addr, w, layernorm0_to_splitter);",
        "}",
        "",
    ]
    ffn = engine_args("ffn1") + engine_args("ffn2")
    lines += [
        f"void {r3}(stream<PF>& layernorm0_to_splitter, "
        + ", ".join(f"const void* {a}" for a in ffn)
        + ", const float* scales, const ap_int<16>* biases, const float* norms, "
        "const float* consts, float* output_writer_addr, float* y_scale) {"
    ]
    lines += [maxi(a) for a in [*ffn, "output_writer_addr"]]
    lines += [
        maxi("y_scale"),
        maxi("scales"),
        maxi("biases"),
        maxi("norms"),
        maxi("consts"),
        axis("layernorm0_to_splitter"),
        "    DecodeWeights<L> w;",
        *bind("w1", "DFfn1", "ffn1"),
        *bind("w2", "DFfn2", "ffn2"),
        "    bind_common(w, scales, biases, norms, consts);",
        "    decode_region3<L>(layernorm0_to_splitter, w, output_writer_addr, y_scale);",
        "}",
        "",
        '}  // extern "C"',
    ]
    return "\n".join(lines) + "\n"


def hls_period_ns(design: Design) -> float:
    """The clock period Vitis HLS schedules for: the design's HLS target, else its clock
    (rounded to 10 ps, as HLS scripts write it: 300 MHz is 3.33 ns)."""
    mhz = design.hls_target_mhz if design.hls_target_mhz is not None else design.clock_mhz
    return round(1e3 / mhz, 2)


def tcl(design: Design, platform: Platform, bitstream: str, step: str) -> str:
    g = layer_part(design, bitstream)
    regions = sorted({region_of(g, n) for n in g.nodes})
    action = {
        "csim": "csim_design",
        "csynth": "csynth_design",
        "cosim": "csynth_design\ncosim_design",
    }[step]
    if "rope_q" in g:
        gemv = g.nodes["q_proj"]["kind"] == "gemv"
        tb = "tb_layer_llama_decode.cpp" if gemv else "tb_layer_llama.cpp"
    else:
        tb = "tb_layer.cpp" if g.nodes["q_proj"]["kind"] == "linear" else "tb_layer_decode.cpp"
    found = hw_kernels_dir()
    default = tcl_word(str(found) if found else "")
    lines = [
        f"# Vitis HLS {step} of every region of {comment(design.name)} "
        f"({comment(bitstream)}); written by spatialsim export-hls. Set SPATIAL_HW_KERNELS "
        "to the hw_kernels folder of the spatialsim checkout if it is not the one below.",
        "set here [file dirname [info script]]",
        "if {[info exists ::env(SPATIAL_HW_KERNELS)]} {",
        "    set hw $::env(SPATIAL_HW_KERNELS)",
        "} else {",
        f"    set hw {default}",
        "}",
        "set kernels $hw/include",
    ]
    for region in regions:
        lines += [
            f"open_project -reset {kernel_instance(region)}",
            f"set_top {kernel_instance(region)}",
            'add_files $here/top.cpp -cflags "-std=c++17 -I$kernels -I$here"',
            f'add_files -tb $hw/tb/{tb} -cflags "-std=c++17 -I$kernels -I$hw/tb -I$here"',
            "open_solution -reset solution -flow_target vitis",
            f"set_part {platform.part}",  # letters, digits, dashes: Platform checks it
            f"create_clock -period {hls_period_ns(design):g}",
            action,
            "close_project",
            "",
        ]
    return "\n".join(lines)


def export(design: Design, platform: Platform, out: Path) -> list[Path]:
    """Write every bitstream's files under ``out/<bitstream>/`` for ``platform``'s part;
    return the paths. Refuses (before writing anything) a design the C++ cannot express."""
    for bitstream in design.bitstreams:
        check_exportable(design, bitstream)
    written = []
    for bitstream in design.bitstreams:
        folder = out / bitstream
        files = {
            "config.h": config_header(design, bitstream),
            "connectivity.cfg": connectivity_cfg(design, bitstream),
            "top.cpp": top_cpp(design, bitstream),
        }
        for step in ("csim", "csynth", "cosim"):
            files[f"{step}.tcl"] = tcl(design, platform, bitstream, step)
        for name, text in files.items():
            path = folder / name
            atomic_write_text(path, text)
            written.append(path)
    return written
