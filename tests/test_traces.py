"""Request traces: our format, seeded generators, and the Azure trace format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spatialsim.cli.main import main
from spatialsim.errors import UserError
from spatialsim.workload.traces import (
    LengthDist,
    Request,
    Trace,
    arrivals,
    fit_context,
    load_trace,
    parse_length,
    synthesize,
    trace_csv,
)

ROOT = Path(__file__).resolve().parents[1]


def test_format_round_trips_and_checks_its_rows(tmp_path: Path) -> None:
    reqs = [Request("a", 0.0, 10, 5), Request("b", 1.5, 300, 0)]
    path = tmp_path / "t.csv"
    path.write_text(trace_csv(reqs))
    assert load_trace(path).requests == reqs
    path.write_text("request_id,arrival_s,prompt_tokens,output_tokens\nx,2,5,1\ny,1,5,1\n")
    with pytest.raises(UserError, match="earlier than the row before"):
        load_trace(path)
    path.write_text("request_id,arrival_s,prompt_tokens,output_tokens\nx,0,0,1\n")
    with pytest.raises(
        UserError, match=r"row 2: prompt_tokens = 0 must be in \[1, 10,000,000\] tokens"
    ):
        load_trace(path)
    path.write_text("id,when\n1,2\n")
    with pytest.raises(UserError, match="unknown trace header"):
        load_trace(path)


def test_overlong_requests_are_clipped_or_dropped_and_counted() -> None:
    trace = Trace([Request("a", 0, 100, 10), Request("b", 1, 2000, 10), Request("c", 2, 50, 5000)])
    clip = fit_context(trace, 1024, "clip")
    assert [r.prompt_tokens for r in clip.requests] == [100, 1014]
    assert (clip.clipped, clip.dropped) == (1, 1)  # c cannot fit even with no prompt
    drop = fit_context(trace, 1024, "drop")
    assert [r.request_id for r in drop.requests] == ["a"] and drop.dropped == 2


def test_generators_are_seeded_and_have_the_asked_statistics() -> None:
    a = synthesize(
        2000,
        "poisson",
        4.0,
        parse_length("lognormal:200:0.5"),
        parse_length("uniform:10:20", low=0),
        seed=7,
    )
    b = synthesize(
        2000,
        "poisson",
        4.0,
        parse_length("lognormal:200:0.5"),
        parse_length("uniform:10:20", low=0),
        seed=7,
    )
    assert trace_csv(a) == trace_csv(b)
    assert trace_csv(a) != trace_csv(
        synthesize(
            2000,
            "poisson",
            4.0,
            parse_length("lognormal:200:0.5"),
            parse_length("uniform:10:20", low=0),
            8,
        )
    )
    gaps = np.diff([r.arrival_s for r in a])
    assert gaps.mean() == pytest.approx(0.25, rel=0.1)  # 4 per second
    assert np.median([r.prompt_tokens for r in a]) == pytest.approx(200, rel=0.1)
    assert {r.output_tokens for r in a} <= set(range(10, 21))
    rng = np.random.default_rng(0)
    assert np.allclose(np.diff(arrivals("fixed", 5, 2.0, rng)), 0.5)
    u = np.diff(arrivals("uniform", 500, 2.0, rng))
    assert u.min() >= 0.25 and u.max() <= 0.75
    assert (LengthDist("fixed", 64).draw(rng, 3) == 64).all()
    with pytest.raises(UserError, match="lognormal:MEDIAN:SIGMA"):
        parse_length("normal:3")


@pytest.mark.parametrize(
    "name,args",
    [
        (
            "poisson_100.csv",
            [
                "--requests",
                "100",
                "--arrival",
                "poisson",
                "--rate",
                "0.5",
                "--prompt",
                "lognormal:256:0.8",
                "--output",
                "uniform:16:128",
                "--seed",
                "1",
            ],
        ),
        (
            "burst_fixed_50.csv",
            [
                "--requests",
                "50",
                "--arrival",
                "fixed",
                "--rate",
                "20",
                "--prompt",
                "fixed:128",
                "--output",
                "fixed:32",
                "--seed",
                "0",
            ],
        ),
        (
            "uniform_long_40.csv",
            [
                "--requests",
                "40",
                "--arrival",
                "uniform",
                "--rate",
                "0.1",
                "--prompt",
                "uniform:512:960",
                "--output",
                "lognormal:48:0.5",
                "--seed",
                "3",
            ],
        ),
    ],
)
def test_shipped_traces_regenerate_from_their_seed(
    tmp_path: Path, name: str, args: list[str]
) -> None:
    out = tmp_path / name
    assert main(["trace", *args, "--out", str(out)]) == 0
    assert out.read_bytes() == (ROOT / "traces" / name).read_bytes()


@pytest.mark.shared
def test_azure_trace_loads_in_arrival_order(shared: Path) -> None:
    path = shared / "traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv"
    tr = load_trace(path, 1024, "clip", 2000)
    assert len(tr.requests) + tr.dropped == 2000
    arr = [r.arrival_s for r in tr.requests]
    assert arr[0] == 0.0 and arr == sorted(arr)
    assert all(r.prompt_tokens + r.output_tokens <= 1024 for r in tr.requests)
    assert tr.requests[0].prompt_tokens == 374 and tr.requests[0].output_tokens == 44
    drop = load_trace(path, 1024, "drop", 2000)
    assert drop.dropped == tr.clipped + tr.dropped and drop.clipped == 0
    code = load_trace(shared / "traces/azure_llm_2023/AzureLLMInferenceTrace_code.csv")
    assert len(code.requests) == 8819  # every data row (the file has no final newline)
