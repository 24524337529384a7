"""The one exception type for user mistakes, so the CLI can print it without a traceback."""

from __future__ import annotations

from typing import Any


class UserError(ValueError):
    """A mistake in what the user asked for: bad name, bad value, bad file.

    The message must name what was wrong (file, field, value) and what would be valid.
    ``field`` names the request field at fault when there is one (``clock_mhz``, ``set``):
    the library speaks of fields, and the command line maps them to its flags.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        # raised on a Dask worker, it must arrive whole (ValueError's pickling keeps only
        # the message)
        return (type(self), (str(self), self.field))


def choices_message(what: str, value: object, valid: object) -> str:
    """Format the standard 'unknown X' message listing the valid options."""
    if isinstance(valid, (list, tuple, set, frozenset, dict)):
        listed = ", ".join(sorted(str(v) for v in valid))
    else:
        listed = str(valid)
    return f"unknown {what} {value!r}; valid: {listed}"


class DeadlockError(UserError):
    """The simulated design stopped with every unfinished kernel waiting on a FIFO.

    ``cycle`` lists the wait-for cycle as dicts (kernel, op, fifo, depth, occupancy, peer).
    The CLI exits with :attr:`exit_code` rather than the generic user-error code.
    """

    exit_code = 3

    def __init__(self, message: str, cycle: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.cycle = cycle

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.cycle))
