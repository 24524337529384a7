"""Issue 21's fuzz campaign: every file reader and every public API function, driven with
generated hostile values, either succeeds with finite results or raises ``UserError``;
never another exception, never a non-finite number in what it returns, never more memory
than ``MEMORY_CEILING`` (Python and numpy allocations, traced per example).

CI runs SPATIALSIM_FUZZ_HOSTILE examples per target (default 300; docs/limits.md gives the
long-run command, e.g. ``SPATIALSIM_FUZZ_HOSTILE=5000 pytest tests/test_fuzz_hostile.py``).
"""

from __future__ import annotations

import math
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import BOARD, DESIGN, HBM, HF, PLATFORM, PROFILE, TRACE, XRT, finite_everywhere
from test_fuzz import mutated as mutated_text

from spatialsim.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("SPATIALSIM_FUZZ_HOSTILE", "300"))
MEMORY_CEILING = 256 * 2**20  # bytes allocated at the peak of one call (docs/limits.md)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# the API targets may simulate (one layer, a few tokens): two thirds of the budget
FUZZ_API = settings(FUZZ, max_examples=max(20, 2 * EXAMPLES // 3))


def bounded(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``: a result is finite, a refusal a UserError with a message,
    and the call's allocation peak stays under the ceiling either way."""
    tracemalloc.start()
    try:
        result = fn(*args, **kwargs)
    except UserError as exc:
        assert str(exc)
        result = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_CEILING, f"{peak / 2**20:.0f} MiB at the peak"
    if result is not None:
        doc = result.to_json() if hasattr(result, "to_json") else result
        assert finite_everywhere(doc), doc
    return result


# ---- hostile values: what a caller or a file can put where a value goes ------------------

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 2, -1, 2**31, 2**63, 10**9, 10**21]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([5e-324, 1e-300, 1e300, 1.7976931348623157e308, -0.0, 0.5]),
    st.text(max_size=16),
    st.sampled_from(["", "-", "/dev/zero", "/dev/null", "/", "..", "\x1b[2J", "a\nb",
                     "gpt2", "u280", "chen2024-w8a8", "1_0", "\u0663", "rm -rf ~"]),
    st.binary(max_size=8),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.just(Path("/dev/zero")),
    st.just(object()),
)  # fmt: skip

REQUEST_FIELDS = ("model", "platform", "design", "prompt_len", "gen_len", "max_seq_len",
                  "set", "layers", "clock_mhz", "granularity", "chunks_per_row",
                  "every_layer", "launch_overhead_us", "cost", "calibration", "host_io",
                  "tp", "pp", "topology", "link_gbps", "link_depth", "power",
                  "pp_schedule")  # fmt: skip
SMALL = {"model": "gpt2", "layers": 1, "prompt_len": 8, "gen_len": 1}


@FUZZ
@given(field=st.sampled_from(REQUEST_FIELDS), value=HOSTILE)
def test_run_request(field: str, value: Any) -> None:
    from spatialsim.experiment.request import RunRequest

    bounded(RunRequest, **{**SMALL, field: value})


@FUZZ_API
@given(field=st.sampled_from(REQUEST_FIELDS), value=HOSTILE)
def test_simulate_analyze_kernels(field: str, value: Any) -> None:
    import spatialsim as ss

    fields = {**SMALL, field: value}
    bounded(ss.simulate, **fields)
    bounded(ss.analyze, **fields)
    bounded(ss.kernels, **{k: v for k, v in fields.items() if k != "layers"})


@FUZZ_API
@given(
    positional=st.one_of(st.just(None), HOSTILE),
    samples=st.one_of(st.just(1), HOSTILE),
    limit=st.one_of(st.just(None), HOSTILE),
    overlong=st.one_of(st.just("clip"), HOSTILE),
)
def test_replay(positional: Any, samples: Any, limit: Any, overlong: Any) -> None:
    import spatialsim as ss

    trace = ROOT / "traces/burst_fixed_50.csv"
    req = positional if positional is not None else ss.RunRequest(**SMALL)
    bounded(ss.replay, trace, req, samples=samples, limit=limit, overlong=overlong)


@FUZZ_API
@given(trials=HOSTILE, seed=HOSTILE, objectives=HOSTILE, workers=HOSTILE)
def test_optimize_arguments(trials: Any, seed: Any, objectives: Any, workers: Any) -> None:
    import spatialsim as ss

    # a valid call runs trials; keep those few (the search itself is tested elsewhere)
    if isinstance(trials, int) and not isinstance(trials, bool) and trials > 0:
        trials = 10**9
    bounded(ss.optimize, ss.RunRequest(**SMALL), trials=trials, seed=seed,
            objectives=objectives, workers=workers)  # fmt: skip


@FUZZ_API
@given(spec=HOSTILE, out=HOSTILE, workers=HOSTILE, scheduler=HOSTILE)
def test_sweep_arguments(tmp_path: Path, spec: Any, out: Any, workers: Any, scheduler: Any) -> None:
    import spatialsim as ss

    if isinstance(out, (str, Path)) and str(out) not in ("", "-"):
        out = tmp_path / "never-written"  # a path that reaches the writer is refused first
        scheduler = scheduler if scheduler is not None else "garbage!!"
    bounded(ss.sweep, spec, out, workers=workers, scheduler=scheduler)
    assert not (tmp_path / "never-written" / "results.csv").exists()


@FUZZ_API
@given(
    field=st.sampled_from(["board", "xrt", "hbm", "hls", "cu_map", "xrt_run", "choose",
                           "noise", "hls_design", "hls_model", "hls_seq_len", "hls_phase",
                           "platform", "search_structure", "workers", "scheduler"]),
    value=HOSTILE,
)  # fmt: skip
def test_calibrate_arguments(field: str, value: Any) -> None:
    import spatialsim as ss

    # every call lacks a usable measurement file, so a valid combination is refused too
    bounded(ss.calibrate, **{field: value})


@FUZZ_API
@given(designs=HOSTILE, cards=HOSTILE)
def test_compare_arguments(designs: Any, cards: Any) -> None:
    import spatialsim as ss

    bounded(ss.compare, designs=designs, cards=cards, **{**SMALL, "gen_len": 0})


@FUZZ
@given(path=HOSTILE)
def test_load_spec_arguments(path: Any) -> None:
    import spatialsim as ss

    bounded(ss.load_spec, path)


@FUZZ
@given(path=HOSTILE, overlong=HOSTILE, first=HOSTILE)
def test_load_trace_arguments(path: Any, overlong: Any, first: Any) -> None:
    import spatialsim as ss

    bounded(ss.load_trace, path, 1024, overlong, first)


# ---- file readers not covered by test_fuzz.py --------------------------------------------

SPEC = (ROOT / "examples/sweep.toml").read_text()
HLS_TABLE = "module,latency_cycles,phase\nregion_1,61207,prefill\nSoftmax_layer,175617,prefill\n"
RESULTS = None


def _results_table() -> str:
    global RESULTS
    if RESULTS is None:
        from spatialsim.experiment.sweep import parse_spec

        spec = parse_spec(SPEC, "s.toml")
        RESULTS = (
            ",".join(spec.columns) + "\n" + ",".join(["k"] + ["1"] * (len(spec.columns) - 1)) + "\n"
        )
    return RESULTS


@FUZZ
@given(text=mutated_text(SPEC))
def test_sweep_spec_reader(text: str) -> None:
    import spatialsim as ss

    bounded(ss.parse_spec, text, "fuzz.toml")


@FUZZ
@given(text=mutated_text(HLS_TABLE))
def test_hls_table_reader(tmp_path: Path, text: str) -> None:
    from spatialsim.calibration.measurements import load_hls_csv

    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    bounded(load_hls_csv, path, "prefill")


@FUZZ
@given(data=st.data())
def test_results_table_reader(tmp_path: Path, data: st.DataObject) -> None:
    from spatialsim.tomlio import line_table

    text = data.draw(mutated_text(_results_table()))
    path = tmp_path / "results.csv"
    path.write_text(text, encoding="utf-8")
    bounded(line_table, path, "results table")


DOC_KEYS = ["model", "design", "platform", "phases", "rows", "per_token_ms", "per_request",
            "ttft_ms", "prompt_len", "gen_len", "kernels", "x"]  # fmt: skip


@FUZZ
@given(
    name=st.sampled_from(["result.json", "replay.json", "compare.json"]),
    doc=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                  st.text(max_size=8)),
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(DOC_KEYS), children, max_size=6),
        max_leaves=20,
    ),
)  # fmt: skip
def test_plot_documents(tmp_path: Path, name: str, doc: Any) -> None:
    import json

    from spatialsim.report.plots import plot_folder

    (tmp_path / name).write_text(json.dumps(doc))
    bounded(plot_folder, tmp_path)


def _small_profile() -> str:
    """The shipped profile without its explained rows and with three residuals: every
    kind of table a profile has, a third of the text (so a traced example is quick)."""
    import re

    kept, residuals = [], 0
    for part in re.split(r"(?m)^(?=\[)", PROFILE):
        head = part.lstrip("[")
        if head.startswith("explained"):
            continue
        if head.startswith("residuals"):
            residuals += 1
            if residuals > 3:
                continue
        kept.append(part)
    return "".join(kept)


SMALL_PROFILE = _small_profile()


def test_the_small_profile_is_a_profile(tmp_path: Path) -> None:
    from spatialsim.calibration.profile import load

    path = tmp_path / "p.toml"
    path.write_text(SMALL_PROFILE)
    assert load(str(path)).values == load("u280").values


# the readers test_fuzz.py drives (40 examples there), here at the campaign's budget and
# under the memory ceiling
READERS = {
    "trace": (TRACE, "spatialsim.workload.traces:load_trace", "t.csv"),
    "board": (BOARD, "spatialsim.calibration.measurements:load_board_csv", "b.csv"),
    "hbm": (HBM, "spatialsim.calibration.measurements:load_hbm_csv", "h.csv"),
    "xrt": (XRT, "spatialsim.calibration.xrt:read_xrt", "summary.csv"),
    "hf": (HF, "spatialsim.workload.models:load_hf_config", "config.json"),
    "platform": (PLATFORM, "spatialsim.hardware.platform:load_platform_file", "p.toml"),
    "profile": (SMALL_PROFILE, "spatialsim.calibration.profile:load", "prof.toml"),
    "design": (DESIGN, "spatialsim.design.fileio:load_design", "d.toml"),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_reader_under_the_memory_ceiling(tmp_path: Path, reader: str) -> None:
    import importlib

    base, where, name = READERS[reader]
    module, _, attr = where.partition(":")
    fn = getattr(importlib.import_module(module), attr)

    @FUZZ
    @given(text=mutated_text(base))
    def run(text: str) -> None:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        bounded(fn, path if reader != "profile" else str(path))

    run()


def test_the_ceiling_would_catch_a_runaway_reader() -> None:
    """The memory bound is live: an allocation over it fails the check."""
    with pytest.raises(AssertionError, match="MiB at the peak"):
        bounded(lambda: len(bytearray(MEMORY_CEILING + 2**20)))
    assert math.isfinite(bounded(lambda: 1.5))


# ---- export-hls: what it writes compiles, or it refuses ----------------------------------

EXPORT_TARGETS = [
    "kernel.ffn1.cols", "kernel.ffn2.cols", "kernel.q_proj.cols", "kernel.qk_matmul.pack",
    "kernel.input_loader.axi_group", "kernel.ffn1.weight_bits", "kernel.softmax.output",
    "fifo.mask_to_softmax.depth", "fifo.ffn_residual_bypass.depth", "design.clock_mhz",
    "design.hls_target_mhz", "kernel.v_writer.ii", "kernel.q_proj.bias",
]  # fmt: skip
EXPORT_VALUES = st.one_of(
    st.sampled_from(["1", "2", "4", "8", "16", "64", "0", "-1", "true", "false", "row",
                     "buffered", "streamed", "g", "a b", '"x\\ny"', "300", "1e9"]),
    st.integers(-3, 4096).map(str),
)  # fmt: skip


@pytest.mark.hw
@settings(max_examples=max(12, EXAMPLES // 20), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    design=st.sampled_from(["chen2024-w4a8", "chen2024-w8a8"]),
    sets=st.lists(st.tuples(st.sampled_from(EXPORT_TARGETS), EXPORT_VALUES), max_size=3),
)
def test_export_compiles_or_refuses(tmp_path_factory: Any, design: str, sets: list[Any]) -> None:
    args = [a for t, v in sets for a in ("--set", f"{t}={v}")]
    tmp = tmp_path_factory.mktemp("hls")
    _compiles_or_refused(tmp, ["--design", design, "--seq-len", "32", *args])


def _compiles_or_refused(tmp: Path, argv: list[str]) -> bool:
    """Export with ``argv``: True if it exported (and every top.cpp compiled)."""
    import subprocess

    from hwutil import CXXFLAGS, ap_types_dir, compiler

    from spatialsim.cli.main import main

    out = tmp / "x"
    code = main(["export-hls", *argv, "--out", str(out)])
    assert code in (0, 2)
    if code == 2:
        assert not out.exists()
        return False
    for top in sorted(out.glob("*/top.cpp")):
        proc = subprocess.run(
            [compiler(), *CXXFLAGS, "-fsyntax-only", f"-I{ROOT / 'hw_kernels/include'}",
             "-isystem", str(ap_types_dir()), f"-I{top.parent}", str(top)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, (argv, proc.stderr[-2000:])
    return True


@pytest.mark.hw
@pytest.mark.parametrize(
    "design,exports",
    [("chen2024-w4a8", True), ("chen2024-w8a8", True), ("dfx", False), ("terafly-opt1.3b", False)],
)
def test_every_shipped_design_compiles_or_is_refused(
    tmp_path: Path, design: str, exports: bool
) -> None:
    model = ["--model", "opt-1.3b"] if design.startswith("terafly") else []
    assert (
        _compiles_or_refused(tmp_path, ["--design", design, "--seq-len", "32", *model]) is exports
    )


@pytest.mark.hw
@settings(max_examples=max(12, EXAMPLES // 20), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(text=mutated_text(DESIGN))
def test_fuzzed_design_files_compile_or_are_refused(tmp_path_factory: Any, text: str) -> None:
    tmp = tmp_path_factory.mktemp("d")
    path = tmp / "d.toml"
    path.write_text(text, encoding="utf-8")
    _compiles_or_refused(tmp, ["--design", str(path), "--seq-len", "32"])
