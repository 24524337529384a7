"""Figures of a sweep or an optimisation folder, from its results table only.

- ``pareto.png``: every feasible point's TTFT against TPOT, coloured by DSPs, the points
  no other point beats in TTFT, TPOT and DSPs outlined;
- ``sensitivity.png``: for each axis, how far TTFT and TPOT move across its values (the
  spread of the per-value means, relative to the overall mean): which parameter matters;
- ``heatmap.png``: the mean TTFT and TPOT over the first two axes.

The table is ``results.csv`` (``spatialsim sweep``) or ``trials.csv`` (``spatialsim
optimize``); the axes are its columns before ``feasible``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_with
from spatialsim.tomlio import line_table

SKIP = ("key", "trial")


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The axis columns and the rows of a results table (at least one row)."""
    columns, records, _ = line_table(path, "results table")
    if "feasible" not in columns or "ttft_ms" not in columns:
        raise UserError(f"{path}: not a sweep results table (no feasible / ttft_ms columns)")
    rows = [dict(zip(columns, cells, strict=True)) for _, cells in records]
    if not rows:
        raise UserError(
            f"{path}: no rows yet (an interrupted sweep leaves only the header): nothing to "
            "plot; run the sweep again to fill it"
        )
    axes = [c for c in columns[: columns.index("feasible")] if c not in SKIP]
    return axes, rows


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _feasible(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["feasible"] == "true" and _num(r["ttft_ms"]) is not None]


def _front(pts: list[tuple[float, float, float]]) -> list[int]:
    """Indices of the points no other point dominates (every coordinate lower or equal)."""
    return [i for i, p in enumerate(pts) if not any(
        all(x <= y for x, y in zip(o, p, strict=True)) and o != p for o in pts)]  # fmt: skip


def _points(ok: list[dict[str, str]]) -> list[tuple[float, float, float]]:
    return [(float(r["ttft_ms"]), _num(r.get("tpot_ms", "")) or 0.0, _num(r.get("dsp", "")) or 0.0)
            for r in ok]  # fmt: skip


def pareto_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The feasible rows on the Pareto front of (TTFT, TPOT, DSPs), fastest TTFT first."""
    ok = _feasible(rows)
    pts = _points(ok)
    return sorted((ok[i] for i in _front(pts)), key=lambda r: float(r["ttft_ms"]))


def sweep_title(folder: Path, rows: list[dict[str, str]], table: Path) -> str:
    """The model and design a sweep or an optimize is of (from the record it keeps beside
    its table), or the folder's name."""
    base: dict[str, Any] = {}
    for spec in (folder / "sweep.json", folder / "optimize.json"):
        if not spec.exists():
            continue
        from spatialsim.tomlio import parse_json, read_text

        doc = parse_json(read_text(spec, "sweep record"), str(spec))
        base = doc.get("base", {}) if isinstance(doc, dict) else {}
        base = base if isinstance(base, dict) else {}
    model, design = base.get("model"), base.get("design")
    if model and design:
        return f"{model} on {base.get('platform', 'u280')} with {design}"
    return f"{folder.name} ({table.name})"


def _save(fig: Any, path: Path) -> Path:
    atomic_write_with(
        path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    )
    plt.close(fig)
    return path


def pareto_figure(rows: list[dict[str, str]], path: Path, title: str) -> Path:
    ok = _feasible(rows)
    pts = _points(ok)
    front = [pts[i] for i in _front(pts)]
    fig, ax = plt.subplots(figsize=(7, 5))
    if pts:
        sc = ax.scatter([p[0] for p in pts], [p[1] for p in pts], c=[p[2] for p in pts],
                        cmap="viridis", s=28)  # fmt: skip
        fig.colorbar(sc, ax=ax, label="DSPs")
        ax.scatter(
            [p[0] for p in front],
            [p[1] for p in front],
            s=90,
            facecolors="none",
            edgecolors="#c92a2a",
            linewidths=1.5,
            label="Pareto (TTFT, TPOT, DSP)",
        )
        ax.legend(fontsize=8)
    ax.set_xlabel("TTFT (ms)")
    ax.set_ylabel("TPOT (ms)")
    infeasible = len(rows) - len(ok)
    ax.set_title(f"{title}: {len(ok)} feasible points ({infeasible} infeasible not shown)",
                 fontsize=10)  # fmt: skip
    return _save(fig, path)


def main_effects(axes: list[str], rows: list[dict[str, str]], metric: str) -> dict[str, float]:
    """For each axis, (max - min) of the metric's mean per axis value, over the metric's
    overall mean."""
    ok = [r for r in _feasible(rows) if _num(r.get(metric, "")) is not None]
    if not ok:
        return {}
    overall = sum(float(r[metric]) for r in ok) / len(ok)
    out = {}
    for a in axes:
        groups: dict[str, list[float]] = {}
        for r in ok:
            groups.setdefault(r[a], []).append(float(r[metric]))
        means = [sum(v) / len(v) for v in groups.values()]
        out[a] = (max(means) - min(means)) / overall if len(means) > 1 and overall else 0.0
    return out


def sensitivity_figure(axes: list[str], rows: list[dict[str, str]], path: Path, title: str) -> Path:
    fig, axs = plt.subplots(1, 2, figsize=(11, 0.45 * len(axes) + 2), squeeze=False)
    for ax, metric in zip(axs[0], ("ttft_ms", "tpot_ms"), strict=True):
        eff = main_effects(axes, rows, metric)
        order = sorted(eff, key=lambda a: eff[a])
        ax.barh(order, [100 * eff[a] for a in order], color="#1971c2")
        ax.set_xlabel(f"spread of mean {metric[:-3].upper()} across the axis' values (%)")
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle(f"Which parameter moves latency most: {title}", fontsize=10)
    return _save(fig, path)


def heatmap_figure(axes: list[str], rows: list[dict[str, str]], path: Path, title: str) -> Path:
    a, b = axes[0], axes[1]
    ok = _feasible(rows)

    def key(v: str) -> tuple[int, float | str]:
        n = _num(v)
        return (0, n) if n is not None else (1, v)

    xs = sorted({r[a] for r in ok}, key=key)
    ys = sorted({r[b] for r in ok}, key=key)
    fig, axs = plt.subplots(1, 2, figsize=(12, 0.5 * len(ys) + 2.5), squeeze=False)
    for ax, metric in zip(axs[0], ("ttft_ms", "tpot_ms"), strict=True):
        grid = []
        for y in ys:
            line = []
            for x in xs:
                vals = [float(r[metric]) for r in ok if r[a] == x and r[b] == y and
                        _num(r.get(metric, "")) is not None]  # fmt: skip
                line.append(sum(vals) / len(vals) if vals else float("nan"))
            grid.append(line)
        finite = [v for line in grid for v in line if v == v]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if hi - lo <= 1e-9 * max(abs(hi), 1.0):  # one value everywhere: a flat map
            lo, hi = lo * 0.99, hi * 1.01 + 1e-12
        im = ax.imshow(grid, cmap="magma_r", aspect="auto", origin="lower", vmin=lo, vmax=hi)
        ax.set_xticks(range(len(xs)), xs, fontsize=8)
        ax.set_yticks(range(len(ys)), ys, fontsize=8)
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        ax.set_title(f"mean {metric} (blank: no feasible point)", fontsize=9)
        fig.colorbar(im, ax=ax, format="%.4g")
    fig.suptitle(f"{title}: {a} x {b}", fontsize=10)
    return _save(fig, path)


def plot_sweep(folder: Path, out: Path) -> list[Path]:
    """Every figure the folder's table allows."""
    table = folder / "results.csv"
    if not table.exists():
        table = folder / "trials.csv"
    axes, rows = read_table(table)
    title = sweep_title(folder, rows, table)
    written = [pareto_figure(rows, out / "pareto.png", title)]
    if axes:
        written.append(sensitivity_figure(axes, rows, out / "sensitivity.png", title))
    if len(axes) >= 2:
        written.append(heatmap_figure(axes, rows, out / "heatmap.png", title))
    return written
