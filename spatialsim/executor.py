"""Where many independent simulations run: in this process, on a local Dask cluster, or on
an existing Dask scheduler.

Sweeps, ``optimize``, calibration (a fit's finite-difference columns) and replay's latency
tables all hand their simulations to one :class:`Executor`. A task is a top-level function
and a picklable argument (a request, a design with its run settings): workers receive
what to simulate, never a live engine, and send back a result. Results come back in
completion order; the caller alone writes them anywhere.

The local cluster starts on the first batch of two or more tasks and lives until
:meth:`Executor.close`, so an optimisation or a fit that submits many small batches pays
for its start-up once.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

from spatialsim.errors import UserError

T = TypeVar("T")
R = TypeVar("R")


def check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UserError(f"workers must be a positive integer, got {workers!r}", field="workers")
    return workers


class Executor:
    """Runs ``fn(item)`` for many items: in process (``workers`` = 1 and no scheduler), on a
    ``distributed.LocalCluster`` of ``workers`` single-threaded processes, or on the Dask
    scheduler at ``scheduler`` (``tcp://host:port``)."""

    def __init__(self, workers: int = 1, scheduler: str | None = None) -> None:
        self.workers = check_workers(workers)
        if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
            raise UserError(
                f"scheduler must be an address such as tcp://host:8786, got {scheduler!r}",
                field="scheduler",
            )
        self.scheduler = scheduler
        self._client: Any = None
        self._cluster: Any = None

    @property
    def parallel(self) -> bool:
        return self.scheduler is not None or self.workers > 1

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        dd: Any = importlib.import_module("distributed")  # only parallel runs pay for it
        if self.scheduler is None:
            with warnings.catch_warnings():
                # the scheduler's HTTP endpoint moves to a free port when another cluster
                # has the default one: nothing of ours uses it
                warnings.filterwarnings("ignore", message="Port .* is already in use")
                self._cluster = dd.LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            self._client = dd.Client(self._cluster)
        else:
            try:
                self._client = dd.Client(self.scheduler, timeout=10)  # a live one answers in ms
            except OSError as exc:
                raise UserError(
                    f"cannot reach the Dask scheduler at {self.scheduler}: {exc}",
                    field="scheduler",
                ) from None
        return self._client

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """``(index, fn(items[index]))`` in completion order. An exception a task raised
        is raised here, as it was raised there."""
        if not items:
            return
        if not self.parallel or len(items) == 1:
            for i, item in enumerate(items):
                yield i, fn(item)
            return
        dd: Any = importlib.import_module("distributed")
        client = self._connect()
        futures = client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in dd.as_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def run(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``fn`` of every item, in the items' order."""
        out: list[Any] = [None] * len(items)
        for i, r in self.map(fn, items):
            out[i] = r
        return out
