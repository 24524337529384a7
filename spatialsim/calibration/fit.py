"""Bayesian calibration: the posterior of the simulator's parameters given measurements.

A parameter is a ``CostParams`` field (``cost.<name>``), a platform memory field
(``hbm.<name>``, ``ddr.<name>``) or a kernel parameter shared by a class of kernels of the
design (``design.block_overhead_cycles``: the arrays' fill/drain per block;
``design.reduction_ii``: the fp32 reductions' II). Every one has a prior
(:mod:`spatialsim.calibration.priors`). An :class:`Observation` is one measured number, its
relative measurement noise, and a function predicting it from parameter values through the
real cost models or the simulator.

:func:`fit` finds the maximum a posteriori (MAP) values with scipy's ``least_squares`` on
the prior-weighted residuals, in coordinates where each prior is normal (the logarithm for
positive quantities), and approximates the posterior by a Gaussian there (Laplace):
cov = (J^T W J + P)^-1, J the predictions' Jacobian, W the inverse noise variances, P the
prior precisions. Parameters the data do not constrain keep (nearly) their prior width and
are reported as at their prior; nothing is refused.

Residuals larger than the measurement noise are model discrepancy: a relative standard
deviation δ added in quadrature to every observation's noise, so the intervals widen by what
the model could not explain instead of pretending the parameters are certain. δ is a
parameter like the others, with a prior (:data:`DISCREPANCY_PRIOR`, half-normal) and
estimated jointly with them (the MAP of both), so "move a parameter within its prior" and
"blame the model" pay on the same scale; it also enters the evidence, integrated over its
posterior. Each fit reports its Laplace log evidence and BIC, which compare structural
alternatives (:func:`compare`), and the evidence of the two explanations taken alone
(:attr:`FitResult.explanations`). Leave-one-out refits predict every observation from the
others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatialsim.calibration.priors import PRIORS, Prior, from_posterior
from spatialsim.constants import Z95
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
        ParamSpec("cost.launch_overhead_us", 0, 1e5, "host time per launch (enqueue)"),
        ParamSpec("cost.wait_overhead_us", 0, 1e5, "host time per completion wait"),
        ParamSpec("cost.reconfig_ms", 0, 1e5, "prefill-to-decode bitstream load"),
        ParamSpec("cost.slr_crossing_cycles", 0, 1e3, "inter-SLR link latency"),
        ParamSpec("cost.axi_outstanding_reads", 1, 256, "m_axi reads in flight per port"),
        ParamSpec("cost.axi_burst_beats", 1, 256, "m_axi read burst length in beats"),
        ParamSpec("cost.hbm_efficiency", 0.01, 1, "share of an HBM channel's rate reached"),
        ParamSpec("cost.token_overhead_us", 0, 1e5, "host time per generated token"),
        ParamSpec("cost.link_efficiency", 0.01, 1, "share of an inter-card link's rate"),
        ParamSpec("cost.link_hop_latency_ns", 0, 1e7, "inter-card link latency per hop"),
        ParamSpec("cost.host_relay_us", 0, 1e6, "card-to-card transfer through the host"),
        ParamSpec("design.issue_cycles", 0, 1e6, "overlay: issue cost per instruction"),
        ParamSpec("design.sfu_cycles", 0, 1e4, "overlay: special-function latency"),
        # the batch-1 GPU model (spatialsim/analytical/gpu.py), fitted from GPU board runs
        ParamSpec("gpu.bandwidth_efficiency", 0.01, 1, "GPU: share of peak bandwidth reached"),
        ParamSpec("gpu.compute_efficiency", 0.001, 1, "GPU: share of peak tensor throughput"),
        ParamSpec("gpu.eager_launch_us", 0.1, 1000, "GPU: per-kernel cost in eager mode"),
        ParamSpec("gpu.graph_launch_us", 0.01, 1000, "GPU: per-kernel gap with CUDA graphs"),
        ParamSpec("gpu.eager_step_us", 0, 1e5, "GPU: host work per step, eager"),
        ParamSpec("gpu.graph_step_us", 0, 1e5, "GPU: host work per step, graphs"),
    )
}


# design parameter -> the kernel kinds that carry it
DESIGN_KINDS = {
    "block_overhead_cycles": ("linear", "attn_matmul"),
    "reduction_ii": ("softmax", "layernorm"),
    "act_depth_cycles": ("activation",),
    "issue_cycles": ("overlay",),
    "sfu_cycles": ("overlay",),
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
    """One measured number, its relative measurement noise (standard deviation over the
    value), and how the model predicts it from parameter values."""

    label: str
    source: str
    observed: float
    unit: str
    predict: Callable[[Values], float]
    noise: float = 0.01
    # the simulations the prediction reads (objects with ``prefetch``, e.g. a board run's
    # RunPredictor): a fit runs those it needs at many values at once on its executor
    sims: tuple[Any, ...] = ()


@dataclass
class Residual:
    label: str
    source: str
    observed: float
    predicted: float
    unit: str
    loo_predicted: float | None = None
    predicted_sd: float = 0.0  # parameters, noise and discrepancy, in the observation's unit
    noise: float = 0.0  # relative measurement noise

    @property
    def error(self) -> float:
        return (self.predicted - self.observed) / self.observed

    @property
    def loo_error(self) -> float | None:
        if self.loo_predicted is None:
            return None
        return (self.loo_predicted - self.observed) / self.observed


AT_PRIOR = 0.7  # posterior sd over prior sd above which the data have not moved it
SEEN = 0.995  # posterior sd over prior sd below which some measurement depends on it
ALREADY_EXPLAINED = 0.01  # δ at the prior values below which the priors explain the data
CONFOUNDED = 0.5  # |posterior correlation| from which the data trade two parameters off
# least_squares' tolerances on the step (in prior widths) and on the cost: finer than any
# interval the fit reports, coarse enough not to chase the piecewise simulated predictions
TOL = 1e-4
DELTA_SETTLED = 2e-3  # δ (relative error) moving less than this ends the alternation
# a structure search's quick fits rank structures: a thousandth of a prior width and a
# dozen steps settle an evidence to well under the 1-nat gain a change must show
QUICK_TOL = 1e-3
QUICK_NFEV = 8

# The discrepancy's prior: half-normal on the relative model error, scale 10 %. Kernel by
# kernel the cost model is within about 1.5 % of Vitis; a whole design adds what the
# composition gets wrong (FIFO interplay, HBM, the host), which for a structure that is
# right is a few percent. With a 10 % scale, 95 % of the prior lies below 19.6 %: the model
# may be blamed for a misfit of that size at a modest cost, and a larger one has to be
# earned by residuals no parameter within its prior can remove.
DISCREPANCY_PRIOR = 0.10
_DELTA_GRID = np.linspace(0.0, 1.0, 2001)[1:]  # the δ posterior's grid (relative error)


def _delta_terms(r: np.ndarray, noise_sd: np.ndarray, observed: np.ndarray, d: Any) -> Any:
    """Log likelihood of residuals ``r`` for relative discrepancy ``d`` (a number or an
    array of them), without the prior."""
    d = np.asarray(d, float)[..., None]
    v = np.maximum(noise_sd**2 + (d * observed) ** 2, 1e-300)
    return -0.5 * np.sum(r**2 / v + np.log(2 * np.pi * v), axis=-1)


def _delta_log_prior(d: Any) -> Any:
    """Log density of the half-normal prior of the discrepancy."""
    s = DISCREPANCY_PRIOR
    return np.log(np.sqrt(2 / np.pi) / s) - 0.5 * (np.asarray(d, float) / s) ** 2


def _delta_marginal(r: np.ndarray, noise_sd: np.ndarray, observed: np.ndarray) -> float:
    """log of the integral over δ of the likelihood times δ's prior (on a fine grid: the
    half-normal's mode at 0 defeats a Laplace approximation)."""
    ll = _delta_terms(r, noise_sd, observed, _DELTA_GRID) + _delta_log_prior(_DELTA_GRID)
    step = float(_DELTA_GRID[1] - _DELTA_GRID[0])
    top = float(np.max(ll))
    return top + float(np.log(np.sum(np.exp(ll - top)) * step))


@dataclass
class FitResult:
    """The posterior: MAP values, standard deviations and 95 % intervals, its covariance
    (parameter units), each parameter's prior and how much the data narrowed it, the
    discrepancy, and the evidence for comparing structures."""

    names: list[str]
    values: Values
    stderr: Values
    ci95: dict[str, tuple[float, float]]
    covariance: np.ndarray
    priors: dict[str, Prior]
    shrinkage: dict[str, float]
    residuals: list[Residual] = field(default_factory=list)
    discrepancy: float = 0.0
    log_likelihood: float = 0.0
    log_prior: float = 0.0
    log_evidence: float = 0.0
    effective_params: float = 0.0
    unknown: dict[str, str] = field(default_factory=dict)
    # log evidence of each explanation of the data: "parameters" (they move within their
    # priors, no discrepancy), "discrepancy" (they stay at their priors, the model is
    # blamed) and "both" (the fit itself); empty when the fit had no discrepancy
    explanations: dict[str, float] = field(default_factory=dict)
    prior_discrepancy: float = 0.0  # δ's MAP with the parameters at their prior values

    @property
    def preferred(self) -> str:
        """Which explanation the data prefer, in words, with the log Bayes factor against
        the runner-up (empty when the fit had no discrepancy)."""
        if len(self.explanations) < 2:
            return ""
        ranked = sorted(self.explanations.items(), key=lambda kv: -kv[1])
        (best, top), (second, nxt) = ranked[0], ranked[1]
        words = {
            "parameters": "parameters moved within their priors, no model discrepancy",
            "discrepancy": (
                "parameters at their prior values, which already explain the data"
                if self.prior_discrepancy < ALREADY_EXPLAINED
                else "parameters at their prior values and the gap put down to the model "
                f"({self.prior_discrepancy:.1%} discrepancy)"
            ),
            "both": "parameters moved and a model discrepancy",
        }
        return f"{words[best]} (log Bayes factor {top - nxt:.1f} over {second})"

    @property
    def fitted(self) -> list[str]:
        """Parameters the data constrained (posterior clearly narrower than the prior)."""
        return [n for n in self.names if self.shrinkage[n] < AT_PRIOR]

    @property
    def fixed(self) -> dict[str, str]:
        """Parameters the data left at their priors, with the reason."""
        out = dict(self.unknown)
        for n in self.names:
            if self.shrinkage[n] >= AT_PRIOR:
                out[n] = (
                    "at its prior: no measurement depends on it"
                    if self.shrinkage[n] > SEEN
                    else f"at its prior: the data narrow it only to {self.shrinkage[n]:.0%} "
                    "of the prior's width"
                )
        return out

    @property
    def confounded(self) -> list[tuple[str, str, float]]:
        """Pairs of parameters the data trade off against each other: both informed by some
        measurement, their posterior correlation beyond +-0.5 (a combination of the two
        is pinned better than either alone)."""
        seen = [i for i, n in enumerate(self.names) if self.shrinkage[n] < SEEN]
        sd = np.sqrt(np.maximum(np.diag(self.covariance), 1e-300))
        out = []
        for a, i in enumerate(seen):
            for j in seen[a + 1 :]:
                r = float(self.covariance[i, j] / (sd[i] * sd[j]))
                if abs(r) >= CONFOUNDED:
                    out.append((self.names[i], self.names[j], r))
        return sorted(out, key=lambda t: -abs(t[2]))

    @property
    def dof(self) -> float:
        return len(self.residuals) - self.effective_params

    @property
    def bic(self) -> float:
        """-2 log L + k log m with k the effective number of parameters the data determine
        (trace of 1 - posterior/prior variance) plus the discrepancy when fitted."""
        m = max(len(self.residuals), 1)
        k = self.effective_params + (1 if self.discrepancy > 0 else 0)
        return -2 * self.log_likelihood + k * float(np.log(m))

    def summary(self) -> dict[str, Any]:
        errs = np.array([r.error for r in self.residuals])
        loo = np.array([r.loo_error for r in self.residuals if r.loo_error is not None])
        return {
            "observations": len(self.residuals),
            "fitted": len(self.fitted),
            "at_prior": len(self.names) - len(self.fitted),
            "rms_error": float(np.sqrt(np.mean(errs**2))) if len(errs) else 0.0,
            "max_abs_error": float(np.max(np.abs(errs))) if len(errs) else 0.0,
            "loo_rms_error": float(np.sqrt(np.mean(loo**2))) if len(loo) else None,
            "loo_max_abs_error": float(np.max(np.abs(loo))) if len(loo) else None,
            "discrepancy": self.discrepancy,
            "log_evidence": self.log_evidence,
            "bic": self.bic,
            "explanations": dict(self.explanations),
            "confounded": [f"{a} ~ {b} ({r:+.2f})" for a, b, r in self.confounded],
        }


class _Problem:
    """The fit in prior coordinates: u = log(x) or x, standardised by the prior."""

    def __init__(
        self,
        obs: list[Observation],
        names: list[str],
        base: Values,
        priors: dict[str, Prior],
        executor: Any = None,
        quick: bool = False,
    ) -> None:
        self.obs, self.names, self.base = obs, names, base
        self.executor = executor
        self.quick = quick
        self.prior_discrepancy = 0.0
        # parameters no prediction depends on (see find_dead): no finite differences
        self.dead = np.zeros(len(names), bool)
        self.sims = list({id(s): s for o in obs for s in o.sims}.values())
        self.priors = [priors[n] for n in names]
        self.mu = np.array([p.mu for p in self.priors])
        self.s = np.array([p.spread for p in self.priors])
        lo = [
            max(PARAMS[n].lower, 1e-12) if p.scale == "log" else PARAMS[n].lower
            for n, p in zip(names, self.priors, strict=True)
        ]
        self.lo = np.array([p.to_u(v) for p, v in zip(self.priors, lo, strict=True)])
        self.hi = np.array(
            [p.to_u(PARAMS[n].upper) for n, p in zip(names, self.priors, strict=True)]
        )
        self.observed = np.array([o.observed for o in obs])
        self.noise_sd = np.array([o.noise * abs(o.observed) for o in obs])
        self._cache: dict[tuple[float, ...], np.ndarray] = {}

    def values(self, u: np.ndarray) -> Values:
        return {
            **self.base,
            **{n: p.from_u(float(x)) for n, p, x in zip(self.names, self.priors, u, strict=True)},
        }

    def prefetch(self, points: list[np.ndarray]) -> None:
        """Run the simulations the predictions at ``points`` need, all at once on the
        executor (each simulation keeps its result for the predictions to read)."""
        if self.executor is None or not self.sims:
            return
        from spatialsim.calibration.observations import prefetch  # the fit knows no engine

        prefetch(self.sims, [self.values(u) for u in points], self.executor)

    def predict(self, u: np.ndarray, obs: list[Observation] | None = None) -> np.ndarray:
        key = tuple(float(x) for x in u)
        if obs is None and key in self._cache:
            return self._cache[key]
        self.prefetch([u])
        vals = self.values(u)
        out = np.array([o.predict(vals) for o in (obs or self.obs)], float)
        if obs is None:
            self._cache[key] = out
        return out

    def find_dead(self, u: np.ndarray) -> None:
        """Mark the parameters that change no prediction when moved a prior width either
        way from ``u`` (a GEMV's overhead in a design without GEMVs): their Jacobian
        columns are zero without simulating them, and they stay at their priors."""
        points = []
        for j in range(len(u)):
            for sign in (1.0, -1.0):
                p = u.copy()
                p[j] = np.clip(p[j] + sign * self.s[j], self.lo[j], self.hi[j])
                points.append(p)
        self.prefetch([u, *points])
        p0 = self.predict(u)
        tol = 1e-12 * np.maximum(np.abs(p0), 1e-300)
        for j in range(len(u)):
            self.dead[j] = all(
                np.all(np.abs(self.predict(points[2 * j + k]) - p0) <= tol) for k in (0, 1)
            )

    def jacobian(self, u: np.ndarray) -> np.ndarray:
        """d prediction / d u, by forward differences of a twentieth of each prior's width
        (simulated predictions are piecewise: tiny steps would see only their steps)."""
        ups = self._steps(u)
        self.prefetch([u, *[up for j, up in enumerate(ups) if not self.dead[j]]])
        p0 = self.predict(u)
        cols = [
            np.zeros(len(self.obs)) if self.dead[j] else (self.predict(up) - p0) / (up[j] - u[j])
            for j, up in enumerate(ups)
        ]
        return np.array(cols).T if cols else np.zeros((len(self.obs), 0))

    def _steps(self, u: np.ndarray) -> list[np.ndarray]:
        """The points of :meth:`jacobian`'s forward differences at ``u``."""
        ups = []
        for j in range(len(u)):
            h = 0.05 * self.s[j]
            up = u.copy()
            up[j] = up[j] + h if up[j] + h <= self.hi[j] else up[j] - h
            ups.append(up)
        return ups

    def variance(self, delta: float) -> np.ndarray:
        return np.maximum(self.noise_sd**2 + (delta * self.observed) ** 2, 1e-300)

    def map(self, u0: np.ndarray, delta: float, keep: np.ndarray | None = None) -> np.ndarray:
        from scipy import optimize  # only a fit pays for scipy's import

        idx = np.arange(len(self.obs)) if keep is None else keep
        sd = np.sqrt(self.variance(delta))[idx]

        def fn(u: np.ndarray) -> np.ndarray:
            r = (self.predict(u)[idx] - self.observed[idx]) / sd
            return np.concatenate([r, (u - self.mu) / self.s])

        def jac(u: np.ndarray) -> np.ndarray:
            return np.vstack([self.jacobian(u)[idx] / sd[:, None], np.diag(1 / self.s)])

        if not len(u0):
            return u0
        x0 = np.clip(u0, self.lo, self.hi)
        tol, nfev = (QUICK_TOL, QUICK_NFEV) if self.quick else (TOL, None)
        sol = optimize.least_squares(
            fn,
            x0,
            jac=jac,
            bounds=(self.lo, self.hi),
            x_scale=self.s,
            xtol=tol,
            ftol=tol,
            max_nfev=nfev,
        )
        return np.asarray(sol.x, float)


def screen_score(obs: list[Observation], predicted: list[float]) -> float:
    """Log likelihood of ``obs`` at ``predicted`` with no discrepancy: how well a structure
    does at given values before any fit (a structure search ranks the changes worth
    fitting by it; with a free δ every large misfit would score alike)."""
    observed = np.array([o.observed for o in obs])
    noise_sd = np.array([o.noise * abs(o.observed) for o in obs])
    r = np.array(predicted) - observed
    return float(_delta_terms(r, noise_sd, observed, 0.0))


def _map_discrepancy(r: np.ndarray, noise_sd: np.ndarray, observed: np.ndarray) -> float:
    """The relative discrepancy that maximises the likelihood of residuals ``r`` times the
    discrepancy's prior."""
    from scipy import optimize

    if not len(r) or not np.any(noise_sd > 0):
        return 0.0

    def nlp(d: float) -> float:
        return -float(_delta_terms(r, noise_sd, observed, d) + _delta_log_prior(d))

    sol = optimize.minimize_scalar(nlp, bounds=(0.0, 1.0), method="bounded")
    d = float(sol.x)
    return d if nlp(d) < nlp(0.0) - 1e-9 else 0.0


def fit(
    obs: list[Observation],
    candidates: list[str],
    base: Values,
    leave_one_out: bool = True,
    priors: dict[str, Prior] | None = None,
    discrepancy: bool = True,
    executor: Any = None,
    start: Values | None = None,
    quick: bool = False,
    tries: int = 3,
) -> FitResult:
    """The posterior of ``candidates`` given ``obs``, the search starting from their
    priors' centres (or from ``start``'s values, e.g. a similar structure's posterior: the
    posterior is the same, it is found sooner). With an ``executor``
    (:class:`spatialsim.executor.Executor`), the simulations behind each step's
    predictions (every board run, at every finite-difference point) run on it together.
    ``quick`` (a structure search's many fits) skips the second start of the joint MAP and
    the evidence of the explanations taken alone; ``tries`` bounds the local searches from
    the scatter's best starts (see :func:`_scatter_starts`)."""
    if not obs:
        raise UserError(
            "nothing to calibrate against: give board runs, HLS reports or HBM measurements"
        )
    table = {**PRIORS, **(priors or {})}
    unknown = {c: "the platform has no such memory" for c in candidates if c not in base}
    names = [c for c in candidates if c in base]
    prob = _Problem(obs, names, base, table, executor, quick)
    u_init = prob.mu.copy()
    if start is not None:
        given = [start.get(n) for n in names]
        u_init = np.array(
            [
                u if v is None else p.to_u(v)
                for u, v, p in zip(u_init, given, prob.priors, strict=True)
            ]
        )
    u, delta, explanations = _joint_map(prob, discrepancy, u_init, quick, tries)
    var = prob.variance(delta)
    jac = prob.jacobian(u)
    cov_u = _posterior_cov(prob, jac, var)
    sd_u = np.sqrt(np.maximum(np.diag(cov_u), 0.0))
    grad = np.array([p.dx_du(float(x)) for p, x in zip(prob.priors, u, strict=True)])
    cov = cov_u * np.outer(grad, grad)
    values = prob.values(u)
    pred = prob.predict(u)
    r = pred - prob.observed
    loglik = float(-0.5 * np.sum(r**2 / var + np.log(2 * np.pi * var)))
    logprior = _log_prior(prob, u)
    occam = _occam(prob, cov_u)
    if discrepancy:
        # δ integrated over its posterior (at the parameters' MAP), not fixed at its MAP
        evidence = _delta_marginal(r, prob.noise_sd, prob.observed) + logprior + occam
        explanations["both"] = evidence
    else:
        evidence = loglik + logprior + occam
    shrink = {n: float(sd_u[i] / prob.s[i]) for i, n in enumerate(names)}
    pred_sd = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", jac, cov_u, jac), 0.0) + var)
    result = FitResult(
        names=names,
        values=values,
        stderr={n: float(np.sqrt(max(cov[i, i], 0.0))) for i, n in enumerate(names)},
        ci95={
            n: (p.from_u(u[i] - Z95 * sd_u[i]), p.from_u(u[i] + Z95 * sd_u[i]))
            for i, (n, p) in enumerate(zip(names, prob.priors, strict=True))
        },
        covariance=cov,
        priors={n: table[n] for n in names},
        shrinkage=shrink,
        discrepancy=delta,
        log_likelihood=loglik,
        log_prior=logprior,
        log_evidence=evidence,
        effective_params=float(sum(1 - min(v, 1.0) ** 2 for v in shrink.values())),
        unknown=unknown,
        explanations=explanations,
        prior_discrepancy=prob.prior_discrepancy,
    )
    result.residuals = [
        Residual(
            o.label,
            o.source,
            o.observed,
            float(pred[i]),
            o.unit,
            predicted_sd=float(pred_sd[i]),
            noise=o.noise,
        )
        for i, o in enumerate(obs)
    ]
    if leave_one_out and names and len(obs) > 1:
        uis = []
        for i in range(len(obs)):
            keep = np.array([j for j in range(len(obs)) if j != i])
            uis.append(prob.map(u, delta, keep))
        prob.prefetch(uis)
        for i, o in enumerate(obs):
            result.residuals[i].loo_predicted = float(o.predict(prob.values(uis[i])))
    return result


def _log_prior(prob: _Problem, u: np.ndarray) -> float:
    z = (u - prob.mu) / prob.s
    return float(-0.5 * np.sum(z**2) - np.sum(np.log(prob.s * np.sqrt(2 * np.pi))))


def _posterior_cov(prob: _Problem, jac: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Laplace covariance in prior coordinates: (J^T W J + P)^-1."""
    if not len(prob.names):
        return np.zeros((0, 0))
    precision = jac.T @ (jac / var[:, None]) + np.diag(1 / prob.s**2)
    return np.asarray(np.linalg.inv(precision), float)


def _occam(prob: _Problem, cov_u: np.ndarray) -> float:
    """The Laplace volume term: (k/2) log 2 pi + 1/2 log |cov|."""
    if not len(prob.names):
        return 0.0
    return 0.5 * len(prob.names) * float(np.log(2 * np.pi)) + 0.5 * float(
        np.linalg.slogdet(cov_u)[1]
    )


def _log_post(prob: _Problem, u: np.ndarray, delta: float) -> float:
    """Joint log posterior density of the parameters (prior coordinates) and δ."""
    r = prob.predict(u) - prob.observed
    like = float(_delta_terms(r, prob.noise_sd, prob.observed, delta))
    return like + _log_prior(prob, u) + float(_delta_log_prior(delta))


SCATTER_PER_PARAM = 4  # start points per parameter of the scatter start
SCATTER_MAX = 32
SCATTER_WIDTH = 2.0  # prior standard deviations each side of the centre


def _scatter_starts(prob: _Problem, u_init: np.ndarray) -> list[np.ndarray]:
    """Starts for the local search, best first: ``u_init`` and a Latin hypercube of points
    within two prior widths of it, ranked by log posterior at no discrepancy. Simulated
    predictions are piecewise (a kernel bound by HBM ignores its issue cost until it is
    bound by issue), so from one start a local search can stop where a parameter has no
    pull; the points are seeded, so a fit is reproducible."""
    k = len(prob.names)
    if not k:
        return [u_init]
    from scipy.stats import qmc

    n = min(SCATTER_MAX, SCATTER_PER_PARAM * k)
    unit = qmc.LatinHypercube(d=k, seed=0).random(n)
    points = [
        np.clip(u_init + (2 * x - 1) * SCATTER_WIDTH * prob.s, prob.lo, prob.hi) for x in unit
    ]
    candidates = [np.clip(u_init, prob.lo, prob.hi), *points]
    prob.prefetch(candidates)
    var = prob.variance(0.0)

    def score(u: np.ndarray) -> float:
        r = prob.predict(u) - prob.observed
        return float(-0.5 * np.sum(r**2 / var)) + _log_prior(prob, u)

    return sorted(candidates, key=score, reverse=True)


def _explained_by_noise(prob: _Problem, u: np.ndarray) -> bool:
    """Whether the predictions at ``u`` lie within three times the measurement noise."""
    r = prob.predict(u) - prob.observed
    return bool(np.all(np.abs(r) <= 3 * np.sqrt(prob.variance(0.0))))


def _alternate(
    prob: _Problem,
    u: np.ndarray,
    delta: float,
    discrepancy: bool,
    rounds: int = 4,
    mapped: bool = False,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Coordinate ascent on the joint posterior: the parameters' MAP at fixed δ, then δ's
    MAP at those parameters, until δ settles (at most ``rounds`` refits). ``mapped``: ``u``
    is already the parameters' MAP at ``delta``. Also returns the first step's parameters
    (their MAP at the starting δ)."""
    first = u = u if mapped else prob.map(u, delta)
    for _ in range(rounds):
        if not discrepancy:
            return u, 0.0, first
        r = prob.predict(u) - prob.observed
        new = _map_discrepancy(r, prob.noise_sd, prob.observed)
        if abs(new - delta) <= DELTA_SETTLED:
            return u, new, first
        delta = new
        u = prob.map(u, delta)
    return u, delta, first


def _joint_map(
    prob: _Problem,
    discrepancy: bool,
    u_init: np.ndarray,
    quick: bool = False,
    tries: int = 3,
) -> tuple[np.ndarray, float, dict[str, float]]:
    """The joint MAP of the parameters and δ, and the evidence of the two explanations taken
    alone. Two starts, since the posterior can have a basin for each: from ``u_init`` (the
    priors' centres unless a start was given) with no discrepancy (the parameters explain
    what they can), and from the priors with δ at its MAP there (the model is blamed); the
    higher joint posterior wins."""
    mu = prob.mu.copy()
    if not quick and len(u_init):
        prob.find_dead(np.clip(u_init, prob.lo, prob.hi))
    starts = [u_init] if quick else _scatter_starts(prob, u_init)
    u0 = prob.map(starts[0], 0.0)
    for other in starts[1:tries]:
        # a fit that leaves residuals beyond the noise may sit in a basin where some
        # parameter has no pull: the next-best starts get their local search too, and the
        # best of them (no discrepancy) goes on
        if _explained_by_noise(prob, u0):
            break
        u2 = prob.map(other, 0.0)
        if _log_post(prob, u2, 0.0) > _log_post(prob, u0, 0.0):
            u0 = u2
    u, delta, _ = _alternate(prob, u0, 0.0, discrepancy, 1 if quick else 4, mapped=True)
    if not discrepancy or quick:
        return u, delta, {}
    explanations: dict[str, float] = {}
    # parameters alone: the first step of the ascent is their MAP with δ = 0
    var0 = prob.variance(0.0)
    r0 = prob.predict(u0) - prob.observed
    explanations["parameters"] = (
        float(-0.5 * np.sum(r0**2 / var0 + np.log(2 * np.pi * var0)))
        + _log_prior(prob, u0)
        + _occam(prob, _posterior_cov(prob, prob.jacobian(u0), var0))
    )
    # the model alone: the parameters at their prior values, δ integrated over its prior
    r_mu = prob.predict(mu) - prob.observed
    explanations["discrepancy"] = _delta_marginal(r_mu, prob.noise_sd, prob.observed)
    d_mu = _map_discrepancy(r_mu, prob.noise_sd, prob.observed)
    prob.prior_discrepancy = d_mu
    if _log_post(prob, mu, d_mu) > _log_post(prob, u, delta):
        u2, d2, _ = _alternate(prob, mu, d_mu, True)
        if _log_post(prob, u2, d2) > _log_post(prob, u, delta):
            u, delta = u2, d2
    return u, delta, explanations


@dataclass
class Alternative:
    """One structural alternative (design settings) and its posterior."""

    label: str
    settings: tuple[tuple[str, Any], ...]
    result: FitResult


def compare(alternatives: list[Alternative]) -> list[Alternative]:
    """The alternatives, best first: highest Laplace log evidence (the marginal likelihood
    of the data under each structure, its parameters integrated over their posterior)."""
    return sorted(alternatives, key=lambda a: -a.result.log_evidence)


def posterior_prior(result: FitResult, name: str, source: str) -> Prior:
    """``name``'s posterior as a prior for the next fit."""
    p = result.priors[name]
    i = result.names.index(name)
    sd_u = float(np.sqrt(max(result.covariance[i, i], 0.0))) / max(
        p.dx_du(p.to_u(result.values[name])), 1e-300
    )
    return from_posterior(p, result.values[name], sd_u, source)
