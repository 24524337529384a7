"""Tensor parallelism as a design transformation: one card's share of a layer.

Chen et al. split a layer over p1 cards Megatron-style (Chen 2024 model): the Q, K, V and
FFN1 linears by output columns, attention by heads, the output projection and FFN2 by input
rows, so each card computes partial sums of the whole output, and an all-reduce after each
of those two linears gives every card the whole vector again before the residual and
LayerNorm (replicated on every card).

:func:`shard` derives that split from the graph itself, so any design in the design
language splits the same way, not only the templates. Walking the kernels in dataflow
order, a kernel sees whole rows ("full") or one card's share ("split"):

- a matrix kernel (``linear``, ``gemv``) fed full rows is split by output columns and
  produces split rows; fed split rows it is split by input rows and produces partial
  sums, followed by a new ``collective`` kernel (all-reduce) that produces full rows;
- the kernels between (K/V writers, Q buffer, attention arrays, mask, softmax, the FFN
  activation) divide their row width or heads by p1;
- every other kernel (loaders, residuals, LayerNorms, splitters, writers) must see full
  rows and is replicated.

A size that does not divide evenly by p1 is refused, naming the kernel. The result is an
ordinary design (validated: every FIFO still carries what both ends agree on); the engine
joins the cards' collectives with link FIFOs.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from spatialsim.constants import COLLECTIVE_SUFFIX
from spatialsim.design.graph import Design
from spatialsim.errors import UserError
from spatialsim.kinds.collective import BLOCK_WORDS

MATRIX_KINDS = ("linear", "gemv")
# kinds that carry one card's share between a column-split and a row-split matrix kernel,
# and the parameters that are divided (a grouped-query attention kernel's K/V heads split
# with its heads; 0 there means "as many as heads" and stays 0)
SPLIT_FIELDS = {
    "kv_writer": ("features",),
    "buffer": ("features",),
    "attn_matmul": ("heads", "kv_heads"),
    "attn_gemv": ("heads", "kv_heads"),
    "mask": ("heads",),
    "softmax": ("heads",),
    "activation": ("features",),
    "rope": ("features",),
}


def _divide(design: str, node: str, attrs: dict[str, Any], key: str, tp: int) -> None:
    value = attrs[key]
    if value % tp:
        raise UserError(
            f"design {design}: kernel {node} cannot be split over {tp} cards: its {key} "
            f"{value} is not a multiple of {tp}; valid tensor-parallel degrees divide {value}",
            field="tp",
        )
    attrs[key] = value // tp


def _shard_graph(design: Design, bitstream: str, g: nx.DiGraph, tp: int) -> nx.DiGraph:
    lanes = max(b.tokens_per_pack for b in design.phases.values() if b.bitstream == bitstream)
    state: dict[str, str] = {}
    attrs: dict[str, dict[str, Any]] = {}
    collectives: dict[str, str] = {}
    head = set(design.head)
    for node in nx.topological_sort(g):
        a = dict(g.nodes[node])
        kind = a["kind"]
        if node in head:  # the head runs whole on one card (after the last stage)
            state[node], attrs[node] = "head", a
            continue
        ins = {state[p] for p in g.predecessors(node)}
        if kind in MATRIX_KINDS:
            if ins <= {"full"}:
                _divide(design.name, node, a, "out_features", tp)
                state[node] = "split"
            elif ins == {"split"}:
                _divide(design.name, node, a, "in_features", tp)
                collectives[node] = f"{node}{COLLECTIVE_SUFFIX}"
                state[node] = "full"
            else:
                raise UserError(
                    f"design {design.name}: kernel {node} reads both whole and split rows; "
                    "tensor parallelism cannot split it",
                    field="tp",
                )
        elif kind in SPLIT_FIELDS and ins == {"split"}:
            for key in SPLIT_FIELDS[kind]:
                if a.get(key):
                    _divide(design.name, node, a, key, tp)
            state[node] = "split"
        elif "split" in ins:
            raise UserError(
                f"design {design.name}: kernel {node} ({kind}) would read one card's share of "
                "a row, but a kernel of its kind needs whole rows under tensor parallelism",
                field="tp",
            )
        else:
            state[node] = "full"
        attrs[node] = a
    h = nx.DiGraph()
    h.graph.update(g.graph)
    for node in g.nodes:
        h.add_node(node, **attrs[node])
        if node in collectives:
            out_features = attrs[node]["out_features"]
            h.add_node(
                collectives[node],
                kind="collective",
                slr=attrs[node]["slr"],
                lanes=lanes,
                features=out_features,
                op="all_reduce",
                devices=tp,
                block_words=BLOCK_WORDS,
            )
    for u, nbrs in g.succ.items():
        for v, a in nbrs.items():
            if u in collectives:
                c = collectives[u]
                if c not in h._succ[u]:
                    h._succ[u][c] = {
                        "name": f"{u}_to_{c}",
                        "depth_words": a["depth_words"],
                        "width_bits": a["width_bits"],
                    }
                h._succ[c][v] = dict(a)
            else:
                h._succ[u][v] = dict(a)
    for v, nbrs in g.pred.items():  # keep each kernel's input order (residual: a, b)
        for u in nbrs:
            src = collectives.get(u, u)
            h._pred[v][src] = h._succ[src][v]
    for u, c in collectives.items():
        h._pred[c][u] = h._succ[u][c]
    return h


def shard(design: Design, tp: int) -> Design:
    """One card's share of ``design`` split ``tp`` ways (``tp`` = 1: the design itself)."""
    if isinstance(tp, bool) or not isinstance(tp, int) or tp < 1:
        raise UserError(f"tp must be a positive integer, got {tp!r}", field="tp")
    built = {
        a["devices"]
        for g in design.bitstreams.values()
        for _, a in g.nodes(data=True)
        if a["kind"] == "overlay"
    }
    if built:  # an overlay is compiled for its card count: every card runs it as built
        if built != {tp}:
            raise UserError(
                f"design {design.name} is built for {', '.join(map(str, sorted(built)))} "
                f"card(s), not tp {tp}; rebuild it for {tp} (a template: `tp` {tp})",
                field="tp",
            )
        return design
    if tp == 1:
        return design
    out = design.copy()
    out.bitstreams = {b: _shard_graph(design, b, g, tp) for b, g in design.bitstreams.items()}
    out.notes = {**design.notes, "tensor_parallel": f"one card's share of {tp}"}
    return out.freeze()


def collective_kernels(design: Design, phase: str) -> list[str]:
    """The collective kernels of ``phase``'s bitstream."""
    g = design.graph(phase)
    return [n for n in g.nodes if g.nodes[n]["kind"] == "collective"]


RECEIVER = "link_recv"  # the kernel that takes the previous stage's row off the link


def stream_into(h: nx.DiGraph, src: str, dst: str, link: dict[str, Any]) -> None:
    """Join two cards' layers in ``h`` (kernel names prefixed ``src`` and ``dst``) so the
    first streams its output into the second, as pipeline stages that stream (Chen 2024
    2: "streams an l x d tensor between devices"): the source card's writers are removed
    and their producer feeds a link FIFO (attributes ``link``, named and routed by the
    caller); the destination card's loaders that feed the projections (all of them if
    every one feeds a residual) are replaced by one receiver that copies the row to
    everything they fed, in their place in each consumer's input order."""
    writers = [n for n in h.nodes if n.startswith(src) and h.nodes[n]["kind"] == "writer"]
    loaders = [n for n in h.nodes if n.startswith(dst) and h.nodes[n]["kind"] == "loader"]
    # the loaders that feed the projections (quantising, or through an input norm) take
    # the row as it streams in; the copy a residual adds back is needed only after
    # attention, so the receiver leaves it in the card's memory and that loader reads it
    # from there as before
    feeding = [n for n in loaders if all(h.nodes[c]["kind"] != "residual" for c in h.successors(n))]
    loaders = feeding or loaders
    if len(writers) != 1 or not loaders:
        raise UserError(
            "streamed pipeline stages need one writer of the layer's output and its loaders "
            f"on each card; this design has {len(writers)} writer(s) and {len(loaders)} "
            "loader(s) (use `pp_schedule` staged)",
            field="pp_schedule",
        )
    (writer,) = writers
    (producer,) = list(h.predecessors(writer))
    width = h.edges[producer, writer]["width_bits"]
    first = dict(h.nodes[loaders[0]])
    recv = dst + RECEIVER
    h.remove_node(writer)
    h.add_node(
        recv,
        kind="splitter",
        slr=first["slr"],
        lanes=first["lanes"],
        features=first["features"],
        quantize=False,
        vector=first.get("vector", 1),
    )
    for loader in loaders:
        for consumer, attrs in list(h.succ[loader].items()):
            order = list(h.pred[consumer])
            h._succ[recv][consumer] = dict(attrs)
            h._pred[consumer] = {
                (recv if u == loader else u): (h._succ[recv][consumer] if u == loader else a)
                for u, a in zip(order, h.pred[consumer].values(), strict=True)
            }
            del h._succ[loader][consumer]
        h.remove_node(loader)
    h.add_edge(producer, recv, **link, width_bits=width)
