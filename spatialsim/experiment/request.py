"""What one experiment asks for: a frozen, hashable, picklable request validated once.

A :class:`RunRequest` names the model, platform and design (built-in names or file paths),
the design overrides, the workload (prompt and generated tokens) and the engine options. It
is a plain value: equal requests compare equal, pickle to equal requests, and have the same
:attr:`RunRequest.key` (and ``hash``) in every process, so a sweep can ship thousands of
them to workers and skip the points it has already done. Building one checks every field
(types, ranges, finite numbers, known names) with a message that names the field; nothing
here reads a file. Resolving the names into a model, platform and design happens when the
request is run (:mod:`spatialsim.experiment.session`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spatialsim import defaults
from spatialsim.constants import PP_SCHEDULES
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.power import PowerParams
from spatialsim.design.overrides import parse_setting
from spatialsim.design.templates import DESIGNS
from spatialsim.errors import UserError
from spatialsim.hardware.cluster import MAX_DEVICES, TOPOLOGIES
from spatialsim.hardware.platform import BUILTIN_PLATFORMS
from spatialsim.workload.models import LAYERS_MAX, MODELS
from spatialsim.workload.traces import MAX_TOKENS

DEFAULT_MODEL = defaults.MODEL
DEFAULT_PLATFORM = defaults.PLATFORM
DEFAULT_DESIGN = defaults.DESIGN
DEFAULT_PROMPT = defaults.PROMPT_LEN
DEFAULT_GEN = defaults.GEN_LEN
GRANULARITIES = ("coarse", "fine")
LINK_GBPS = (0.01, 10_000.0)  # a link's line rate: 10 Mb/s to 10 Tb/s
MAX_CHUNKS_PER_ROW = 1024  # beyond a row's words a chunk is a word: use fine granularity
MAX_LINK_DEPTH = 1 << 20  # words of a link's receive buffer: far above any card's memory

Setting = tuple[str, Any]


def _settings(value: object) -> tuple[Setting, ...]:
    """Design overrides as ``(target, value)`` pairs, in order: from a mapping, ``K=V``
    strings (values are TOML literals) or pairs."""
    if isinstance(value, Mapping):
        items: Iterable[Any] = value.items()
    elif isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise UserError(
            f"set must be a mapping or a list of 'target=value', got {value!r}", field="set"
        )
    else:
        items = value
    out = []
    for item in items:
        if isinstance(item, str):
            key, val = parse_setting(item)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            key, val = item
        else:
            raise UserError(
                f"set: {item!r} is neither 'target=value' nor a (target, value) pair", field="set"
            )
        out.append((key.strip(), _frozen(key, val)))
    return tuple(out)


def _frozen(key: str, value: Any) -> Any:
    """A setting's value made hashable (lists become tuples); non-finite numbers refused."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(key, v) for v in value)
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"set {key}={value}: not a finite number", field="set")
    if value is None or not isinstance(value, (str, int, float, bool)):
        raise UserError(
            f"set {key}={value!r}: values are numbers, booleans, strings or lists of them",
            field="set",
        )
    return value


def name_value_pairs(what: str, value: object) -> tuple[tuple[str, float], ...]:
    """``name -> number`` pairs from a mapping, ``NAME=VALUE`` strings or pairs."""
    if isinstance(value, Mapping):
        items: Iterable[Any] = value.items()
    elif isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise UserError(f"{what} must be a mapping of name to number, got {value!r}", field=what)
    else:
        items = value
    out = []
    for item in items:
        if isinstance(item, str):
            name, sep, text = item.partition("=")
            if not sep:
                raise UserError(f"{what} {item!r}: expected NAME=VALUE", field=what)
            try:
                num = float(text)
            except ValueError:
                raise UserError(f"{what} {item!r}: {text!r} is not a number", field=what) from None
            item = (name.strip(), num)
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise UserError(f"{what}: {item!r} is not a (name, number) pair", field=what)
        name, num = item
        if isinstance(num, bool) or not isinstance(num, (int, float)):
            raise UserError(f"{what} {name}: {num!r} is not a number", field=what)
        out.append((name, float(num)))
    return tuple(out)


def _costs(value: object) -> tuple[tuple[str, float], ...]:
    """Cost-model constants as ``(name, value)`` pairs, checked against CostParams."""
    out = name_value_pairs("cost", value)
    CostParams().replace(**dict(out))  # names and ranges; its messages name the constant
    return out


def _powers(value: object) -> tuple[tuple[str, float], ...]:
    """Power-model coefficients as ``(name, value)`` pairs, checked against PowerParams."""
    out = name_value_pairs("power", value)
    PowerParams.of(dict(out))  # names and ranges; its messages name the coefficient
    return out


def _int(
    name: str, value: object, low: int, optional: bool = False, high: int | None = None
) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{name} must be an integer >= {low}, got {value!r}", field=name)
    if high is not None and value > high:
        raise UserError(
            f"{name} must be an integer from {low:,} to {high:,}, got {value:,}", field=name
        )


def _number(name: str, value: object, positive: bool, optional: bool = True) -> None:
    if optional and value is None:
        return
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    if not ok:
        what = "a finite number > 0" if positive else "a finite number >= 0"
        raise UserError(f"{name} must be {what}, got {value!r}", field=name)


def _name(
    name: str,
    value: object,
    builtins: Iterable[str],
    suffixes: tuple[str, ...],
    optional: bool = False,
) -> None:
    """A built-in name or something that looks like a path to a file of that kind."""
    if optional and value is None:
        return
    if not isinstance(value, str) or not value:
        raise UserError(f"{name} must be a name or a path, got {value!r}", field=name)
    known = tuple(builtins)
    if value in known or value.endswith(suffixes) or os.path.exists(value):
        return
    kinds = " or ".join(f"a path to a {s} file" for s in suffixes)
    raise UserError(
        f"unknown {name} {value!r}; valid: {', '.join(sorted(known))} ({kinds})", field=name
    )


@dataclass(frozen=True)
class RunRequest:
    """One simulation (or analysis) to run; every field is checked when it is built.

    Names and files:

    - ``model``: a built-in model or a path to a Hugging Face ``config.json``; None means
      ``gpt2-medium``, or the model stored in a design file.
    - ``platform``: a built-in platform or a platform ``.toml`` file.
    - ``design``: a design template or a design ``.toml`` file.
    - ``max_seq_len``: tokens the design is built to hold (sizes the KV buffers and the FFN
      bypass); None means prompt + generated tokens.
    - ``set``: design overrides ``target -> value`` applied in order
      (``kernel.<name>.<param>``, ``fifo.<name>.depth``, ``design.clock_mhz``); a mapping,
      ``"target=value"`` strings or pairs are accepted and stored as pairs.

    Workload: ``prompt_len`` (tokens, >= 1) and ``gen_len`` (generated tokens, >= 0).

    Engine:

    - ``layers``: simulate only the first N layers (None: all the model's).
    - ``clock_mhz``: kernel clock in MHz (None: the design's).
    - ``granularity``: ``coarse`` (``chunks_per_row`` transfers per row) or ``fine``
      (one event per FIFO word).
    - ``every_layer``: simulate every layer launch instead of replaying identical ones.
    - ``launch_overhead_us``: host time in microseconds to launch one layer (None: the
      cost model's, or the calibration profile's).
    - ``cost``: cost-model constants ``name -> value`` (units in each name, see
      :class:`~spatialsim.costmodel.params.CostParams`); they win over a profile.
    - ``calibration``: a calibration profile file, or ``u280`` for the shipped one; the
      report then carries 95 % intervals.
    - ``host_io``: add the PCIe transfers of activations in and out.
    - ``timeline``: record kernel spans, FIFO levels and transfers for timelines.

    Several cards (Chen 2024 model): ``tp`` cards split each layer (tensor parallel), ``pp``
    stages hold consecutive layers (pipeline parallel), ``tp`` x ``pp`` cards in all,
    joined by ``topology`` (``ring``, ``p2p`` or ``host``) links of ``link_gbps`` Gb/s
    (None: the platform's QSFP port rate) with ``link_depth`` words of receive buffer.
    ``pp_schedule``: ``streamed`` (each stage's layer streams into the next stage's, all
    stages at once, as Eq. 13 assumes) or ``staged`` (a stage runs its layers, then hands
    the activations on).
    """

    model: str | None = None
    platform: str = DEFAULT_PLATFORM
    design: str = DEFAULT_DESIGN
    prompt_len: int = DEFAULT_PROMPT
    gen_len: int = DEFAULT_GEN
    max_seq_len: int | None = None
    set: tuple[Setting, ...] = ()
    layers: int | None = None
    clock_mhz: float | None = None
    granularity: str = "coarse"
    chunks_per_row: int = 4
    every_layer: bool = False
    launch_overhead_us: float | None = None
    cost: tuple[tuple[str, float], ...] = ()
    calibration: str | None = None
    host_io: bool = False
    timeline: bool = field(default=False)
    tp: int = 1
    pp: int = 1
    topology: str = "ring"
    link_gbps: float | None = None
    link_depth: int = 64
    power: tuple[tuple[str, float], ...] = ()
    pp_schedule: str = "streamed"

    def __post_init__(self) -> None:
        for name in ("model", "platform", "design", "calibration"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):  # a path is what these fields may be
                object.__setattr__(self, name, os.fspath(value))
        object.__setattr__(self, "set", _settings(self.set))
        object.__setattr__(self, "cost", _costs(self.cost))
        object.__setattr__(self, "power", _powers(self.power))
        _name("model", self.model, MODELS, (".json",), optional=True)
        _name("platform", self.platform, BUILTIN_PLATFORMS, (".toml",))
        _name("design", self.design, DESIGNS, (".toml",))
        _int("prompt_len", self.prompt_len, 1, high=MAX_TOKENS)
        _int("gen_len", self.gen_len, 0, high=MAX_TOKENS)
        _int("max_seq_len", self.max_seq_len, 1, optional=True, high=MAX_TOKENS)
        _int("layers", self.layers, 1, optional=True, high=LAYERS_MAX)
        _number("clock_mhz", self.clock_mhz, positive=True)
        if self.clock_mhz is not None and not 1.0 <= self.clock_mhz <= 2000.0:
            raise UserError(
                f"clock_mhz {self.clock_mhz:g} is not a fabric clock: give 1 to 2000 MHz",
                field="clock_mhz",
            )
        if self.clock_mhz is not None:
            object.__setattr__(self, "clock_mhz", float(self.clock_mhz))
        if self.granularity not in GRANULARITIES:
            raise UserError(
                f"granularity {self.granularity!r} is not one of {', '.join(GRANULARITIES)}",
                field="granularity",
            )
        _int("chunks_per_row", self.chunks_per_row, 1, high=MAX_CHUNKS_PER_ROW)
        _number("launch_overhead_us", self.launch_overhead_us, positive=False)
        if self.launch_overhead_us is not None and self.launch_overhead_us > 1e6:
            raise UserError(
                f"launch_overhead_us {self.launch_overhead_us:g} is over a second; give 0 to "
                "1e6 us",
                field="launch_overhead_us",
            )
        if self.launch_overhead_us is not None:
            object.__setattr__(self, "launch_overhead_us", float(self.launch_overhead_us))
        if self.calibration is not None and (
            not isinstance(self.calibration, str) or not self.calibration
        ):
            raise UserError(
                f"calibration must be a profile name or path, got {self.calibration!r}",
                field="calibration",
            )
        _int("tp", self.tp, 1)
        _int("pp", self.pp, 1)
        _int("link_depth", self.link_depth, 1, high=MAX_LINK_DEPTH)
        if self.tp * self.pp > MAX_DEVICES:
            raise UserError(
                f"tp {self.tp} x pp {self.pp} = {self.tp * self.pp} cards; at most "
                f"{MAX_DEVICES} are simulated",
                field="pp" if self.pp > 1 else "tp",
            )
        if self.pp_schedule not in PP_SCHEDULES:
            raise UserError(
                f"pp_schedule {self.pp_schedule!r} is not one of {', '.join(PP_SCHEDULES)}",
                field="pp_schedule",
            )
        if self.topology not in TOPOLOGIES:
            raise UserError(
                f"topology {self.topology!r} is not one of {', '.join(TOPOLOGIES)}",
                field="topology",
            )
        _number("link_gbps", self.link_gbps, positive=True)
        if self.link_gbps is not None and not LINK_GBPS[0] <= self.link_gbps <= LINK_GBPS[1]:
            raise UserError(
                f"link_gbps {self.link_gbps:g} is not a link's line rate: give "
                f"{LINK_GBPS[0]:g} to {LINK_GBPS[1]:g} Gb/s",
                field="link_gbps",
            )
        if self.link_gbps is not None:
            object.__setattr__(self, "link_gbps", float(self.link_gbps))
        for flag in ("every_layer", "host_io", "timeline"):
            if not isinstance(getattr(self, flag), bool):
                raise UserError(
                    f"{flag} must be true or false, got {getattr(self, flag)!r}", field=flag
                )

    @property
    def seq_len(self) -> int:
        """The longest sequence the run holds: prompt plus generated tokens."""
        return self.prompt_len + self.gen_len

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (pairs become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))  # type: ignore[no-any-return]

    @property
    def key(self) -> str:
        """A SHA-256 of the canonical JSON of the fields: the same in every process."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def __hash__(self) -> int:
        return int(self.key[:16], 16) - (1 << 63)

    def replace(self, **changes: Any) -> RunRequest:
        """A copy with ``changes`` (validated like a new request)."""
        names = {f.name for f in dataclasses.fields(self)}
        for name in changes:
            if name not in names:
                raise UserError(
                    f"RunRequest has no field {name!r}; valid: {', '.join(sorted(names))}",
                    field=name,
                )
        return dataclasses.replace(self, **changes)


def request(req: RunRequest | None = None, **fields: Any) -> RunRequest:
    """``req`` with ``fields`` replaced, or a new request from ``fields``."""
    if req is not None and not isinstance(req, RunRequest):
        raise UserError(
            f"req must be a RunRequest, got {type(req).__name__} {req!r:.60}; give the "
            "fields as keywords instead, e.g. simulate(model='gpt2')",
            field="req",
        )
    if req is None:
        names = {f.name for f in dataclasses.fields(RunRequest)}
        unknown = sorted(set(fields) - names)
        if unknown:
            raise UserError(
                f"unknown request field(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}",
                field=unknown[0],
            )
        return RunRequest(**fields)
    return req.replace(**fields) if fields else req
