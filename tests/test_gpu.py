"""The GPU baseline: datasheet files, the batch-1 model (roofline at achievable fractions,
launch and step costs by execution mode, energy), and its place in ``compare``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import spatialsim as ss
from spatialsim.analytical.gpu import (
    GpuParams,
    device_us,
    gpu_params,
    kernels,
    run,
)
from spatialsim.cli.main import main
from spatialsim.hardware.gpu import BUILTIN_GPUS, Gpu, get_gpu
from spatialsim.workload.models import get_model
from spatialsim.workload.operators import Precision, head_operators, layer_operators

FP16 = Precision(16, 16)


def test_builtin_gpus_carry_their_datasheet_peaks_with_sources() -> None:
    a100 = get_gpu("a100-40gb")
    assert (a100.bandwidth_gbps, a100.fp16_tflops, a100.int8_tops, a100.tdp_w) == (
        1555, 312, 624, 400)  # fmt: skip
    assert get_gpu("a100-80gb").bandwidth_gbps == 2039
    assert get_gpu("h100-sxm").fp16_tflops == 989 and get_gpu("l4").tdp_w == 72
    for name in BUILTIN_GPUS:
        g = get_gpu(name)
        assert g.name == name
        for field in ("memory_gb", "bandwidth_gbps", "fp16_tflops", "int8_tops", "tdp_w"):
            assert "datasheet" in g.sources[field], (name, field)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'x'\nmemory_gb = 8\n", "field 'bandwidth_gbps' is missing"),
        ("name = 'x'\nmemory_gb = 8\nbandwidth_gbps = nan\nfp16_tflops = 1\nint8_tops = 1\n"
         "tdp_w = 1\n", "field 'bandwidth_gbps' = nan"),
        ("name = 'x'\nmemory_gb = 8\nbandwidth_gbps = 100\nfp16_tflops = 1\nint8_tops = 1\n"
         "tdp_w = 1\nclock = 3\n", "unknown field 'clock'"),
        ("name = 'x'\nmemory_gb = 8\nbandwidth_gbps = '100'\nfp16_tflops = 1\nint8_tops = 1\n"
         "tdp_w = 1\n", "field 'bandwidth_gbps' must be a number of GB/s"),
        ("name = 'x'\nmemory_gb = 8\nbandwidth_gbps = inf\nfp16_tflops = 1\nint8_tops = 1\n"
         "tdp_w = 1\n", "field 'bandwidth_gbps' = inf"),
        ("name = 'x'\nmemory_gb = 8\nbandwidth_gbps = 100\nfp16_tflops = 1e30\nint8_tops = 1\n"
         "tdp_w = 1\n", "field 'fp16_tflops' = 1e\\+30: expected TFLOPS"),
    ],
)  # fmt: skip
def test_a_gpu_file_is_checked_field_by_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "g.toml"
    path.write_text(text)
    with pytest.raises(ss.UserError, match=message.replace("(", r"\(")) as err:
        get_gpu(str(path))
    assert str(path) in str(err.value)
    with pytest.raises(ss.UserError, match="a100-40gb"):
        get_gpu("a100")  # unknown names list the built-in ones


def test_a_binary_or_missing_gpu_file_is_a_clean_error(tmp_path: Path) -> None:
    binary = tmp_path / "g.toml"
    binary.write_bytes(b"\x00\xff\x13" * 50)
    with pytest.raises(ss.UserError, match=r"g\.toml"):
        get_gpu(str(binary))
    with pytest.raises(ss.UserError, match="does not exist"):
        get_gpu(str(tmp_path / "none.toml"))


def test_a_kernel_is_its_roofline_at_the_achievable_fractions() -> None:
    """Hand-computed: a GPT-2-medium decode FFN1 is 1024 x 4096 fp16 weights (8 MiB) plus
    its input and output vectors; on an A100 40 GB at 70 % of 1,555 GB/s that is
    memory-bound: (8,388,608 + 2,048 + 8,192) B / 1,088.5 GB/s = 7.716 us."""
    ops = {o.name: o for o in layer_operators(get_model("gpt2-medium"), "decode", 128, FP16)}
    ffn1 = ops["ffn1"]
    assert ffn1.weight_bytes == 1024 * 4096 * 2
    t = device_us([ffn1], get_gpu("a100-40gb"), FP16, GpuParams())
    bytes_ = ffn1.weight_bytes + ffn1.input_bytes + ffn1.output_bytes
    assert t == pytest.approx(bytes_ / (1555e9 * 0.7) * 1e6, rel=1e-12)
    assert t == pytest.approx(7.716, abs=0.01)
    # prefill at l = 512 is compute-bound: 2 x 512 x 1024 x 4096 / (312 T x 0.4)
    pre = {o.name: o for o in layer_operators(get_model("gpt2-medium"), "prefill", 512, FP16)}
    t = device_us([pre["ffn1"]], get_gpu("a100-40gb"), FP16, GpuParams())
    assert t == pytest.approx(2 * 512 * 1024 * 4096 / (312e12 * 0.4) * 1e6, rel=1e-12)


def test_kernels_per_layer_by_execution_mode() -> None:
    ops = layer_operators(get_model("gpt2-medium"), "decode", 64, FP16)
    eager, graphs = kernels(ops, "eager"), kernels(ops, "graphs")
    assert len(eager) == len(ops) == 15
    names = [[o.name for o in g] for g in graphs]
    # linears and norms alone; Q.K^T, mask, softmax and softmax.V one fused kernel;
    # the residual adds and the activation fused away
    assert ["qk_matmul", "mask", "softmax", "sv_matmul"] in names
    assert len(graphs) == 9 and ["gelu"] not in names and ["residual0"] not in names


def test_a_small_model_is_launch_bound_in_eager_mode_and_graphs_remove_most_of_it() -> None:
    m, a100 = get_model("gpt2-medium"), get_gpu("a100-40gb")
    eager = run(m, a100, 128, 4, "eager")
    graphs = run(m, a100, 128, 4, "graphs")
    p = GpuParams()
    # eager decode: every kernel waits for its launch (24 layers x 15 kernels x 10 us)
    assert eager.tpot_ms == pytest.approx((24 * 15 * p.eager_launch_us + p.eager_step_us) / 1e3)
    assert graphs.tpot_ms is not None and graphs.tpot_ms < eager.tpot_ms / 3
    # a bigger, bandwidth-bound model: the launch cost matters less than the weights
    big = run(get_model("llama2-7b"), get_gpu("a100-80gb"), 128, 2, "graphs")
    weights = sum(o.weight_bytes for o in layer_operators(get_model("llama2-7b"), "decode",
                                                          128, FP16)) * 32  # fmt: skip
    floor_ms = weights / (2039e9 * p.bandwidth_efficiency) * 1e3
    assert big.tpot_ms is not None and floor_ms < big.tpot_ms < 1.1 * floor_ms


def test_energy_mixes_idle_and_busy_power_by_the_device_busy_share() -> None:
    m, l4 = get_model("gpt2-medium"), get_gpu("l4")
    r = run(m, l4, 64, 3, "eager", params=gpu_params({"idle_fraction": 0.1,
                                                      "busy_fraction": 0.5}))  # fmt: skip
    doc = r.to_json()
    # the average power lies between idle and busy, and is nearer idle when launch-bound
    assert 0.1 * 72 < doc["average_w"] < 0.5 * 72
    same = run(m, l4, 64, 3, "eager", params=gpu_params({"idle_fraction": 0.3,
                                                         "busy_fraction": 0.3}))  # fmt: skip
    total_ms = same.ttft_ms + sum(same.per_token_ms)
    assert same.to_json()["energy_j"] == pytest.approx(0.3 * 72 * total_ms / 1e3)


def test_model_parameters_and_memory_are_checked() -> None:
    with pytest.raises(ss.UserError, match=r"bandwidth_efficiency = 1\.5"):
        gpu_params({"bandwidth_efficiency": 1.5})
    with pytest.raises(ss.UserError, match="unknown"):
        gpu_params({"efficiency": 0.5})
    for bad in (float("nan"), float("inf"), 1e300):
        with pytest.raises(ss.UserError, match="eager_launch_us"):
            gpu_params({"eager_launch_us": bad})
    with pytest.raises(ss.UserError, match="busy_fraction"):
        gpu_params({"idle_fraction": 0.5, "busy_fraction": 0.2})
    with pytest.raises(ss.UserError, match="GPU mode 'fast'"):
        run(get_model("gpt2"), get_gpu("l4"), 8, 1, "fast")
    small = Gpu("tiny", 1, 100, 10, 20, 50)
    with pytest.raises(ss.UserError, match="llama2-13b's layer weights need"):
        run(get_model("llama2-13b"), small, 8, 1)


def test_compare_adds_the_gpu_row_and_the_speedups_over_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c"
    args = ["compare", "--model", "gpt2", "--prompt-len", "16", "--gen-len", "2",
            "--designs", "chen2024-w8a8", "--gpu", "a100-40gb", "--gpu-mode", "eager",
            "--gpu-param", "eager_launch_us=20", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    doc = json.loads((out / "compare.json").read_text())
    gpu = doc["rows"][-1]
    assert gpu["design"] == "a100-40gb (eager, fp16)" and gpu["resources_per_card"] is None
    assert gpu["gpu"]["params"]["eager_launch_us"] == 20.0
    expect = run(get_model("gpt2"), get_gpu("a100-40gb"), 16, 2, "eager",
                 params=gpu_params({"eager_launch_us": 20.0}))  # fmt: skip
    assert gpu["tpot_ms"] == pytest.approx(expect.tpot_ms)
    spatial = doc["rows"][0]
    speed = next(s for s in doc["speedups"] if s["versus"] == gpu["design"])
    assert speed["decode_speedup"] == pytest.approx(gpu["tpot_ms"] / spatial["tpot_ms"])
    assert "a100-40gb (eager, fp16)" in text and "not a measurement" in text
    assert "a100-40gb (eager, fp16)" in (out / "report.html").read_text()
    assert main([*args[:-2], "--gpu-param", "eager_launch_us", "--out", str(out)]) == 2
    assert "--gpu-param 'eager_launch_us': expected NAME=VALUE" in capsys.readouterr().err


LLAMA_1B = Path(__file__).resolve().parent / "data" / "hf_configs" / "llama-3.2-1b.json"


@pytest.mark.parametrize("mode", ["eager", "graphs"])
def test_compare_puts_a_llama_config_on_its_template_and_the_gpu_in_both_modes(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Llama-3.2-1B: 17 operators a layer (RoPE one of them) launched one by one in eager
    mode, 10 kernels with graphs, plus the head once per step; the GPU's decode grows with
    the layers by its per-layer launches (eager) or kernels (graphs)."""
    out = tmp_path / mode
    args = ["compare", "--model", str(LLAMA_1B), "--designs", "chen2024-llama-w8a8",
            "--prompt-len", "32", "--gen-len", "2", "--gpu", "a100-80gb",
            "--gpu-mode", mode, "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()
    doc = json.loads((out / "compare.json").read_text())
    spatial, gpu = doc["rows"][0], doc["rows"][-1]
    assert spatial["design"] == "chen2024-llama-w8a8" and spatial["tpot_ms"] > 0
    per_layer = {"eager": 17, "graphs": 10}[mode]
    # the design computes the model's head on the card, so the GPU row does too: the final
    # norm, the LM head, the argmax and the embedding (graphs: the norm and the LM head)
    head = {"eager": 4, "graphs": 2}[mode]
    assert gpu["gpu"]["kernels_per_step"]["decode"] == 16 * per_layer + head
    model, a100, p = get_model(str(LLAMA_1B)), get_gpu("a100-80gb"), GpuParams()
    step_us = p.eager_step_us if mode == "eager" else p.graph_step_us
    tpots = [run(model, a100, 32, 2, mode, layers=n).tpot_ms for n in (4, 8, 16)]
    assert all(t is not None for t in tpots)
    # every layer adds the same time: launches in eager mode, kernels' device time or
    # launch gap with graphs; the per-step host cost is paid once
    slope = (tpots[2] - tpots[1]) / 8  # type: ignore[operator]
    assert (tpots[1] - tpots[0]) / 4 == pytest.approx(slope, rel=1e-6)  # type: ignore[operator]
    assert tpots[0] - 4 * slope == pytest.approx(step_us / 1e3, rel=1e-6)  # type: ignore[operator]
    launch = p.eager_launch_us if mode == "eager" else p.graph_launch_us
    # each kernel takes at least its launch; the FFN's 33.5 MB of fp16 weights take longer
    # (23.5 us at 70 % of 2,039 GB/s), so a layer costs more than its launches alone
    assert slope > per_layer * launch / 1e3


def test_the_head_adds_its_kernels_once_per_step() -> None:
    """With ``head``, each step adds the final norm, the LM head over the vocabulary, the
    argmax and the embedding once (not per layer): Llama-3.2-1B's LM head streams
    2 x 2,048 x 128,256 fp16 bytes, 0.368 ms at 70 % of 2,039 GB/s."""
    model, a100, p = get_model("llama3.2-1b"), get_gpu("a100-80gb"), GpuParams()
    base = run(model, a100, 32, 2, "graphs")
    head = run(model, a100, 32, 2, "graphs", head=True)
    lm_head_ms = 2 * 2048 * 128256 / (2039e9 * p.bandwidth_efficiency) * 1e3
    norm = device_us(kernels(head_operators(model, FP16), "graphs")[0], a100, FP16, p)
    gain = head.tpot_ms - base.tpot_ms  # type: ignore[operator]
    assert gain == pytest.approx(lm_head_ms + max(norm, p.graph_launch_us) / 1e3, rel=1e-3)
    assert head.decode_kernels == base.decode_kernels + 2
    assert run(model, a100, 32, 2, "eager", head=True).decode_kernels == 16 * 17 + 4
