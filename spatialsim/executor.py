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
import re
import socket
import warnings
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

from spatialsim.errors import UserError
from spatialsim.limits import check_count, max_workers, usable_cores
from spatialsim.optional import available, require

T = TypeVar("T")
R = TypeVar("R")


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

    def __init__(self, workers: int = 1, scheduler: str | None = None) -> None:
        self.workers = check_workers(workers)
        if scheduler is not None:
            check_scheduler(scheduler)
        self.scheduler = scheduler
        if self.parallel and not available("distributed"):
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
        if not self.parallel or len(items) == 1:
            for i, item in enumerate(items):
                yield i, fn(item)
            return
        client = self._connect()
        dd: Any = importlib.import_module("distributed")
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
