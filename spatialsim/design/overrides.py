"""Design overrides (``set``): change any kernel parameter or FIFO depth of a design by name.

Syntax: ``kernel.<name>.<param>=<value>``, ``kind.<kind>.<param>=<value>`` (every kernel
of that kind, e.g. ``kind.gemv.order=column``), ``fifo.<name>.depth=<value>`` (or
``.width``), ``design.clock_mhz=<value>``, ``design.resident_layers=<value>``,
``design.head=false`` (leave the model's head off the card: the host computes it, as the
paper's latency model counts layers only). Values are TOML literals (``8``, ``2.5``,
``true``, ``["HBM[3]", "HBM[4]"]``); anything else is a string.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from typing import Any

from spatialsim.design.graph import Design
from spatialsim.design.kernels import KINDS, check_param
from spatialsim.errors import UserError

_FIFO_FIELDS = {
    "depth": "depth_words",
    "depth_words": "depth_words",
    "width": "width_bits",
    "width_bits": "width_bits",
}
_DESIGN_FIELDS = (
    "clock_mhz",
    "hls_target_mhz",
    "launch_scope",
    "prompt_mode",
    "resident_layers",
)


def parse_value(text: str) -> Any:
    """A TOML literal, or the text itself when it is not one."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_setting(item: str) -> tuple[str, Any]:
    """``"target=value"`` as ``(target, value)``, the value a TOML literal or text."""
    if "=" not in item:
        raise UserError(
            f"set {item!r}: expected <target>=<value>, e.g. "
            "kernel.ffn1.cols=32 or fifo.ffn_residual_bypass.depth=16",
            field="set",
        )
    key, _, value = item.partition("=")
    return key.strip(), parse_value(value.strip())


def apply_overrides(design: Design, items: list[str]) -> Design:
    """A copy of ``design`` with every ``"target=value"`` item applied, in order."""
    return apply_settings(design, [parse_setting(item) for item in items])


def apply_settings(
    design: Design, settings: Sequence[tuple[str, Any]], every_kind: bool = True
) -> Design:
    """A copy of ``design`` with every ``(target, value)`` applied, validated, in order.

    A ``kind.<kind>.<param>`` target the design has no kernel of, or a
    ``kernel.<name>.<param>`` target whose kernel it lacks or whose kind has no such
    parameter, is refused (a request's ``set`` that would change nothing); with
    ``every_kind`` False it is skipped, as when a calibration profile's structure, fitted
    over several designs (a board's W8A8 GEMVs, an HLS report's W4A8 arrays), meets one of
    them."""
    if not settings:
        return design
    out = design.copy()
    for key, value in settings:
        value = list(value) if isinstance(value, tuple) else value
        item = f"{key}={_literal(value)}"
        path = key.split(".")
        if path[0] == "kernel" and len(path) == 3:
            _set_kernel(out, path[1], path[2], value, item, strict=every_kind)
        elif path[0] == "kind" and len(path) == 3:
            _set_kind(out, path[1], path[2], value, item, every_kind)
        elif path[0] == "fifo" and len(path) == 3:
            _set_fifo(out, path[1], path[2], value, item)
        elif path == ["design", "head"]:
            _set_head(out, value, item)
        elif path[0] == "design" and len(path) == 2 and path[1] in _DESIGN_FIELDS:
            setattr(
                out,
                path[1],
                float(value)
                if path[1] in ("clock_mhz", "hls_target_mhz")
                and isinstance(value, int)
                and not isinstance(value, bool)
                else value,
            )
        else:
            raise UserError(
                f"set {item!r}: unknown target {'.'.join(path)!r}; valid: "
                "kernel.<name>.<param>, kind.<kind>.<param>, fifo.<name>.depth, "
                "fifo.<name>.width, " + ", ".join(f"design.{f}" for f in (*_DESIGN_FIELDS, "head")),
                field="set",
            )
    try:
        out.validate()
    except UserError as exc:
        raise UserError(f"after set: {exc}", field="set") from None
    return out


def _set_head(out: Design, value: Any, item: str) -> None:
    """``design.head=false`` removes the head's kernels; ``true`` keeps them (a design
    cannot grow a head it was not built with)."""
    if not isinstance(value, bool):
        raise UserError(f"set {item!r}: design.head takes true or false", field="set")
    if value:
        if not out.head:
            raise UserError(
                f"set {item!r}: design {out.name} has no head to keep (its template leaves "
                "the head to the host)",
                field="set",
            )
        return
    for g in out.bitstreams.values():
        g.remove_nodes_from([n for n in out.head if n in g])
    out.head = ()


def _literal(value: Any) -> str:
    """How a value is written after ``=`` (TOML: true, "text", [..])."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    return repr(value)


def _set_kernel(
    design: Design, name: str, param: str, value: Any, item: str, strict: bool = True
) -> None:
    """Set ``param`` on kernel ``name`` in every bitstream that has it. Not ``strict`` (a
    calibrated structure fitted over several designs meeting one of them), a kernel this
    design lacks, or whose kind has no such parameter, is left alone."""
    hosts = [(b, g) for b, g in design.bitstreams.items() if name in g]
    if not strict and not any(
        param in KINDS[g.nodes[name]["kind"]] or param == "slr" for _, g in hosts
    ):
        return
    if not hosts:
        raise UserError(
            f"set {item!r}: design {design.name} has no kernel {name!r}; "
            f"kernels: {', '.join(design.kernel_names())}",
            field="set",
        )
    applied = 0
    for _, g in hosts:
        attrs = g.nodes[name]
        if param in KINDS[attrs["kind"]] or param == "slr":
            attrs[param] = check_param(name, attrs["kind"], param, value)
            applied += 1
    if not applied:
        kinds = sorted({g.nodes[name]["kind"] for _, g in hosts})
        valid = sorted({p for k in kinds for p in KINDS[k]} | {"slr"})
        raise UserError(
            f"set {item!r}: kernel {name} ({', '.join(kinds)}) has no parameter "
            f"{param!r}; valid: {', '.join(valid)}",
            field="set",
        )


def _set_kind(
    design: Design, kind_name: str, param: str, value: Any, item: str, required: bool = True
) -> None:
    if kind_name not in KINDS:
        raise UserError(
            f"set {item!r}: no kernel kind {kind_name!r}; kinds: {', '.join(sorted(KINDS))}",
            field="set",
        )
    if param not in KINDS[kind_name]:
        raise UserError(
            f"set {item!r}: kind {kind_name} has no parameter {param!r}; valid: "
            f"{', '.join(sorted(KINDS[kind_name]))}",
            field="set",
        )
    applied = 0
    for g in design.bitstreams.values():
        for name, attrs in g.nodes(data=True):
            if attrs["kind"] == kind_name:
                attrs[param] = check_param(name, kind_name, param, value)
                applied += 1
    if not applied and required:
        used = sorted(
            {a["kind"] for g in design.bitstreams.values() for _, a in g.nodes(data=True)}
        )
        raise UserError(
            f"set {item!r}: design {design.name} has no kernel of kind {kind_name}; its "
            f"kinds: {', '.join(used)}",
            field="set",
        )


def _set_fifo(design: Design, name: str, field: str, value: Any, item: str) -> None:
    if field not in _FIFO_FIELDS:
        raise UserError(
            f"set {item!r}: a FIFO has no field {field!r}; valid: depth, width", field="set"
        )
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(
            f"set {item!r}: fifo {name}.{field} must be a positive integer, got {value!r}",
            field="set",
        )
    hits = 0
    for g in design.bitstreams.values():
        for _, _, attrs in g.edges(data=True):
            if attrs["name"] == name:
                attrs[_FIFO_FIELDS[field]] = value
                hits += 1
    if not hits:
        raise UserError(
            f"set {item!r}: design {design.name} has no FIFO {name!r}; FIFOs: "
            f"{', '.join(design.fifo_names())}",
            field="set",
        )
