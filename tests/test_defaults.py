"""One set of defaults (spatialsim/defaults.py) for every command and the Python API, shown
in each command's help; and names that mean one operator everywhere."""

from __future__ import annotations

import argparse
import inspect

import pytest

import spatialsim as ss
from spatialsim import defaults
from spatialsim.cli.main import build_parser
from spatialsim.design.templates import build_design
from spatialsim.workload.models import MODELS
from spatialsim.workload.operators import layer_operators

# option dest -> the shared default (None where the option's absence means the default,
# as --model does: a design file may name its own model)
SHARED = {
    "model": None,
    "platform": defaults.PLATFORM,
    "design": defaults.DESIGN,
    "prompt_len": defaults.PROMPT_LEN,
    "gen_len": defaults.GEN_LEN,
    "workers": defaults.WORKERS,
}
SHOWN = {
    "model": defaults.MODEL,
    "platform": defaults.PLATFORM,
    "design": defaults.DESIGN,
    "prompt_len": str(defaults.PROMPT_LEN),
    "gen_len": str(defaults.GEN_LEN),
    "workers": "auto",
}


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_takes_the_shared_defaults_and_shows_them() -> None:
    seen: dict[str, list[str]] = {k: [] for k in SHARED}
    for name, p in _commands().items():
        for action in p._actions:
            if action.dest not in SHARED:
                continue
            assert action.default == SHARED[action.dest], (name, action.dest, action.default)
            assert action.help and SHOWN[action.dest] in action.help, (name, action.dest)
            seen[action.dest].append(name)
    # the options are where a user would look for them
    assert {"run", "analyze", "kernels", "design", "export-hls", "replay", "fifo-size",
            "optimize"} <= set(seen["design"])  # fmt: skip
    assert {"run", "analyze", "compare", "fifo-size", "optimize"} <= set(seen["gen_len"])
    assert {"sweep", "replay", "calibrate", "optimize"} <= set(seen["workers"])


def test_compare_sets_the_default_design_against_the_overlay() -> None:
    compare = _commands()["compare"]
    designs = next(a for a in compare._actions if a.dest == "designs")
    assert designs.default.split(",") == [defaults.DESIGN, defaults.TEMPORAL]
    from spatialsim.experiment.compare import DEFAULT_DESIGNS

    assert DEFAULT_DESIGNS == (defaults.DESIGN, defaults.TEMPORAL)


def test_sequence_lengths_default_to_the_default_workload() -> None:
    cmds = _commands()
    for name, dest, value in (("kernels", "seq_len", defaults.PROMPT_LEN),
                              ("models", "tokens", defaults.PROMPT_LEN),
                              ("design", "seq_len", defaults.SEQ_LEN),
                              ("calibrate", "hls_seq_len", defaults.PROMPT_LEN)):  # fmt: skip
        action = next(a for a in cmds[name]._actions if a.dest == dest)
        assert action.default == value and str(value) in (action.help or ""), (name, dest)
    # a design built by default holds the default workload
    assert defaults.SEQ_LEN >= defaults.PROMPT_LEN + defaults.GEN_LEN - 1


def test_the_api_takes_the_same_defaults() -> None:
    req = ss.RunRequest()
    assert (req.platform, req.design, req.prompt_len, req.gen_len) == (
        defaults.PLATFORM, defaults.DESIGN, defaults.PROMPT_LEN, defaults.GEN_LEN,
    )  # fmt: skip
    assert ss.simulate(layers=1, gen_len=1).to_json()["model"] == defaults.MODEL
    from spatialsim.calibration.job import calibrate
    from spatialsim.experiment.optimize import optimize
    from spatialsim.experiment.session import replay
    from spatialsim.experiment.sweep import sweep

    for fn in (sweep, optimize, replay, calibrate):
        assert inspect.signature(fn).parameters["workers"].default == defaults.WORKERS, fn


def test_the_demo_is_the_default_run() -> None:
    from spatialsim.cli import run

    assert run.DEMO == {"model": defaults.MODEL, "platform": defaults.PLATFORM,
                        "design": defaults.DESIGN}  # fmt: skip
    assert (run.DEMO_PROMPT, run.DEMO_GEN) == (defaults.PROMPT_LEN, defaults.GEN_LEN)


@pytest.mark.parametrize("model", ["gpt2-medium", "bert-base", "llama2-7b", "opt-1.3b"])
def test_norm_names_mean_the_design_kernels_operators(model: str) -> None:
    """layernorm0 is the norm between attention and the FFN in the operator list (pre- or
    post-norm model alike) as in the design graph, where it follows residual0."""
    m = MODELS[model]
    names = [o.name for o in layer_operators(m, "prefill", 8)]
    assert names.index("residual0") < names.index("layernorm0") < names.index("ffn1")
    norm1 = names.index("layernorm1")
    assert norm1 == 0 if m.norm == "pre" else norm1 > names.index("residual1")
    g = build_design(defaults.DESIGN, MODELS["gpt2-medium"], 64).graph("prefill")
    assert g.has_edge("residual0", "layernorm0") and g.has_edge("residual1", "layernorm1")


def test_run_and_demo_help_name_every_file_they_write() -> None:
    from spatialsim.cli.run import OUT_FILES

    cmds = _commands()
    demo = cmds["demo"].description or ""
    out = next(a for a in cmds["run"]._actions if a.dest == "out")
    for name in (*OUT_FILES, "manifest.json"):
        assert name in demo and name in (out.help or ""), name
