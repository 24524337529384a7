"""Cost models: loop and array formulas against the HLS report, memory costs against the
measured HBM numbers of chen2024.md section 5."""

from __future__ import annotations

import pytest

from spatialsim.costmodel import kernels as cm
from spatialsim.costmodel.memory import hbm_channel_rate_gbps, hbm_latency_ns, port_rate_gbps
from spatialsim.costmodel.params import CostParams
from spatialsim.design.templates import build_design
from spatialsim.errors import UserError
from spatialsim.hardware.platform import get_platform
from spatialsim.workload.models import get_model


def test_pipelined_loop_is_ii_times_trips_minus_one_plus_depth() -> None:
    assert cm.pipelined(100, 1, 5) == 104
    assert cm.pipelined(100, 4, 9) == 405
    assert cm.pipelined(1, 4, 9) == 9
    assert cm.pipelined(0, 4, 9) == 0


def w4a8_layer() -> dict[str, dict[str, object]]:
    d = build_design("chen2024-w4a8", get_model("gpt2-medium"), 128)
    return {n: dict(a) for n, a in d.graph("prefill").nodes(data=True)}


# Vitis HLS estimates of the W4A8 GPT-2-medium layer at l = 128 (chen2024.md section 4).
HLS_CYCLES = {"q_proj": 528_822, "out_proj": 528_821, "ffn1": 2_110_901, "ffn2": 2_104_773,
              "qk_matmul": 293_201, "sv_matmul": 281_937, "layernorm0": 84_317}


@pytest.mark.parametrize("kernel", ["q_proj", "out_proj", "ffn1", "ffn2"])
def test_systolic_linear_cycles_match_the_hls_report(kernel: str) -> None:
    a = w4a8_layer()[kernel]
    packs = 128 // 8
    model = packs * cm.linear_blocks(a) * cm.linear_block_cycles(a)
    print(f"{kernel}: cost model {model:,.0f} vs HLS {HLS_CYCLES[kernel]:,}")
    assert model == pytest.approx(HLS_CYCLES[kernel], rel=0.005)


@pytest.mark.parametrize("kernel", ["qk_matmul", "sv_matmul"])
def test_attention_array_cycles_are_within_two_percent_of_hls(kernel: str) -> None:
    a = w4a8_layer()[kernel]
    model = 16 * a["heads"] * cm.attn_head_cycles(a, keys=128)  # type: ignore[operator]
    print(f"{kernel}: cost model {model:,.0f} vs HLS {HLS_CYCLES[kernel]:,}")
    assert model == pytest.approx(HLS_CYCLES[kernel], rel=0.02)


def test_layernorm_row_cost_matches_the_hls_report() -> None:
    read, write = cm.layernorm_row_passes(1024, 4, CostParams())
    assert 16 * (read + write) == pytest.approx(HLS_CYCLES["layernorm0"], rel=0.005)


def test_softmax_costs_one_more_pass_than_the_artifact_that_skips_the_max() -> None:
    read, reduce, write = cm.softmax_row_passes(128, 4, CostParams())
    artifact = 175_617 / (16 * 16)  # per row in the HLS report, without the max pass
    assert read + reduce + write == pytest.approx(artifact + 128, rel=0.01)


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
    with pytest.raises(UserError, match="stream_depth_cycles"):
        CostParams(stream_depth_cycles=-1)
    with pytest.raises(UserError, match="unknown cost parameter 'bogus'"):
        CostParams().replace(bogus=1.0)
    assert CostParams().replace(launch_overhead_us=5).launch_overhead_us == 5
