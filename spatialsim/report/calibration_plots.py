"""The calibration report figures (``spatialsim calibrate --plot DIR``).

- ``observed_vs_predicted.png``: every measurement against its prediction, with the 95 %
  prediction interval (parameters, noise and discrepancy), one panel per source;
- ``priors_posteriors.png``: each parameter's prior density against its posterior
  (Gaussian in the prior's coordinate), one small panel per parameter; the ones the data
  left at their priors are marked;
- ``structures.png`` (with ``--choose``): each structural alternative's log evidence
  relative to the best.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from spatialsim.calibration.fit import Alternative, FitResult
from spatialsim.constants import Z95
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_with


def _save(fig: Any, path: Path) -> Path:
    atomic_write_with(
        path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    )
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def write_calibration_plots(
    folder: Path, fits: dict[str, FitResult], alternatives: list[Alternative]
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--plot {folder}: exists and is not a directory")
    folder.mkdir(parents=True, exist_ok=True)
    out = [observed_vs_predicted(fits, folder / "observed_vs_predicted.png")]
    out.append(priors_posteriors(fits, folder / "priors_posteriors.png"))
    if len(alternatives) > 1:
        out.append(structures(alternatives, folder / "structures.png"))
    return out


def observed_vs_predicted(fits: dict[str, FitResult], path: Path) -> Path:
    import matplotlib.pyplot as plt

    sources = [s for s, r in fits.items() if r.residuals]
    fig, axes = plt.subplots(1, len(sources), figsize=(5.2 * len(sources), 4.6), squeeze=False)
    for ax, source in zip(axes[0], sources, strict=True):
        res = fits[source].residuals
        units = sorted({r.unit for r in res})
        for unit, marker in zip(units, "osD^v<>", strict=False):
            sel = [r for r in res if r.unit == unit]
            obs = np.array([r.observed for r in sel])
            ratio = np.array([r.predicted / r.observed for r in sel])
            err = np.array([Z95 * r.predicted_sd / r.observed for r in sel])
            ax.errorbar(obs, ratio, yerr=err, fmt=marker, ms=5, capsize=3, label=f"{unit} (95 %)")
        ax.axhline(1.0, color="0.3", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("observed")
        ax.set_ylabel("predicted / observed")
        d = fits[source].discrepancy
        ax.set_title(f"{source}: {len(res)} measurements, discrepancy {d:.2%}")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("Calibration: predictions against measurements, with 95 % prediction intervals")
    fig.tight_layout()
    return _save(fig, path)


def priors_posteriors(fits: dict[str, FitResult], path: Path) -> Path:
    import matplotlib.pyplot as plt

    owner = {n: s for s, r in fits.items() for n in r.names}  # the last fit of each
    names = list(owner)
    cols = min(4, max(len(names), 1))
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        res = fits[owner[name]]
        prior = res.priors[name]
        i = res.names.index(name)
        value = res.values[name]
        u = prior.to_u(value)
        sd_u = math.sqrt(max(res.covariance[i, i], 0.0)) / max(prior.dx_du(u), 1e-300)
        lo = min(prior.mu - 3.5 * prior.spread, u - 4 * sd_u)
        hi = max(prior.mu + 3.5 * prior.spread, u + 4 * sd_u)
        grid_u = np.linspace(lo, hi, 400)
        x = np.array([prior.from_u(g) for g in grid_u])
        p_prior = np.exp(-0.5 * ((grid_u - prior.mu) / prior.spread) ** 2) / prior.spread
        p_post = np.exp(-0.5 * ((grid_u - u) / max(sd_u, 1e-12)) ** 2) / max(sd_u, 1e-12)
        scale = max(p_post.max(), p_prior.max())
        ax.fill_between(x, p_prior / scale, color="0.75", label="prior")
        ax.plot(x, p_post / scale, color="C3", lw=1.5, label="posterior")
        if prior.scale == "log":
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=6))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks([])
        status = "at prior" if name in res.fixed else owner[name]
        ax.set_title(f"{name}\n({status})", fontsize=8)
        ax.tick_params(labelsize=7)
    if names:
        axes.flat[0].legend(fontsize=7)
    fig.suptitle("Each parameter's prior (grey) and posterior (red), in its own units")
    fig.tight_layout()
    return _save(fig, path)


def structures(alternatives: list[Alternative], path: Path) -> Path:
    import matplotlib.pyplot as plt

    best = alternatives[0].result.log_evidence
    labels = [a.label for a in alternatives]
    rel = [a.result.log_evidence - best for a in alternatives]
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(labels) + 1.4))
    colors = ["C2" if i == 0 else "C7" for i in range(len(labels))]
    ax.barh(range(len(labels)), rel, color=colors)
    for i, v in enumerate(rel):
        text = "chosen" if i == 0 else f"{v:.1f}"
        ax.text(v, i, f" {text} ", va="center", ha="right" if i else "left", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(-4.6, color="C3", ls="--", lw=0.8, label="Bayes factor 100 (decisive)")
    ax.set_xlabel("log evidence relative to the best")
    ax.set_title("Structural alternatives compared by evidence")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
