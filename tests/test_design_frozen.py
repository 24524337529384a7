"""Designs are frozen once resolved for a run; copies are editable and keep every order."""

from __future__ import annotations

import pytest

import spatialsim as ss
from spatialsim.design.templates import build_design
from spatialsim.experiment.request import RunRequest
from spatialsim.experiment.session import prepare
from spatialsim.workload.models import get_model


def test_a_resolved_design_cannot_change() -> None:
    design = prepare(RunRequest(prompt_len=8, gen_len=1)).design
    assert design.frozen
    g = design.graph("prefill")
    with pytest.raises(TypeError):
        g.nodes["ffn1"]["cols"] = 3  # type: ignore[index]
    with pytest.raises(TypeError):
        g.edges["splitter", "ffn1"]["depth_words"] = 1  # type: ignore[index]
    with pytest.raises(Exception, match="Frozen graph"):
        g.add_node("x")
    with pytest.raises(AttributeError, match="frozen"):
        design.clock_mhz = 100.0


def test_a_copy_is_editable_and_keeps_node_and_edge_order() -> None:
    """A kernel reads its inputs in predecessor order (the residual's two streams), so a
    copy that reordered them would simulate another design."""
    frozen = build_design("chen2024-w8a8", get_model("gpt2-medium"), 64).freeze()
    c = frozen.copy()
    assert not c.frozen
    for b, g in frozen.bitstreams.items():
        h = c.bitstreams[b]
        assert list(g.nodes) == list(h.nodes)
        assert list(g.edges(data=True)) == list(h.edges(data=True))
        for n in g:
            assert list(g.predecessors(n)) == list(h.predecessors(n)), n
    c.graph("prefill").nodes["ffn1"]["cols"] = 32
    c.validate()
    assert frozen.graph("prefill").nodes["ffn1"]["cols"] == 16
    a = ss.simulate(prompt_len=16, gen_len=1, layers=1)
    b = ss.simulate(prompt_len=16, gen_len=1, layers=1)
    assert a.result.to_json()["kernels"] == b.result.to_json()["kernels"]
