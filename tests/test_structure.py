"""Structural choices real builds differ in, as design parameters: the GEMV loop order, how
a pack leaves a systolic linear, and where the softmax writes its row. Each changes what
overlaps what, so each is checked in the estimate and in the simulation."""

from __future__ import annotations

from math import ceil

import pytest

import spatialsim as ss
from spatialsim.costmodel.isolated import estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work, prefill_work

GEMVS = ("q_proj", "k_proj", "v_proj", "out_proj", "ffn1", "ffn2")
PARAMS = CostParams()


def gemv(order: str, k: int = 1024, n: int = 4096, engines: int = 4) -> dict[str, object]:
    return {
        "kind": "gemv",
        "engines": engines,
        "pes": 32,
        "pack": 2,
        "in_features": k,
        "out_features": n,
        "order": order,
    }


def test_column_gemv_streams_k_times_passes_then_writes_every_output() -> None:
    est = estimate("f", gemv("column"), Work("decode", 3, 1, 1, 0), PARAMS)
    passes = ceil(4096 / (4 * 32 * 2))
    stream, write = est.loop("STREAM"), est.loop("WRITE")
    assert (stream.trips, stream.entries) == (1024 * passes, 3)
    assert (write.trips, write.entries) == (4096, 3)
    assert [lp.name for lp in est.loops] == ["STREAM", "WRITE"]
    row = estimate("f", gemv("row"), Work("decode", 3, 1, 1, 0), PARAMS)
    assert row.loop("BUFFER").trips == 1024 and row.loop("MAC").entries == 3 * passes
    # the same multiply-accumulates either way
    assert stream.total_trips == row.loop("MAC").total_trips


def sim(prompt_len: int = 16, **changes: object) -> ss.RunReport:
    return ss.simulate(model="gpt2-medium", prompt_len=prompt_len, gen_len=3, **changes)  # type: ignore[arg-type]


def stats(rep: ss.RunReport, phase: str, kernel: str):  # type: ignore[no-untyped-def]
    return rep.result.phases[phase].kernels[kernel]


def test_column_order_overlaps_the_producer_and_delays_the_consumer() -> None:
    """Row order buffers the input first, so a row GEMV is never busy before its input is
    complete; a column GEMV starts on the first element, but writes all outputs at the
    end: v_proj's outputs then arrive faster than the II-8 V writer takes them, and v_proj
    blocks, which row order (a pass's outputs per K cycles) never does."""
    row = sim(set={f"kernel.{n}.order": "row" for n in GEMVS})
    col = sim(set={f"kernel.{n}.order": "column" for n in GEMVS})
    vr, vc = stats(row, "decode", "v_proj"), stats(col, "decode", "v_proj")
    assert vr.blocked < 0.02 and vc.blocked > 0.2
    assert col.result.ttft_ms == row.result.ttft_ms  # prefill uses systolic linears
    assert col.result.tpot_ms != pytest.approx(row.result.tpot_ms, rel=1e-3)


def test_a_pack_leaving_whole_delays_the_consumer_not_the_linear() -> None:
    block = sim(prompt_len=64)
    whole = sim(prompt_len=64, set={f"kernel.{n}.emit": "pack" for n in GEMVS})
    assert whole.result.ttft_ms > block.result.ttft_ms * 1.01
    # the linear's own work is unchanged; its consumer waits longer for it
    for n in ("ffn1", "ffn2"):
        b, w = stats(block, "prefill", n), stats(whole, "prefill", n)
        assert w.busy * w.active_cycles == pytest.approx(b.busy * b.active_cycles, rel=1e-6)
    gb, gw = stats(block, "prefill", "gelu"), stats(whole, "prefill", "gelu")
    assert gw.starved * gw.active_cycles > gb.starved * gb.active_cycles


def test_attention_arrays_can_hand_a_pack_on_whole_too() -> None:
    block = sim(prompt_len=64)
    whole = sim(prompt_len=64, set={"kind.attn_matmul.emit": "pack"})
    assert whole.result.ttft_ms > block.result.ttft_ms
    for n in ("qk_matmul", "sv_matmul"):
        b, w = stats(block, "prefill", n), stats(whole, "prefill", n)
        assert w.busy * w.active_cycles == pytest.approx(b.busy * b.active_cycles, rel=1e-6)


def test_buffered_softmax_adds_a_half_row_output_pass_per_row() -> None:
    attrs = {"kind": "softmax", "heads": 16, "heads_parallel": 4, "reduction_ii": 4}
    w = prefill_work(512, 2)
    streamed = estimate("s", {**attrs, "output": "streamed"}, w, PARAMS)
    buffered = estimate("s", {**attrs, "output": "buffered"}, w, PARAMS)
    rows = 256 * 4
    per_row = (buffered.cycles - streamed.cycles) / rows
    assert per_row == pytest.approx(256 - 1 + PARAMS.softmax_out_depth_cycles)
    # in the simulation the row leaves after the exp-and-sum loop: later, so TTFT grows
    s = {"kernel.softmax.output": "streamed"}
    b = {"kernel.softmax.output": "buffered"}
    assert sim(prompt_len=64, set=b).result.ttft_ms > sim(prompt_len=64, set=s).result.ttft_ms


def test_design_files_without_the_new_parameters_get_their_defaults(tmp_path: object) -> None:
    from spatialsim.design.kernels import check_kernel

    a = check_kernel(
        "f",
        {k: v for k, v in gemv("row").items() if k != "order"}
        | {
            "weight_bits": 8,
            "act_bits": 8,
            "out_dtype": "fp32",
            "ports": ["HBM[1]"],
            "port_bits": 512,
            "slr": 0,
        },
    )
    assert a["order"] == "row"
    with pytest.raises(ss.UserError, match="order = 'diagonal' is not allowed; valid: row, column"):
        check_kernel("f", {**a, "order": "diagonal"})
