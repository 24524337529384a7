"""Serving: FCFS batch-1 replay, latency tables against exact simulation, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spatialsim.cli.main import main
from spatialsim.design.templates import build_design
from spatialsim.engine.simulator import RunConfig, simulate
from spatialsim.hardware.platform import get_platform
from spatialsim.serving.latency import LatencyModel, sample_points
from spatialsim.serving.replay import replay
from spatialsim.workload.models import get_model
from spatialsim.workload.traces import Request, Trace

ROOT = Path(__file__).resolve().parents[1]


def flat_model(prefill_ms: float, step_ms: float, max_context: int = 4096) -> LatencyModel:
    """A latency model with constant prefill and decode-step times."""
    return LatencyModel(
        pack=8,
        prefill_packs=np.array([1.0, 1000.0]),
        prefill_ms=np.array([prefill_ms, prefill_ms]),
        decode_ctx=np.array([0.0, 4096.0]),
        decode_ms=np.array([step_ms, step_ms]),
        max_context=max_context,
        simulations=0,
    )


def test_first_come_first_served_with_queueing() -> None:
    trace = Trace([Request("a", 0.0, 16, 4), Request("b", 0.010, 16, 2), Request("c", 1.0, 16, 0)])
    res = replay(trace, flat_model(prefill_ms=20.0, step_ms=5.0))
    a, b, c = res.per_request
    assert a["queue_ms"] == 0 and a["ttft_ms"] == pytest.approx(20)
    assert a["e2e_ms"] == pytest.approx(40) and a["tpot_ms"] == pytest.approx(5)
    # b arrives at 10 ms while a runs until 40 ms: it waits 30 ms
    assert b["queue_ms"] == pytest.approx(30) and b["ttft_ms"] == pytest.approx(50)
    assert b["e2e_ms"] == pytest.approx(60)
    assert c["queue_ms"] == 0 and c["tpot_ms"] is None and c["e2e_ms"] == pytest.approx(20)
    doc = res.to_json()
    assert doc["requests"] == 3 and doc["output_tokens"] == 6
    assert doc["makespan_s"] == pytest.approx(1.020)
    assert doc["utilization"] == pytest.approx((0.040 + 0.030 + 0.020) / 1.020)
    assert doc["throughput_tokens_per_s"] == pytest.approx(6 / 1.020)
    assert doc["tpot_ms"]["mean"] == pytest.approx(5) and doc["tpot_ms"]["p99"] == 5


def test_latency_tables_interpolate_within_one_percent_of_exact_simulation() -> None:
    design = build_design("chen2024-w8a8", get_model("gpt2"), 1024)
    platform = get_platform("u280")
    lm = LatencyModel.build(design, platform, max_prompt=1000, max_context=1024)
    rng = np.random.default_rng(1)
    worst_p = worst_d = 0.0
    for prompt in rng.integers(1, 1000, 8):
        exact = simulate(design, platform, RunConfig(prompt_len=int(prompt))).ttft_ms
        worst_p = max(worst_p, abs(lm.prefill(int(prompt)) / exact - 1))
    for ctx in rng.integers(1, 1023, 8):
        r = simulate(design, platform, RunConfig(prompt_len=int(ctx), gen_len=1, decode_only=True))
        exact = r.token_cycles[0] / r.clock_mhz / 1e3
        worst_d = max(worst_d, abs(lm.decode_step(int(ctx)) / exact - 1))
    print(
        f"interpolation error: prefill {worst_p:.3%}, decode step {worst_d:.3%} "
        f"({lm.simulations} exact simulations)"
    )
    assert worst_p < 0.01 and worst_d < 0.01
    assert lm.simulations <= 50
    cum = lm.decode_table()
    assert cum[10] - cum[5] == pytest.approx(sum(lm.decode_step(c) for c in range(5, 10)))


def test_sample_points_cover_the_range() -> None:
    pts = sample_points(1, 1000, 12)
    assert pts[0] == 1 and pts[-1] == 1000 and pts == sorted(set(pts))
    assert sample_points(5, 5, 12) == [5]


def test_replay_cli_on_a_shipped_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "replay",
                "--model",
                "gpt2",
                "--trace",
                str(ROOT / "traces/poisson_100.csv"),
                "--json",
                "-",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    for key in ("ttft_ms", "tpot_ms", "e2e_ms", "queue_ms"):
        assert set(doc[key]) == {"p50", "p90", "p99", "mean"}
        assert doc[key]["p50"] <= doc[key]["p90"] <= doc[key]["p99"]
    assert doc["requests"] == 100 and doc["dropped"] == 0
    assert doc["throughput_tokens_per_s"] > 0 and 0 < doc["utilization"] <= 1
    full = json.loads((tmp_path / "replay.json").read_text())
    assert len(full["per_request"]) == 100
    e2e = sorted(r["e2e_ms"] for r in full["per_request"])
    assert doc["e2e_ms"]["p50"] == pytest.approx(float(np.percentile(e2e, 50)))


@pytest.mark.shared
def test_replay_of_the_azure_conversation_trace(
    shared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = shared / "traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv"
    assert main(["replay", "--trace", str(trace), "--limit", "2000", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["requests"] + doc["dropped"] == 2000
    assert doc["clipped"] > 0  # GPT-2-medium's 1,024-token context
    for key in ("ttft_ms", "e2e_ms", "queue_ms"):
        assert doc[key]["p50"] <= doc[key]["p90"] <= doc[key]["p99"]
    # queueing + prefill = TTFT, and the end-to-end time includes both
    assert doc["ttft_ms"]["mean"] >= doc["queue_ms"]["mean"]
    assert doc["e2e_ms"]["mean"] >= doc["ttft_ms"]["mean"]
    assert 0.9 < doc["utilization"] <= 1.0  # arrivals outpace a batch-1 accelerator


def test_replay_errors(tmp_path: Path) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("request_id,arrival_s,prompt_tokens,output_tokens\nx,0,5000,10\n")
    assert main(["replay", "--trace", str(bad), "--overlong", "drop"]) == 2
