"""What every kernel kind is made of: typed parameters, work, and the engine's view of it.

A kind's parameters are a frozen dataclass derived from :class:`KernelParams`; each field
carries its documentation and its allowed range or values (:func:`param`), so the schema
that validates design files and overrides is read from the dataclass itself. The
:class:`KernelProcess` protocol lists what a kind's process body may ask of the engine
(spend cycles, take and put words, wait on memory), so the bodies live beside their cost
estimates without importing the engine.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from math import ceil
from typing import Any, ClassVar, Protocol

from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.errors import UserError

PORT_RE = re.compile(r"(HBM|DDR)\[([0-9]{1,4})\]")  # used with fullmatch: no trailing newline
# a free-text parameter (a group name): empty or an identifier, since it reaches the
# generated C++ and config files
GROUP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
Proc = Generator[Any, Any, None]


class _Required:
    def __repr__(self) -> str:
        return "required"


REQUIRED: Any = _Required()  # a parameter without a default


@dataclass(frozen=True)
class Param:
    """One kernel parameter: its type, an allowed range or set, and what it means."""

    type: type
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def param(
    doc: str,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[Any, ...] | None = None,
    default: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field documented with ``doc`` and checked against a range or values.

    A ``default`` makes the parameter optional in design files (a structural choice added
    after designs were written: files without it get the documented default). Fields with
    defaults must come last in their dataclass.
    """
    meta = {
        "doc": doc,
        "low": low,
        "high": high,
        "choices": choices,
        "default": REQUIRED if default is dataclasses.MISSING else default,
    }
    return field(default=default, metadata=meta)


def count(doc: str, low: int = 1, high: int = 1 << 30) -> Any:
    return param(doc, low=low, high=high)


def bits(doc: str) -> Any:
    return param(doc, choices=(2, 4, 8, 16, 32))


def lanes() -> Any:
    return count("parallel lanes (tokens of a pack processed per cycle)", 1, 256)


def features() -> Any:
    return count("elements per token (row width) the kernel processes")


def vector() -> Any:
    """Elements of a row per FIFO word (a kind's ``features`` stay element counts)."""
    return param(
        "elements of a row carried by one FIFO word and processed together in one cycle "
        "(TeraFly moves 8 fp32 values per 256-bit word, TeraFly repo); 1 in the chen2024 designs",
        low=1,
        high=1024,
        default=1,
    )


def axi_group() -> Any:
    return param(
        "kernels of one non-empty group reach memory through the same m_axi masters (one "
        "HLS function's bundles, as TeraFly's stages share theirs, TeraFly repo): each port "
        "of the group costs one AXI adapter; a GEMV's engine_group is its group too",
        default="",
    )


def words(elements: int, vector: int) -> int:
    """FIFO words of a row of ``elements`` at ``vector`` elements per word."""
    return ceil(elements / vector)


def ports(doc: str = "memory ports, one 'HBM[i]' or 'DDR[i]' binding per AXI master") -> Any:
    return param(doc)


def port_bits() -> Any:
    return param("AXI master data width in bits", choices=(32, 64, 128, 256, 512))


def reduction_ii() -> Any:
    """A calibrated design parameter: fitted values may be fractional (an average II)."""
    return count("initiation interval of fp32 reduction loops (fp-add latency bound)", 1, 64)


def block_overhead() -> Any:
    """A calibrated design parameter: fitted values may be fractional (an average)."""
    return count("fill/drain cycles per output block beyond K", 0, 1024)


def _kind_of(annotation: object) -> type:
    """The schema type of a field annotation: tuples of ports are written as lists."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return list
    assert isinstance(annotation, type)
    return annotation


@dataclass(frozen=True)
class KernelParams:
    """Parameters every kernel has; each kind's dataclass adds its own.

    Build one from a design graph node with :meth:`from_attrs`, which validates every value
    with a message naming the kernel, the parameter, the value and what is allowed.
    """

    KIND: ClassVar[str] = ""

    slr: int = count("super logic region the kernel is placed in", 0, 15)

    @classmethod
    def schema(cls) -> dict[str, Param]:
        """Every parameter with its type, doc and allowed values."""
        return _schema(cls)

    @classmethod
    def from_attrs(cls, kernel: str, attrs: Mapping[str, Any]) -> KernelParams:
        """The typed parameters of node ``kernel`` (its ``kind`` key is ignored)."""
        schema = cls.schema()
        values = {}
        for key, value in attrs.items():
            if key != "kind":
                values[key] = check_value(kernel, cls.KIND, schema, key, value)
        check_complete(kernel, cls.KIND, schema, values)
        try:  # a kind may check its parameters together (__post_init__)
            return cls(**values)
        except UserError as err:
            raise UserError(f"kernel {kernel} ({cls.KIND}): {err}") from None

    @classmethod
    def from_partial(cls, kernel: str, attrs: Mapping[str, Any]) -> KernelParams:
        """Parameters from a mapping that may hold only some of them (a cost query on the
        sizes alone): what is given is validated, what is missing is None, so an estimate
        that needs a missing value fails on it."""
        schema = cls.schema()
        values = {
            key: check_value(kernel, cls.KIND, schema, key, value)
            for key, value in attrs.items()
            if key != "kind"
        }
        given: dict[str, Any] = {
            name: values.get(name, None if p.required else p.default) for name, p in schema.items()
        }
        return cls(**given)

    def macs_per_cycle(self, tokens_per_pack: int) -> int:
        """Peak MACs per cycle of a matrix engine (packs of ``tokens_per_pack`` tokens)."""
        raise ValueError(f"kernel kind {self.KIND!r} is not a matrix engine")

    def weight_bits_per_cycle(self) -> int:
        """Weight bits streamed per cycle (0 for kernels without weights)."""
        return 0

    def stream_words_in(self) -> int | None:
        """Words per token the kernel reads from each stream input (0: it reads none;
        None: not a fixed number, not checked)."""
        return None

    def stream_words_out(self) -> int | None:
        """Words per token the kernel writes to each stream output (0: it writes none;
        None: not a fixed number, not checked)."""
        return None

    def ring_word_bits(self) -> int | None:
        """None: a kernel of one card. Otherwise the kernel is joined to its counterparts
        on the other cards of a tensor-parallel stage by a ring of link FIFOs, whose words
        are this many bits (0: as wide as the kernel's input stream)."""
        return None

    def output_burst_words(self) -> int:
        """Words finished at once and held in output registers while the next block
        computes; 0 for kernels that emit word by word."""
        return 0


class RowStream:
    """Mixed into a kind whose rows of ``features`` elements move ``vector`` per FIFO
    word and leave as they came (layer norms, residuals, splitters): the same words in
    and out. Its dataclass declares the two fields."""

    features: int
    vector: int

    @property
    def words(self) -> int:
        """FIFO words of one row."""
        return words(self.features, self.vector)

    def stream_words_in(self) -> int | None:
        return self.words

    def stream_words_out(self) -> int | None:
        return self.words


_SCHEMAS: dict[type, dict[str, Param]] = {}


def _schema(cls: type[KernelParams]) -> dict[str, Param]:
    cached = _SCHEMAS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        m = f.metadata
        out[f.name] = Param(
            _kind_of(hints[f.name]), m["doc"], m["low"], m["high"], m["choices"], m["default"]
        )
    _SCHEMAS[cls] = out
    return out


def check_value(kernel: str, kind: str, schema: Mapping[str, Param], name: str, value: Any) -> Any:
    """Validate one parameter of ``kernel``; return it (lists become tuples)."""
    if name not in schema:
        raise UserError(
            f"kernel {kernel} ({kind}) has no parameter {name!r}; valid: "
            f"{', '.join(sorted(schema))}"
        )
    p = schema[name]
    where = f"kernel {kernel}: {name}"
    if p.type is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where} must be true or false, got {value!r}")
        return value
    if p.type is list:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or (not value and p.default != ()):
            raise UserError(
                f"{where} must be a non-empty list of 'HBM[i]' or 'DDR[i]', got {value!r}"
            )
        for port in value:
            if not isinstance(port, str) or not PORT_RE.fullmatch(port):
                raise UserError(f"{where}: port {port!r} is not 'HBM[i]' or 'DDR[i]'")
        return tuple(value)
    if p.type is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise UserError(f"{where} must be an integer, got {value!r}")
    if p.type is float and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
    ):
        raise UserError(f"{where} must be a finite number, got {value!r}")
    if p.type is str and not isinstance(value, str):
        raise UserError(f"{where} must be a string, got {value!r}")
    if p.type is str and p.choices is None and value and not GROUP_NAME.fullmatch(value):
        raise UserError(
            f"{where} = {value!r} is not a name: use ASCII letters, digits and _, not "
            "starting with a digit, at most 64 characters, or leave it empty"
        )
    if p.choices is not None and value not in p.choices:
        raise UserError(
            f"{where} = {value!r} is not allowed; valid: {', '.join(str(c) for c in p.choices)}"
        )
    if (p.low is not None and value < p.low) or (p.high is not None and value > p.high):
        raise UserError(f"{where} = {value!r} is out of range [{p.low:g}, {p.high:g}]")
    return value


def check_complete(
    kernel: str, kind: str, schema: Mapping[str, Param], values: Mapping[str, Any]
) -> None:
    """Refuse a kernel that lacks a parameter without a default."""
    missing = sorted(n for n, p in schema.items() if p.required and n not in values)
    if missing:
        raise UserError(f"kernel {kernel} ({kind}) is missing parameter(s): {', '.join(missing)}")


def with_defaults(schema: Mapping[str, Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` plus the default of every optional parameter not given."""
    out = dict(values)
    for n, p in schema.items():
        if n not in out and not p.required:
            out[n] = p.default
    return out


RESOURCES = ("dsp", "lut", "ff", "bram36", "uram")


@dataclass(frozen=True)
class Coeffs:
    """Linear resource model of a kernel: per PE (MAC lane), per token lane, fixed. The
    coefficients of the built-in kinds are fitted to the chen2024 W4A8 region reports."""

    per_pe: dict[str, float] = field(default_factory=dict)
    per_lane: dict[str, float] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)

    def scaled(self, pes: int, lanes: int) -> dict[str, float]:
        return {
            r: self.per_pe.get(r, 0.0) * pes
            + self.per_lane.get(r, 0.0) * lanes
            + self.fixed.get(r, 0.0)
            for r in RESOURCES
        }


@dataclass(frozen=True)
class KernelWork:
    """What one kernel does in one layer launch: multiply-accumulates, weight bytes read
    from off-chip memory, and elements an element-wise or reduction kernel touches."""

    macs: int = 0
    weight_bytes: float = 0.0
    elements: int = 0


class Memory(Protocol):
    """An open memory stream: ``request`` returns when ``nbytes`` will have arrived."""

    def request(self, now: float, nbytes: float) -> float: ...


class KernelProcess(Protocol):
    """What a kind's process body sees of its kernel in the engine for one launch."""

    name: str
    p: Any  # the kind's parameter dataclass
    step: Work
    params: CostParams  # the cost model's constants
    gran: Any  # .chunks_per_row (None: one word per transfer), .split()
    ins: dict[str, Any]
    outs: list[Any]

    @property
    def now(self) -> float: ...  # this kernel's cycle (it may run ahead of SimPy's)
    def busy(self, cycles: float) -> tuple[()]: ...  # runs ahead: no event (a plain call)
    def request(self, stream: Any, nbytes: float) -> Generator[Any, Any, float]: ...
    def get(self, fifo: Any, words: int) -> Proc: ...
    def take(self, fifo: Any, words: int, cycles: float, last_word: float) -> Proc: ...
    def emit(self, words: int, fifos: list[Any] | None = None, span: float = 0.0) -> Proc: ...
    def wait_memory(self, ready: float) -> tuple[()]: ...
    def send(self, fifo: Any, words: int) -> Proc: ...
    def consume(self, fifo: Any, words: int, cycles_per_word: float = 1.0) -> Proc: ...
    def produce(
        self, words: int, cycles_per_word: float = 1.0, fifos: list[Any] | None = None
    ) -> Proc: ...
    def open(self, extent_bytes: float, write: bool = False) -> Memory: ...
    def stream_in(self) -> Any: ...
    def handoffs(self) -> list[Any]: ...
    def estimate(self, fn: Callable[..., Any], work: Work) -> Any: ...


@lru_cache(maxsize=4096)
def split(total: int, parts: int) -> tuple[int, ...]:
    """``total`` split into ``parts`` near-equal positive chunks (larger ones first)."""
    parts = max(1, min(parts, total))
    q, r = divmod(total, parts)
    return tuple(q + 1 if i < r else q for i in range(parts))


def head_groups(heads: int, heads_parallel: int) -> int:
    """Passes over the heads when ``heads_parallel`` of them go side by side."""
    return ceil(heads / heads_parallel)


def head_chunks(k: KernelProcess, heads: int, heads_parallel: int) -> tuple[tuple[int, int], ...]:
    """(heads, groups) per chunk of a body's transfers: ``heads_parallel`` heads share
    each pass."""
    groups = k.gran.split(head_groups(heads, heads_parallel))
    out, left = [], heads
    for gg in groups:
        n = min(left, gg * heads_parallel)
        left -= n
        out.append((n, gg))
    return tuple(out)


def rowwise(k: KernelProcess, words_in: int, words_out: int) -> Proc:
    """An II = 1 element loop: read a chunk, process it, write it."""
    inp = k.stream_in()
    outs = k.gran.split(words_out)
    ins = split(words_in, len(outs)) if words_in != words_out else outs
    for wi, wo in zip(ins, outs, strict=True):
        yield from k.take(inp, wi, wo, 1.0)
        yield from k.emit(wo, span=wo)


def replace(p: KernelParams, **changes: Any) -> Any:
    """A copy of ``p`` with ``changes`` (for estimates of a unit of work)."""
    return dataclasses.replace(p, **changes)
