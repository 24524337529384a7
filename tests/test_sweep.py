"""``spatialsim sweep``: points checked for fit, simulated, written once; resumable after a
kill; the same table in one process, on local workers and on a Dask scheduler."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spatialsim.errors import UserError
from spatialsim.experiment.sweep import parse_spec, sweep

SPEC = """
[base]
model = "gpt2-medium"
design = "chen2024-w8a8"
prompt_len = 128
gen_len = 2

[axes]
"kernel.ffn1.cols" = [8, 16, 32, 64]
"kernel.q_proj.cols" = [8, 16]
clock_mhz = {range = [200, 300, 50]}
"""
CLI = [sys.executable, "-m", "spatialsim.cli.main", "sweep"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _results(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["key"]: {k: v for k, v in r.items() if k != "wall_s"} for r in rows}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sweep1")
    (folder / "spec.toml").write_text(SPEC, encoding="utf-8")
    out = subprocess.run(
        [*CLI, str(folder / "spec.toml"), "--out", str(folder / "out"), "--workers", "1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return folder / "out" / "results.csv"


def test_every_point_is_a_row_with_its_axes_and_metrics(one_process: Path) -> None:
    rows = _rows(one_process)
    assert len(rows) == 24 and len({r["key"] for r in rows}) == 24
    for col in ("key", "kernel.ffn1.cols", "kernel.q_proj.cols", "clock_mhz", "feasible",
                "reason", "ttft_ms", "tpot_ms", "dsp", "wall_s", "bound_kernel"):  # fmt: skip
        assert col in rows[0]
    assert {r["clock_mhz"] for r in rows} == {"200", "250", "300"}
    assert all(r["feasible"] == "true" and float(r["ttft_ms"]) > 0 for r in rows)
    # a bigger FFN1 array at the same clock never makes prefill slower
    by = {(r["kernel.ffn1.cols"], r["kernel.q_proj.cols"], r["clock_mhz"]): r for r in rows}
    for q in ("8", "16"):
        ttft = [float(by[(c, q, "250")]["ttft_ms"]) for c in ("8", "16", "32", "64")]
        assert ttft == sorted(ttft, reverse=True)


def test_the_table_is_also_typed_parquet_with_the_same_rows(one_process: Path) -> None:
    import pyarrow.parquet as pq

    rows = _rows(one_process)
    t = pq.read_table(one_process.with_name("results.parquet"))
    assert t.column_names == list(rows[0])
    types = {f.name: str(f.type) for f in t.schema}
    assert types["kernel.ffn1.cols"] == "int64" and types["clock_mhz"] == "int64"
    assert types["feasible"] == "bool" and types["ttft_ms"] == "double"
    assert types["key"] == types["bound_kernel"] == "string"
    got = t.to_pylist()
    assert [g["key"] for g in got] == [r["key"] for r in rows]
    for g, r in zip(got, rows, strict=True):
        assert g["ttft_ms"] == float(r["ttft_ms"]) and g["feasible"] is (r["feasible"] == "true")
        assert g["kernel.q_proj.cols"] == int(r["kernel.q_proj.cols"])
        assert g["reason"] is None and r["reason"] == ""  # an empty cell is a null


def test_killed_and_restarted_it_recomputes_nothing_and_matches_one_process(
    tmp_path: Path, one_process: Path
) -> None:
    (tmp_path / "spec.toml").write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out"
    table = out / "results.csv"
    proc = subprocess.Popen(
        [*CLI, str(tmp_path / "spec.toml"), "--out", str(out), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if table.exists() and table.read_text(encoding="utf-8").count("\n") >= 4:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = table.read_text(encoding="utf-8")
    first = [r["key"] for r in _rows(table)] if before.endswith("\n") else None
    assert before.count("\n") >= 4
    again = subprocess.run(
        [*CLI, str(tmp_path / "spec.toml"), "--out", str(out), "--workers", "2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    after = table.read_text(encoding="utf-8")
    complete = before[: before.rfind("\n") + 1]
    assert after.startswith(complete)  # nothing written before was rewritten
    rows = _rows(table)
    keys = [r["key"] for r in rows]
    assert len(keys) == 24 == len(set(keys))
    kept = complete.count("\n") - 1
    assert 3 <= kept < 24  # killed part way
    assert f"{24 - kept} computed now, {kept} already" in again.stdout
    if first is not None:
        assert keys[: len(first)] == first
    assert _results(rows) == _results(_rows(one_process))


def test_a_dask_scheduler_given_by_address_gives_the_same_table(
    tmp_path: Path, one_process: Path
) -> None:
    from distributed import LocalCluster

    (tmp_path / "spec.toml").write_text(SPEC, encoding="utf-8")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        out = subprocess.run(
            [*CLI, str(tmp_path / "spec.toml"), "--out", str(tmp_path / "out"),
             "--scheduler", cluster.scheduler_address],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert _results(_rows(tmp_path / "out" / "results.csv")) == _results(_rows(one_process))


def test_infeasible_and_deadlocking_points_are_recorded_not_simulated(tmp_path: Path) -> None:
    spec = parse_spec(
        """
[base]
model = "gpt2-medium"
prompt_len = 64
gen_len = 1

[axes]
"kernel.ffn1.cols" = [16, 256]
"fifo.ffn_residual_bypass.depth" = [16, 16384]
""",
        "spec",
    )
    outcome = sweep(spec, tmp_path / "out")
    rows = _rows(outcome.table)
    assert len(rows) == 4
    big = [r for r in rows if r["kernel.ffn1.cols"] == "256"]
    assert all(r["feasible"] == "false" and "does not fit" in r["reason"] and not r["ttft_ms"]
               for r in big)  # fmt: skip
    shallow = [r for r in rows if r["kernel.ffn1.cols"] == "16" and
               r["fifo.ffn_residual_bypass.depth"] == "16"]  # fmt: skip
    assert shallow[0]["feasible"] == "false" and shallow[0]["reason"].startswith("deadlock")
    ok = [r for r in rows if r["feasible"] == "true"]
    assert len(ok) == 1 and float(ok[0]["ttft_ms"]) > 0
    again = sweep(spec, tmp_path / "out")
    assert (again.computed, again.skipped) == (0, 4)


def test_sampled_points_are_seeded_and_typed() -> None:
    text = """
[base]
model = "gpt2"
[axes]
"kernel.ffn1.cols" = {low = 4, high = 32, integer = true}
clock_mhz = {low = 180.0, high = 300.0}
design = ["chen2024-w8a8", "chen2024-w4a8"]
[sample]
method = "lhs"
points = 12
seed = 7
"""
    a, b = parse_spec(text, "s").values(), parse_spec(text, "s").values()
    assert a == b and len(a) == 12
    assert all(isinstance(p["kernel.ffn1.cols"], int) and 4 <= p["kernel.ffn1.cols"] <= 32
               for p in a)  # fmt: skip
    assert all(180 <= p["clock_mhz"] <= 300 for p in a)
    # a Latin hypercube puts one point in each twelfth of every interval
    assert len({int((p["clock_mhz"] - 180) / 10) for p in a}) == 12
    assert parse_spec(text.replace("seed = 7", "seed = 8"), "s").values() != a


@pytest.mark.parametrize(
    ("axes", "says"),
    [
        ("colour = [1]", "axis 'colour' is neither"),
        ("clock_mhz = {range = [300, 200, 50]}", "stop >= start"),
        ("clock_mhz = {low = 1, high = 2}", "needs a [sample] table"),
        ("clock_mhz = []", "at least one value"),
        ("clock_mhz = [nan]", "not a finite number"),
        ("clock_mhz = {values = [250], step = 2}", "unknown key 'step'; valid: values"),
        ("clock_mhz = {values = [250], with = 'gen_len'}", "with = [..] lists"),
        ("clock_mhz = {values = [250], with = ['colour']}", "with: axis 'colour' is neither"),
        (
            "prompt_len = [8]\nclock_mhz = {values = [250], with = ['prompt_len']}",
            "with sets 'prompt_len', which is an axis",
        ),
        (
            "gen_len = {values = [1], with = ['layers']}\n"
            "prompt_len = {values = [8], with = ['layers']}",
            "axes.gen_len sets too",
        ),
    ],
)
def test_bad_specs_are_refused_naming_the_axis(axes: str, says: str) -> None:
    with pytest.raises(UserError, match=None) as err:
        parse_spec(f"[base]\nmodel = 'gpt2'\n[axes]\n{axes}\n", "spec.toml")
    assert says in str(err.value) and "spec.toml" in str(err.value)


def test_a_tied_axis_sets_every_quantity_it_names_to_its_value() -> None:
    from spatialsim.experiment.sweep import run_point

    text = """
[base]
model = "gpt2-medium"
design = "chen2024-w8a8"
prompt_len = 64
gen_len = 1
layers = 1
[axes]
"kernel.q_proj.cols" = {values = [4, 16], with = ["kernel.k_proj.cols", "kernel.v_proj.cols"]}
"""
    spec = parse_spec(text, "tied")
    assert spec.columns[:2] == ["key", "kernel.q_proj.cols"]
    points = spec.requests()
    assert [v for v, _ in points] == [{"kernel.q_proj.cols": 4}, {"kernel.q_proj.cols": 16}]
    for (_, req), width in zip(points, (4, 16), strict=True):
        assert dict(req.set) == {f"kernel.{k}_proj.cols": width for k in "qkv"}
    # Q alone does not move prefill (K and V are as wide as before); all three do
    untied = '"kernel.q_proj.cols" = [4, 16]'
    alone = parse_spec(text.split('"kernel.q_proj')[0] + untied, "alone").requests()
    ttft = [run_point(r)["ttft_ms"] for _, r in alone]
    tied = [run_point(r)["ttft_ms"] for _, r in points]
    assert tied[0] > tied[1] and tied[0] > ttft[0]


def test_the_shipped_example_spec_is_the_issue_sweep() -> None:
    from spatialsim.experiment.sweep import load_spec

    path = Path(__file__).parents[1] / "examples" / "sweep.toml"
    spec = load_spec(path)
    assert len(spec.values()) == 24
    assert {a.name for a in spec.axes} == {"kernel.ffn1.cols", "kernel.q_proj.cols", "clock_mhz"}
    assert f"spatialsim sweep examples/{path.name}" in (path.parents[1] / "README.md").read_text()


def test_another_spec_in_the_same_folder_is_refused(tmp_path: Path) -> None:
    base = "[base]\nmodel = 'gpt2'\nprompt_len = 8\ngen_len = 1\nlayers = 1\n[axes]\n"
    sweep(parse_spec(base + "clock_mhz = [250]\n", "a"), tmp_path / "out")
    with pytest.raises(UserError, match="another sweep spec"):
        sweep(parse_spec(base + "clock_mhz = [200]\n", "b"), tmp_path / "out")


def test_plot_on_a_sweep_folder_draws_the_front_the_sensitivity_and_a_heat_map(
    one_process: Path,
) -> None:
    from spatialsim.cli.main import main

    assert main(["plot", str(one_process.parent)]) == 0
    for name in ("pareto.png", "sensitivity.png", "heatmap.png"):
        png = (one_process.parent / "plots" / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_sensitivity_ranks_the_axis_that_moves_latency() -> None:
    from spatialsim.report.sweep_plots import main_effects

    rows = [
        {"a": a, "b": b, "feasible": "true", "ttft_ms": str(10.0 * a_i + 1), "tpot_ms": "1"}
        for a_i, a in enumerate(("x", "y")) for b in ("p", "q")
    ]  # fmt: skip
    eff = main_effects(["a", "b"], rows, "ttft_ms")
    assert eff["b"] == 0.0 and eff["a"] == pytest.approx(10 / 6)


@pytest.mark.parametrize("where", ["file", "device", "link", "parquet link"])
def test_an_out_that_is_not_a_sweep_folder_is_refused(tmp_path: Path, where: str) -> None:
    spec = parse_spec("[base]\nmodel = 'gpt2'\nlayers = 1\n[axes]\nclock_mhz = [250]\n", "s")
    if where == "file":
        out = tmp_path / "plain"
        out.write_text("keep me", encoding="utf-8")
        says = "not a folder"
    elif where == "device":
        out, says = Path("/dev/null"), "not a folder"
    else:
        out = tmp_path / "out"
        out.mkdir()
        name = "results.parquet" if where == "parquet link" else "results.csv"
        (out / name).symlink_to(tmp_path / "elsewhere")
        says = "not a regular file"
    with pytest.raises(UserError, match=says):
        sweep(spec, out)
    if where == "file":
        assert out.read_text(encoding="utf-8") == "keep me"
    if "link" in where:
        assert not (tmp_path / "elsewhere").exists()
        assert not (out / "results.csv").exists() or where == "link"


def test_a_binary_spec_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_bytes(b"\x00\x01\xff")
    proc = subprocess.run([*CLI, str(path), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr and "Traceback" not in proc.stderr
