"""Fit the simulator's parameters to measurements with scipy's least_squares.

A parameter is a ``CostParams`` field (``cost.<name>``), a platform memory field
(``hbm.<name>``, ``ddr.<name>``) or a kernel parameter shared by a class of kernels of the
design (``design.block_overhead_cycles``: the arrays' fill/drain per block;
``design.reduction_ii``: the fp32 reductions' II). An :class:`Observation` is one
measured number and a function predicting it from parameter values, through the real cost
models or the simulator. The fit minimises relative residuals (predicted - observed) / observed.

Before fitting, the parameters the data cannot determine are fixed at their current
values, each with the reason: no observation depends on it (a zero Jacobian column), it
cannot be told apart from others (a near-zero singular value; the lower-priority one is
fixed), or there would be no more observations than parameters. Confidence intervals come
from the Jacobian at the solution: cov = s^2 (J^T J)^-1 with s^2 = SSR / (m - n), and the
95 % interval uses Student's t with m - n degrees of freedom. Leave-one-out refits predict
every observation from the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatialsim.costmodel.params import CostParams
from spatialsim.design.graph import Design
from spatialsim.errors import UserError
from spatialsim.hardware.platform import Platform

Values = dict[str, float]


@dataclass(frozen=True)
class ParamSpec:
    name: str
    lower: float
    upper: float
    doc: str


# What calibration may fit, in priority order (earlier wins when two cannot be separated).
PARAMS: dict[str, ParamSpec] = {
    p.name: p
    for p in (
        ParamSpec("design.block_overhead_cycles", 0, 1024, "array fill/drain cycles per block"),
        ParamSpec("design.reduction_ii", 1, 64, "II of the fp32 reductions (softmax, LayerNorm)"),
        ParamSpec("cost.array_prologue_cycles", 0, 1e4, "systolic array per-row prologue"),
        ParamSpec("cost.array_prologue_divisor", 1, 1e4, "K / divisor part of that prologue"),
        ParamSpec("cost.softmax_exp_depth_cycles", 0, 1e4, "softmax exp-and-sum loop depth"),
        ParamSpec("cost.layernorm_norm_depth_cycles", 0, 1e4, "LayerNorm normalise loop depth"),
        ParamSpec("design.act_depth_cycles", 1, 1e4, "GeLU / SwiGLU pipeline depth"),
        ParamSpec("cost.softmax_out_depth_cycles", 0, 1e4, "buffered softmax output depth"),
        ParamSpec("cost.row_store_cycles_per_word", 0, 8, "extra cycles per word of writers"),
        ParamSpec("cost.row_store_overhead_cycles", 0, 1e4, "per-row overhead of writers"),
        ParamSpec("cost.axi_call_cycles", 0, 1e4, "m_axi loader/writer first-access latency"),
        ParamSpec("cost.dataflow_overhead_cycles", 0, 1e5, "region dataflow overhead"),
        ParamSpec("cost.call_overhead_cycles", 0, 100, "function entry and exit"),
        ParamSpec("cost.gemv_pass_overhead_cycles", 0, 1e4, "GEMV pass fill and drain"),
        ParamSpec("cost.attn_gemv_overhead_cycles", 0, 1e4, "decode attention pipeline"),
        ParamSpec("hbm.read_bw_gbps", 0.1, 100, "one HBM channel's sequential read rate"),
        ParamSpec("hbm.write_bw_gbps", 0.1, 100, "one HBM channel's sequential write rate"),
        ParamSpec("hbm.latency_ns", 1, 1e4, "HBM idle read latency (page hit)"),
        ParamSpec("hbm.switch_penalty_ns", 0, 1e3, "latency added by the HBM switch"),
        ParamSpec("hbm.small_burst_bw_gbps", 0.01, 100, "HBM rate of 32-byte bursts"),
        ParamSpec("ddr.read_bw_gbps", 0.1, 100, "one DDR channel's read rate"),
        ParamSpec("ddr.write_bw_gbps", 0.1, 100, "one DDR channel's write rate"),
        ParamSpec("cost.launch_overhead_us", 0, 1e5, "host time per layer launch"),
        ParamSpec("cost.slr_crossing_cycles", 0, 1e3, "inter-SLR link latency"),
        ParamSpec("cost.axi_outstanding_reads", 1, 256, "m_axi reads in flight per port"),
        ParamSpec("cost.axi_burst_beats", 1, 256, "m_axi read burst length in beats"),
    )
}


# design parameter -> the kernel kinds that carry it
DESIGN_KINDS = {
    "block_overhead_cycles": ("linear", "attn_matmul"),
    "reduction_ii": ("softmax", "layernorm"),
    "act_depth_cycles": ("activation",),
}


def current_values(cost: CostParams, platform: Platform, design: Design | None = None) -> Values:
    """Every registered parameter's value in ``cost``, ``platform`` and ``design`` (the
    first kernel carrying a design parameter gives its value)."""
    out: Values = {}
    for name in PARAMS:
        group, attr = name.split(".", 1)
        if group == "design":
            if design is not None:
                for g in design.bitstreams.values():
                    found = [
                        a[attr] for _, a in g.nodes(data=True) if a["kind"] in DESIGN_KINDS[attr]
                    ]
                    if found:
                        out[name] = float(found[0])
                        break
        elif group == "cost":
            out[name] = float(getattr(cost, attr))
        elif group == "hbm" and platform.hbm is not None:
            out[name] = float(getattr(platform.hbm, attr))
        elif group == "ddr" and platform.ddr is not None:
            value = getattr(platform.ddr, attr)
            if value is not None:
                out[name] = float(value)
    return out


def apply(values: Values, cost: CostParams, platform: Platform) -> tuple[CostParams, Platform]:
    """``cost`` and ``platform`` with ``values`` (parameter name -> value) applied."""
    cost_changes = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("cost.")}
    hbm: dict[str, Any] = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("hbm.")}
    ddr: dict[str, Any] = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("ddr.")}
    unknown = [k for k in values if k not in PARAMS]
    values = {k: v for k, v in values.items() if not k.startswith("design.")}
    if unknown:
        raise UserError(f"unknown calibration parameter {unknown[0]!r}; valid: {', '.join(PARAMS)}")
    cost = cost.replace(**cost_changes) if cost_changes else cost
    if hbm and platform.hbm is not None:
        platform = dataclasses.replace(platform, hbm=dataclasses.replace(platform.hbm, **hbm))
    if ddr and platform.ddr is not None:
        platform = dataclasses.replace(platform, ddr=dataclasses.replace(platform.ddr, **ddr))
    return cost, platform


def apply_design(values: Values, design: Design) -> Design:
    """A copy of ``design`` with the ``design.*`` values set on every kernel of the class
    (kept as numbers, not re-validated: a fitted II may be fractional)."""
    changes = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("design.")}
    if not changes:
        return design
    out = design.copy()
    for g in out.bitstreams.values():
        for _, a in g.nodes(data=True):
            for attr, value in changes.items():
                if a["kind"] in DESIGN_KINDS[attr]:
                    a[attr] = value
    return out


@dataclass(frozen=True)
class Observation:
    """One measured number and how the model predicts it from parameter values."""

    label: str
    source: str
    observed: float
    unit: str
    predict: Callable[[Values], float]


@dataclass
class Residual:
    label: str
    source: str
    observed: float
    predicted: float
    unit: str
    loo_predicted: float | None = None

    @property
    def error(self) -> float:
        return (self.predicted - self.observed) / self.observed

    @property
    def loo_error(self) -> float | None:
        if self.loo_predicted is None:
            return None
        return (self.loo_predicted - self.observed) / self.observed


@dataclass
class FitResult:
    """Fitted values with standard errors and 95 % intervals; what stayed fixed and why."""

    values: Values
    stderr: Values
    ci95: dict[str, tuple[float, float]]
    covariance: np.ndarray
    fitted: list[str]
    fixed: dict[str, str]
    residuals: list[Residual] = field(default_factory=list)
    dof: int = 0

    def summary(self) -> dict[str, Any]:
        errs = np.array([r.error for r in self.residuals])
        loo = np.array([r.loo_error for r in self.residuals if r.loo_error is not None])
        return {
            "observations": len(self.residuals),
            "fitted": len(self.fitted),
            "rms_error": float(np.sqrt(np.mean(errs**2))) if len(errs) else 0.0,
            "max_abs_error": float(np.max(np.abs(errs))) if len(errs) else 0.0,
            "loo_rms_error": float(np.sqrt(np.mean(loo**2))) if len(loo) else None,
            "loo_max_abs_error": float(np.max(np.abs(loo))) if len(loo) else None,
        }


def _residuals(
    obs: list[Observation], names: list[str], base: Values
) -> Callable[[np.ndarray], np.ndarray]:
    def fn(x: np.ndarray) -> np.ndarray:
        values = {**base, **dict(zip(names, (float(v) for v in x), strict=True))}
        return np.array([(o.predict(values) - o.observed) / o.observed for o in obs])

    return fn


def _jacobian(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    r0 = fn(x)
    cols = []
    for i in range(len(x)):
        h = max(abs(x[i]) * 1e-4, 1e-6)
        xp = x.copy()
        xp[i] += h
        cols.append((fn(xp) - r0) / h)
    return np.array(cols).T if cols else np.zeros((len(r0), 0))


def identifiable(
    obs: list[Observation], candidates: list[str], base: Values
) -> tuple[list[str], dict[str, str]]:
    """Split ``candidates`` into parameters the observations determine and fixed ones."""
    fixed: dict[str, str] = {}
    names = [c for c in candidates if c in base]
    for c in candidates:
        if c not in base:
            fixed[c] = "the platform has no such memory"
    x = np.array([base[n] for n in names], float)
    jac = _jacobian(_residuals(obs, names, base), x)
    keep = []
    for i, n in enumerate(names):
        if not np.any(np.abs(jac[:, i]) * max(abs(x[i]), 1.0) > 1e-9):
            fixed[n] = "no measurement depends on it"
        else:
            keep.append(i)
    while keep:
        cols = jac[:, keep] * np.array([max(abs(x[i]), 1.0) for i in keep])
        cols = cols / np.linalg.norm(cols, axis=0)
        _, s, vt = np.linalg.svd(cols, full_matrices=False)
        if s[-1] > 1e-6 * s[0]:
            break
        weights = np.abs(vt[-1])
        involved = [keep[j] for j in np.argsort(-weights)[:2]]
        drop = max(involved)  # the later (lower-priority) of the two
        other = min(involved)
        fixed[names[drop]] = f"cannot be told apart from {names[other]} with these measurements"
        keep.remove(drop)
    while keep and len(keep) >= len(obs):
        drop = keep.pop()
        fixed[names[drop]] = f"not enough measurements ({len(obs)}) for {len(keep) + 1} parameters"
    return [names[i] for i in keep], fixed


def fit(
    obs: list[Observation], candidates: list[str], base: Values, leave_one_out: bool = True
) -> FitResult:
    """Fit the identifiable ``candidates`` to ``obs``, starting from ``base``.

    A parameter whose 95 % interval comes out wider than its own size (the data barely
    move it) is also fixed at its default, and the rest are refitted.
    """
    if not obs:
        raise UserError(
            "nothing to calibrate against: give board runs, HLS reports or HBM measurements"
        )
    names, fixed = identifiable(obs, candidates, base)
    while True:
        result = _fit_once(obs, names, fixed, base)
        weak = [
            (result.ci95[n][1] - result.ci95[n][0])
            / 2
            / max(abs(result.values[n]), abs(base[n]), 1e-12)
            for n in names
        ]
        if not names or max(weak) <= 1.0:
            break
        worst = names[int(np.argmax(weak))]
        half = (result.ci95[worst][1] - result.ci95[worst][0]) / 2
        fixed[worst] = f"too uncertain: its 95 % interval (+-{half:.3g}) is wider than its value"
        names = [n for n in names if n != worst]
    if leave_one_out and names and len(obs) > len(names) + 1:
        for i, o in enumerate(obs):
            rest = obs[:i] + obs[i + 1 :]
            sub = _loo_fit(rest, names, result.values)
            result.residuals[i].loo_predicted = o.predict(sub)
    return result


def _fit_once(
    obs: list[Observation], names: list[str], fixed: dict[str, str], base: Values
) -> FitResult:
    from scipy import optimize, stats  # only a fit pays for scipy's import

    values = dict(base)
    cov = np.zeros((len(names), len(names)))
    stderr: Values = {}
    ci: dict[str, tuple[float, float]] = {}
    dof = len(obs) - len(names)
    if names:
        lo = np.array([PARAMS[n].lower for n in names])
        hi = np.array([PARAMS[n].upper for n in names])
        x0 = np.clip(np.array([base[n] for n in names], float), lo, hi)
        fn = _residuals(obs, names, base)
        sol = optimize.least_squares(
            fn, x0, bounds=(lo, hi), x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12
        )
        values.update(dict(zip(names, (float(v) for v in sol.x), strict=True)))
        jac = _jacobian(fn, sol.x)
        ssr = float(np.sum(fn(sol.x) ** 2))
        s2 = ssr / dof if dof > 0 else 0.0
        cov = s2 * np.linalg.pinv(jac.T @ jac)
        t = float(stats.t.ppf(0.975, dof)) if dof > 0 else float("inf")
        for i, n in enumerate(names):
            se = float(np.sqrt(max(cov[i, i], 0.0)))
            stderr[n] = se
            ci[n] = (values[n] - t * se, values[n] + t * se)
    result = FitResult(values, stderr, ci, cov, list(names), dict(fixed), dof=dof)
    result.residuals = [
        Residual(o.label, o.source, o.observed, o.predict(values), o.unit) for o in obs
    ]
    return result


def _loo_fit(obs: list[Observation], names: list[str], start: Values) -> Values:
    from scipy import optimize

    lo = np.array([PARAMS[n].lower for n in names])
    hi = np.array([PARAMS[n].upper for n in names])
    fn = _residuals(obs, names, start)
    sol = optimize.least_squares(
        fn, np.array([start[n] for n in names]), bounds=(lo, hi), x_scale="jac"
    )
    return {**start, **dict(zip(names, (float(v) for v in sol.x), strict=True))}
