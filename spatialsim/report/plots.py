"""PNG figures of a results folder (``spatialsim plot DIR``), from its JSON files only.

From ``result.json`` and ``trace.perfetto.json`` (``spatialsim run --out DIR``):

- ``gantt_layer.png``: what each kernel does during the first prefill layer;
- ``gantt_run.png``: the same over the whole run (replayed layers shaded);
- ``stalls.png``: busy / starved / blocked / hbm_wait per kernel, one panel per phase;
- ``fifo_occupancy.png``: the fullest FIFOs' occupancy (share of depth) over the first
  prefill layer;
- ``decode_latency.png``: each generated token's latency against its position;
- ``hbm_utilization.png``: each memory channel's utilisation per phase;
- ``sim_vs_analytical.png``: simulated TTFT and TPOT next to Eq. 8 / 9.

From ``replay.json`` (``spatialsim replay --out DIR``): ``replay_cdf.png``, the CDF of
TTFT, TPOT, end-to-end latency and queueing delay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import to_rgba
from matplotlib.patches import Patch

from spatialsim.constants import COLLECTIVE_SUFFIX, STATES
from spatialsim.errors import UserError
from spatialsim.fileutil import atomic_write_with
from spatialsim.tomlio import parse_json, read_text

COLORS = {
    "busy": "#2b8a3e",
    "starved": "#f59f00",
    "blocked": "#c92a2a",
    "hbm_wait": "#1971c2",
    "replayed": "#adb5bd",
}


def _read(path: Path, required: dict[str, type | tuple[type, ...]] | None = None) -> Any:
    """The JSON object in ``path``, with ``required`` fields of the given types."""
    doc = parse_json(read_text(path, "result file"), str(path))
    if not isinstance(doc, dict):
        raise UserError(
            f"{path}: a JSON {type(doc).__name__}, not the object spatialsim writes; "
            "regenerate it with the command that wrote the folder"
        )
    for key, kind in (required or {}).items():
        if not isinstance(doc.get(key), kind):
            raise UserError(
                f"{path}: field {key!r} is missing or of the wrong type; regenerate the file "
                "with the command that wrote the folder"
            )
    return doc


RESULT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "model": str, "design": str, "platform": str, "prompt_len": int, "gen_len": int,
    "phases": dict, "per_token_ms": list, "ttft_ms": (int, float),
}  # fmt: skip
TRACE_FIELDS: dict[str, type | tuple[type, ...]] = {"traceEvents": list}
REPLAY_FIELDS: dict[str, type | tuple[type, ...]] = {"per_request": list}
COMPARE_FIELDS: dict[str, type | tuple[type, ...]] = {"rows": list}


def _drawn(path: Path, draw: Any) -> Any:
    """``draw()``; a document with the right top-level fields but a malformed inside (a
    hand-edited or truncated file) is a user error naming the file."""
    try:
        return draw()
    except UserError:
        raise
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
        raise UserError(
            f"{path}: malformed ({type(exc).__name__}: {exc}); regenerate the file with the "
            "command that wrote the folder"
        ) from None


def _save(fig: Any, path: Path) -> Path:
    atomic_write_with(
        path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    )
    plt.close(fig)
    return path


def plot_folder(folder: Path) -> list[Path]:
    """Every figure the folder's files allow; raises if it has none of them."""
    out = folder / "plots"
    if (out.is_symlink() or out.exists()) and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder; the figures go into {out}/")
    written: list[Path] = []
    result = folder / "result.json"
    if result.exists():
        doc = _read(result, RESULT_FIELDS)
        written += _drawn(
            result,
            lambda: (
                [stalls(doc, out), hbm_utilization(doc, out), sim_vs_analytical(doc, out)]
                + ([decode_latency(doc, out)] if doc["per_token_ms"] else [])
            ),
        )
        trace = folder / "trace.perfetto.json"
        if trace.exists():
            from spatialsim.report.trace_reader import read_trace

            tr = read_trace(trace)  # what the figures need, in bounded memory
            written += _drawn(
                trace,
                lambda: [
                    gantt(tr, out, first_layer=True),
                    gantt(tr, out, first_layer=False),
                    fifo_occupancy(tr, doc, out),
                ],
            )
    replay = folder / "replay.json"
    if replay.exists():
        rdoc = _read(replay, REPLAY_FIELDS)
        written.append(_drawn(replay, lambda: replay_cdf(rdoc, out)))
    if (folder / "results.csv").exists() or (folder / "trials.csv").exists():
        from spatialsim.report.sweep_plots import plot_sweep

        written += plot_sweep(folder, out)
    comparison = folder / "compare.json"
    if comparison.exists():
        from spatialsim.report.compare_plot import compare_figure

        cdoc = _read(comparison, COMPARE_FIELDS)
        written.append(_drawn(comparison, lambda: compare_figure(cdoc, out / "compare.png")))
    if not written:
        raise UserError(
            f"{folder}: no result.json, replay.json, compare.json or sweep table to plot "
            "(a run, a replay, a compare, a sweep or an optimize writes them)"
        )
    return written


def _title(doc: dict[str, Any]) -> str:
    return (
        f"{doc['model']} on {doc['platform']}, {doc['design']}, "
        f"prompt {doc['prompt_len']}, {doc['gen_len']} generated"
    )


def _tracks(tr: dict[str, Any]) -> tuple[list[str], dict[int, str]]:
    """The kernel tracks drawn: every kernel of a one-card run; on several cards, card 0's
    kernels and every card's collectives (the cards of a stage run alike)."""
    ev = tr["traceEvents"]
    procs = {
        e["pid"]: e["args"]["name"]
        for e in ev
        if e["ph"] == "M" and e["name"] == "process_name" and e["args"]["name"].endswith("kernels")
    }
    names = {}
    for e in ev:
        if e["ph"] != "M" or e["name"] != "thread_name" or e["pid"] not in procs:
            continue
        proc, thread = procs[e["pid"]], e["args"]["name"]
        if proc == "kernels":
            names[e["tid"]] = thread
        elif proc == "card 0 kernels" or thread.endswith(COLLECTIVE_SUFFIX):
            names[e["tid"]] = f"{proc.removesuffix(' kernels')}: {thread}"
    order = [names[t] for t in sorted(names)]
    return order, names


def gantt(tr: dict[str, Any], out: Path, first_layer: bool) -> Path:
    order, names = _tracks(tr)
    ev = tr["traceEvents"]
    launches = [e for e in ev if e["ph"] == "X" and e["pid"] == 0]
    end = None
    if first_layer:
        first = next(e for e in launches if e.get("cat") == "prefill")
        end = first["ts"] + first["dur"]
    # per track and state: bars (start, length) in ms and their opacity (a slice of a long
    # run summed by report/trace_reader.py is as opaque as the kernel was active in it)
    rows: dict[str, dict[str, list[tuple[float, float, float]]]] = {k: {} for k in order}
    for e in ev:
        if e["ph"] != "X" or e["pid"] == 0 or e.get("tid") not in names:
            continue
        if end is not None and e["ts"] >= end:
            continue
        state = e.get("cat") or e["name"]  # aggregated spans carry their dominant state
        alpha = float(e.get("args", {}).get("occupancy", 1.0))
        rows[names[e["tid"]]].setdefault(state, []).append((e["ts"] / 1e3, e["dur"] / 1e3, alpha))
    fig, ax = plt.subplots(figsize=(12, 0.32 * len(order) + 1.6))
    for y, k in enumerate(order):
        for state, bars in rows[k].items():
            color = COLORS.get(state, "#868e96")
            ax.broken_barh(
                [(x, w) for x, w, _ in bars],
                (y - 0.4, 0.8),
                facecolors=[to_rgba(color, a) for _, _, a in bars],
                linewidth=0,
            )
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels(order, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    meta = tr.get("otherData", {})
    replayed = any(e.get("cat") == "replayed" for e in launches)
    what = "first prefill layer" if first_layer else "whole run"
    if not first_layer and replayed:
        what += " (replayed layers in grey)"
    if not first_layer and meta.get("aggregated"):
        what += "; dense tracks aggregated"
    if not first_layer and any("occupancy" in e.get("args", {}) for e in ev if e["ph"] == "X"):
        what += "; paler: active less of the time"
    ax.set_title(f"Kernel activity, {what}: {meta.get('model')} / {meta.get('design')}")
    states = list(STATES) + (["replayed"] if not first_layer and replayed else [])
    ax.legend(
        handles=[Patch(color=COLORS[s], label=s) for s in states],
        loc="upper right",
        fontsize=8,
        ncol=len(states),
    )
    name = "gantt_layer.png" if first_layer else "gantt_run.png"
    return _save(fig, out / name)


def _card0(doc: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    """``table`` (kernels or channels by name) as card 0 sees it: on several cards, card
    0's entries without their prefix (the cards of a stage run alike)."""
    if not doc.get("parallel"):
        return table
    return {k.removeprefix("dev0."): v for k, v in table.items() if k.startswith("dev0.")}


def stalls(doc: dict[str, Any], out: Path) -> Path:
    phases = list(doc["phases"])
    fig, axes = plt.subplots(
        1, len(phases), figsize=(6 * len(phases), 7), sharey=True, squeeze=False
    )
    for ax, phase in zip(axes[0], phases, strict=True):
        kernels = _card0(doc, doc["phases"][phase]["kernels"])
        names = list(kernels)
        left = [0.0] * len(names)
        for s in STATES:
            vals = [kernels[n][s] * 100 for n in names]
            ax.barh(names, vals, left=left, color=COLORS[s], label=s)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of the kernel's active time (%)")
        ax.set_title(f"{phase} ({doc['phases'][phase]['ms']:.2f} ms)")
        ax.tick_params(axis="y", labelsize=8)
    # the panels share their y axis: inverting it once lists kernels top-down, in dataflow
    # order, as the Gantt charts do (inverting it on each panel would undo it)
    axes[0][0].invert_yaxis()
    handles, labels = axes[0][0].get_legend_handles_labels()
    # below the panels, where it covers no bar
    fig.legend(handles, labels, loc="lower center", ncol=len(STATES), fontsize=9,
               bbox_to_anchor=(0.5, -0.04), frameon=False)  # fmt: skip
    card = ", card 0" if doc.get("parallel") else ""
    fig.suptitle(f"Where each kernel's time goes: {_title(doc)}{card}")
    return _save(fig, out / "stalls.png")


def fifo_occupancy(tr: dict[str, Any], doc: dict[str, Any], out: Path, top: int = 6) -> Path:
    ev = tr["traceEvents"]
    first = next(e for e in ev if e["ph"] == "X" and e["pid"] == 0 and e.get("cat") == "prefill")
    end = first["ts"] + first["dur"]
    depth = {n: f["depth"] for n, f in doc["phases"]["prefill"]["fifos"].items()}
    series: dict[str, list[tuple[float, float]]] = {}
    for e in ev:
        if e["ph"] == "C" and e["pid"] == 2 and e["ts"] <= end and e["name"] in depth:
            series.setdefault(e["name"], []).append(
                (e["ts"] / 1e3, 100 * e["args"]["words"] / depth[e["name"]])
            )
    ranked = sorted(series, key=lambda n: -sum(v for _, v in series[n]))[:top]
    cols = 2
    rows = max(1, (len(ranked) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.2 * rows + 0.8), sharex=True, squeeze=False)
    for ax, n in zip(axes.flat, ranked, strict=False):
        t, v = zip(*series[n], strict=True)
        ax.step(t, v, where="post", linewidth=1, color="#1971c2")
        ax.fill_between(t, v, step="post", alpha=0.25, color="#1971c2")
        ax.set_ylim(0, 105)
        ax.set_title(f"{n} (depth {depth[n]} words)", fontsize=9)
        ax.set_ylabel("% of depth", fontsize=8)
    for ax in list(axes.flat)[len(ranked) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("time (ms)")
    fig.suptitle(
        f"FIFO occupancy over the first prefill layer, the {len(ranked)} fullest "
        f"FIFOs: {doc['model']} / {doc['design']}",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, out / "fifo_occupancy.png")


def decode_latency(doc: dict[str, Any], out: Path) -> Path:
    pos = [doc["prompt_len"] + i for i in range(len(doc["per_token_ms"]))]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(pos, doc["per_token_ms"], marker="o", markersize=3, label="simulated")
    ana = doc.get("analytical", {}).get("decode_ms_per_token")
    if ana:
        ax.axhline(ana, color="#868e96", linestyle="--", label="Eq. 9 (mean)")
    ax.set_xlabel("context length of the generated token (tokens)")
    ax.set_ylabel("latency per token (ms)")
    ax.set_title(f"Decode latency per token: {_title(doc)}", fontsize=10)
    ax.legend()
    return _save(fig, out / "decode_latency.png")


def hbm_utilization(doc: dict[str, Any], out: Path) -> Path:
    phases = list(doc["phases"])
    tables = {p: _card0(doc, doc["phases"][p]["hbm"]) for p in phases}
    chans = sorted(
        {c for p in phases for c in tables[p]},
        key=lambda c: (c.split("[")[0], int(c.split("[")[1].rstrip("]")) if "[" in c else 0),
    )
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(chans) + 2), 4))
    width = 0.8 / max(len(phases), 1)
    for i, p in enumerate(phases):
        vals = [100 * tables[p].get(c, {}).get("utilization", 0) for c in chans]
        ax.bar([x + i * width for x in range(len(chans))], vals, width, label=p)
    ax.set_xticks([x + width * (len(phases) - 1) / 2 for x in range(len(chans))])
    ax.set_xticklabels(chans, rotation=60, fontsize=8)
    ax.set_ylabel("utilisation (% of the phase's time)")
    card = ", card 0" if doc.get("parallel") else ""
    ax.set_title(f"Memory channel utilisation: {_title(doc)}{card}", fontsize=10)
    ax.legend()
    return _save(fig, out / "hbm_utilization.png")


def sim_vs_analytical(doc: dict[str, Any], out: Path) -> Path:
    ana = doc.get("analytical", {})
    labels, sim, model = ["TTFT (prefill)"], [doc["ttft_ms"]], [ana.get("prefill_ms") or 0]
    if doc.get("tpot_ms") is not None:
        labels.append("TPOT (per token)")
        sim.append(doc["tpot_ms"])
        model.append(ana.get("decode_ms_per_token") or 0)
    fig, axes = plt.subplots(1, len(labels), figsize=(4 * len(labels), 4), squeeze=False)
    for ax, lab, s, m in zip(axes[0], labels, sim, model, strict=True):
        bars = ax.bar(
            ["simulated", "analytical\n(Eq. 8 / 9)"], [s, m], color=["#2b8a3e", "#868e96"]
        )
        ax.bar_label(bars, fmt="%.3g")
        ax.set_ylabel("ms")
        ax.set_title(lab)
    fig.suptitle(f"Simulated vs analytical latency: {_title(doc)}", fontsize=10)
    return _save(fig, out / "sim_vs_analytical.png")


def replay_cdf(doc: dict[str, Any], out: Path) -> Path:
    reqs = doc["per_request"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    positive = [
        r[k]
        for r in reqs
        for k in ("ttft_ms", "e2e_ms", "queue_ms", "tpot_ms")
        if r[k] is not None and r[k] > 0
    ]
    floor = min(positive) / 2 if positive else 1e-3  # where 0 ms sits on the log axis
    for key, label in (
        ("ttft_ms", "TTFT (incl. queueing)"),
        ("e2e_ms", "end-to-end"),
        ("queue_ms", "queueing (0 ms at the left edge)"),
        ("tpot_ms", "TPOT"),
    ):
        vals = sorted(max(r[key], floor) for r in reqs if r[key] is not None)
        if not vals:
            continue
        ys = [(i + 1) / len(vals) for i in range(len(vals))]
        ax.step(vals, ys, where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_title(
        f"Request latency CDF: {doc['requests']} requests of {Path(doc['trace']).name}"
        f" on {doc['model']} / {doc['design']}",
        fontsize=10,
    )
    ax.legend()
    ax.grid(True, alpha=0.3)
    return _save(fig, out / "replay_cdf.png")
