"""Kernel kinds of a spatial design and the parameters each kind accepts.

Every node of a design graph has a ``kind`` registered in :mod:`spatialsim.kinds` and the
parameters that kind's dataclass declares; the functions here validate them (type, range,
allowed values) with messages that name the kernel, the parameter, the bad value and what
is allowed, and turn a node into its typed parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from spatialsim.errors import UserError, choices_message
from spatialsim.kinds import REGISTRY, kind
from spatialsim.kinds.base import (
    PORT_RE,
    KernelParams,
    Param,
    check_complete,
    check_value,
    with_defaults,
)

__all__ = [
    "KINDS",
    "PORT_RE",
    "Param",
    "check_kernel",
    "check_param",
    "is_handoff",
    "kernel_params",
    "macs_per_cycle",
    "weight_bits_per_cycle",
]


class _Schemas(Mapping[str, dict[str, Param]]):
    """Kind name -> its parameter schema, read from the registry each time (so kinds
    registered later are seen)."""

    def __getitem__(self, name: str) -> dict[str, Param]:
        spec = REGISTRY.get(name)
        if spec is None:
            raise KeyError(name)
        return spec.schema

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)


KINDS: Mapping[str, dict[str, Param]] = _Schemas()


def check_param(kernel: str, kind_name: str, name: str, value: Any) -> Any:
    """Validate one parameter of ``kernel``; return it (lists become tuples)."""
    return check_value(kernel, kind_name, kind(kind_name).schema, name, value)


def check_kernel(name: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """Validate a whole kernel's attributes (``kind`` plus every parameter of that kind)."""
    kind_name = attrs.get("kind")
    if kind_name not in REGISTRY:
        raise UserError(f"kernel {name}: " + choices_message("kind", kind_name, REGISTRY))
    spec = REGISTRY[kind_name]
    out: dict[str, Any] = {"kind": kind_name}
    for key, value in attrs.items():
        if key != "kind":
            out[key] = check_value(name, kind_name, spec.schema, key, value)
    check_complete(name, kind_name, spec.schema, out)
    return with_defaults(spec.schema, out)


def kernel_params(name: str, attrs: Mapping[str, Any]) -> KernelParams:
    """The typed parameters of node ``name`` (its kind's dataclass)."""
    return kind(attrs["kind"]).of(name, attrs)  # type: ignore[no-any-return]


def is_handoff(kind_name: str) -> bool:
    """Whether the kind's output is an on-chip buffer handed over whole when complete (a
    PIPO: K, V, Q), not a stream; the engine and the region estimates treat those alike."""
    return kind(kind_name).handoff


def macs_per_cycle(attrs: Mapping[str, Any], tokens_per_pack: int) -> int:
    """Peak MACs per cycle of a matrix kernel when packs hold ``tokens_per_pack`` tokens.

    A systolic array's rows hold the tokens of a pack, so with fewer tokens than rows
    (decode with single-token packs) only that many rows do useful work.
    """
    return kernel_params("?", attrs).macs_per_cycle(tokens_per_pack)


def weight_bits_per_cycle(attrs: Mapping[str, Any]) -> int:
    """Weight bits a matrix kernel consumes per cycle while streaming (one word per cycle)."""
    return kernel_params("?", attrs).weight_bits_per_cycle()
