"""Rotary position embedding: the golden model against the definition, and the rope
kernel kind's parameters, loops and resources."""

from __future__ import annotations

import numpy as np
import pytest

from spatialsim.costmodel.isolated import estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import decode_work, prefill_work
from spatialsim.errors import UserError
from spatialsim.golden import ops
from spatialsim.golden.quant import F32
from spatialsim.kinds import REGISTRY

PARAMS = CostParams()


def reference(x: np.ndarray, positions: np.ndarray, theta: float) -> np.ndarray:
    """Hugging Face's rotate_half form in float64: x cos + rotate_half(x) sin, with
    inv_freq = 1 / theta^(arange(0, hd, 2) / hd) and the angles repeated over both halves."""
    hd = x.shape[-1]
    inv = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = positions[:, None].astype(np.float64) * inv[None, :]
    emb = np.concatenate([ang, ang], axis=-1)[:, None, :]
    half = hd // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    out: np.ndarray = x * np.cos(emb) + rot * np.sin(emb)
    return out


@pytest.mark.parametrize("theta", [10_000.0, 500_000.0])
def test_the_golden_rotation_is_hugging_faces_rotate_half_to_fp32_rounding(theta: float) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(9, 4, 16)).astype(F32)
    pos = np.arange(100, 109)
    cos, sin = ops.rope_table(128, 16, theta)
    got = ops.rope(x, pos, cos, sin)
    want = reference(x.astype(np.float64), pos, theta)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=4e-6 * np.abs(x).max())
    # a rotation: each (i, i + hd/2) pair keeps its length; position 0 changes nothing
    pairs = np.hypot(got[..., :8], got[..., 8:]) / np.hypot(x[..., :8], x[..., 8:])
    np.testing.assert_allclose(pairs, 1.0, rtol=1e-6)
    assert np.array_equal(ops.rope(x, np.zeros(9, int), cos, sin), x)


def test_grouped_query_attention_shares_each_kv_head_with_its_group() -> None:
    rng = np.random.default_rng(1)
    q = rng.integers(-127, 128, (3, 4, 8))
    k = rng.integers(-127, 128, (5, 2, 8))
    acc = ops.qk_acc(q, k)
    for h in range(4):  # heads 0 and 1 read K/V head 0, heads 2 and 3 head 1
        np.testing.assert_array_equal(acc[h], q[:, h, :] @ k[:, h // 2, :].T)
    with pytest.raises(ValueError, match="not groups of 3"):
        ops.qk_acc(q, rng.integers(-127, 128, (5, 3, 8)))


def rope_attrs(**over: object) -> dict[str, object]:
    attrs: dict[str, object] = {
        "kind": "rope",
        "slr": 0,
        "lanes": 8,
        "features": 512,
        "head_dim": 64,
        "max_seq_len": 4096,
        "theta": 500_000.0,
    }
    attrs.update(over)
    return attrs


def test_the_kernel_reads_a_head_then_writes_it_rotated() -> None:
    est = estimate("rope_k", rope_attrs(), prefill_work(20, 8), PARAMS)
    read, rot = est.loop("READ"), est.loop("ROT")
    # 3 packs x 8 heads, 64 words each way; ROT's depth the documented 18 cycles
    assert (read.trips, read.entries, read.ii) == (64, 24, 1)
    assert (rot.trips, rot.entries, rot.depth) == (64, 24, 18)
    assert est.cycles == 24 * (63 + 2) + 24 * (63 + 18) + PARAMS.call_overhead_cycles
    one = estimate("rope_k", rope_attrs(lanes=1), decode_work(300, 1), PARAMS)
    assert one.loop("ROT").entries == 8


def test_the_angle_table_is_sized_by_the_longest_context() -> None:
    spec = REGISTRY["rope"]
    small = spec.resources(spec.of("r", rope_attrs(max_seq_len=128)))
    large = spec.resources(spec.of("r", rope_attrs(max_seq_len=8192)))
    # 8,192 positions x 64 fp32 (32 cos, 32 sin) = 524,288 values, 8,192 per URAM
    assert large["uram"] == 64 and small["uram"] == 1
    assert large["dsp"] == small["dsp"] == 8 * 11


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"head_dim": 63, "features": 504}, "head_dim 63 must be even"),
        ({"features": 500}, "features 500 must be a whole number of heads of 64"),
        ({"theta": 0.5}, "theta = 0.5 is out of range"),  # checked alone: no kind named
    ],
)
def test_bad_parameters_are_refused_naming_them(over: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=f"kernel rope_q( \\(rope\\))?: .*{message}"):
        REGISTRY["rope"].of("rope_q", rope_attrs(**over))


def test_kv_heads_must_divide_the_heads() -> None:
    attrs = {"kind": "attn_gemv", "slr": 1, "op": "qk", "heads_parallel": 4, "lanes": 64,
             "heads": 32, "head_dim": 64, "act_bits": 8, "kv_heads": 6}  # fmt: skip
    with pytest.raises(UserError, match=r"kernel qk_matmul \(attn_gemv\): heads \(32\) must"):
        REGISTRY["attn_gemv"].of("qk_matmul", attrs)
