"""The accelerator description: kernels as nodes and FIFOs as edges of networkx graphs.

A :class:`Design` holds one graph per bitstream and says which bitstream serves each phase
(prefill, decode) with how many tokens per pack. The W4A8 design serves both phases with
one bitstream; the W8A8 design has a systolic prefill bitstream and a GEMV decode one.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import networkx as nx

from spatialsim.design.kernels import check_kernel, is_handoff, kernel_params
from spatialsim.errors import UserError, choices_message
from spatialsim.workload.models import ModelConfig

PHASES = ("prefill", "decode")

# Canonical kernel names (Chen 2024 designs); loaders, writers and buffers add their own.
CANONICAL_KERNELS = (
    "q_proj",
    "k_proj",
    "v_proj",
    "qk_matmul",
    "mask",
    "softmax",
    "sv_matmul",
    "out_proj",
    "residual0",
    "layernorm0",
    "ffn1",
    "gelu",
    "ffn2",
    "residual1",
    "layernorm1",
)
BYPASS_FIFO = "ffn_residual_bypass"
# How the host launches a layer's kernels (docs/engine.md): one enqueue per region kernel,
# one per layer, or one per step with the layers looped on chip.
LAUNCH_SCOPES = ("region", "layer", "step")
# How a prompt goes through the layers: all its tokens through each layer in packs
# ("packed", Chen 2024 designs), or one token at a time through every layer, like a decode
# step ("tokenwise": TeraFly's host feeds the prompt token by token, TeraFly repo).
PROMPT_MODES = ("packed", "tokenwise")


@dataclass(frozen=True)
class PhaseBinding:
    """Which bitstream runs a phase and how many tokens travel together in a pack."""

    bitstream: str
    tokens_per_pack: int

    def __post_init__(self) -> None:
        if (
            isinstance(self.tokens_per_pack, bool)
            or not isinstance(self.tokens_per_pack, int)
            or not 1 <= self.tokens_per_pack <= 64
        ):
            raise UserError(
                f"tokens_per_pack must be an integer in [1, 64], got {self.tokens_per_pack!r}"
            )


CLOCK_RANGE_MHZ = (1.0, 2000.0)  # any FPGA fabric clock lies in here
# Kernel, FIFO and bitstream names reach C++ (identifiers, macros), Tcl and v++ config
# files when exported, so they must be identifiers in all of them: ASCII letters, digits
# and underscores, not starting with a digit, and not a C++ keyword.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
CXX_KEYWORDS = frozenset(
    (
        "alignas",
        "alignof",
        "and",
        "asm",
        "auto",
        "bool",
        "break",
        "case",
        "catch",
        "char",
        "class",
        "const",
        "constexpr",
        "continue",
        "decltype",
        "default",
        "delete",
        "do",
        "double",
        "else",
        "enum",
        "explicit",
        "export",
        "extern",
        "false",
        "float",
        "for",
        "friend",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "mutable",
        "namespace",
        "new",
        "noexcept",
        "not",
        "nullptr",
        "operator",
        "or",
        "private",
        "protected",
        "public",
        "register",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "struct",
        "switch",
        "template",
        "this",
        "throw",
        "true",
        "try",
        "typedef",
        "typename",
        "union",
        "unsigned",
        "using",
        "virtual",
        "void",
        "volatile",
        "while",
        "xor",
    )
)
DESIGN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}")


def check_identifier(where: str, *names: object) -> None:
    """Refuse a name that is not an identifier in C++, Tcl and v++ config files."""
    for name in names:
        if not isinstance(name, str) or not IDENTIFIER.fullmatch(name) or name in CXX_KEYWORDS:
            raise UserError(
                f"{where} name {name!r} is not an identifier: use ASCII letters, digits and "
                "_, not starting with a digit, at most 64 characters, not a C++ keyword "
                "(names reach the generated C++, Tcl and v++ files)"
            )


@dataclass
class Design:
    """A spatial accelerator for one model: bitstream graphs and phase bindings.

    Graph nodes carry ``kind``, ``slr`` and the kind's parameters; edges carry ``name``,
    ``depth_words`` and ``width_bits``. ``resident_layers`` is the paper's C.
    ``hls_target_mhz`` is the clock Vitis HLS schedules the kernels for (a tighter target
    than the achieved ``clock_mhz`` leaves timing margin); None means ``clock_mhz``.
    ``launch_scope`` is how the host launches the kernels: ``region`` (each region kernel
    enqueued on its own, once per layer), ``layer`` (one enqueue per layer) or ``step``
    (one enqueue per prefill or decode step, the layers looped on chip). ``prompt_mode``
    is how a prompt is processed: ``packed`` (its tokens through each layer in packs) or
    ``tokenwise`` (one token at a time through all layers, each like a decode step).
    ``head`` names the kernels of the model's head (final norm, LM head, argmax, next
    embedding): in every bitstream, apart from the layer (no FIFO joins them), launched
    once per step after the last layer rather than once per layer.
    """

    name: str
    model: ModelConfig
    clock_mhz: float
    max_seq_len: int
    resident_layers: int
    phases: dict[str, PhaseBinding]
    bitstreams: dict[str, nx.DiGraph]
    description: str = ""
    notes: dict[str, str] = field(default_factory=dict)
    hls_target_mhz: float | None = None
    launch_scope: str = "layer"
    prompt_mode: str = "packed"
    head: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.validate()

    # -- structure ------------------------------------------------------------------------
    def _check_streams(self, bname: str, g: nx.DiGraph) -> None:
        """Every FIFO carries what its producer writes and its consumer reads, per token."""
        for src, dst, attrs in g.edges(data=True):
            if is_handoff(g.nodes[src]["kind"]):
                continue
            sp, dp = kernel_params(src, g.nodes[src]), kernel_params(dst, g.nodes[dst])
            if sp.ring_word_bits() is not None and dp.ring_word_bits() is not None:
                continue  # a ring between compute units: blocks, not rows
            out = sp.stream_words_out()
            inn = dp.stream_words_in()
            where = f"design {self.name}: bitstream {bname}: FIFO {attrs['name']} ({src} -> {dst})"
            if out == 0 or inn == 0:
                idle = src if out == 0 else dst
                verb = "writes to no FIFO" if out == 0 else "reads from no FIFO"
                raise UserError(
                    f"{where}: nobody uses it: {idle} ({g.nodes[idle]['kind']}) {verb}; "
                    "remove the FIFO"
                )
            if out is not None and inn is not None and out != inn:
                raise UserError(
                    f"{where}: the sizes of the two kernels disagree: {src} writes {out} "
                    f"words per token, {dst} reads {inn} (check out_features, in_features "
                    "and features)"
                )

    def validate(self) -> None:
        """Check phases, kernels and FIFOs; raise :class:`UserError` naming the problem."""
        if not isinstance(self.name, str) or not DESIGN_NAME.fullmatch(self.name):
            raise UserError(
                f"design name {self.name!r} must be letters, digits and _ . + - "
                "(it names generated files)"
            )
        where = f"design {self.name}"
        check_identifier(f"{where}: bitstream", *self.bitstreams)
        for fname in ("clock_mhz", "hls_target_mhz"):
            value = getattr(self, fname)
            if value is None and fname == "hls_target_mhz":
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not CLOCK_RANGE_MHZ[0] <= value <= CLOCK_RANGE_MHZ[1]
            ):
                raise UserError(
                    f"{where}: {fname} = {value!r} must be a clock in "
                    f"[{CLOCK_RANGE_MHZ[0]:g}, {CLOCK_RANGE_MHZ[1]:g}] MHz"
                )
        if self.launch_scope not in LAUNCH_SCOPES:
            raise UserError(
                f"{where}: " + choices_message("launch_scope", self.launch_scope, LAUNCH_SCOPES)
            )
        if self.prompt_mode not in PROMPT_MODES:
            raise UserError(
                f"{where}: " + choices_message("prompt_mode", self.prompt_mode, PROMPT_MODES)
            )
        for fname in ("max_seq_len", "resident_layers"):
            value = getattr(self, fname)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{where}: {fname} must be a positive integer, got {value!r}")
        if self.resident_layers > self.model.layers:
            raise UserError(
                f"{where}: resident_layers = {self.resident_layers} exceeds the model's "
                f"{self.model.layers} layers ({self.model.name}); valid: 1 to {self.model.layers}"
            )
        missing = [p for p in PHASES if p not in self.phases]
        if missing:
            raise UserError(f"{where}: no bitstream bound to phase {missing[0]!r}")
        for phase, binding in self.phases.items():
            if phase not in PHASES:
                raise UserError(f"{where}: " + choices_message("phase", phase, PHASES))
            if binding.bitstream not in self.bitstreams:
                raise UserError(
                    f"{where}: phase {phase} uses bitstream "
                    f"{binding.bitstream!r}, which is not defined; defined: "
                    f"{', '.join(sorted(self.bitstreams))}"
                )
        for bname, g in self.bitstreams.items():
            for node in g.nodes:
                check_identifier(f"{where}: bitstream {bname}: kernel", node)
                checked = check_kernel(node, dict(g.nodes[node]))
                g.nodes[node].clear()
                g.nodes[node].update(checked)
            names: set[str] = set()
            for src, dst, attrs in g.edges(data=True):
                fname = attrs.get("name", "")
                if not fname or fname in names:
                    raise UserError(
                        f"{where}: bitstream {bname}: FIFO {src} -> {dst} needs a "
                        f"unique name, got {fname!r}"
                    )
                check_identifier(f"{where}: bitstream {bname}: FIFO {src} -> {dst}", fname)
                names.add(fname)
                for key in ("depth_words", "width_bits"):
                    value = attrs.get(key)
                    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                        raise UserError(
                            f"{where}: fifo {fname}: {key} must be a positive "
                            f"integer, got {value!r}"
                        )
            self._check_parts(bname, g)
            self._check_streams(bname, g)

    def _check_parts(self, bname: str, g: nx.DiGraph) -> None:
        """The layer's kernels are one connected graph; the head's (if any) another, with
        no FIFO between the two."""
        where = f"design {self.name}"
        if not isinstance(self.head, tuple) or not all(isinstance(n, str) for n in self.head):
            raise UserError(f"{where}: head must be a list of kernel names, got {self.head!r}")
        head = set(self.head)
        missing = sorted(head - set(g.nodes))
        if missing:
            raise UserError(f"{where}: bitstream {bname} lacks head kernel {missing[0]!r}")
        for src, dst, name in g.edges(data="name"):
            if (src in head) != (dst in head):
                raise UserError(
                    f"{where}: bitstream {bname}: FIFO {name} joins head kernel "
                    f"{src if src in head else dst} to the layer; the head runs once per "
                    "step, apart from the layers"
                )
        for part in ([n for n in g.nodes if n not in head], sorted(head)):
            if part and not nx.is_weakly_connected(g.subgraph(part)):
                parts = sorted(sorted(c) for c in nx.weakly_connected_components(g))
                raise UserError(f"{where}: bitstream {bname} is not connected: {parts}")

    def layer_graph(self, phase: str) -> nx.DiGraph:
        """The kernels of ``phase``'s bitstream that every layer launches (the head's left
        out)."""
        g = self.graph(phase)
        if not self.head:
            return g
        head = set(self.head)
        return g.subgraph([n for n in g.nodes if n not in head]).copy()

    def head_graph(self, phase: str) -> nx.DiGraph | None:
        """The head's kernels in ``phase``'s bitstream, or None."""
        if not self.head:
            return None
        return self.graph(phase).subgraph(self.head).copy()

    def graph(self, phase: str) -> nx.DiGraph:
        """The graph of the bitstream that runs ``phase``."""
        if phase not in self.phases:
            raise UserError(choices_message("phase", phase, PHASES))
        return self.bitstreams[self.phases[phase].bitstream]

    def tokens_per_pack(self, phase: str) -> int:
        return self.phases[phase].tokens_per_pack

    def fifo(self, bitstream: str, name: str) -> tuple[str, str]:
        """The (src, dst) edge of the FIFO called ``name`` in ``bitstream``."""
        g = self.bitstreams[bitstream]
        for src, dst, fname in g.edges(data="name"):
            if fname == name:
                return src, dst
        raise KeyError(name)

    def fifo_names(self) -> list[str]:
        return sorted({n for g in self.bitstreams.values() for _, _, n in g.edges(data="name")})

    def kernel_names(self) -> list[str]:
        return sorted({n for g in self.bitstreams.values() for n in g.nodes})

    def copy(self) -> Design:
        """A deep copy whose graphs can be changed without touching this design (a copy of
        a frozen design is not frozen)."""
        graphs = {b: _editable_copy(g) for b, g in self.bitstreams.items()}
        out = copy.copy(self)
        object.__setattr__(out, "_frozen", False)
        out.bitstreams = graphs
        out.phases = dict(self.phases)
        out.notes = dict(self.notes)
        return out

    def freeze(self) -> Design:
        """Validate, then make the design read-only: its fields and its graphs' structure
        and attributes can no longer change (``copy`` gives a design to edit)."""
        if self.frozen:
            return self
        self.validate()
        for g in self.bitstreams.values():
            nodes = g._node  # networkx keeps each node's and edge's attributes in one dict
            for n, a in list(nodes.items()):
                nodes[n] = MappingProxyType(dict(a))
            for u, v, a in list(g.edges(data=True)):
                proxy = MappingProxyType(dict(a))
                g._succ[u][v] = proxy
                g._pred[v][u] = proxy
            nx.freeze(g)
        object.__setattr__(self, "_frozen", True)
        return self

    @property
    def frozen(self) -> bool:
        return bool(self.__dict__.get("_frozen", False))

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_frozen", False):
            raise AttributeError(f"design {self.name} is frozen; change a copy()")
        object.__setattr__(self, name, value)

    def crosses_slr(self, bitstream: str, src: str, dst: str) -> bool:
        g = self.bitstreams[bitstream]
        return bool(g.nodes[src]["slr"] != g.nodes[dst]["slr"])


def _editable_copy(g: nx.DiGraph) -> nx.DiGraph:
    """A copy of ``g`` with its own attribute dicts, in the same node, successor and
    predecessor order (a kernel reads its inputs in predecessor order)."""
    return prefixed_copy(g, "")


def prefixed_copy(g: nx.DiGraph, prefix: str, into: nx.DiGraph | None = None) -> nx.DiGraph:
    """Copy ``g`` into ``into`` (a new graph by default) with ``prefix`` before every
    kernel and FIFO name, keeping node, successor and predecessor order."""
    h = nx.DiGraph() if into is None else into
    h.graph.update(g.graph)
    for n, a in g.nodes(data=True):
        h.add_node(prefix + n, **a)
    for u, nbrs in g.succ.items():
        for v, a in nbrs.items():
            h._succ[prefix + u][prefix + v] = dict(a)
            if prefix and "name" in a:
                h._succ[prefix + u][prefix + v]["name"] = prefix + a["name"]
    for v, nbrs in g.pred.items():
        for u in nbrs:
            h._pred[prefix + v][prefix + u] = h._succ[prefix + u][prefix + v]
    return h


def add_kernel(g: nx.DiGraph, name: str, kind: str, slr: int, **params: Any) -> None:
    """Add a kernel node (validated later by :meth:`Design.validate`)."""
    if name in g:
        raise ValueError(f"kernel {name} added twice")
    g.add_node(name, kind=kind, slr=slr, **params)


def add_fifo(
    g: nx.DiGraph, src: str, dst: str, depth_words: int, width_bits: int, name: str | None = None
) -> None:
    """Add a FIFO edge ``src -> dst``; its name defaults to ``<src>_to_<dst>``."""
    if g.has_edge(src, dst):
        raise ValueError(f"FIFO {src} -> {dst} added twice")
    g.add_edge(
        src, dst, name=name or f"{src}_to_{dst}", depth_words=depth_words, width_bits=width_bits
    )


def find_kernel(design: Design, name: str) -> list[tuple[str, dict[str, Any]]]:
    """Every (bitstream, attributes) pair where kernel ``name`` exists."""
    return [(b, g.nodes[name]) for b, g in design.bitstreams.items() if name in g]


def kernel_attr(design: Design, phase: str, name: str) -> dict[str, Any]:
    """Attributes of kernel ``name`` in the bitstream serving ``phase``."""
    g = design.graph(phase)
    if name not in g:
        raise UserError(f"design {design.name}: phase {phase} has no kernel {name!r}")
    return dict(g.nodes[name])
