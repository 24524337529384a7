"""Design files: save a :class:`Design` to TOML and load it back, exactly.

The file maps one-to-one onto the design: ``[model]`` (the shapes the design was built
for), ``[phases.<phase>]`` (bitstream and tokens per pack), one table per kernel under
``[bitstreams.<b>.kernels.<name>]`` and an array ``[[bitstreams.<b>.fifos]]``. Unknown keys
are errors.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import networkx as nx
import tomli_w

from spatialsim.design.graph import Design, PhaseBinding
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_text
from spatialsim.tomlio import parse_toml, read_text
from spatialsim.workload.models import ModelConfig

_TOP = (
    "name",
    "description",
    "clock_mhz",
    "hls_target_mhz",
    "launch_scope",
    "prompt_mode",
    "head",
    "max_seq_len",
    "resident_layers",
    "model",
    "notes",
    "phases",
    "bitstreams",
)
_FIFO_KEYS = ("name", "src", "dst", "depth_words", "width_bits")
# "input": the FIFO's place among its consumer's inputs (0 first). A kernel reads its
# inputs in that order (a residual adds a to b), so a file keeps it; files without it use
# the order the FIFOs are listed in.
_FIFO_OPTIONAL = ("input",)


def design_to_dict(design: Design) -> dict[str, Any]:
    """The TOML-ready mapping of a design (kernel order and FIFO order preserved)."""
    bitstreams: dict[str, Any] = {}
    for bname, g in design.bitstreams.items():
        kernels = {
            n: {k: list(v) if isinstance(v, tuple) else v for k, v in a.items()}
            for n, a in g.nodes(data=True)
        }
        fifos = [
            {
                "name": a["name"],
                "src": s,
                "dst": t,
                "depth_words": a["depth_words"],
                "width_bits": a["width_bits"],
                "input": list(g.pred[t]).index(s),
            }
            for s, t, a in g.edges(data=True)
        ]
        bitstreams[bname] = {"kernels": kernels, "fifos": fifos}
    hls = {} if design.hls_target_mhz is None else {"hls_target_mhz": float(design.hls_target_mhz)}
    return {
        "name": design.name,
        "description": design.description,
        "clock_mhz": float(design.clock_mhz),
        **hls,
        "launch_scope": design.launch_scope,
        "prompt_mode": design.prompt_mode,
        **({"head": list(design.head)} if design.head else {}),
        "max_seq_len": design.max_seq_len,
        "resident_layers": design.resident_layers,
        # a field a model does not have (None: no RoPE base, no epsilon given) is left out
        "model": {k: v for k, v in dataclasses.asdict(design.model).items() if v is not None},
        "notes": dict(design.notes),
        "phases": {p: dataclasses.asdict(b) for p, b in design.phases.items()},
        "bitstreams": bitstreams,
    }


def dumps_design(design: Design) -> str:
    return "# spatialsim design file\n" + tomli_w.dumps(design_to_dict(design))


def save_design(design: Design, path: Path) -> None:
    atomic_write_text(path, dumps_design(design))


def _keys(
    table: Any, allowed: tuple[str, ...], where: str, origin: str, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise UserError(f"{origin}: {where} must be a table")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise UserError(
            f"{origin}: unknown key {where}.{unknown[0]}; valid keys: {', '.join(allowed)}"
        )
    missing = [k for k in required if k not in table]
    if missing:
        raise UserError(f"{origin}: missing key {where}.{missing[0]}")
    return table


def design_from_dict(data: dict[str, Any], origin: str) -> Design:
    """Build a design from parsed TOML; ``origin`` names the file in error messages."""
    _keys(
        data,
        _TOP,
        "design",
        origin,
        required=("name", "clock_mhz", "max_seq_len", "model", "phases", "bitstreams"),
    )
    model_fields = tuple(f.name for f in dataclasses.fields(ModelConfig))
    optional = ("norm_kind", "norm_eps", "rope_theta", "tied_embeddings")  # newer, defaulted
    required = tuple(f for f in model_fields if f not in optional)
    model = ModelConfig(**_keys(data["model"], model_fields, "model", origin, required=required))
    phases = {}
    for phase, binding in _keys(data["phases"], ("prefill", "decode"), "phases", origin).items():
        b = _keys(
            binding,
            ("bitstream", "tokens_per_pack"),
            f"phases.{phase}",
            origin,
            required=("bitstream", "tokens_per_pack"),
        )
        phases[phase] = PhaseBinding(**b)
    bitstreams = {}
    for bname, body in _keys(
        data["bitstreams"], tuple(data["bitstreams"]), "bitstreams", origin
    ).items():
        b = _keys(
            body, ("kernels", "fifos"), f"bitstreams.{bname}", origin, required=("kernels", "fifos")
        )
        g = nx.DiGraph()
        for kname, attrs in _keys(
            b["kernels"], tuple(b["kernels"]), f"bitstreams.{bname}.kernels", origin
        ).items():
            if not isinstance(attrs, dict):
                raise UserError(f"{origin}: bitstreams.{bname}.kernels.{kname} must be a table")
            g.add_node(kname, **attrs)
        if not isinstance(b["fifos"], list):
            raise UserError(f"{origin}: bitstreams.{bname}.fifos must be an array of tables")
        inputs: dict[tuple[str, str], int] = {}
        for i, fifo in enumerate(b["fifos"]):
            f = _keys(
                fifo,
                _FIFO_KEYS + _FIFO_OPTIONAL,
                f"bitstreams.{bname}.fifos[{i}]",
                origin,
                required=_FIFO_KEYS,
            )
            if "input" in f:
                pos = f["input"]
                if isinstance(pos, bool) or not isinstance(pos, int) or not 0 <= pos < 1024:
                    raise UserError(
                        f"{origin}: fifo {f.get('name')!r}: input must be an integer 0 to "
                        f"1023 (its place among its consumer's inputs), got {pos!r}"
                    )
                inputs[(f["src"], f["dst"])] = pos
            for end in ("src", "dst"):
                if f[end] not in g:
                    raise UserError(
                        f"{origin}: fifo {f['name']}: {end} kernel {f[end]!r} is "
                        f"not defined in bitstream {bname}"
                    )
            if g.has_edge(f["src"], f["dst"]):
                raise UserError(f"{origin}: two FIFOs from {f['src']} to {f['dst']}")
            g.add_edge(
                f["src"],
                f["dst"],
                name=f["name"],
                depth_words=f["depth_words"],
                width_bits=f["width_bits"],
            )
        for node in g.nodes:  # each kernel's inputs in the order the file gives
            order = list(g._pred[node])
            if any((u, node) in inputs for u in order):
                ranked = sorted(
                    order, key=lambda u: (inputs.get((u, node), 1 << 20), order.index(u))
                )
                g._pred[node] = {u: g._pred[node][u] for u in ranked}
        bitstreams[bname] = g
    try:
        return Design(
            name=data["name"],
            description=data.get("description", ""),
            clock_mhz=data["clock_mhz"],
            max_seq_len=data["max_seq_len"],
            resident_layers=data.get("resident_layers", 1),
            model=model,
            phases=phases,
            bitstreams=bitstreams,
            notes=dict(data.get("notes", {})),
            hls_target_mhz=data.get("hls_target_mhz"),
            launch_scope=data.get("launch_scope", "layer"),
            prompt_mode=data.get("prompt_mode", "packed"),
            head=_names(data.get("head", []), origin),
        )
    except UserError as exc:
        raise UserError(f"{origin}: {exc}") from None


def _names(value: Any, origin: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{origin}: head must be a list of kernel names, got {value!r:.80}")
    return tuple(value)


def loads_design(text: str, origin: str) -> Design:
    return design_from_dict(parse_toml(text, origin), origin)


def load_design(path: Path) -> Design:
    return loads_design(read_text(path, "design file"), str(path))
