"""Calibration profiles: the fitted parameters, their uncertainty and the evidence, in TOML.

A profile is human-readable: every fitted parameter with its value, standard error, 95 %
interval and the default it replaced; every parameter the data could not determine with
the reason; the covariance of each fit; and every measurement's residual and leave-one-out
error. ``spatialsim run --calibration PROFILE`` applies the values and propagates the
covariance to the predicted latencies (first order: g^T C g, with g from re-simulating
with each fitted parameter moved by one standard error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from spatialsim.calibration.fit import PARAMS, FitResult, Values, apply, apply_design
from spatialsim.costmodel.params import CostParams
from spatialsim.design.graph import Design
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_text
from spatialsim.hardware.platform import Platform
from spatialsim.tomlio import builtin_text, parse_toml, read_text

BUILTIN_PROFILES = ("u280",)


@dataclass
class Profile:
    platform: str
    values: Values
    stderr: Values
    blocks: list[tuple[list[str], np.ndarray]]
    fixed: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def apply(self, cost: CostParams, platform: Platform) -> tuple[CostParams, Platform]:
        return apply(self.values, cost, platform)

    def apply_design(self, design: Design) -> Design:
        return apply_design(self.values, design)


def to_toml(
    platform: str, fits: dict[str, FitResult], defaults: Values, meta: dict[str, Any]
) -> str:
    doc: dict[str, Any] = {
        "profile": {"platform": platform, **meta},
        "parameters": {},
        "fixed": {},
        "covariance": {},
        "summary": {},
        "residuals": [],
    }
    for source, res in fits.items():
        for n in res.fitted:
            lo, hi = res.ci95[n]
            doc["parameters"][n] = {
                "value": res.values[n],
                "stderr": res.stderr[n],
                "ci95": [lo, hi],
                "default": defaults[n],
                "from": source,
                "meaning": PARAMS[n].doc,
            }
        for n, why in res.fixed.items():
            if n not in doc["parameters"]:
                doc["fixed"][n] = f"{source}: {why}"
        if res.fitted:
            doc["covariance"][source] = {"names": res.fitted, "matrix": res.covariance.tolist()}
        doc["summary"][source] = {k: v for k, v in res.summary().items() if v is not None}
        for r in res.residuals:
            row = {
                "source": source,
                "label": r.label,
                "observed": r.observed,
                "predicted": r.predicted,
                "unit": r.unit,
                "error": r.error,
            }
            if r.loo_error is not None:
                row["loo_error"] = r.loo_error
            doc["residuals"].append(row)
    header = (
        "# spatialsim calibration profile (spatialsim calibrate). Parameters: fitted "
        "value, standard error,\n# 95 % interval and the default it replaced. "
        "[fixed]: what the data could not determine.\n"
    )
    return header + tomli_w.dumps(doc)


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
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{origin}: not a calibration profile (missing or bad {exc})") from None
    unknown = [n for n in values if n not in PARAMS]
    if unknown:
        raise UserError(f"{origin}: unknown parameter {unknown[0]!r}; valid: {', '.join(PARAMS)}")
    return Profile(
        platform, values, stderr, blocks, dict(doc.get("fixed", {})), dict(doc["profile"])
    )


def propagate(profile: Profile, outputs: Callable[[Values], list[float]]) -> list[float]:
    """First-order standard deviation of each output from the parameter covariance."""
    base = outputs(profile.values)
    var = np.zeros(len(base))
    for names, cov in profile.blocks:
        grads = []
        for n in names:
            h = profile.stderr.get(n, 0.0) or abs(profile.values[n]) * 1e-3 or 1e-3
            moved = dict(profile.values)
            moved[n] = profile.values[n] + h
            grads.append((np.array(outputs(moved)) - np.array(base)) / h)
        g = np.array(grads)  # [params, outputs]
        var += np.einsum("po,pq,qo->o", g, cov, g)
    return [float(np.sqrt(max(v, 0.0))) for v in var]
