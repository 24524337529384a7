"""Calibration profiles: the posterior of the parameters, the structure chosen, the model
discrepancy and the evidence, in TOML.

A profile is human-readable: every parameter with its posterior value, standard deviation,
95 % interval, prior and the default it replaced, and whether the data moved it or it stayed
at its prior (with the reason); the structural settings chosen and every alternative's
evidence; the covariance of each fit; the model discrepancy; and every measurement's
residual and leave-one-out error. ``spatialsim run --calibration PROFILE`` applies the
values and the structure and gives 95 % intervals: the covariance propagated to the
predicted latencies (first order: g^T C g, with g from re-simulating with each parameter
moved by one standard deviation) plus, in quadrature, the board fit's discrepancy and
measurement noise relative to the prediction, so that an interval covers what the board
would measure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from spatialsim.calibration.fit import (
    PARAMS,
    Alternative,
    FitResult,
    Values,
    apply,
    apply_design,
)
from spatialsim.costmodel.params import CostParams
from spatialsim.design.graph import Design
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_text
from spatialsim.hardware.platform import Platform
from spatialsim.tomlio import builtin_text, parse_toml, read_text

BUILTIN_PROFILES = ("u280",)
PROFILE_HEADER = (
    "# spatialsim calibration profile (spatialsim calibrate). Parameters: posterior "
    "value, standard deviation,\n# 95 % interval, prior and the default it replaced; "
    "status says whether the data moved it.\n# [fixed]: what stayed at its prior, and "
    "why. [discrepancy]: relative model error beyond the noise.\n"
)


@dataclass
class Profile:
    platform: str
    values: Values
    stderr: Values
    blocks: list[tuple[list[str], np.ndarray]]
    fixed: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    settings: tuple[tuple[str, Any], ...] = ()
    discrepancy: float = 0.0  # relative, of the board fit
    noise: float = 0.0  # relative measurement noise of the board fit

    def apply(self, cost: CostParams, platform: Platform) -> tuple[CostParams, Platform]:
        return apply(self.values, cost, platform)

    def apply_design(self, design: Design) -> Design:
        from spatialsim.design.overrides import apply_settings

        if self.settings:
            design = apply_settings(design, list(self.settings), every_kind=False)
        built = self.meta.get("hls_design")
        if built is not None and design.name != built:
            # design.* values describe the kernels of the build they were fitted to (its
            # fill/drain, its reduction II, its GeLU depth), not another design's
            return design
        return apply_design(self.values, design)


def dumps(doc: dict[str, Any]) -> str:
    """The profile document as the TOML a profile file holds (every number finite: a
    non-finite one is a bug, never written)."""
    _all_finite(doc, "profile")
    return PROFILE_HEADER + tomli_w.dumps(doc)


def _all_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"non-finite number in {where}: {value}")
    if isinstance(value, dict):
        for k, v in value.items():
            _all_finite(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _all_finite(v, f"{where}[{i}]")


def profile_doc(
    platform: str,
    fits: dict[str, FitResult],
    defaults: Values,
    meta: dict[str, Any],
    structure: list[Alternative] | None = None,
) -> dict[str, Any]:
    """The profile as a document (what :func:`dumps` writes and the report plots read)."""
    doc: dict[str, Any] = {
        "profile": {"platform": platform, **meta},
        "parameters": {},
        "fixed": {},
        "covariance": {},
        "discrepancy": {},
        "summary": {},
        "residuals": [],
    }
    if structure:
        best = structure[0]
        doc["structure"] = {
            "settings": {k: v for k, v in best.settings},
            "alternatives": [
                {
                    "label": a.label,
                    "log_evidence": a.result.log_evidence,
                    "bic": a.result.bic,
                    "discrepancy": a.result.discrepancy,
                    "rms_error": a.result.summary()["rms_error"],
                    "chosen": a is best,
                }
                for a in structure
            ],
        }
    owner = {n: source for source, res in fits.items() for n in res.names}  # last one wins
    for source, res in fits.items():
        mine = [n for n in res.names if owner[n] == source]
        at_prior = res.fixed
        for n in mine:
            lo, hi = res.ci95[n]
            prior = res.priors[n]
            doc["parameters"][n] = {
                "value": res.values[n],
                "stderr": res.stderr[n],
                "ci95": [lo, hi],
                "default": defaults.get(n, res.values[n]),
                "from": source,
                "status": "at its prior" if n in at_prior else "fitted",
                "prior": prior.describe(),
                "prior_scale": prior.scale,
                "prior_center": prior.center,
                "prior_spread": prior.spread,
                "prior_ci95": list(prior.interval95()),
                "prior_source": prior.source,
                "meaning": PARAMS[n].doc,
            }
            if n in at_prior:
                doc["fixed"][n] = f"{source}: {at_prior[n]}"
        for n, why in res.unknown.items():
            doc["fixed"].setdefault(n, f"{source}: {why}")
        if mine:
            idx = [res.names.index(n) for n in mine]
            doc["covariance"][source] = {
                "names": mine,
                "matrix": res.covariance[np.ix_(idx, idx)].tolist(),
            }
        doc["discrepancy"][source] = {
            "relative": res.discrepancy,
            "noise": float(np.median([r.noise for r in res.residuals])) if res.residuals else 0.0,
        }
        doc["summary"][source] = {k: v for k, v in res.summary().items() if v is not None}
        for r in res.residuals:
            row = {
                "source": source,
                "label": r.label,
                "observed": r.observed,
                "predicted": r.predicted,
                "predicted_sd": r.predicted_sd,
                "unit": r.unit,
                "error": r.error,
            }
            if r.loo_error is not None:
                row["loo_error"] = r.loo_error
            doc["residuals"].append(row)
    return doc


def save(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def load(spec: str) -> Profile:
    """A built-in profile by name, or a profile file."""
    if spec in BUILTIN_PROFILES:
        text = builtin_text("spatialsim.calibration", f"{spec}.toml")
        origin = f"built-in profile {spec}"
    else:
        path = Path(spec)
        try:
            text = read_text(path, "calibration profile")
        except UserError as exc:
            raise UserError(
                f"calibration profile {spec!r}: {str(exc)[len(str(path)) + 2 :]}; "
                f"built-in: {', '.join(BUILTIN_PROFILES)}"
            ) from None
        origin = str(path)
    doc = parse_toml(text, origin)
    try:
        params = doc["parameters"]
        values = {n: float(p["value"]) for n, p in params.items()}
        stderr = {n: float(p.get("stderr", 0.0)) for n, p in params.items()}
        blocks = [
            (list(b["names"]), np.array(b["matrix"], float))
            for b in doc.get("covariance", {}).values()
        ]
        platform = str(doc["profile"]["platform"])
        settings = tuple(doc.get("structure", {}).get("settings", {}).items())
        board = doc.get("discrepancy", {}).get("board", {})
        discrepancy = float(board.get("relative", 0.0))
        noise = float(board.get("noise", 0.0))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{origin}: not a calibration profile (missing or bad {exc})") from None
    unknown = [n for n in values if n not in PARAMS]
    if unknown:
        raise UserError(f"{origin}: unknown parameter {unknown[0]!r}; valid: {', '.join(PARAMS)}")
    _check_numbers(origin, values, stderr, blocks, discrepancy, noise)
    return Profile(
        platform,
        values,
        stderr,
        blocks,
        dict(doc.get("fixed", {})),
        dict(doc["profile"]),
        settings,
        discrepancy,
        noise,
    )


def _check_numbers(
    origin: str,
    values: Values,
    stderr: Values,
    blocks: list[tuple[list[str], np.ndarray]],
    discrepancy: float,
    noise: float,
) -> None:
    """Refuse a profile whose numbers no fit could have written: values outside their
    parameter's range, non-finite or negative standard deviations, covariance blocks that
    are not square, not finite or name unknown parameters."""
    import math

    for n, v in values.items():
        spec = PARAMS[n]
        if not math.isfinite(v) or not spec.lower <= v <= spec.upper:
            raise UserError(
                f"{origin}: {n} value = {v!r} is out of range [{spec.lower:g}, {spec.upper:g}]"
            )
    for n, se in stderr.items():
        if not math.isfinite(se) or se < 0:
            raise UserError(f"{origin}: {n} stderr = {se!r} must be a finite number >= 0")
    for names, cov in blocks:
        if cov.ndim != 2 or cov.shape != (len(names), len(names)):
            raise UserError(
                f"{origin}: a covariance of {len(names)} parameters must be "
                f"{len(names)} x {len(names)}, got shape {tuple(cov.shape)}"
            )
        if not np.all(np.isfinite(cov)):
            raise UserError(f"{origin}: a covariance holds a non-finite number")
        missing = [n for n in names if n not in values]
        if missing:
            raise UserError(f"{origin}: the covariance names {missing[0]!r}, which has no value")
    covered = {n for names, _ in blocks for n in names}
    orphans = [n for n in values if n not in covered]
    if orphans:
        raise UserError(
            f"{origin}: parameter {orphans[0]!r} has no covariance: the profile is truncated "
            "or was edited; recreate it with spatialsim calibrate"
        )
    for what, x in (("discrepancy", discrepancy), ("noise", noise)):
        if not math.isfinite(x) or not 0 <= x < 10:
            raise UserError(f"{origin}: board {what} = {x!r} must be a finite number in [0, 10)")


def propagate(profile: Profile, outputs: Callable[[Values], list[float]]) -> list[float]:
    """First-order standard deviation of each output from the parameter covariance."""
    base = outputs(profile.values)
    var = np.zeros(len(base))
    for names, cov in profile.blocks:
        grads = []
        for n in names:
            h = profile.stderr.get(n, 0.0) or abs(profile.values[n]) * 1e-3 or 1e-3
            spec = PARAMS.get(n)
            if spec is not None and profile.values[n] + h > spec.upper:
                h = -h  # a parameter at its bound (an efficiency of 1) is moved down
            moved = dict(profile.values)
            moved[n] = profile.values[n] + h
            grads.append((np.array(outputs(moved)) - np.array(base)) / h)
        g = np.array(grads)  # [params, outputs]
        var += np.einsum("po,pq,qo->o", g, cov, g)
    var += (profile.discrepancy**2 + profile.noise**2) * np.array(base) ** 2
    return [float(np.sqrt(max(v, 0.0))) for v in var]
