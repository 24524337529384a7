"""One executor for every batch of simulations: sweeps, optimize, calibration, replay.

The local-cluster tests share one Dask cluster, started once and reached by address
(the ``--scheduler`` path); ``--workers 2`` starting its own cluster is covered once.
"""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spatialsim.calibration.fit import fit
from spatialsim.calibration.measurements import load_board_csv
from spatialsim.calibration.observations import board_observations
from spatialsim.cli.main import main
from spatialsim.costmodel.params import CostParams
from spatialsim.errors import DeadlockError, UserError
from spatialsim.executor import Executor
from spatialsim.hardware.platform import get_platform

sys.path.insert(0, str(Path(__file__).parent))
from test_calibration import board_csv


def square(x: int) -> int:
    return x * x


def refuse(x: int) -> int:
    if x == 3:
        raise UserError(f"value {x} refused", field="x")
    return x


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_results_come_back_with_their_index_in_any_executor(scheduler: str) -> None:
    items = list(range(12))
    with Executor() as local:
        assert list(local.map(square, items)) == [(i, i * i) for i in items]  # in order
    with Executor(scheduler=scheduler) as remote:
        pairs = list(remote.map(square, items))
        assert sorted(pairs) == [(i, i * i) for i in items]
        assert remote.run(square, items) == [i * i for i in items]


def test_a_user_error_raised_on_a_worker_arrives_whole(scheduler: str) -> None:
    with Executor(scheduler=scheduler) as ex, pytest.raises(UserError) as info:
        ex.run(refuse, list(range(6)))
    assert str(info.value) == "value 3 refused" and info.value.field == "x"
    # what crosses between processes: both error types keep what the CLI prints
    dl = pickle.loads(pickle.dumps(DeadlockError("stuck", [{"kernel": "a", "fifo": "f"}])))
    assert str(dl) == "stuck" and dl.cycle == [{"kernel": "a", "fifo": "f"}]
    assert dl.exit_code == 3


@pytest.mark.parametrize("workers", [0, -1, True, 1.5, "2"])
def test_bad_worker_counts_are_refused(workers: Any) -> None:
    with pytest.raises(UserError, match="workers must be an integer from 1 to"):
        Executor(workers)


@pytest.mark.parametrize("command", ["sweep", "replay", "calibrate", "optimize"])
def test_an_empty_scheduler_address_is_refused(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text("[base]\nmodel = 'gpt2'\n[axes]\nclock_mhz = [250]\n")
    trace = Path(__file__).parents[1] / "traces" / "burst_fixed_50.csv"
    board_csv(tmp_path / "b.csv", {})
    args = {
        "sweep": [str(spec), "--out", str(tmp_path / "o")],
        "replay": ["--trace", str(trace)],
        "calibrate": ["--board", str(tmp_path / "b.csv"), "--out", str(tmp_path / "p.toml")],
        "optimize": ["--trials", "2", "--out", str(tmp_path / "o")],
    }[command]
    with pytest.raises(SystemExit) as stop:  # argparse refuses it while reading the options
        main([command, *args, "--scheduler", ""])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "is not a Dask scheduler address: give tcp://HOST:PORT" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with Executor(scheduler="tcp://127.0.0.1:9") as ex, pytest.raises(UserError) as info:
        ex.run(square, [1, 2])
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in str(info.value)


class Recording(Executor):
    """Runs in this process and records each batch it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def map(self, fn: Any, items: Any) -> Any:
        self.batches.append(len(items))
        return super().map(fn, items)


def test_a_fit_sends_each_steps_simulations_together_and_fits_the_same(tmp_path: Path) -> None:
    board_csv(tmp_path / "board.csv", {"cost.launch_overhead_us": 15.0}, noise=0.0)
    runs = load_board_csv(tmp_path / "board.csv")
    u280 = get_platform("u280")
    names = ["cost.launch_overhead_us", "hbm.read_bw_gbps"]
    base = {"cost.launch_overhead_us": 0.0, "hbm.read_bw_gbps": 13.2}

    plain = fit(board_observations(runs, CostParams(), {"u280": u280}), names, base, False)
    rec = Recording()
    batched = fit(
        board_observations(runs, CostParams(), {"u280": u280}),
        names,
        base,
        False,
        executor=rec,
    )
    # every run at the probe of which parameters matter (the prior's centre and a prior
    # width either way of each), then at the scatter's starts (4 per parameter), then at
    # each step's finite-difference points, each batch together
    assert rec.batches[0] == (1 + 2 * len(names)) * len(runs)
    assert rec.batches[1] == 4 * len(names) * len(runs)
    assert len(runs) * len(names) in rec.batches
    assert batched.values == plain.values
    assert batched.values["cost.launch_overhead_us"] == pytest.approx(15.0, rel=0.05)


def test_calibrate_on_dask_writes_the_same_profile(
    tmp_path: Path, scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    board_csv(tmp_path / "board.csv", {"hbm.read_bw_gbps": 12.0})
    common = ["calibrate", "--board", str(tmp_path / "board.csv"), "--no-loo", "--out"]
    assert main([*common, str(tmp_path / "one.toml")]) == 0
    assert main([*common, str(tmp_path / "dask.toml"), "--scheduler", scheduler]) == 0
    capsys.readouterr()

    def body(p: Path) -> list[str]:
        return [ln for ln in p.read_text().splitlines() if not ln.startswith("command")]

    assert body(tmp_path / "one.toml") == body(tmp_path / "dask.toml")


def test_replay_latency_tables_on_dask_equal_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scheduler: str
) -> None:
    trace = Path(__file__).parents[1] / "traces" / "burst_fixed_50.csv"
    docs = []
    for where in ([], ["--scheduler", scheduler], ["--workers", "2"]):
        assert main(["replay", "--trace", str(trace), "--samples", "6", *where, "--json", "-"]) == 0
        docs.append(json.loads(capsys.readouterr().out))
    assert docs[0]["latency_table"]["simulations"] > 6
    assert docs[0] == docs[1] == docs[2]


@pytest.mark.parametrize(
    ("n", "start", "workers"), [(1, 0, 2), (7, 1, 2), (240, 1, 2), (1000, 0, 3)]
)
def test_a_batch_is_cut_into_a_few_chunks_per_worker_covering_every_item(
    n: int, start: int, workers: int
) -> None:
    from spatialsim.executor import CHUNKS_PER_WORKER, chunk_starts

    firsts = chunk_starts(n, start, workers)
    ends = [*firsts[1:], n]
    assert firsts[0] == start and all(a < b for a, b in zip(firsts, ends, strict=True))
    assert len(firsts) <= workers * CHUNKS_PER_WORKER
    sizes = [b - a for a, b in zip(firsts, ends, strict=True)]
    assert len(set(sizes[:-1])) <= 1 and sizes[-1] <= sizes[0]  # equal, the last may be short
    assert sum(sizes) == n - start


def test_chunks_on_a_cluster_bring_back_every_item_once(scheduler: str) -> None:
    items = list(range(53))
    with Executor(scheduler=scheduler) as remote:
        pairs = list(remote.map(square, items))
    assert sorted(pairs) == [(i, i * i) for i in items]


def test_auto_workers_keep_a_short_batch_in_this_process() -> None:
    with Executor(None) as ex:
        assert ex.auto
        assert list(ex.map(square, list(range(40)))) == [(i, i * i) for i in range(40)]
        assert ex._client is None  # no cluster was started for half a millisecond of work


def test_auto_workers_send_a_long_batch_to_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import spatialsim.executor as executor

    if executor.usable_cores() < 2:
        pytest.skip("one usable core: auto never starts workers here")
    monkeypatch.setattr(executor, "AUTO_PARALLEL_S", 0.0)  # any batch counts as long
    with Executor(None) as ex:
        pids = ex.run(worker_pid, list(range(6)))
        assert ex._client is not None
    assert pids[0] == os.getpid()  # the first item is timed here
    assert all(p != os.getpid() for p in pids[1:])  # the rest ran on the workers


def worker_pid(_: int) -> int:
    import os

    return os.getpid()


def test_workers_that_cannot_start_are_a_clear_error_and_auto_runs_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    import distributed

    import spatialsim.executor as executor

    def no_cluster(*_: Any, **__: Any) -> Any:
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    with Executor(2) as ex, pytest.raises(UserError, match="cannot start 2 local Dask workers"):
        ex.run(square, list(range(4)))
    monkeypatch.setattr(executor, "AUTO_PARALLEL_S", 0.0)
    monkeypatch.setattr(executor, "usable_cores", lambda: 2)
    with Executor(None) as ex, pytest.warns(RuntimeWarning, match="running here instead"):
        assert ex.run(worker_pid, list(range(5))) == [os.getpid()] * 5
    assert ex.workers == 1
