"""Structural choices of a design, and a search over them by evidence.

Real builds differ in structure as well as in constants: each GEMV's loop order, whether a
systolic array hands a pack to its consumer block by block or whole, where the softmax
writes its row, how the host launches the kernels. Every such choice is a kernel parameter
with a fixed set of values (:data:`STRUCTURAL`) or a design field, settable per kernel
(``kernel.ffn2.order=column``), per kind (``kind.gemv.order=column``) or per design
(``design.launch_scope=region``).

:func:`axes` lists every per-kernel choice a set of designs has. :func:`search` finds the
combination with the highest evidence greedily, from the structure as built. Each pass
scores every change of one choice by the likelihood of the data at the parameters' prior
values (one prediction, no fit: at the incumbent's fitted values a parameter may already
have bent to make up for the structure, and would hide the change that explains the data
instead), fits the best :data:`BEAM` of them from their priors, and keeps
the best fitted change if it raises the evidence by more than :data:`MIN_GAIN`; it stops
when no change does or the budget of fits is spent. A change that moves no prediction
cannot change the evidence and is never fitted: the structure as built keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from spatialsim.calibration.fit import Alternative, FitResult, Observation, screen_score
from spatialsim.design.graph import Design

# kind -> its structural parameters (each a fixed set of values in the kind's schema):
#  gemv.order          'row' buffers the input vector, then streams weights row by row;
#                      'column' consumes the input as it arrives (input-stationary)
#  linear.emit         'block': each block's outputs leave as the next block computes;
#                      'pack': the pack's outputs leave together when it is done
#  attn_matmul.emit    as linear.emit, for Q.K^T and softmax.V
#  softmax.output      'streamed': probabilities leave as the exp-and-sum loop computes
#                      them; 'buffered': the row is stored, then written in a second loop
STRUCTURAL: dict[str, tuple[str, ...]] = {
    "gemv": ("order",),
    "linear": ("emit",),
    "attn_matmul": ("emit",),
    "softmax": ("output",),
}
DESIGN_CHOICES = {"design.launch_scope": ("region", "layer", "step")}
DEFAULT_BUDGET = 40
BEAM = 2  # changes fitted per pass: the best by their screening score
# A change is kept only when it raises the log evidence by more than this (a Bayes factor
# above e): a choice the data cannot see keeps its value as built.
MIN_GAIN = 1.0
MOVES_NOTHING = 1e-9  # relative change of every prediction below which a choice is idle

Settings = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Axis:
    """One structural choice: its target, its values, and its value as built."""

    target: str
    values: tuple[Any, ...]
    built: Any


def axes(designs: Sequence[Design], launch: bool = True) -> list[Axis]:
    """Every per-kernel structural choice of ``designs`` (a kernel is one axis even when
    several designs have it; its value as built is the first design's), plus the launch
    scope when ``launch``."""
    from spatialsim.design.kernels import KINDS

    found: dict[str, Axis] = {}
    for design in designs:
        for g in design.bitstreams.values():
            for name, a in g.nodes(data=True):
                for param in STRUCTURAL.get(a["kind"], ()):
                    target = f"kernel.{name}.{param}"
                    choices = KINDS[a["kind"]][param].choices or ()
                    if target not in found and len(choices) > 1:
                        found[target] = Axis(target, tuple(choices), a[param])
    out = sorted(found.values(), key=lambda x: x.target)
    if launch and designs:
        for target, values in DESIGN_CHOICES.items():
            out.append(Axis(target, values, getattr(designs[0], target.split(".", 1)[1])))
    return out


def label(settings: Settings) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings) or "as built"


@dataclass
class SearchResult:
    """The structures the search fitted, best first, and how it went."""

    alternatives: list[Alternative]
    fits: int
    screened: int  # changes not fitted: they moved no prediction
    passes: int

    def to_json(self) -> dict[str, Any]:
        """What the profile's ``[structure.search]`` records."""
        return {
            "fits": self.fits,
            "screened": self.screened,
            "passes": self.passes,
            "margin": self.margin,
        }

    @property
    def margin(self) -> float:
        """Log evidence of the chosen structure over the runner-up (0 with one fitted)."""
        if len(self.alternatives) < 2:
            return 0.0
        return self.alternatives[0].result.log_evidence - self.alternatives[1].result.log_evidence


def search(
    all_axes: list[Axis],
    observations: Callable[[Settings], list[Observation]],
    fit_one: Callable[[Settings], FitResult],
    start: dict[str, float],
    budget: int = DEFAULT_BUDGET,
    beam: int = BEAM,
) -> SearchResult:
    """Greedy ascent of the evidence over ``all_axes`` (see the module docstring);
    ``fit_one(settings)`` fits one structure and ``observations(settings)`` gives its
    observations; ``start`` holds the parameters' prior values the screening predicts at.
    At most ``budget`` fits."""
    if budget < 1 or beam < 1:
        raise ValueError("a search needs a budget and a beam of at least one fit")
    current: dict[str, Any] = {}  # target -> value, only where it differs from as built
    fitted: dict[Settings, FitResult] = {}

    def key(choice: dict[str, Any]) -> Settings:
        return tuple(sorted(choice.items()))

    best = fitted[()] = fit_one(())
    screened, passes = 0, 0
    while len(fitted) < budget:
        passes += 1
        base = [o.predict(start) for o in observations(key(current))]
        scored: list[tuple[float, dict[str, Any]]] = []
        for axis in all_axes:
            for value in axis.values:
                if value == current.get(axis.target, axis.built):
                    continue
                choice = {**current, axis.target: value}
                if value == axis.built:
                    del choice[axis.target]
                if key(choice) in fitted:
                    continue
                obs = observations(key(choice))
                moved = [o.predict(start) for o in obs]
                if all(
                    abs(m - b) <= MOVES_NOTHING * max(abs(b), 1e-300)
                    for m, b in zip(moved, base, strict=True)
                ):
                    screened += 1
                    continue
                scored.append((screen_score(obs, moved), choice))
        scored.sort(key=lambda t: -t[0])
        trials = []
        for _, choice in scored[:beam]:
            if len(fitted) >= budget:
                break
            fitted[key(choice)] = fit_one(key(choice))
            trials.append((fitted[key(choice)].log_evidence, choice))
        if not trials:
            break
        top, choice = max(trials, key=lambda t: t[0])
        if top <= best.log_evidence + MIN_GAIN:
            break
        current, best = choice, fitted[key(choice)]
    chosen = key(current)
    others = sorted(
        ((s, r) for s, r in fitted.items() if s != chosen), key=lambda kv: -kv[1].log_evidence
    )
    alternatives = [Alternative(label(s), s, r) for s, r in [(chosen, best), *others]]
    return SearchResult(alternatives, len(fitted), screened, passes)


__all__ = ["Axis", "SearchResult", "axes", "label", "search"]
