"""The registry of kernel kinds: a kind name mapped to everything about that kind.

A :class:`KindSpec` holds, for one kind, its parameter dataclass, its work per launch, its
isolated cost estimate (loop by loop), its SimPy process body and its HLS export hook.
:func:`register` refuses a spec that lacks any part. The design schema, the cost model, the
engine, the analytical model and the HLS export all look kinds up here, so adding a kind is
writing one module that calls :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spatialsim.costmodel.loops import Estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.errors import UserError, choices_message
from spatialsim.kinds.base import KernelParams, KernelProcess, KernelWork, Param, Proc


@dataclass(frozen=True)
class KindSpec:
    """Everything spatialsim knows about one kernel kind.

    - ``params``: the frozen parameter dataclass (its fields are the design schema);
    - ``work``: MACs, weight bytes and elements of one launch;
    - ``estimate``: the isolated latency, loop by loop, as Vitis HLS reports it;
    - ``body``: the engine's process body for one launch (spends the estimate's cycles);
    - ``hls``: the values the kind contributes to the generated HLS configuration;
    - ``resources``: DSP, LUT, FF, BRAM36 and URAM of one instance (its memory ports' AXI
      adapters are added by the design's resource check);
    - ``handoff``: the kind's output is an on-chip buffer handed over whole when complete
      (K, V, Q), not a stream.
    """

    name: str
    doc: str
    params: type[KernelParams]
    work: Callable[[Any, Work], KernelWork]
    estimate: Callable[[str, Any, Work, CostParams], Estimate]
    body: Callable[[KernelProcess], Proc]
    hls: Callable[[Any], dict[str, Any]]
    resources: Callable[[Any], dict[str, float]]
    handoff: bool = False

    @property
    def schema(self) -> dict[str, Param]:
        return self.params.schema()

    def of(self, kernel: str, attrs: Mapping[str, Any]) -> Any:
        """The typed, validated parameters of node ``kernel``; the same attributes give
        the same (frozen) parameters, checked once per process."""
        try:
            key = (kernel, tuple(attrs.items()))
            hit = _CHECKED.get(key)
        except TypeError:  # an unhashable value: check it where it stands
            return self.params.from_attrs(kernel, attrs)
        if hit is None:
            hit = self.params.from_attrs(kernel, attrs)
            if len(_CHECKED) >= 65536:
                _CHECKED.clear()
            _CHECKED[key] = hit
        return hit

    def partial(self, kernel: str, attrs: Mapping[str, Any]) -> Any:
        """Parameters from a mapping that may hold only some of them (cost queries)."""
        return self.params.from_partial(kernel, attrs)


# (kernel, attributes) -> validated parameters: designs are rebuilt for every sweep point
# and checked in several places, with mostly the same kernels
_CHECKED: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}

PARTS = ("params", "work", "estimate", "body", "hls", "resources")
REGISTRY: dict[str, KindSpec] = {}


def missing_parts(spec: KindSpec) -> list[str]:
    """The parts ``spec`` lacks (empty for a complete kind)."""
    out = [part for part in PARTS if part != "params" and not callable(getattr(spec, part))]
    if not (isinstance(spec.params, type) and issubclass(spec.params, KernelParams)):
        out.insert(0, "params")
    elif spec.name != spec.params.KIND:
        out.insert(0, f"params (its KIND is {spec.params.KIND!r}, not {spec.name!r})")
    return out


def register(spec: KindSpec) -> KindSpec:
    """Add ``spec`` to the registry; refuse an incomplete spec or a second one of a name."""
    missing = missing_parts(spec)
    if missing:
        raise ValueError(f"kernel kind {spec.name!r} lacks: {', '.join(missing)}")
    if spec.name in REGISTRY and REGISTRY[spec.name] is not spec:
        raise ValueError(f"kernel kind {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a kind (for tests that register a toy one)."""
    REGISTRY.pop(name, None)


def kind(name: str) -> KindSpec:
    """The registered kind ``name``."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise UserError(choices_message("kernel kind", name, REGISTRY))
    return spec
