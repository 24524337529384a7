"""Kernel kinds, one module each: parameters, work, cost estimate, process body, export.

Importing the package registers the built-in kinds; :data:`REGISTRY` maps each kind's name
to its :class:`~spatialsim.kinds.registry.KindSpec`. A new kind is a new module that calls
:func:`~spatialsim.kinds.registry.register` (docs/design-decisions.md).
"""

from spatialsim.kinds import (  # noqa: F401  (imported to register the built-in kinds)
    activation,
    attention,
    buffers,
    collective,
    gemv,
    head,
    layernorm,
    linear,
    loaders,
    overlay,
    residual,
    rope,
    softmax,
)
from spatialsim.kinds.registry import REGISTRY, KindSpec, kind, register

__all__ = ["REGISTRY", "KindSpec", "kind", "register"]
