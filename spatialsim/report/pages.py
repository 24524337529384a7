"""``report.html`` of a results folder: one self-contained page per kind of folder.

A run (``run --out``, ``demo``): the headline numbers with the analytical ones beside them
(and 95 % intervals when a calibration profile was used), the largest stalls in words and
as a table, the stall, Gantt, FIFO, HBM and per-token figures, each phase's kernels with
their stall shares, the FIFOs that filled and the busiest channels, and links to the
files beside it. A replay: latency percentiles and CDFs. A sweep or an optimize: the Pareto
front, sensitivity and heat map with the best points. A compare: the table and figure. A
calibration (``calibrate --plot``): parameters with intervals, observed against predicted.

Every page is built from the folder's own files, so ``report.html`` says what the folder
holds and nothing else.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spatialsim import __version__
from spatialsim.constants import STATES
from spatialsim.report import html
from spatialsim.report.html import esc

REPORT = "report.html"
FOOTER = f"spatialsim {__version__}: open with any browser; nothing here loads from a network."

Section = tuple[str, str]


def _figures(draw: Callable[[Path], list[tuple[Path, str]]]) -> str:
    """The figures ``draw`` writes into a scratch folder, embedded in the page."""
    with tempfile.TemporaryDirectory(prefix="spatialsim-report-") as tmp:
        return "".join(html.figure(path, caption) for path, caption in draw(Path(tmp)))


def _links(folder: Path, names: list[tuple[str, str]]) -> Section:
    items = [
        f"<li>{html.link(name, name)}: {esc(what)}</li>"
        for name, what in names
        if (folder / name).exists()
    ]
    return ("Files in this folder", f"<ul>{''.join(items)}</ul>")


def _stall_words(rows: list[list[Any]]) -> str:
    """The largest stalls as sentences."""
    what = {"starved": "waited for data from", "blocked": "waited for room in",
            "hbm_wait": "waited on memory channel"}  # fmt: skip
    items = [
        f"<li>In {esc(phase)}, <b>{esc(kernel)}</b> {esc(what.get(state, state))} "
        f"<code>{esc(on)}</code> for {esc(share)} of its active time ({ms:,.1f} ms).</li>"
        for phase, kernel, state, on, share, ms in rows
    ]
    if not items:
        return "<p>No kernel doing the work stalled.</p>"
    return f'<ul class="words">{"".join(items)}</ul>'


def run_page(folder: Path) -> str:
    """The page of a run folder (result.json, and the trace when there is one)."""
    from spatialsim.report import plots
    from spatialsim.report.run_summary import (
        WORKER_BUSY,
        calibration_note,
        headline_rows,
        largest_stalls,
        run_title,
    )

    doc = plots._read(folder / "result.json", plots.RESULT_FIELDS)
    eqs = "Eq. 13 / 14" if doc.get("parallel") else "Eq. 8 / 9"
    head = html.table(["", "simulated", f"analytical ({eqs})"], headline_rows(doc), "headline")
    if doc.get("calibration"):
        head += f'<p class="note">{esc(calibration_note(doc["calibration"]))}</p>'
    else:
        head += (
            '<p class="note">No calibration profile was applied: these are the cost '
            "model's numbers, without intervals (a calibrated run shows 95 % intervals).</p>"
        )
    stalls = largest_stalls(doc)
    stall_html = (
        f'<p class="note">Kernels busy at least {WORKER_BUSY:.0%} of their active time'
        + (", card 0" if doc.get("parallel") else "")
        + "; share of the kernel's active time.</p>"
        + _stall_words(stalls)
        + html.table(["phase", "kernel", "state", "waiting on", "share", "ms"], stalls)
    )
    trace = folder / "trace.perfetto.json"

    def draw(out: Path) -> list[tuple[Path, str]]:
        figs = [(plots.stalls(doc, out), "Where each kernel's time went, per phase")]
        if trace.exists():
            from spatialsim.report.trace_reader import read_trace

            tr = read_trace(trace)
            figs.append((plots.gantt(tr, out, first_layer=True), "The first prefill layer"))
            figs.append((plots.gantt(tr, out, first_layer=False), "The whole run"))
            figs.append((plots.fifo_occupancy(tr, doc, out), "The fullest FIFOs, first layer"))
        figs.append((plots.hbm_utilization(doc, out), "Memory channel utilisation per phase"))
        if doc["per_token_ms"]:
            figs.append((plots.decode_latency(doc, out), "Latency of each generated token"))
        figs.append((plots.sim_vs_analytical(doc, out), "Simulated against Eq. 8 / 9"))
        return figs

    sections: list[Section] = [
        ("Latency and energy", head),
        ("Largest stalls", stall_html),
        ("Figures", _figures(draw)),
    ]
    clock = doc["clock_mhz"]
    shown = "dev0." if doc.get("parallel") else ""
    for phase, ph in doc["phases"].items():
        rows = [
            [name[len(shown) :], k["kind"], k["active_cycles"] / clock / 1e3]
            + [f"{k[s]:.1%}" for s in STATES]
            for name, k in ph["kernels"].items()
            if name.startswith(shown)
        ]
        body = html.table(["kernel", "kind", "active ms", *STATES], rows)
        fifos = [
            [n, f["depth"], f["mean_occupancy"], f["max_occupancy"]]
            for n, f in ph["fifos"].items()
            if f["max_occupancy"] >= f["depth"]
        ]
        if fifos:
            body += "<p>FIFOs that filled up:</p>" + html.table(
                ["FIFO", "depth (words)", "mean occupancy", "max occupancy"], fifos
            )
        busiest = sorted(ph["hbm"].items(), key=lambda kv: -kv[1]["utilization"])[:8]
        if busiest:
            body += "<p>Busiest memory channels:</p>" + html.table(
                ["channel", "utilisation", "MiB"],
                [[n, f"{c['utilization']:.1%}", c["bytes"] / 2**20] for n, c in busiest],
            )
        sections.append(
            (
                f"Kernels, {phase}: bitstream '{ph['bitstream']}', {ph['launches']} launches, "
                f"{ph['ms']:,.3f} ms",
                body,
            )
        )
    if doc.get("warnings"):
        items = "".join(f"<li>{esc(w)}</li>" for w in doc["warnings"])
        sections.append(("Warnings", f"<ul>{items}</ul>"))
    sections.append(
        _links(
            folder,
            [
                ("result.json", "every number of this page, and more"),
                ("summary.txt", "the summary the command printed"),
                ("trace.perfetto.json", "the timeline: open it at https://ui.perfetto.dev"),
            ],
        )
    )
    return html.page(run_title(doc), "spatialsim run", sections, FOOTER)


def replay_page(folder: Path) -> str:
    """The page of a replay folder (replay.json)."""
    from spatialsim.report import plots

    doc = plots._read(folder / "replay.json", plots.REPLAY_FIELDS)
    metrics = [("TTFT (incl. queue)", "ttft_ms"), ("TPOT", "tpot_ms"),
               ("end-to-end", "e2e_ms"), ("queueing", "queue_ms")]  # fmt: skip
    rows = [[label] + [doc[key][q] for q in ("p50", "p90", "p99", "mean")]
            for label, key in metrics]  # fmt: skip
    head = html.table(["latency (ms)", "p50", "p90", "p99", "mean"], rows, "headline")
    head += (
        f"<p>{doc['requests']:,} requests ({doc['dropped']:,} dropped, {doc['clipped']:,} "
        f"clipped to the model's context), FCFS at batch 1: "
        f"{doc['throughput_tokens_per_s']:,.1f} output tokens/s, utilisation "
        f"{doc['utilization']:.1%}, makespan {doc['makespan_s']:,.1f} s; latencies from "
        f"{doc['latency_table']['simulations']} exact simulations, interpolated.</p>"
    )

    def draw(out: Path) -> list[tuple[Path, str]]:
        return [(plots.replay_cdf(doc, out), "Latency CDFs over the requests")]

    title = (
        f"{doc['model']} on {doc['platform']} with {doc['design']}: "
        f"replay of {Path(doc['trace']).name}"
    )
    sections = [
        ("Latency", head),
        ("Figures", _figures(draw)),
        _links(folder, [("replay.json", "every request's latencies")]),
    ]
    return html.page(title, "spatialsim replay", sections, FOOTER)


def _number(text: str) -> Any:
    """A table cell of a CSV: an integer, a number or the text itself."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


def sweep_page(folder: Path, title: str | None = None) -> str:
    """The page of a sweep or optimize folder (results.csv or trials.csv)."""
    from spatialsim.report.sweep_plots import pareto_rows, plot_sweep, read_table, sweep_title

    table_path = folder / "results.csv"
    if not table_path.exists():
        table_path = folder / "trials.csv"
    axes, rows = read_table(table_path)
    title = title or sweep_title(folder, rows, table_path)
    front = pareto_rows(rows)
    shown = [*axes, "ttft_ms", "tpot_ms", "dsp", "lut"]
    columns = [c for c in shown if rows and c in rows[0]]
    best = html.table(columns, [[_number(r[c]) for c in columns] for r in front[:20]])
    feasible = sum(1 for r in rows if r.get("feasible") == "true")

    def draw(out: Path) -> list[tuple[Path, str]]:
        names = {"pareto.png": "Pareto front of TTFT and TPOT",
                 "sensitivity.png": "Sensitivity of each metric to each axis",
                 "heatmap.png": "Heat map over the first two axes"}  # fmt: skip
        return [(p, names.get(p.name, p.stem)) for p in plot_sweep(folder, out)]

    sections = [
        (
            "Points",
            f"<p>{len(rows):,} points, {feasible:,} feasible; the Pareto front of TTFT and "
            f"TPOT has {len(front):,} (the first 20 below, fastest TTFT first).</p>" + best,
        ),
        ("Figures", _figures(draw)),
        _links(
            folder,
            [
                (table_path.name, "every point"),
                ("results.parquet", "the same, as Parquet"),
                ("pareto.csv", "the Pareto front; pareto_N.toml: each front design as a file"),
            ],
        ),
    ]
    kind = "optimize" if table_path.name == "trials.csv" else "sweep"
    return html.page(title, f"spatialsim {kind}", sections, FOOTER)


def compare_page(folder: Path) -> str:
    """The page of a compare folder (compare.json)."""
    from spatialsim.report import plots
    from spatialsim.report.compare_plot import compare_figure, compare_rows

    doc = plots._read(folder / "compare.json", plots.COMPARE_FIELDS)
    header, rows = compare_rows(doc)

    def draw(out: Path) -> list[tuple[Path, str]]:
        return [(compare_figure(doc, out / "compare.png"), "TTFT, TPOT, energy and DSPs")]

    title = f"{doc['model']} on {doc['platform']}: spatial against temporal"
    files = [("compare.json", "every number"), ("compare.txt", "the table the command printed")]
    sections = [
        ("Designs side by side", html.table(header, rows, "headline")),
        ("Figures", _figures(draw)),
        _links(folder, files),
    ]
    return html.page(title, "spatialsim compare", sections, FOOTER)


def calibration_page(doc: dict[str, Any], figures: list[Path]) -> str:
    """The page of a calibration (``calibrate --plot DIR``): its profile document and the
    figures already written into DIR."""
    from spatialsim.constants import Z95

    params = [
        [n, p["value"], p["ci95"][0], p["ci95"][1], p["prior"], p["status"], p["from"]]
        for n, p in doc["parameters"].items()
    ]
    resid = [
        [r["source"], r["label"], r["observed"], r["predicted"],
         Z95 * r["predicted_sd"], r["unit"], f"{r['error']:+.2%}"]
        for r in doc["residuals"]
    ]  # fmt: skip
    names = {"observed_vs_predicted.png": "Observed against predicted, 95 % intervals",
             "priors_posteriors.png": "Each parameter's prior and posterior",
             "structures.png": "Structural alternatives by evidence",
             "explained.png": "What moved each prediction"}  # fmt: skip
    figs = "".join(html.figure(p, names.get(p.name, p.stem)) for p in figures)
    sections = [
        ("Parameters (95 % intervals)",
         html.table(["parameter", "value", "low", "high", "prior", "status", "from"], params)),
        ("Measurements", html.table(["source", "measurement", "observed", "predicted",
                                     "+- (95 %)", "unit", "error"], resid)),
        ("Figures", figs),
    ]  # fmt: skip
    platform = doc.get("profile", {}).get("platform", "")
    return html.page(f"Calibration on {platform}", "spatialsim calibrate", sections, FOOTER)
