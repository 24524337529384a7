"""Kernel kinds are self-contained: every registered kind has every part, and a new kind
written here (touching no other module) is validated, estimated, simulated and exported
like the built-in ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import spatialsim as ss
from spatialsim.costmodel.design_estimate import kernel_estimates
from spatialsim.costmodel.loops import SIMPLE_DEPTH, Estimate, Loop, make_estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work, prefill_work
from spatialsim.design.fileio import save_design
from spatialsim.design.graph import Design, add_fifo
from spatialsim.design.templates import build_design
from spatialsim.errors import UserError
from spatialsim.kinds import REGISTRY, KindSpec, register
from spatialsim.kinds.base import (
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    count,
    features,
)
from spatialsim.kinds.registry import PARTS, missing_parts, unregister
from spatialsim.workload.models import get_model

BUILTIN = {
    "loader",
    "writer",
    "splitter",
    "linear",
    "gemv",
    "attn_matmul",
    "attn_gemv",
    "kv_writer",
    "buffer",
    "mask",
    "softmax",
    "layernorm",
    "activation",
    "residual",
    "rope",
}


def test_every_registered_kind_has_every_part() -> None:
    assert set(REGISTRY) >= BUILTIN
    for name, spec in REGISTRY.items():
        assert missing_parts(spec) == [], name
        assert name == spec.params.KIND
        assert spec.schema, name
        for pname, p in spec.schema.items():
            assert p.doc, (name, pname)


def test_an_incomplete_kind_is_refused() -> None:
    spec = REGISTRY["residual"]
    for part in PARTS[1:]:
        broken = KindSpec(**{**spec.__dict__, "name": "broken", part: None})
        with pytest.raises(ValueError, match=f"lacks: .*{part}"):
            register(broken)
    with pytest.raises(ValueError, match="its KIND is 'residual'"):
        register(KindSpec(**{**spec.__dict__, "name": "broken"}))
    with pytest.raises(ValueError, match="already registered"):
        register(KindSpec(**{**spec.__dict__, "doc": "another residual"}))
    assert "broken" not in REGISTRY


def test_typed_parameters_are_validated_with_the_kernel_named() -> None:
    d = build_design("chen2024-w8a8", get_model("gpt2-medium"), 64)
    attrs = dict(d.graph("prefill").nodes["ffn1"])
    p = REGISTRY["linear"].of("ffn1", attrs)
    assert (p.cols, p.ports, p.blocks) == (
        attrs["cols"],
        tuple(attrs["ports"]),
        -(-attrs["out_features"] // (p.cols * p.pack)),
    )
    with pytest.raises(AttributeError):
        p.cols = 3  # type: ignore[misc]
    with pytest.raises(UserError, match="kernel ffn1: cols = 0 is out of range"):
        REGISTRY["linear"].of("ffn1", {**attrs, "cols": 0})
    with pytest.raises(UserError, match=r"kernel ffn1 \(linear\) is missing parameter\(s\): bias"):
        REGISTRY["linear"].of("ffn1", {k: v for k, v in attrs.items() if k != "bias"})


# ---- a toy kind, defined here and nowhere else --------------------------------------------


@dataclass(frozen=True)
class ScaleParams(KernelParams):
    """Multiplies every element by a constant, ``ii`` cycles per element."""

    KIND = "toy_scale"

    features: int = features()
    ii: int = count("cycles per element", 1, 16)


def _work(p: ScaleParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * p.features)


def _estimate(name: str, p: ScaleParams, w: Work, cost: CostParams) -> Estimate:
    return make_estimate(
        name, p.KIND, [Loop("SCALE", p.features, p.ii, SIMPLE_DEPTH, w.packs)], 0.0, cost
    )


def _body(k: KernelProcess) -> Proc:
    p: ScaleParams = k.p
    for _ in k.step.pack_sizes():
        inp = k.stream_in()
        for w in k.gran.split(p.features):
            yield from k.take(inp, w, w * p.ii, p.ii)
            yield from k.emit(w, span=w * p.ii)
        yield from k.busy(SIMPLE_DEPTH - 1)


def _hls(p: ScaleParams) -> dict[str, Any]:
    return {"II": p.ii}


def _resources(p: ScaleParams) -> dict[str, float]:
    return {"dsp": 1.0, "lut": 100.0, "ff": 100.0, "bram36": 0.0, "uram": 0.0}


@pytest.fixture
def toy() -> Iterator[KindSpec]:
    spec = register(
        KindSpec("toy_scale", "a toy kind", ScaleParams, _work, _estimate, _body, _hls, _resources)
    )
    yield spec
    unregister("toy_scale")


def _with_toy(ii: int) -> Design:
    """chen2024-w8a8 with the toy between the last LayerNorm and the output writer."""
    d = build_design("chen2024-w8a8", get_model("gpt2-medium"), 80).copy()
    for g in d.bitstreams.values():
        edge = dict(g.edges["layernorm1", "output_writer"])
        g.remove_edge("layernorm1", "output_writer")
        g.add_node("scale", kind="toy_scale", slr=2, features=d.model.hidden, ii=ii)
        add_fifo(g, "layernorm1", "scale", edge["depth_words"], edge["width_bits"])
        add_fifo(g, "scale", "output_writer", edge["depth_words"], edge["width_bits"])
    d.validate()
    return d


def test_a_new_kind_runs_everywhere(toy: KindSpec, tmp_path: Path) -> None:
    est = kernel_estimates(_with_toy(3), "prefill", 64)["scale"]
    assert est.kind == "toy_scale" and est.loops[0].trips == 1024
    assert est.cycles == pytest.approx(8 * (3 * 1023 + SIMPLE_DEPTH) + 2)
    runs = {}
    for ii in (1, 3):
        path = tmp_path / f"toy{ii}.toml"
        save_design(_with_toy(ii), path)
        runs[ii] = ss.simulate(design=str(path), prompt_len=64, gen_len=2, layers=2)
        assert runs[ii].kernels["scale"].busy > 0
        assert "scale" in runs[ii].result.phases["decode"].kernels
    # the toy's II shows: at II 3 it is slower than the layer's other row kernels
    assert runs[3].ttft_ms > runs[1].ttft_ms
    assert runs[3].kernels["scale"].busy > runs[1].kernels["scale"].busy
    with pytest.raises(UserError, match="kernel scale: ii = 99 is out of range"):
        ss.simulate(
            design=str(tmp_path / "toy1.toml"), prompt_len=8, gen_len=0, set={"kernel.scale.ii": 99}
        )
    assert (
        REGISTRY["toy_scale"]
        .work(
            REGISTRY["toy_scale"].of("scale", {"slr": 2, "features": 10, "ii": 1}),
            prefill_work(16, 8),
        )
        .elements
        == 160
    )


def test_a_kind_without_a_registration_is_an_error() -> None:
    with pytest.raises(UserError, match="unknown kind 'toy_scale'"):
        _with_toy(1)
