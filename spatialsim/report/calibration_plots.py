"""The calibration report figures (``spatialsim calibrate --plot DIR``).

- ``observed_vs_predicted.png``: every measurement against its prediction, with the 95 %
  prediction interval (parameters, noise and discrepancy), one panel per source;
- ``priors_posteriors.png``: each parameter's prior density against its posterior
  (Gaussian in the prior's coordinate), one small panel per parameter; the ones the data
  left at their priors are marked;
- ``structures.png`` (with ``--choose`` or ``--search-structure``): each structural
  alternative's log evidence relative to the best;
- ``explained.png``: what moved each prediction from the uncalibrated model to the
  calibrated one, one bar per measurement split by cause (structure, each parameter,
  their interaction), in percent of the uncalibrated prediction, with the observation.

Everything is read from the profile document (``spatialsim.calibration.profile``'s
``profile_doc``), so the figures show exactly what the profile says.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

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


def write_calibration_plots(folder: Path, doc: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"`plot` {folder}: exists and is not a directory")
    folder.mkdir(parents=True, exist_ok=True)
    out = [observed_vs_predicted(doc, folder / "observed_vs_predicted.png")]
    out.append(priors_posteriors(doc, folder / "priors_posteriors.png"))
    alternatives = doc.get("structure", {}).get("alternatives", [])
    if len(alternatives) > 1:
        out.append(structures(alternatives, folder / "structures.png"))
    if any(doc.get("explained", {}).values()):
        out.append(explained(doc["explained"], folder / "explained.png"))
    return out


EXPLAINED_SHOWN = 30  # measurements in the figure (the largest changes)


def explained(by_source: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Stacked bars: each cause's share of the change of each measurement's prediction."""
    import matplotlib.pyplot as plt

    rows = [r for src in by_source.values() for r in src if r["before"]]
    rows.sort(key=lambda r: -abs(r["after"] / r["before"] - 1))
    rows = rows[:EXPLAINED_SHOWN]
    causes = list(dict.fromkeys(c for r in rows for c in r["parts"]))
    colors = {c: plt.get_cmap("tab20")(i % 20) for i, c in enumerate(causes)}
    fig, ax = plt.subplots(figsize=(9.5, 0.5 * len(rows) + 1.8))
    shown: set[str] = set()
    for i, r in enumerate(rows):
        pos = neg = 0.0
        for cause, value in r["parts"].items():
            pct = 100 * value / r["before"]
            if abs(pct) < 1e-3:
                continue
            left = pos if pct > 0 else neg
            ax.barh(
                i,
                pct,
                left=left,
                color=colors[cause],
                label=cause if cause not in shown else None,
            )
            shown.add(cause)
            if pct > 0:
                pos += pct
            else:
                neg += pct
        ax.plot(
            100 * (r["observed"] / r["before"] - 1),
            i,
            "k|",
            ms=14,
            mew=2,
            label="observed" if i == 0 else None,
        )
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(range(len(rows)), [r["label"] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("change from the uncalibrated prediction (%)")
    ax.set_title("What moved each prediction: structure and parameters, each on its own")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _save(fig, path)


def observed_vs_predicted(doc: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = doc["residuals"]
    sources = list(dict.fromkeys(r["source"] for r in rows))
    fig, axes = plt.subplots(1, len(sources), figsize=(5.2 * len(sources), 4.6), squeeze=False)
    for ax, source in zip(axes[0], sources, strict=True):
        res = [r for r in rows if r["source"] == source]
        units = sorted({r["unit"] for r in res})
        for unit, marker in zip(units, "osD^v<>", strict=False):
            sel = [r for r in res if r["unit"] == unit]
            obs = np.array([r["observed"] for r in sel])
            ratio = np.array([r["predicted"] / r["observed"] for r in sel])
            err = np.array([Z95 * r["predicted_sd"] / r["observed"] for r in sel])
            ax.errorbar(obs, ratio, yerr=err, fmt=marker, ms=5, capsize=3, label=f"{unit} (95 %)")
        ax.axhline(1.0, color="0.3", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("observed")
        ax.set_ylabel("predicted / observed")
        d = doc["discrepancy"].get(source, {}).get("relative", 0.0)
        ax.set_title(f"{source}: {len(res)} measurements, discrepancy {d:.2%}")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("Calibration: predictions against measurements, with 95 % prediction intervals")
    fig.tight_layout()
    return _save(fig, path)


def priors_posteriors(doc: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    params = doc["parameters"]
    names = list(params)
    cols = min(4, max(len(names), 1))
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        p = params[name]
        log = p["prior_scale"] == "log"
        to_u = math.log if log else float
        mu, spread = to_u(p["prior_center"]), p["prior_spread"]
        u = to_u(p["value"])
        sd_u = max(p["stderr"] / p["value"] if log else p["stderr"], 1e-12)
        grid = np.linspace(
            min(mu - 3.5 * spread, u - 4 * sd_u), max(mu + 3.5 * spread, u + 4 * sd_u), 400
        )
        x = np.exp(grid) if log else grid
        p_prior = np.exp(-0.5 * ((grid - mu) / spread) ** 2) / spread
        p_post = np.exp(-0.5 * ((grid - u) / sd_u) ** 2) / sd_u
        scale = max(p_post.max(), p_prior.max())
        ax.fill_between(x, p_prior / scale, color="0.75", label="prior")
        ax.plot(x, p_post / scale, color="C3", lw=1.5, label="posterior")
        if log:
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=6))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks([])
        status = "at prior" if p["status"] == "at its prior" else p["from"]
        ax.set_title(f"{name}\n({status})", fontsize=8)
        ax.tick_params(labelsize=7)
    if names:
        axes.flat[0].legend(fontsize=7)
    fig.suptitle("Each parameter's prior (grey) and posterior (red), in its own units")
    fig.tight_layout()
    return _save(fig, path)


def structures(alternatives: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib.pyplot as plt

    best = alternatives[0]["log_evidence"]
    labels = [a["label"] for a in alternatives]
    rel = [a["log_evidence"] - best for a in alternatives]
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(labels) + 1.4))
    colors = ["C2" if a["chosen"] else "C7" for a in alternatives]
    ax.barh(range(len(labels)), rel, color=colors)
    for i, v in enumerate(rel):
        text = "chosen" if alternatives[i]["chosen"] else f"{v:.1f}"
        ax.text(v, i, f" {text} ", va="center", ha="right" if v < 0 else "left", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(-4.6, color="C3", ls="--", lw=0.8, label="Bayes factor 100 (decisive)")
    ax.set_xlabel("log evidence relative to the best")
    ax.set_title("Structural alternatives compared by evidence")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
