"""What explains the gap: each measurement's change from the uncalibrated model, by cause.

For every observation of a fit, the prediction before calibration (the structure as built,
every parameter at its default) and after it (the chosen structure, the posterior values)
differ; this module splits that change into the part each cause makes on its own:

- ``structure``: the chosen structure instead of the one as built, at the defaults;
- one part per parameter the calibration moved: that parameter alone at its posterior
  value, the rest at their defaults, in the chosen structure;
- ``interaction``: what is left (causes that only act together, such as a host cost that
  shows only once the HBM efficiency has made a kernel the bottleneck).

One prediction per cause and observation; the simulations are cached by the observations'
own predictors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spatialsim.calibration.fit import Observation, Values

Settings = tuple[tuple[str, Any], ...]
MOVED = 1e-9  # relative change below which a parameter did not move


@dataclass(frozen=True)
class Explained:
    """One observation: what it measured, the prediction before and after calibration, and
    each cause's part of the change (largest first)."""

    label: str
    unit: str
    observed: float
    before: float
    after: float
    parts: tuple[tuple[str, float], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "unit": self.unit,
            "observed": self.observed,
            "before": self.before,
            "after": self.after,
            "parts": dict(self.parts),
        }


def explain(
    observations: Callable[[Settings], list[Observation]],
    settings: Settings,
    defaults: Values,
    posterior: Values,
) -> list[Explained]:
    """Each observation's change from ``defaults`` in the structure as built to
    ``posterior`` in ``settings``, by cause (see the module docstring)."""
    start = {k: defaults.get(k, v) for k, v in posterior.items()}
    moved = [k for k, v in posterior.items() if abs(v - start[k]) > MOVED * max(abs(start[k]), 1.0)]
    built, chosen = observations(()), observations(settings)
    # cause by cause over every observation: each cause's simulations and estimates are
    # computed once and read by every observation that depends on them
    before = [o.predict(start) for o in built]
    at_start = [o.predict(start) for o in chosen]
    after = [o.predict(posterior) for o in chosen]
    alone = {k: [o.predict({**start, k: posterior[k]}) for o in chosen] for k in moved}
    out = []
    for i, ob in enumerate(chosen):
        parts: dict[str, float] = {}
        if settings:
            parts["structure"] = at_start[i] - before[i]
        for k in moved:
            parts[k] = alone[k][i] - at_start[i]
        parts["interaction"] = (after[i] - before[i]) - sum(parts.values())
        ranked = tuple(sorted(parts.items(), key=lambda kv: -abs(kv[1])))
        out.append(Explained(ob.label, ob.unit, ob.observed, before[i], after[i], ranked))
    return out


__all__ = ["Explained", "explain"]
