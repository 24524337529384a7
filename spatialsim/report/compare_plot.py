"""The figure of ``spatialsim compare``, from its JSON document only: TTFT, TPOT, energy
per generated token and DSPs per card, one bar per design (and the GPU baseline, when the
comparison has one: no DSPs), grouped by card count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from spatialsim.fileutil import atomic_write_with

PANELS = (
    ("ttft_ms", "TTFT (prefill), ms"),
    ("tpot_ms", "TPOT (per generated token), ms"),
    ("decode_j_per_token", "energy per generated token, J"),
    ("dsp", "DSPs per card"),
)
PALETTE = ("#1971c2", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a", "#495057")


def _value(row: dict[str, Any], key: str) -> float:
    if key == "dsp":  # a GPU row has no FPGA resources
        res = row.get("resources_per_card")
        return float(res["dsp"]) if res else 0.0
    value = row.get(key)
    return float(value) if value is not None else 0.0


COLUMNS = ["design", "cards", "TTFT ms", "TPOT ms", "tokens/s", "DSP/card", "LUT/card",
           "prefill J", "J/token", "avg W"]  # fmt: skip


def compare_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of the comparison table, numbers formatted as the command prints."""
    rows = []
    for r in doc["rows"]:
        res = r["resources_per_card"]
        rows.append(
            [
                r["design"],
                r["cards"],
                f"{r['ttft_ms']:.3f}",
                "" if r["tpot_ms"] is None else f"{r['tpot_ms']:.3f}",
                "" if r["decode_tokens_per_s"] is None else f"{r['decode_tokens_per_s']:.1f}",
                f"{res['dsp']:,.0f}" if res else "",
                f"{res['lut']:,.0f}" if res else "",
                f"{r['prefill_j']:.3f}",
                "" if r["decode_j_per_token"] is None else f"{r['decode_j_per_token']:.4f}",
                f"{r['average_w']:.1f}",
            ]
        )
    return list(COLUMNS), rows


def compare_figure(doc: dict[str, Any], path: Path) -> Path:
    rows = doc["rows"]
    designs = list(dict.fromkeys(r["design"] for r in rows))
    cards = sorted({r["cards"] for r in rows})
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 4.2))
    width = 0.8 / len(designs)
    for ax, (key, label) in zip(axes, PANELS, strict=True):
        for i, design in enumerate(designs):
            xs, vals = [], []
            for j, n in enumerate(cards):
                row = next((r for r in rows if r["design"] == design and r["cards"] == n), None)
                if row is not None and not (key == "dsp" and not row.get("resources_per_card")):
                    xs.append(j + (i - (len(designs) - 1) / 2) * width)
                    vals.append(_value(row, key))
            bars = ax.bar(xs, vals, width, label=design, color=PALETTE[i % len(PALETTE)])
            ax.bar_label(bars, fmt="%.4g", fontsize=7)
        ax.set_xticks(range(len(cards)))
        ax.set_xticklabels([f"{n} card{'s' if n > 1 else ''}" for n in cards])
        ax.set_title(label, fontsize=10)
    axes[0].legend(fontsize=8)
    gpu = any(r.get("gpu") for r in rows)
    fig.suptitle(
        f"Spatial vs temporal{' vs GPU' if gpu else ''}: {doc['model']} on {doc['platform']}, "
        f"prompt {doc['prompt_len']}, {doc['gen_len']} generated (FPGAs simulated"
        + ("; the GPU from its batch-1 model, no FPGA resources)" if gpu else ")")
    )
    fig.tight_layout()
    atomic_write_with(
        path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    )
    plt.close(fig)
    return path
