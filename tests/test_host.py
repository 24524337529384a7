"""Host orchestration: how the host launches layers (per region kernel, per layer, or all
layers of a step in one call), what each enqueue and completion wait costs, and the
reconfiguration between a prefill and a decode bitstream."""

from __future__ import annotations

import pytest

import spatialsim as ss
from spatialsim.errors import UserError

BASE = {"prompt_len": 16, "gen_len": 2, "layers": 3, "design": "chen2024-w8a8"}
CLOCK_MHZ = 250.0


def run(scope: str, **cost: float) -> ss.RunReport:
    return ss.simulate(**BASE, set={"design.launch_scope": scope}, cost=cost)


def test_one_launch_per_layer_pays_each_enqueue_and_wait_once_per_layer() -> None:
    base = run("layer")
    slow = run("layer", launch_overhead_us=10.0, wait_overhead_us=4.0)
    layers = BASE["layers"]
    assert slow.ttft_ms - base.ttft_ms == pytest.approx(layers * 14.0e-3, rel=1e-9)
    for a, b in zip(slow.per_token_ms, base.per_token_ms, strict=True):
        assert a - b == pytest.approx(layers * 14.0e-3, rel=1e-9)


def test_layers_looped_on_chip_pay_once_per_step() -> None:
    base = run("step")
    slow = run("step", launch_overhead_us=10.0, wait_overhead_us=4.0)
    assert slow.ttft_ms - base.ttft_ms == pytest.approx(14.0e-3, rel=1e-9)
    for a, b in zip(slow.per_token_ms, base.per_token_ms, strict=True):
        assert a - b == pytest.approx(14.0e-3, rel=1e-9)
    assert base.ttft_ms == pytest.approx(run("layer").ttft_ms, rel=1e-12)  # free launches


def test_region_kernels_start_one_enqueue_apart() -> None:
    overhead_us = 20.0
    base = run("region")
    slow = ss.simulate(
        **BASE,
        set={"design.launch_scope": "region"},
        cost={"launch_overhead_us": overhead_us},
        timeline=True,
    )
    layers = BASE["layers"]
    extra = slow.ttft_ms - base.ttft_ms
    # at least one enqueue before anything runs, at most three before the last region
    assert layers * overhead_us * 1e-3 <= extra + 1e-12
    assert extra <= 3 * layers * overhead_us * 1e-3 + 1e-12
    tl = slow.result.timeline
    assert tl is not None
    first = tl.launches[0]
    starts: dict[str, float] = {}
    for kernel, _, start, _ in tl.spans:
        starts.setdefault(str(kernel), float(start))  # type: ignore[arg-type]
    cycles = overhead_us * CLOCK_MHZ
    assert starts["q_proj"] == pytest.approx(first.start + cycles)  # region 1 (SLR0)
    assert starts["k_writer"] >= first.start + 2 * cycles - 1e-9  # region 2 (SLR1)
    assert starts["ffn1"] >= first.start + 3 * cycles - 1e-9  # region 3 (SLR2)


def test_reconfiguration_is_reported_on_its_own() -> None:
    plain = ss.simulate(**BASE)
    rep = ss.simulate(**BASE, cost={"reconfig_ms": 5.0})
    doc = rep.to_json()
    assert doc["reconfiguration_ms"] == 5.0
    assert doc["ttft_includes_reconfiguration"] is False
    assert doc["tpot_includes_reconfiguration"] is False
    assert rep.ttft_ms == pytest.approx(plain.ttft_ms, rel=1e-12)
    assert rep.per_token_ms == pytest.approx(plain.per_token_ms, rel=1e-9)
    prefill = rep.result.phases["prefill"]
    decode = rep.result.phases["decode"]
    assert decode.cycles == pytest.approx(plain.result.phases["decode"].cycles)
    assert prefill.cycles == pytest.approx(plain.result.phases["prefill"].cycles)
    # one bitstream for both phases: nothing to reconfigure
    w4 = ss.simulate(**{**BASE, "design": "chen2024-w4a8"}, cost={"reconfig_ms": 5.0})
    assert w4.to_json()["reconfiguration_ms"] == 0.0


def test_launch_scope_is_a_checked_design_field(tmp_path: object) -> None:
    with pytest.raises(UserError, match="unknown launch_scope 'kernel'; valid: layer, region"):
        ss.simulate(**BASE, set={"design.launch_scope": "kernel"})
