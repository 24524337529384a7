"""TeraFly's OPT-1.3B decoder on the U50LV (terafly.md), expressed in the design language:
two compute units on an on-card ring, layers looped on chip, the prompt fed token by
token; its facts checked against terafly.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import spatialsim as ss
from spatialsim.analytical.latency import kernel_work
from spatialsim.design.fileio import save_design
from spatialsim.design.resources import check_fit
from spatialsim.design.resources import estimate as resource_estimate
from spatialsim.design.templates import build_design
from spatialsim.errors import DeadlockError, UserError
from spatialsim.hardware.platform import get_platform
from spatialsim.workload.models import get_model

OPT = get_model("opt-1.3b")
U50LV = get_platform("u50lv")


def _design(seq: int = 64):
    return build_design("terafly-opt1.3b", OPT, seq)


def test_it_fits_the_u50lv_with_one_gemv_stage_per_compute_unit() -> None:
    d = _design()
    (rep,) = check_fit(d, U50LV)
    assert set(rep.slrs) == {0, 1}  # one compute unit per SLR
    for slr, used in rep.slrs.items():
        for r in ("dsp", "lut", "ff", "bram36", "uram"):
            assert used[r] <= getattr(U50LV.slrs[slr], r), (slr, r)
    # Q, K, V, projection, FC1 and FC2 reuse one set of 8 engines: counted once
    k = rep.kernels
    assert k["cu0_k_proj"]["dsp"] == k["cu0_fc2"]["dsp"] == 0
    assert k["cu0_q_proj"]["dsp"] == 8 * (32 + 6)  # 8 engines of 32 PEs (+ re-quantise)
    # every weight and cache port of a CU is one AXI master, whoever uses it
    assert k["cu0_k_writer"]["lut"] < k["cu0_q_buffer"]["lut"] + 20_000


def test_weight_streaming_matches_terafly_md_per_port() -> None:
    """terafly.md: per HBM port per layer QKV 12,288, projection 4,096, FC1 16,384 and
    FC2 16,384 cycles of 512-bit words, 49,152 in all, 1,179,648 per token per CU."""
    d = _design()
    beats = {}
    for name in ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"):
        w = kernel_work(d, "decode", f"cu0_{name}", 16)
        beats[name] = w.weight_bytes / 8 / 64  # 8 ports, 64-byte words
    assert beats["q_proj"] + beats["k_proj"] + beats["v_proj"] == 12_288
    assert beats["out_proj"] == 4_096 and beats["fc1"] == 16_384 and beats["fc2"] == 16_384
    assert sum(beats.values()) * OPT.layers == 1_179_648


def test_seven_ring_exchanges_per_layer_and_two_heads_at_a_time() -> None:
    g = _design().graph("decode")
    rings = [n for n in g.nodes if n.startswith("cu0_") and g.nodes[n]["kind"] == "collective"]
    # stage 2's Q, K and V exchanges are one exchange of the fused QKV output
    stages = {n.removeprefix("cu0_ring_").rstrip("qkv_") or "qkv" for n in rings}
    assert len(stages) == 7, sorted(stages)
    assert (
        g.nodes["cu0_qk_matmul"]["heads"] == 16 and g.nodes["cu0_qk_matmul"]["heads_parallel"] == 2
    )
    ring = g.edges["cu0_ring_fc1", "cu1_ring_fc1"]
    assert (ring["depth_words"], ring["width_bits"]) == (64, 256)


def test_the_prompt_goes_token_by_token_through_all_layers() -> None:
    rep = ss.simulate(
        model="opt-1.3b", platform="u50lv", design="terafly-opt1.3b", prompt_len=4,
        gen_len=4, layers=2,
    )  # fmt: skip
    r = rep.result
    assert r.phases["prefill"].launches == 4 * 2
    # each prompt token costs what a generated token costs at the same context
    assert r.ttft_ms / 4 == pytest.approx(r.tpot_ms, rel=0.05)
    # two compute units in lock step: each waits on the ring, neither finishes far ahead
    k = r.phases["decode"].kernels
    assert k["cu0_fc2"].active_cycles == pytest.approx(k["cu1_fc2"].active_cycles, rel=0.01)


def test_cli_runs_the_issue_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "spatialsim.cli.main", "run", "--design", "terafly-opt1.3b",
         "--platform", "u50lv", "--model", "opt-1.3b", "--prompt-len", "4", "--gen-len", "2",
         "--layers", "2", "--json", "-"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["ttft_ms"] > 0 and doc["tpot_ms"] > 0 and doc["clock_mhz"] == 240.3


def test_a_ring_fifo_shallower_than_a_block_deadlocks_naming_it() -> None:
    with pytest.raises(DeadlockError) as err:
        ss.simulate(
            model="opt-1.3b", platform="u50lv", design="terafly-opt1.3b", prompt_len=1,
            gen_len=0, layers=1,
            set={"fifo.cu0_ring_fc1_to_cu1_ring_fc1.depth": 4,
                 "fifo.cu1_ring_fc1_to_cu0_ring_fc1.depth": 4},
        )  # fmt: skip
    msg = str(err.value)
    assert "cu0_ring_fc1_to_cu1_ring_fc1" in msg and "the on-chip ring" in msg
    assert "`set` fifo." in msg


def test_other_models_and_card_counts_are_refused() -> None:
    with pytest.raises(UserError, match="is an OPT decoder"):
        build_design("terafly-opt1.3b", get_model("gpt2"), 64)
    with pytest.raises(UserError, match="runs on one card"):
        build_design("terafly-opt1.3b", OPT, 64, 2)
    with pytest.raises(UserError, match="holds 1024 KV positions"):
        build_design("terafly-opt1.3b", OPT, 2048)


def test_a_saved_terafly_design_runs_the_same(tmp_path: Path) -> None:
    path = tmp_path / "terafly.toml"
    save_design(_design(16), path)
    kw = {"platform": "u50lv", "prompt_len": 2, "gen_len": 2, "layers": 1}
    a = ss.simulate(design="terafly-opt1.3b", model="opt-1.3b", max_seq_len=16, **kw)
    b = ss.simulate(design=str(path), **kw)
    assert a.ttft_ms == b.ttft_ms and a.tpot_ms == b.tpot_ms
    rep = resource_estimate(_design(16), "decoder")
    assert rep.total["dsp"] < U50LV.total("dsp")
