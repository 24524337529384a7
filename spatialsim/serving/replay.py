"""Replay a request trace on one accelerator: batch 1, first come first served.

Request i starts when it has arrived and the accelerator is free; it then prefills its
prompt and generates its tokens one at a time. For each request (times from its arrival):

- queue = start - arrival
- TTFT = queue + prefill (the first token comes out of the prefill)
- TPOT = decode time / output tokens (undefined for requests that generate nothing)
- e2e = finish - arrival

Throughput is all output tokens over the makespan (first arrival to last finish);
utilisation is the accelerator's busy time over the makespan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spatialsim.serving.latency import LatencyModel
from spatialsim.workload.traces import Trace

PERCENTILES = (50, 90, 99)


@dataclass
class ReplayResult:
    served: int
    dropped: int
    clipped: int
    per_request: list[dict[str, Any]]
    makespan_s: float
    busy_s: float
    output_tokens: int

    def stats(self, key: str) -> dict[str, float | None]:
        vals = np.array([r[key] for r in self.per_request if r[key] is not None], float)
        if not len(vals):
            return {"p50": None, "p90": None, "p99": None, "mean": None}
        out: dict[str, float | None] = {f"p{p}": float(np.percentile(vals, p)) for p in PERCENTILES}
        out["mean"] = float(vals.mean())
        return out

    def to_json(self, include_requests: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "requests": self.served,
            "dropped": self.dropped,
            "clipped": self.clipped,
            "ttft_ms": self.stats("ttft_ms"),
            "tpot_ms": self.stats("tpot_ms"),
            "e2e_ms": self.stats("e2e_ms"),
            "queue_ms": self.stats("queue_ms"),
            "throughput_tokens_per_s": (
                float(self.output_tokens / self.makespan_s) if self.makespan_s > 0 else 0.0
            ),
            "utilization": float(self.busy_s / self.makespan_s) if self.makespan_s > 0 else 0.0,
            "makespan_s": self.makespan_s,
            "output_tokens": self.output_tokens,
        }
        if include_requests:
            doc["per_request"] = self.per_request
        return doc


def replay(trace: Trace, model: LatencyModel) -> ReplayResult:
    """Serve ``trace`` FCFS with batch 1 on the accelerator ``model`` describes."""
    cum = model.decode_table()
    free = 0.0
    busy = 0.0
    tokens = 0
    out = []
    for r in trace.requests:
        start = max(r.arrival_s, free)
        prefill = model.prefill(r.prompt_tokens) / 1e3
        ctx_end = min(r.prompt_tokens + r.output_tokens, model.max_context)
        decode = float(cum[ctx_end] - cum[r.prompt_tokens]) / 1e3
        finish = start + prefill + decode
        free = finish
        busy += prefill + decode
        tokens += r.output_tokens
        out.append(
            {
                "request_id": r.request_id,
                "arrival_s": r.arrival_s,
                "prompt_tokens": r.prompt_tokens,
                "output_tokens": r.output_tokens,
                "queue_ms": (start - r.arrival_s) * 1e3,
                "ttft_ms": (start + prefill - r.arrival_s) * 1e3,
                "tpot_ms": decode / r.output_tokens * 1e3 if r.output_tokens else None,
                "e2e_ms": (finish - r.arrival_s) * 1e3,
            }
        )
    first = trace.requests[0].arrival_s if trace.requests else 0.0
    return ReplayResult(
        len(out), trace.dropped, trace.clipped, out, float(free - first), float(busy), tokens
    )
