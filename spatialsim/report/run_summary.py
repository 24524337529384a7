"""The readable summary of a simulation run, built from its JSON document only."""

from __future__ import annotations

from typing import Any

from spatialsim.constants import STATES, Z95
from spatialsim.report.text import table

TOP_STALLS = 8
WORKER_BUSY = 0.2


def _ms(cycles: float, clock_mhz: float) -> float:
    return cycles / clock_mhz / 1e3


def summary_text(doc: dict[str, Any]) -> str:
    """Latency figures, the largest stalls, per-kernel fractions and memory channels."""
    clock = doc["clock_mhz"]
    ana = doc.get("analytical", {})
    total = doc.get("model_layers", doc["layers"])
    layers = (
        f"{doc['layers']} layers"
        if doc["layers"] == total
        else f"the first {doc['layers']} of {total} layers"
    )
    lines = [
        f"{doc['model']} on {doc['platform']} with {doc['design']} at {clock:g} MHz: "
        f"{layers}, prompt {doc['prompt_len']} tokens, {doc['gen_len']} generated"
    ]
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
    if doc.get("reconfiguration_ms"):
        rows.append(
            ["reconfiguration", f"{doc['reconfiguration_ms']:.3f} ms (not in TTFT, TPOT)", ""]
        )
    cal = doc.get("calibration")
    if cal:
        rows[0][1] += f" +- {Z95 * cal['ttft_ms_stderr']:.3f}"
        if toks and "tpot_ms_stderr" in cal:
            rows[1][1] += f" +- {Z95 * cal['tpot_ms_stderr']:.3f}"
    lines += ["", table(["", "simulated", "analytical (Eq. 8 / 9)"], rows)]
    if cal:
        lines.append(
            f"calibration profile {cal['profile']}: intervals are 95 %: the parameters' "
            "posterior covariance"
            + (
                f", plus {cal['discrepancy']:.1%} model discrepancy and "
                f"{cal['noise']:.1%} measurement noise"
                if cal.get("discrepancy") or cal.get("noise")
                else ""
            )
        )

    stalls = []
    for phase, ph in doc["phases"].items():
        for s in ph["stalls"]:
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
    if stalls:
        lines += [
            "",
            f"Largest stalls of the kernels doing the work (busy >= "
            f"{WORKER_BUSY:.0%}; share of the kernel's active time)",
            table(["phase", "kernel", "state", "waiting on", "share", "ms"], stalls[:TOP_STALLS]),
        ]
    for phase, ph in doc["phases"].items():
        lines += [
            "",
            f"Kernels, {phase} (bitstream '{ph['bitstream']}', {ph['launches']} "
            f"launches, {ph['ms']:.3f} ms)",
        ]
        krows = [
            [name, k["kind"], _ms(k["active_cycles"], clock)] + [f"{k[s]:.1%}" for s in STATES]
            for name, k in ph["kernels"].items()
        ]
        lines.append(table(["kernel", "kind", "active ms", *STATES], krows))
        full = [
            f"{n} ({f['depth']})"
            for n, f in ph["fifos"].items()
            if f["max_occupancy"] >= f["depth"]
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


def _opt(ms: float | None) -> str:
    return "" if ms is None else f"{ms:.3f} ms"
