"""The readable summary of a simulation run, built from its JSON document only."""

from __future__ import annotations

from typing import Any

from spatialsim.constants import STATES, Z95
from spatialsim.report.text import table

TOP_STALLS = 8
WORKER_BUSY = 0.2


def _ms(cycles: float, clock_mhz: float) -> float:
    return cycles / clock_mhz / 1e3


def run_title(doc: dict[str, Any]) -> str:
    """What was simulated, in one line."""
    total = doc.get("model_layers", doc["layers"])
    layers = (
        f"{doc['layers']} layers"
        if doc["layers"] == total
        else f"the first {doc['layers']} of {total} layers"
    )
    return (
        f"{doc['model']} on {doc['platform']} with {doc['design']} at {doc['clock_mhz']:g} MHz: "
        f"{layers}, prompt {doc['prompt_len']} tokens, {doc['gen_len']} generated"
    )


def headline_rows(doc: dict[str, Any]) -> list[list[Any]]:
    """[what, simulated, analytical] rows: latency, decode rate, energy (with 95 %
    intervals when the run used a calibration profile)."""
    ana = doc.get("analytical", {})
    rows: list[list[Any]] = [
        ["TTFT (prefill)", f"{doc['ttft_ms']:.3f} ms", _opt(ana.get("prefill_ms"))]
    ]
    toks = doc["per_token_ms"]
    if toks:
        rows.append(
            [
                "TPOT (mean per token)",
                f"{doc['tpot_ms']:.3f} ms",
                _opt(ana.get("decode_ms_per_token")),
            ]
        )
        rows.append(["first / last token", f"{toks[0]:.3f} / {toks[-1]:.3f} ms", ""])
        rows.append(["decode rate", f"{1e3 / doc['tpot_ms']:.1f} tokens/s", ""])
    energy = doc.get("energy")
    if energy:
        rows.append(["energy, prefill", f"{energy['prefill_j']:.3f} J", ""])
        if energy.get("decode_j_per_token") is not None:
            rows.append(["energy per generated token", f"{energy['decode_j_per_token']:.4f} J", ""])
        rows.append(["average power", f"{energy['average_w']:.1f} W", ""])
    if doc.get("reconfiguration_ms"):
        rows.append(
            ["reconfiguration", f"{doc['reconfiguration_ms']:.3f} ms (not in TTFT, TPOT)", ""]
        )
    cal = doc.get("calibration")
    if cal:
        rows[0][1] += f" +- {Z95 * cal['ttft_ms_stderr']:.3f}"
        if toks and "tpot_ms_stderr" in cal:
            rows[1][1] += f" +- {Z95 * cal['tpot_ms_stderr']:.3f}"
    return rows


def calibration_note(cal: dict[str, Any]) -> str:
    """What a calibrated run's intervals include."""
    return (
        f"calibration profile {cal['profile']}: intervals are 95 %: the parameters' "
        "posterior covariance"
        + (
            f", plus {cal['discrepancy']:.1%} model discrepancy and "
            f"{cal['noise']:.1%} measurement noise"
            if cal.get("discrepancy") or cal.get("noise")
            else ""
        )
    )


def largest_stalls(doc: dict[str, Any]) -> list[list[Any]]:
    """[phase, kernel, state, waiting on, share, ms] of the kernels doing the work (busy
    at least WORKER_BUSY; card 0 for several cards), largest first, at most TOP_STALLS."""
    clock = doc["clock_mhz"]
    shown = "dev0." if doc.get("parallel") else ""
    stalls = []
    for phase, ph in doc["phases"].items():
        for s in ph["stalls"]:
            if not s["kernel"].startswith(shown):
                continue  # the cards of a stage stall alike; card 0 stands for them
            if ph["kernels"][s["kernel"]]["busy"] < WORKER_BUSY:
                continue  # a kernel with little work waiting is not what limits the run
            stalls.append(
                [
                    phase,
                    s["kernel"],
                    s["state"],
                    s["on"],
                    f"{s['share']:.0%}",
                    _ms(s["cycles"], clock),
                ]
            )
    stalls.sort(key=lambda r: -r[5])
    return stalls[:TOP_STALLS]


def summary_text(doc: dict[str, Any]) -> str:
    """Latency figures, the largest stalls, per-kernel fractions and memory channels."""
    clock = doc["clock_mhz"]
    lines = [run_title(doc)]
    rows = headline_rows(doc)
    cal = doc.get("calibration")
    par = doc.get("parallel")
    eqs = "Eq. 13 / 14" if par else "Eq. 8 / 9"
    lines += ["", table(["", "simulated", f"analytical ({eqs})"], rows)]
    if par:
        lines += ["", *_cards(doc, par)]
    if cal:
        lines.append(calibration_note(cal))

    shown = "dev0." if par else ""
    stalls = largest_stalls(doc)
    if stalls:
        lines += [
            "",
            f"Largest stalls of the kernels doing the work (busy >= "
            f"{WORKER_BUSY:.0%}; share of the kernel's active time)" + (", card 0" if par else ""),
            table(["phase", "kernel", "state", "waiting on", "share", "ms"], stalls),
        ]
    for phase, ph in doc["phases"].items():
        lines += [
            "",
            f"Kernels, {phase} (bitstream '{ph['bitstream']}', {ph['launches']} "
            f"launches, {ph['ms']:.3f} ms)"
            + (" on card 0; every card's kernels are under 'devices' in the JSON" if par else ""),
        ]
        krows = [
            [name[len(shown) :], k["kind"], _ms(k["active_cycles"], clock)]
            + [f"{k[s]:.1%}" for s in STATES]
            for name, k in ph["kernels"].items()
            if name.startswith(shown)
        ]
        lines.append(table(["kernel", "kind", "active ms", *STATES], krows))
        full = [
            f"{n} ({f['depth']})"
            for n, f in ph["fifos"].items()
            if f["max_occupancy"] >= f["depth"] and (n.startswith(shown) or n.startswith("link"))
        ]
        if full:
            lines.append(f"FIFOs that filled up (depth in words): {', '.join(full)}")
        if ph["hbm"]:
            busiest = sorted(ph["hbm"].items(), key=lambda kv: -kv[1]["utilization"])[:6]
            lines.append(
                "Busiest memory channels: "
                + ", ".join(
                    f"{n} {c['utilization']:.0%} ({c['bytes'] / 2**20:,.1f} MiB)"
                    for n, c in busiest
                )
            )
    for w in doc.get("warnings", [])[:4]:
        lines.append(f"warning: {w}")
    more = len(doc.get("warnings", [])) - 4
    if more > 0:
        lines.append(f"warning: ... and {more} more channel(s) over capacity (see the JSON)")
    wall = doc.get("wall_s")
    lines += [
        "",
        f"{doc['events']:,} SimPy events"
        + (f" in {wall:.2f} s" if wall is not None else "")
        + f" ({doc['granularity']} transfers)",
    ]
    return "\n".join(lines)


def _cards(doc: dict[str, Any], par: dict[str, Any]) -> list[str]:
    """The cards (stage, active time, idle share, link waits) and the links."""
    lines = [
        f"{par['cluster']}: tensor parallel {par['tp']} x pipeline {par['pp']} (layers per "
        f"stage {', '.join(map(str, par['stage_layers']))})"
    ]
    rows = [
        [d["device"], d["stage"], d["active_ms"], f"{d['idle_share']:.1%}", d["link_wait_ms"]]
        for d in doc["devices"]
    ]
    heads = ["card", "stage", "active ms", "idle (other stages)", "collectives on links ms"]
    lines.append(table(heads, rows))
    if doc.get("stage_transfer_ms"):
        lines.append(
            f"activations between stages: {doc['stage_transfer_ms']:.3f} ms of host waiting"
        )
    if doc.get("links"):
        lines.append(
            "Links: "
            + ", ".join(
                f"{n} {c['utilization']:.1%} ({c['bytes'] / 2**20:,.2f} MiB)"
                for n, c in doc["links"].items()
            )
        )
    return lines


def _opt(ms: float | None) -> str:
    return "" if ms is None else f"{ms:.3f} ms"
