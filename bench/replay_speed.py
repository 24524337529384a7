"""Replay speed: a 20,000-request synthetic trace and, when ../shared is present, the first
2,000 requests of the Azure conversation trace, on GPT-2-medium / chen2024-w8a8 / U280.
Prints the time to build the latency tables (exact simulations) and to replay.

    python bench/replay_speed.py
"""

from __future__ import annotations

import time
from pathlib import Path

from spatialsim.design.templates import build_design
from spatialsim.hardware.platform import get_platform
from spatialsim.serving.latency import LatencyModel
from spatialsim.serving.replay import replay
from spatialsim.workload.models import get_model
from spatialsim.workload.traces import Trace, fit_context, load_trace, parse_length, synthesize

AZURE = (
    Path(__file__).resolve().parents[2] / "shared/traces/azure_llm_2023/"
    "AzureLLMInferenceTrace_conv.csv"
)


def bench(label: str, trace: Trace) -> None:
    model = get_model("gpt2-medium")
    longest = max(r.prompt_tokens + r.output_tokens for r in trace.requests)
    design = build_design("chen2024-w8a8", model, longest)
    t0 = time.perf_counter()
    lm = LatencyModel.build(
        design, get_platform("u280"), max(r.prompt_tokens for r in trace.requests), longest
    )
    t1 = time.perf_counter()
    res = replay(trace, lm)
    t2 = time.perf_counter()
    doc = res.to_json(include_requests=False)
    print(
        f"{label:38s} {len(trace.requests):7,d} requests  tables {t1 - t0:6.2f} s "
        f"({lm.simulations} simulations)  replay {t2 - t1:6.3f} s  total {t2 - t0:6.2f} s"
        f"  p50 TTFT {doc['ttft_ms']['p50']:,.0f} ms"
    )


def main() -> None:
    model = get_model("gpt2-medium")
    synth = synthesize(
        20_000,
        "poisson",
        0.1,
        parse_length("lognormal:256:0.8"),
        parse_length("uniform:16:256", low=0),
        seed=0,
    )
    bench("synthetic Poisson (0.1/s)", fit_context(Trace(synth), model.max_positions, "clip"))
    if AZURE.exists():
        bench(
            "Azure conversation, first 2,000", load_trace(AZURE, model.max_positions, "clip", 2000)
        )
        bench("Azure conversation, all", load_trace(AZURE, model.max_positions, "clip"))
    else:
        print(f"(Azure trace not found at {AZURE}; skipped)")


if __name__ == "__main__":
    main()
