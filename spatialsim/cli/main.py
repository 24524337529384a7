"""Entry point of the ``spatialsim`` command: subcommands; user errors without tracebacks
(exit 2); anything else is an internal error (exit 70) whose traceback goes to a crash
file named in the message."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from spatialsim import __version__
from spatialsim.cli.commands import ADDERS, HELP, MODULES
from spatialsim.cli.paths import check_paths
from spatialsim.errors import UserError


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser: every subcommand listed with its help, and ``commands`` (all of them
    when None) added whole. Only the modules of the commands added whole are imported, so
    ``--version`` and each command pay for what they use."""
    parser = argparse.ArgumentParser(
        prog="spatialsim",
        description="Model FPGA spatial (dataflow) accelerators for LLM inference "
        "(Chen et al. 2024): simulation, analytical latency, constraints and designs.",
    )
    parser.add_argument("--version", action="version", version=f"spatialsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    wanted = list(MODULES) if commands is None else list(commands)
    for module in dict.fromkeys(MODULES[c] for c in wanted):
        adder = getattr(importlib.import_module(f"spatialsim.cli.{module}"), ADDERS[module])
        adder(sub)
    for name in MODULES:  # the rest: listed, and parsed only once chosen
        if name not in sub.choices:
            sub.add_parser(name, help=HELP[name], add_help=False)
    # list the commands in the registry's order, whatever order they were added in
    sub._choices_actions.sort(key=lambda a: list(MODULES).index(a.dest))
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first word that is not an option), if known."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in MODULES else None
    return None


class OutputError(UserError):
    """Standard output cannot be written (closed, a full disk, a device error)."""


# Characters a terminal acts on rather than shows: C0 and C1 controls but newline, tab and
# carriage return (progress bars redraw with it), DEL, and the bidirectional overrides that
# reorder what is shown. Names read from reports, profiles and CSV cells reach the screen,
# so every printed character of these is shown as an escape (\u001b) instead.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def visible(text: str) -> str:
    """``text`` with every control character (see ``_CONTROL``) written as ``\\uXXXX``."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _GuardedStream:
    """Standard output or error, printed visibly (:func:`visible`); write errors on standard
    output are the user's environment, not our bug: they become an :class:`OutputError`
    naming the cause (a closed pipe stays quiet)."""

    def __init__(self, stream: TextIO, name: str = "standard output") -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        try:
            return self._stream.write(visible(text))
        except (OSError, ValueError) as exc:
            return self._failed(exc, len(text))

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError) as exc:
            self._failed(exc, 0)

    def _failed(self, exc: BaseException, size: int) -> int:
        if self._name == "standard error":  # nowhere left to say so
            return size
        if isinstance(exc, BrokenPipeError):
            raise exc
        raise OutputError(f"cannot write to {self._name} ({_why(exc)})") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _why(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null so that the interpreter's last flush of what
    could not be written does not fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    command = _command_of(words)
    parser = build_parser([command] if command else [])
    if sys.stdout is None:  # started with standard output closed (>&-)
        print("spatialsim: error: standard output is closed; nothing could be printed or "
              "written to '-'", file=sys.stderr)  # fmt: skip
        return 2
    args = parser.parse_args(words)
    real, real_err = sys.stdout, sys.stderr
    sys.stdout = _GuardedStream(real)
    if real_err is not None:
        sys.stderr = _GuardedStream(real_err, "standard error")
    try:
        check_paths(args.command, args)
        code = int(args.func(args))
        sys.stdout.flush()
        return code
    except OutputError as exc:
        print(f"spatialsim {args.command}: error: {exc}", file=sys.stderr)
        if real is sys.__stdout__:
            _silence_stdout()
        return 2
    except UserError as exc:
        message = _flag_message(parser, args.command, exc)
        print(f"spatialsim {args.command}: error: {message}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        print("spatialsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if real is sys.__stdout__:
            _silence_stdout()
        return 0
    except Exception as exc:  # a bug of ours, not a user mistake: say so, keep the details
        crash = _crash_file(argv, exc)
        print(
            f"spatialsim {args.command}: internal error ({type(exc).__name__}: {exc}); this "
            f"is a bug in spatialsim, not in your input. Details: {crash}",
            file=sys.stderr,
        )
        return INTERNAL_ERROR
    finally:
        sys.stdout, sys.stderr = real, real_err


INTERNAL_ERROR = 70  # EX_SOFTWARE (sysexits.h): distinct from user errors (2)


def _crash_file(argv: Sequence[str] | None, exc: BaseException) -> str:
    """Write the traceback and the command to a crash file; its path (or why not)."""
    import tempfile
    import traceback

    command = " ".join(["spatialsim", *(sys.argv[1:] if argv is None else argv)])
    text = f"spatialsim {__version__}\ncommand: {command}\n\n" + "".join(
        traceback.format_exception(exc)
    )
    try:
        fd, path = tempfile.mkstemp(prefix="spatialsim-crash-", suffix=".txt")
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path
    except OSError as err:
        return f"(could not write a crash file: {err.strerror})"


# request fields and library arguments whose option is not simply --field-name
_FLAGS = {
    "set": "--set",
    "cost": "--cost",
    "cu_map": "--map",
    "loo": "--no-loo",
    "gpu_params": "--gpu-param",
}


def _flag_message(parser: argparse.ArgumentParser, command: str, exc: UserError) -> str:
    """The library names the request field at fault; on the command line, name the option.
    When the command has that option, a message that starts with the field (``clock_mhz
    2000 is above ...``) starts with the option instead (``--clock-mhz 2000 is above
    ...``), and advice to rebuild ``with <field>`` names the option."""
    text = _LIBRARY_NAME.sub(lambda m: _option(parser, command, m.group(1)), str(exc))
    field = exc.field
    if not field:
        return text
    flag = _FLAGS.get(field, "--" + field.replace("_", "-"))
    if not _has_option(parser, command, flag):
        return text
    if text.startswith(field) and text[len(field) :][:1] in (" ", ":", "="):
        text = flag + text[len(field) :]
    return text.replace(f" with {field} ", f" with {flag} ")


# a library message names an argument in backticks (`cu_map`, `out`): the command line
# shows its option instead (--map, --out), or the plain name when the command has none
_LIBRARY_NAME = re.compile(r"`([a-z][a-z_]*)`")


def _option(parser: argparse.ArgumentParser, command: str, name: str) -> str:
    flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
    return flag if _has_option(parser, command, flag) else name


def _has_option(parser: argparse.ArgumentParser, command: str, flag: str) -> bool:
    subparsers = parser._subparsers
    actions = subparsers._group_actions if subparsers is not None else []
    for action in actions:
        sub = getattr(action, "choices", None) or {}
        if command in sub and flag in sub[command]._option_string_actions:
            return True
    return False


if __name__ == "__main__":
    sys.exit(main())
