"""Cost models: loop and array formulas against the HLS report, memory costs against the
measured HBM numbers of chen2024.md section 5."""

from __future__ import annotations

import pytest

from spatialsim.costmodel import kernels as cm
from spatialsim.costmodel.design_estimate import kernel_estimates, region_latencies
from spatialsim.costmodel.memory import hbm_channel_rate_gbps, hbm_latency_ns, port_rate_gbps
from spatialsim.costmodel.params import CostParams
from spatialsim.design.overrides import apply_overrides
from spatialsim.design.templates import build_design
from spatialsim.errors import UserError
from spatialsim.hardware.platform import get_platform
from spatialsim.workload.models import get_model


def test_pipelined_loop_is_ii_times_trips_minus_one_plus_depth() -> None:
    assert cm.pipelined(100, 1, 5) == 104
    assert cm.pipelined(100, 4, 9) == 405
    assert cm.pipelined(1, 4, 9) == 9
    assert cm.pipelined(0, 4, 9) == 0


# Vitis HLS estimates of the W4A8 GPT-2-medium layer at l = 128 (chen2024.md section 4).
HLS_CYCLES = {
    "q_proj": 528_822,
    "out_proj": 528_821,
    "ffn1": 2_110_901,
    "ffn2": 2_104_773,
    "qk_matmul": 293_201,
    "sv_matmul": 281_937,
    "mask": 32_770,
    "softmax": 175_617,
    "layernorm0": 84_317,
    "residual0": 24_849,
    "k_writer": 24_721,
    "v_writer": 73_873,
    "q_buffer": 24_737,
    "gelu": 68_212,
    "splitter": 16_392,
    "output_writer": 16_458,
    "weight_loader_r1": 524_361,
    "weight_loader_r3": 2_097_225,
    "region_1": 528_900,
    "region_2": 602_718,
    "region_3": 2_110_967,
}


def w4a8_estimates() -> dict[str, float]:
    d = build_design("chen2024-w4a8", get_model("gpt2-medium"), 128)
    kernels = kernel_estimates(d, "prefill", 128)
    out = {n: e.cycles for n, e in kernels.items()}
    out.update(region_latencies(d, "prefill", kernels))
    return out


def test_every_w4a8_kernel_is_within_two_percent_of_the_hls_report() -> None:
    est = w4a8_estimates()
    worst = 0.0
    for name, hls in HLS_CYCLES.items():
        err = est[name] / hls - 1
        print(f"{name:18s} model {est[name]:12,.0f}  HLS {hls:12,}  {err:+.3%}")
        worst = max(worst, abs(err))
    assert worst < 0.02
    # the linears, LayerNorm, softmax, mask, GeLU and writers are within 0.2 %
    for name in (
        "q_proj",
        "ffn1",
        "ffn2",
        "layernorm0",
        "softmax",
        "mask",
        "gelu",
        "v_writer",
        "output_writer",
        "region_2",
    ):
        assert est[name] == pytest.approx(HLS_CYCLES[name], rel=0.002), name


def test_region_2_latency_is_the_v_writer_then_the_output_projection() -> None:
    est = w4a8_estimates()
    assert est["region_2"] == pytest.approx(
        est["v_writer"] + est["out_proj"] + CostParams().dataflow_overhead_cycles
    )


def test_estimates_follow_structure_for_other_shapes() -> None:
    """Double the array's columns: half the blocks. Double K: the MAC loop doubles."""
    d = build_design("chen2024-w4a8", get_model("gpt2-medium"), 128)
    base = kernel_estimates(d, "prefill", 128)["ffn1"]
    wide = apply_overrides(d, ["kernel.ffn1.cols=32"])
    assert (
        kernel_estimates(wide, "prefill", 128)["ffn1"].loops[0].entries
        == base.loops[0].entries // 2
    )
    big = build_design("chen2024-w4a8", get_model("gpt2-xl"), 256)
    e = kernel_estimates(big, "prefill", 256)["ffn2"]
    assert e.loops[0].trips == 6400 and e.loops[0].entries == 32 * 1600 // 32


def test_gemv_pass_streams_one_512_bit_beat_per_engine_per_cycle() -> None:
    d = build_design("chen2024-w8a8", get_model("gpt2-medium"), 128)
    a = dict(d.graph("decode").nodes["ffn1"])
    assert cm.gemv_outputs_per_pass(a) == 4 * 32 * 2
    assert cm.gemv_pass_bytes_per_engine(a) == 1024 * 64
    assert cm.gemv_passes(a) == 4096 // 256
    assert cm.output_burst_words(a) == 256


def test_hbm_rate_curve_hits_both_measurements_and_rises_in_between() -> None:
    hbm = get_platform("u280").hbm
    assert hbm is not None
    assert hbm_channel_rate_gbps(hbm, 128 * 1024) == 13.2
    assert hbm_channel_rate_gbps(hbm, 4 * 2**20) == 13.2
    assert hbm_channel_rate_gbps(hbm, 32) == 6.7
    sizes = [64, 512, 4096, 32768, 100000]
    rates = [hbm_channel_rate_gbps(hbm, s) for s in sizes]
    assert rates == sorted(rates) and rates[0] > 6.7 and rates[-1] < 13.2


def test_a_512_bit_port_at_250_mhz_asks_more_than_a_channel_gives() -> None:
    assert port_rate_gbps(512, 250) == pytest.approx(16.0)
    assert port_rate_gbps(256, 250) == pytest.approx(8.0)


def test_hbm_latency_adds_the_switch_and_slr_crossings() -> None:
    hbm = get_platform("u280").hbm
    assert hbm is not None
    assert hbm_latency_ns(hbm, 0, 16.0) == pytest.approx(106.7 + 15.6)
    assert hbm_latency_ns(hbm, 2, 16.0) == pytest.approx(106.7 + 15.6 + 32.0)


def test_cost_params_refuse_bad_values_and_names() -> None:
    with pytest.raises(UserError, match="softmax_exp_depth_cycles"):
        CostParams(softmax_exp_depth_cycles=-1)
    with pytest.raises(UserError, match="array_prologue_divisor"):
        CostParams(array_prologue_divisor=0)
    with pytest.raises(UserError, match="unknown cost parameter 'bogus'"):
        CostParams().replace(bogus=1.0)
    assert CostParams().replace(launch_overhead_us=5).launch_overhead_us == 5
