"""Where many independent simulations run: in this process, on a local Dask cluster, or on
an existing Dask scheduler.

Sweeps, ``optimize``, calibration (a fit's finite-difference columns) and replay's latency
tables all hand their simulations to one :class:`Executor`. A task is a top-level function
and a picklable argument (a request, a design with its run settings): workers receive
what to simulate, never a live engine, and send back a result. Results come back in
completion order; the caller alone writes them anywhere.

The local cluster starts on the first batch of two or more tasks and lives until
:meth:`Executor.close`, so an optimisation or a fit that submits many small batches pays
for its start-up once. Tasks go to the workers in chunks of several items (about
``CHUNKS_PER_WORKER`` chunks per worker), so Dask's per-task cost (a few milliseconds)
stays a small share of each task while the chunks still balance the load.

``workers=None`` (the command-line default) chooses: the first item runs in this process
and is timed; the rest go to one worker per usable core only when they would take longer
than ``AUTO_PARALLEL_S`` here, enough to pay for starting a cluster (about 1.6 s on a
2-core machine: importing Dask, starting two workers, importing spatialsim in them and
closing them), and otherwise run here too.
"""

from __future__ import annotations

import importlib
import math
import re
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

from spatialsim.errors import UserError
from spatialsim.limits import check_count, max_workers, usable_cores
from spatialsim.optional import available, require

T = TypeVar("T")
R = TypeVar("R")

CHUNKS_PER_WORKER = 8  # chunks a batch is cut into, per worker
AUTO_PARALLEL_S = 4.0  # serial seconds left above which workers=None starts a cluster


def chunk_starts(n: int, start: int, workers: int) -> list[int]:
    """Where each chunk of items ``start`` to ``n`` begins: about ``CHUNKS_PER_WORKER``
    equal chunks per worker, none empty."""
    size = max(1, math.ceil((n - start) / (max(1, workers) * CHUNKS_PER_WORKER)))
    return list(range(start, n, size))


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    """``fn`` of each item of one chunk, on a worker."""
    return [fn(item) for item in chunk]


def check_workers(workers: Any) -> int:
    """Local workers: 1 (this process) up to :func:`spatialsim.limits.max_workers`."""
    cores = usable_cores()
    return check_count(
        workers, "workers", 1, max_workers(), f"the {cores} cores here run one simulation each"
    )


# A scheduler address: tcp:// (Dask's default; bare host:port means it too) or tls://, a
# host name, IPv4 or bracketed IPv6 address, and a port.
SCHEDULER_ADDRESS = re.compile(
    r"(?:(?P<scheme>tcp|tls)://)?(?P<host>\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252})"
    r":(?P<port>[0-9]{1,5})"
)
CONNECT_TIMEOUT_S = 10.0  # a live scheduler answers in milliseconds
MAX_HANDSHAKE_BYTES = 1 << 20  # Dask's handshake is a few hundred bytes


def check_scheduler(address: Any) -> tuple[str, str, int]:
    """(scheme, host, port) of a scheduler address, or a :class:`UserError` saying what an
    address looks like."""
    m = SCHEDULER_ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if m is None or not 1 <= int(m["port"]) <= 65535:
        raise UserError(
            f"scheduler {address!r} is not a Dask scheduler address: give tcp://HOST:PORT "
            "(or tls://HOST:PORT), such as tcp://10.0.0.5:8786",
            field="scheduler",
        )
    return m["scheme"] or "tcp", m["host"].strip("[]"), int(m["port"])


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        data += chunk
    return data


def probe_scheduler(host: str, port: int, timeout: float | None = None, address: str = "") -> None:
    """Check, within ``timeout`` seconds, that the peer at ``host:port`` opens a connection
    the way a Dask scheduler does: it sends its handshake first, a message of one or a few
    frames whose header (two little-endian 64-bit counts: message bytes, frames) is
    plausible. A server that says nothing (an HTTP server, a silent listener) or sends
    something else is refused before Dask reads a length from it and allocates it."""
    address = address or f"{host}:{port}"
    where = f"scheduler {address}"
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            head = _read_exactly(sock, 16)
    except TimeoutError:
        raise UserError(
            f"{where} accepted the connection but sent nothing in {timeout:g} s; a Dask "
            "scheduler greets at once (is this another service, such as an HTTP server or "
            "the dashboard port?)",
            field="scheduler",
        ) from None
    except OSError as exc:
        raise UserError(
            f"cannot reach the Dask scheduler at {address}: {exc}", field="scheduler"
        ) from None
    size, frames = int.from_bytes(head[:8], "little"), int.from_bytes(head[8:], "little")
    if not (1 <= frames <= 1024 and 8 * (frames + 1) <= size <= MAX_HANDSHAKE_BYTES):
        raise UserError(
            f"{where} does not speak Dask's protocol (its first message claims {size:,} "
            f"bytes in {frames:,} frames)",
            field="scheduler",
        )


class Executor:
    """Runs ``fn(item)`` for many items: in process (``workers`` = 1 and no scheduler), on a
    ``distributed.LocalCluster`` of ``workers`` single-threaded processes, or on the Dask
    scheduler at ``scheduler`` (``tcp://host:port``)."""

    def __init__(self, workers: int | None = 1, scheduler: str | None = None) -> None:
        # None: choose per batch (see the module's docstring)
        self.auto = workers is None and scheduler is None
        self.workers = usable_cores() if workers is None else check_workers(workers)
        if scheduler is not None:
            check_scheduler(scheduler)
        self.scheduler = scheduler
        if not self.auto and self.parallel and not available("distributed"):
            require("distributed", "running simulations in parallel (workers > 1 or a scheduler)")
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
        dd: Any = require("distributed", "running simulations in parallel")  # only they pay
        if self.scheduler is None:
            try:
                with warnings.catch_warnings():
                    # the scheduler's HTTP endpoint moves to a free port when another
                    # cluster has the default one: nothing of ours uses it
                    warnings.filterwarnings("ignore", message="Port .* is already in use")
                    self._cluster = dd.LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
            except (OSError, RuntimeError, TimeoutError) as exc:
                # typically: worker processes re-run the main module, which a program read
                # from standard input or -c does not have
                raise UserError(
                    f"cannot start {self.workers} local Dask workers ({exc}); run from a "
                    "script file or the command line, or use workers=1",
                    field="workers",
                ) from None
            self._client = dd.Client(self._cluster)
        else:
            scheme, host, port = check_scheduler(self.scheduler)
            dask: Any = require("dask", "a Dask scheduler")
            if scheme == "tcp":
                probe_scheduler(host, port, address=self.scheduler)
            elif not dask.config.get("distributed.comm.tls.client.cert", None):
                raise UserError(
                    f"scheduler {self.scheduler} is a TLS address, but Dask has no client "
                    "certificate: set distributed.comm.tls.ca-file and "
                    "distributed.comm.tls.client.cert (and .key) in your Dask configuration",
                    field="scheduler",
                )
            address = f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}"
            timeouts = {
                "distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT_S:g}s",
                "distributed.comm.timeouts.tcp": f"{3 * CONNECT_TIMEOUT_S:g}s",
            }
            try:
                with dask.config.set(timeouts):
                    self._client = dd.Client(address, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, TypeError, ValueError) as exc:
                # TypeError and ValueError: Dask refusing its own TLS settings
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
        start = 0
        if self.auto and self._client is None:
            t0 = time.perf_counter()
            yield 0, fn(items[0])
            start = 1
            left = (time.perf_counter() - t0) * (len(items) - 1)
            if left >= AUTO_PARALLEL_S and self.workers >= 2 and available("distributed"):
                try:
                    self._connect()
                except UserError as exc:  # auto: workers are an optimisation, not a need
                    warnings.warn(f"{exc}; running here instead", RuntimeWarning, stacklevel=2)
                    self.workers = 1
            if self._client is None:
                for i in range(1, len(items)):
                    yield i, fn(items[i])
                return
        elif not self.parallel or len(items) == 1:
            for i, item in enumerate(items):
                yield i, fn(item)
            return
        yield from self._chunked(fn, items, start)

    def _chunked(
        self, fn: Callable[[T], R], items: Sequence[T], start: int
    ) -> Iterator[tuple[int, R]]:
        """``items[start:]`` on the cluster, in chunks, as they complete."""
        client = self._connect()
        dd: Any = importlib.import_module("distributed")
        workers = len(client.scheduler_info().get("workers", {})) or self.workers
        firsts = chunk_starts(len(items), start, workers)
        chunks = [list(items[i:j]) for i, j in zip(firsts, [*firsts[1:], len(items)], strict=True)]
        futures = client.map(_run_chunk, [fn] * len(chunks), chunks, pure=False)
        first = {f.key: i for f, i in zip(futures, firsts, strict=True)}
        try:
            for fut in dd.as_completed(futures):
                for j, result in enumerate(fut.result()):
                    yield first[fut.key] + j, result
        finally:
            for fut in futures:
                fut.cancel()

    def run(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``fn`` of every item, in the items' order."""
        out: list[Any] = [None] * len(items)
        for i, r in self.map(fn, items):
            out[i] = r
        return out
