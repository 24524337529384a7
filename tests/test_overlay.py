"""The temporal overlay (DFX, dfx.md): the compiler's instruction stream, its scoreboard
tokens, the units as kernels in the engine, and the dfx template on 1, 2 and 4 U280s."""

from __future__ import annotations

from collections import Counter
from math import ceil, log2

import pytest

import spatialsim as ss
from spatialsim.costmodel.work import decode_work, prefill_work
from spatialsim.design.resources import estimate as resource_estimate
from spatialsim.design.templates import build_design
from spatialsim.errors import UserError
from spatialsim.hardware.platform import get_platform
from spatialsim.kinds.overlay import OverlayParams, program
from spatialsim.workload.models import get_model

GPT2 = get_model("gpt2")
U280 = get_platform("u280")


def _params(devices: int = 1, unit: str = "mpu", **kw) -> OverlayParams:
    m = GPT2
    return OverlayParams(
        slr=1, unit=unit, hidden=m.hidden, heads=m.heads, head_dim=m.head_dim, ffn=m.ffn,
        devices=devices, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("devices", [1, 2, 4])
@pytest.mark.parametrize("work", [prefill_work(24, 1), decode_work(40, 1)])
def test_every_token_sent_is_taken_and_dependencies_point_backwards(devices, work) -> None:
    prog = program(_params(devices), work)
    sent: Counter[tuple[str, str]] = Counter()
    taken: Counter[tuple[str, str]] = Counter()
    for ins in prog:
        for producer, n in ins.takes:
            assert producer != ins.unit and n > 0
            taken[(producer, ins.unit)] += n
            # a unit never takes a token that its producer has not been told to send yet
            assert taken[(producer, ins.unit)] <= sent[(producer, ins.unit)]
        for consumer in ins.notify:
            sent[(ins.unit, consumer)] += 1
    assert sent == taken
    assert any(i.unit == "router" for i in prog) == (devices > 1)
    gathers = [i for i in prog if i.op.startswith("ALLGATHER")]
    assert len(gathers) == (4 if devices > 1 else 0)  # dfx.md: four per layer


def test_matrix_unit_cycles_follow_the_units_shape() -> None:
    """Decode on one card: each Conv1D takes ceil(K / 64) x ceil(N / 16) cycles (one
    64-wide slice per lane per cycle, 16 lanes), plus one pipeline depth (a multiply,
    six adder levels and the accumulation: 6 + 6 x 11 + 11 cycles, dfx.md) and the issue
    cost of each of its weight chunks."""
    p = _params()
    prog = program(p, decode_work(40, 1))
    d, f = GPT2.hidden, GPT2.ffn
    depth = 6 + log2(64) * 11 + 11
    mats = [(d, d), (d, d), (d, d), (d, d), (d, f), (f, d)]  # v, q, k, proj, fc1, fc2
    chunk_cols = 256 * 1024 // (d * 2) // 16 * 16
    want = 0.0
    for k, n in mats:
        cols_per_chunk = max(16, 256 * 1024 // (k * 2) // 16 * 16)
        chunks = ceil(n / cols_per_chunk)
        want += ceil(k / 64) * ceil(n / 16) + depth + chunks * 10
    got = sum(i.cycles for i in prog if i.op.startswith("CONV1D"))
    assert chunk_cols > 0
    assert got == pytest.approx(want, rel=1e-12)


def _dfx(tp: int, **fields):
    return ss.simulate(
        model="gpt2", design="dfx", prompt_len=16, gen_len=4, layers=2, tp=tp, **fields
    )


def test_the_engine_runs_the_compiled_stream() -> None:
    """Each unit is busy exactly for its instructions: the matrix unit's busy cycles are
    the stream's, layer by layer and token by token."""
    rep = _dfx(1)
    p = _params()
    mpu = rep.result.phases["decode"].kernels["mpu"]
    want = sum(
        sum(i.cycles for i in program(p, decode_work(c, 1)) if i.unit == "mpu") * 2
        for c in range(16, 20)
    )
    assert mpu.active_cycles * mpu.busy == pytest.approx(want, rel=1e-9)
    doc = rep.to_json()
    assert doc["analytical"]["prefill_ms"] is None
    assert "lacks kernel" in doc["analytical"]["unavailable"]
    assert doc["energy"]["total_j"] > 0


def test_more_cards_split_the_weights_and_add_all_gathers() -> None:
    one, two, four = _dfx(1), _dfx(2), _dfx(4)
    assert four.tpot_ms < two.tpot_ms < one.tpot_ms
    assert four.ttft_ms < two.ttft_ms < one.ttft_ms

    def weights(rep, card):
        return sum(
            c.bytes for n, c in rep.result.phases["decode"].hbm.items() if n.startswith(card)
        )

    assert weights(two, "dev0.") < 0.55 * weights(one, "")
    # per layer and token each card sends its share of four rows (d, d, 4d, d fp16
    # values over p cards) p - 1 times round the ring, in 1,024-bit words
    d, f = GPT2.hidden, GPT2.ffn
    for rep, p in ((two, 2), (four, 4)):
        words = sum(ceil(n * cols // p * 2 * 8 / 1024) for cols in (d, d, f, d) for n in [1])
        per_token = words * (p - 1) * 128
        decode = rep.result.phases["decode"].links["link0->1"].bytes
        assert decode == pytest.approx(per_token * 2 * 4, rel=1e-12)
        assert rep.result.link_wait_cycles(0) > 0


def test_weight_buffers_let_the_dma_run_ahead_of_the_matrix_unit() -> None:
    """With one weight buffer the DMA cannot load the next chunk while the matrix unit
    works on this one; with two (the default) or more it can, and decode gets faster."""
    tpot = {n: _dfx(1, set={"fifo.dma_to_mpu.depth": n}).tpot_ms for n in (1, 2, 8)}
    print(tpot)
    assert tpot[1] > tpot[2] >= tpot[8]
    slow = _dfx(1, set={"kind.overlay.issue_cycles": 200})
    assert slow.tpot_ms > _dfx(1).tpot_ms


def test_dfx_fits_the_u280_and_matches_its_published_totals() -> None:
    """dfx.md: about 39.9 % of the U280's LUTs and 39.2 % of its DSPs."""
    for tp in (1, 4):
        design = build_design("dfx", get_model("gpt2-medium"), 96, tp)
        rep = resource_estimate(design, "overlay")
        dsp = rep.total["dsp"] / U280.total("dsp")
        lut = rep.total["lut"] / U280.total("lut")
        print(f"tp={tp}: DSP {dsp:.1%}, LUT {lut:.1%}")
        assert dsp == pytest.approx(0.392, abs=0.01)
        assert lut == pytest.approx(0.399, abs=0.03)


def test_dfx_card_counts_are_checked() -> None:
    with pytest.raises(UserError, match="dfx runs on 1, 2, 4 cards"):
        ss.simulate(model="gpt2", design="dfx", prompt_len=8, gen_len=1, tp=3)
    with pytest.raises(UserError, match="do not divide by 4"):
        build_design("dfx", get_model("gpt2-xl"), 64, 4)  # 25 heads (dfx.md)


def test_a_dfx_design_file_keeps_its_card_count(tmp_path) -> None:
    from spatialsim.design.fileio import save_design

    path = tmp_path / "dfx2.toml"
    save_design(build_design("dfx", GPT2, 64, 2), path)
    rep = ss.simulate(design=str(path), prompt_len=8, gen_len=1, layers=1, tp=2)
    assert rep.result.devices == 2
    with pytest.raises(UserError, match="built for 2 card"):
        ss.simulate(design=str(path), prompt_len=8, gen_len=1, layers=1, tp=1)
