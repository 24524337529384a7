"""FPGA platforms: SLR resources, HBM/DDR memory, PCIe and network links, loaded from TOML.

A platform file maps one-to-one onto the frozen dataclasses here; unknown keys are errors.
Every built-in number carries its source in the file's ``[sources]`` table, keyed by the
dotted field path (``hbm.read_bw_gbps``, ``slr.dsp``...).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from spatialsim.errors import UserError, choices_message
from spatialsim.tomlio import builtin_text, parse_toml, read_toml

BUILTIN_PLATFORMS = ("u280", "u55c", "u50lv", "u250", "vck5000")
MAX_SLRS = 8  # stacked-silicon devices have up to 4 SLRs; 8 leaves room


# The physical range of every number a platform file gives: (low, high, unit). Wide enough
# for any FPGA card sold or announced (the largest devices have 4 SLRs, 4 HBM stacks of 16
# pseudo-channels, PCIe Gen5 x16), narrow enough that nothing derived from them overflows
# or divides by almost zero. Bandwidths reach up to 1e6 GB/s and latencies down to 1e-6 ns
# so that the ideal memory of a region analysed alone (engine/region.py) is a platform too;
# a fast memory makes times smaller, never larger. docs/limits.md lists them.
RANGES: dict[str, tuple[float, float, str]] = {
    "kernel_clock_mhz": (1, 2000, "MHz"),
    "max_clock_mhz": (1, 2000, "MHz"),
    "sll_per_boundary": (1, 1_000_000, "SLLs"),
    "slr.lut": (1, 100_000_000, "LUTs"),
    "slr.ff": (1, 200_000_000, "FFs"),
    "slr.dsp": (1, 1_000_000, "DSPs"),
    "slr.bram36": (1, 1_000_000, "BRAM36"),
    "slr.uram": (0, 1_000_000, "URAM"),
    "hbm.channels": (1, 64, "pseudo-channels (4 HBM stacks of 16)"),
    "hbm.channel_mb": (1, 65_536, "MB"),
    "hbm.port_bits": (8, 4096, "bits"),
    "hbm.axi_clock_mhz": (1, 2000, "MHz"),
    "hbm.peak_bw_gbps": (0.01, 1e6, "GB/s"),
    "hbm.read_bw_gbps": (0.01, 1e6, "GB/s"),
    "hbm.write_bw_gbps": (0.01, 1e6, "GB/s"),
    "hbm.all_read_bw_gbps": (0.01, 1e6, "GB/s"),
    "hbm.all_write_bw_gbps": (0.01, 1e6, "GB/s"),
    "hbm.latency_ns": (1e-6, 100_000, "ns"),
    "hbm.page_closed_latency_ns": (1e-6, 100_000, "ns"),
    "hbm.page_miss_latency_ns": (1e-6, 100_000, "ns"),
    "hbm.switch_penalty_ns": (1e-6, 100_000, "ns"),
    "hbm.far_latency_ns": (1e-6, 100_000, "ns"),
    "hbm.switch_group": (1, 64, "channels"),
    "hbm.read_saturation_bytes": (1, 2**30, "bytes"),
    "hbm.write_saturation_bytes": (1, 2**30, "bytes"),
    "hbm.refresh_interval_us": (0.01, 1_000_000, "us"),
    "hbm.small_burst_bytes": (1, 2**20, "bytes"),
    "hbm.small_burst_bw_gbps": (0.01, 1e6, "GB/s"),
    "ddr.channels": (1, 64, "channels"),
    "ddr.channel_gb": (1, 4096, "GB"),
    "ddr.peak_bw_gbps": (0.01, 1e6, "GB/s"),
    "ddr.read_bw_gbps": (0.01, 1e6, "GB/s"),
    "ddr.write_bw_gbps": (0.01, 1e6, "GB/s"),
    "pcie.gen": (1, 7, "PCIe generation"),
    "pcie.lanes": (1, 32, "lanes"),
    "pcie.bw_gbps": (0.01, 1000, "GB/s"),
    "links.ports": (1, 64, "ports"),
    "links.port_gbitps": (0.01, 10_000, "Gb/s"),
    "aie.tiles": (1, 100_000, "tiles"),
    "aie.int8_macs_per_cycle": (1, 100_000, "MACs per cycle"),
    "aie.clock_mhz": (1, 2000, "MHz"),
}

# An AMD part number (xcu280-fsvh2892-2L-e, xcvc1902-vsvd1760-2MP-e-S): it reaches the
# generated Tcl's set_part, so it is held to this grammar rather than quoted.
PART_PATTERN = re.compile(r"[a-z][a-z0-9]{1,31}(-[A-Za-z0-9]{1,16}){1,5}")


def _positive(owner: str, obj: object, *names: str) -> None:
    """Every named field is a finite number in its physical range (``RANGES``, keyed
    ``owner.name`` with the owner's first word)."""
    section = owner.split()[0]
    for name in names:
        value = getattr(obj, name)
        if value is None:
            continue
        key = name if section == "platform" else f"{section}.{name}"
        low, high, unit = RANGES.get(key, (0, 1e12, ""))
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
            or not low <= value <= high
        ):
            raise UserError(
                f"{owner}.{name} must be a number from {low:g} to {high:g} {unit}, "
                f"got {value!r}".replace(" ,", ",")
            )


@dataclass(frozen=True)
class Slr:
    """Programmable-logic resources of one super logic region (routed capacities)."""

    name: str
    lut: int
    ff: int
    dsp: int
    bram36: int
    uram: int

    def __post_init__(self) -> None:
        _positive(f"slr {self.name}", self, "lut", "ff", "dsp", "bram36")
        low, high, unit = RANGES["slr.uram"]
        if not low <= self.uram <= high:
            raise UserError(
                f"slr {self.name}.uram must be from {low:g} to {high:g} {unit}, got {self.uram}"
            )


@dataclass(frozen=True)
class Reserved:
    """Resources the platform shell takes from the device."""

    lut: int = 0
    ff: int = 0
    dsp: int = 0
    bram36: int = 0
    uram: int = 0


@dataclass(frozen=True)
class Hbm:
    """HBM2 pseudo-channels and their measured behaviour.

    ``peak_bw_gbps`` is the AXI port rate of one pseudo-channel; ``read_bw_gbps`` and
    ``write_bw_gbps`` are measured sequential rates of one channel; ``all_read_bw_gbps`` all
    channels at once. Latencies are idle read latencies; ``switch_penalty_ns`` is added when
    the switch is enabled, ``far_latency_ns`` is a page hit on the farthest channel through it.
    ``small_burst_bw_gbps`` is the measured rate of ``small_burst_bytes`` bursts with good
    locality; with the saturated rate it bounds the request-size curve of the cost model.
    """

    channels: int
    channel_mb: int
    port_bits: int
    axi_clock_mhz: float
    peak_bw_gbps: float
    read_bw_gbps: float
    write_bw_gbps: float
    all_read_bw_gbps: float
    all_write_bw_gbps: float
    latency_ns: float
    page_closed_latency_ns: float
    page_miss_latency_ns: float
    switch_penalty_ns: float
    far_latency_ns: float
    switch_group: int
    read_saturation_bytes: int
    write_saturation_bytes: int
    refresh_interval_us: float
    small_burst_bytes: int
    small_burst_bw_gbps: float
    attached_slr: int = 0

    def __post_init__(self) -> None:
        _positive(
            "hbm", self, *[f.name for f in dataclasses.fields(self) if f.name != "attached_slr"]
        )


@dataclass(frozen=True)
class Ddr:
    """DDR4 channels."""

    channels: int
    channel_gb: int
    peak_bw_gbps: float
    read_bw_gbps: float | None = None
    write_bw_gbps: float | None = None

    def __post_init__(self) -> None:
        _positive("ddr", self, *[f.name for f in dataclasses.fields(self)])

    @property
    def effective_read_bw_gbps(self) -> float:
        """Measured read rate where known, else the peak rate."""
        return self.read_bw_gbps if self.read_bw_gbps is not None else self.peak_bw_gbps


@dataclass(frozen=True)
class Pcie:
    """Host link."""

    gen: int
    lanes: int
    bw_gbps: float

    def __post_init__(self) -> None:
        _positive("pcie", self, "gen", "lanes", "bw_gbps")


@dataclass(frozen=True)
class NetLinks:
    """Device-to-device network ports (QSFP28 on the Alveo cards)."""

    ports: int
    port_gbitps: float

    def __post_init__(self) -> None:
        _positive("links", self, "ports", "port_gbitps")


@dataclass(frozen=True)
class AiEngines:
    """Hardened vector engines (Versal AI Engines), converted to fabric-clock MACs."""

    tiles: int
    int8_macs_per_cycle: int
    clock_mhz: float

    def __post_init__(self) -> None:
        _positive("aie", self, "tiles", "int8_macs_per_cycle", "clock_mhz")


@dataclass(frozen=True)
class Platform:
    """An FPGA card: device resources per SLR, memories, host and network links."""

    name: str
    part: str
    description: str
    kernel_clock_mhz: float
    max_clock_mhz: float
    slrs: tuple[Slr, ...]
    reserved: Reserved
    pcie: Pcie
    links: NetLinks
    sll_per_boundary: int | None = None
    hbm: Hbm | None = None
    ddr: Ddr | None = None
    aie: AiEngines | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _positive(
            f"platform {self.name}", self, "kernel_clock_mhz", "max_clock_mhz", "sll_per_boundary"
        )
        if not PART_PATTERN.fullmatch(self.part):
            raise UserError(
                f"platform {self.name}: part {self.part!r} is not an AMD part number (letters, "
                "digits and dashes, such as xcu280-fsvh2892-2L-e)"
            )
        if not 1 <= len(self.slrs) <= MAX_SLRS:
            raise UserError(
                f"platform {self.name}: needs 1 to {MAX_SLRS} [[slr]] tables, got {len(self.slrs)}"
            )
        for res in ("lut", "ff", "dsp", "bram36", "uram"):
            have, shell = self.total(res), getattr(self.reserved, res)
            if not 0 <= shell < max(have, 1):
                raise UserError(
                    f"platform {self.name}: reserved.{res} must be from 0 to below the "
                    f"device's {have:,}, got {shell!r}"
                )
        if self.hbm is not None and not 0 <= self.hbm.attached_slr < len(self.slrs):
            raise UserError(
                f"platform {self.name}: hbm.attached_slr must name one of its SLRs, 0 to "
                f"{len(self.slrs) - 1}, got {self.hbm.attached_slr}"
            )
        if self.hbm is None and self.ddr is None:
            raise UserError(f"platform {self.name}: needs an [hbm] or a [ddr] table")

    def total(self, resource: str) -> int:
        """Device-wide capacity of ``resource`` (lut, ff, dsp, bram36, uram)."""
        return sum(int(getattr(s, resource)) for s in self.slrs)

    def fabric_macs_per_cycle(self, macs_per_dsp: int, clock_mhz: float) -> float:
        """M_tot of the paper's Eq. 2: DSPs x packing, plus AI engines at the fabric clock."""
        macs = float((self.total("dsp") - self.reserved.dsp) * macs_per_dsp)
        if self.aie is not None:
            macs += self.aie.tiles * self.aie.int8_macs_per_cycle * self.aie.clock_mhz / clock_mhz
        return macs

    def onchip_bits(self) -> int:
        """BRAM and URAM capacity in bits, less the shell's BRAM."""
        bram = (self.total("bram36") - self.reserved.bram36) * BRAM36_BITS
        uram = (self.total("uram") - self.reserved.uram) * URAM_BITS
        return bram + uram

    def memory_channels(self) -> dict[str, int]:
        """Channel count by memory kind, as used in ``HBM[i]`` / ``DDR[i]`` bindings."""
        out = {}
        if self.hbm is not None:
            out["HBM"] = self.hbm.channels
        if self.ddr is not None:
            out["DDR"] = self.ddr.channels
        return out

    def channel_read_bw_gbps(self, kind: str) -> float:
        """Measured sequential read bandwidth of one channel of ``kind`` (HBM or DDR)."""
        mem = self.hbm if kind == "HBM" else self.ddr
        if mem is None:
            raise UserError(f"platform {self.name} has no {kind} memory")
        return mem.read_bw_gbps if isinstance(mem, Hbm) else mem.effective_read_bw_gbps


BRAM36_BITS = 36 * 1024  # one BRAM36 block (AMD UG573)
URAM_BITS = 288 * 1024  # one UltraRAM block, 4K x 72 (AMD UG573)


# ---- loading ------------------------------------------------------------------------------


def _build(cls: type, data: Any, where: str, origin: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, refusing unknown or missing keys."""
    if not isinstance(data, dict):
        raise UserError(f"{origin}: [{where}] must be a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(
            f"{origin}: unknown key {where}.{unknown[0]}; valid keys: {', '.join(sorted(fields))}"
        )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            has_default = (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            )
            if not has_default:
                raise UserError(f"{origin}: missing key {where}.{name}")
            continue
        kwargs[name] = _coerce(hints[name], data[name], f"{where}.{name}", origin)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str, origin: str) -> Any:
    origin_t = typing.get_origin(hint)
    if origin_t in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(args[0], value, where, origin)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, origin)  # type: ignore[arg-type]
    if origin_t is tuple:
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        if not isinstance(value, list):
            raise UserError(f"{origin}: {where} must be an array of tables")
        return tuple(_coerce(item, v, f"{where}[{i}]", origin) for i, v in enumerate(value))
    if origin_t is dict:
        if not isinstance(value, dict):
            raise UserError(f"{origin}: {where} must be a table")
        return {str(k): str(v) for k, v in value.items()}
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{origin}: {where} must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{origin}: {where} must be an integer, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise UserError(f"{origin}: {where} must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported field type {hint!r}")  # a bug in this module, not the user's


def platform_from_dict(data: dict[str, Any], origin: str) -> Platform:
    """Build a platform from parsed TOML; ``origin`` names the file in error messages."""
    data = dict(data)
    if "slr" in data:
        data["slrs"] = data.pop("slr")
    try:
        return _build(Platform, data, "platform", origin)  # type: ignore[no-any-return]
    except UserError as exc:
        msg = str(exc)
        if not msg.startswith(origin):
            msg = f"{origin}: {msg}"
        raise UserError(msg) from None


def load_platform_file(path: Path) -> Platform:
    """Load a user's platform TOML file."""
    return platform_from_dict(read_toml(path, "platform file"), str(path))


def builtin_platform_text(name: str) -> str:
    """The TOML text of a built-in platform."""
    return builtin_text("spatialsim.hardware", f"{name}.toml")


@cache
def _builtin_platform(name: str) -> Platform:
    """A built-in platform, parsed once per process (platforms are frozen)."""
    origin = f"built-in platform {name}"
    return platform_from_dict(parse_toml(builtin_platform_text(name), origin), origin)


def get_platform(spec: str) -> Platform:
    """A built-in platform by name, or a user's TOML file by path."""
    if spec in BUILTIN_PLATFORMS:
        return _builtin_platform(spec)
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise UserError(f"platform file {str(path)!r} does not exist")
        return load_platform_file(path)
    raise UserError(
        choices_message("platform", spec, BUILTIN_PLATFORMS)
        + " (or a path to a platform .toml file)"
    )
