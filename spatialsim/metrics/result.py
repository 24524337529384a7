"""The frozen result of a simulation run and its JSON form.

Definitions (also in docs/metrics.md):
- a kernel's *active* cycles run from each layer launch to the kernel's completion; busy,
  starved (waiting on an empty input FIFO), blocked (waiting on a full output FIFO) and
  hbm_wait (waiting on off-chip memory) partition them, so the four fractions sum to 1;
- a FIFO's mean occupancy is its time-weighted level in words over the phase's cycles;
- a memory channel's utilisation is its transfer cycles over the phase's cycles;
- TTFT is the prefill latency of all layers; TPOT the mean latency of a generated token.

On several cards, kernel, FIFO and memory-channel names carry the card (``dev1.ffn1``,
``dev1.HBM[5]``); ``links`` holds the inter-card links (``link0->1``) and ``devices`` the
per-card view: each card's kernels, how long its stage ran, how long its collectives
waited on links, and how long the host waited for activations between stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spatialsim.metrics.monitors import STATES
from spatialsim.metrics.recorder import PhaseRecord, Recorder
from spatialsim.metrics.timeline import Timeline


@dataclass(frozen=True)
class KernelStats:
    kind: str
    active_cycles: float
    fractions: dict[str, float]

    @property
    def busy(self) -> float:
        """Share of the active cycles spent computing."""
        return self.fractions["busy"]

    @property
    def starved(self) -> float:
        """Share of the active cycles spent waiting on an empty input FIFO."""
        return self.fractions["starved"]

    @property
    def blocked(self) -> float:
        """Share of the active cycles spent waiting on a full output FIFO."""
        return self.fractions["blocked"]

    @property
    def hbm_wait(self) -> float:
        """Share of the active cycles spent waiting on off-chip memory."""
        return self.fractions["hbm_wait"]

    def to_json(self) -> dict[str, Any]:
        return {
            **{s: _r(self.fractions[s]) for s in STATES},
            "kind": self.kind,
            "active_cycles": _r(self.active_cycles),
        }


@dataclass(frozen=True)
class FifoStats:
    depth: int
    mean_occupancy: float
    max_occupancy: int

    def to_json(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "mean_occupancy": _r(self.mean_occupancy),
            "max_occupancy": self.max_occupancy,
        }


@dataclass(frozen=True)
class ChannelStats:
    bytes: float
    utilization: float

    def to_json(self) -> dict[str, Any]:
        return {"bytes": _r(self.bytes), "utilization": _r(self.utilization)}


@dataclass(frozen=True)
class Stall:
    """Cycles one kernel spent in one stall state on one FIFO (or memory ports)."""

    kernel: str
    state: str
    on: str
    cycles: float
    share: float  # of the kernel's active cycles in the phase

    def to_json(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel,
            "state": self.state,
            "on": self.on,
            "cycles": _r(self.cycles),
            "share": _r(self.share),
        }


@dataclass(frozen=True)
class PhaseStats:
    bitstream: str
    cycles: float
    launches: int
    kernels: dict[str, KernelStats]
    fifos: dict[str, FifoStats]
    hbm: dict[str, ChannelStats]
    stalls: tuple[Stall, ...] = ()
    links: dict[str, ChannelStats] = field(default_factory=dict)

    def to_json(self, clock_mhz: float) -> dict[str, Any]:
        links = {"links": {k: v.to_json() for k, v in self.links.items()}} if self.links else {}
        return {
            **links,
            "bitstream": self.bitstream,
            "cycles": _r(self.cycles),
            "ms": _r(self.cycles / clock_mhz / 1e3),
            "launches": self.launches,
            "kernels": {k: v.to_json() for k, v in self.kernels.items()},
            "fifos": {k: v.to_json() for k, v in self.fifos.items()},
            "hbm": {k: v.to_json() for k, v in self.hbm.items()},
            "stalls": [s.to_json() for s in self.stalls],
        }


@dataclass(frozen=True)
class RunResult:
    """Latencies, per-phase and whole-run stall statistics of one simulation."""

    model: str
    design: str
    platform: str
    clock_mhz: float
    layers: int
    prompt_len: int
    gen_len: int
    granularity: str
    prefill_cycles: float
    token_cycles: tuple[float, ...]
    phases: dict[str, PhaseStats]
    kernels: dict[str, KernelStats]
    fifos: dict[str, FifoStats]
    hbm: dict[str, ChannelStats]
    events: int
    wall_s: float | None
    params: dict[str, float] = field(default_factory=dict)
    timeline: Timeline | None = field(default=None, compare=False)
    reconfig_cycles: float = 0.0
    parallel: dict[str, Any] = field(default_factory=dict)
    links: dict[str, ChannelStats] = field(default_factory=dict)
    device_cycles: dict[int, float] = field(default_factory=dict)
    stage_transfer_cycles: float = 0.0
    waits: dict[tuple[str, str, str], float] = field(default_factory=dict, compare=False)

    @property
    def devices(self) -> int:
        return int(self.parallel.get("devices", 1))

    def device_kernels(self, device: int) -> dict[str, KernelStats]:
        """Card ``device``'s kernels by their design names (all kernels on one card)."""
        if self.devices == 1:
            return dict(self.kernels)
        pre = f"dev{device}."
        return {k[len(pre) :]: v for k, v in self.kernels.items() if k.startswith(pre)}

    def link_wait_cycles(self, device: int) -> float:
        """Cycles card ``device``'s collectives spent waiting on inter-card links (sending
        into a busy or full link, or for a neighbour's block to arrive)."""
        pre = f"dev{device}." if self.devices > 1 else ""
        return sum(
            c
            for (k, _, on), c in self.waits.items()
            if k.startswith(pre) and on.startswith("link") and ":" in on
        )

    def device_summary(self) -> list[dict[str, Any]]:
        """Per card: stage, active time, idle share, link waits and its kernel table."""
        total = self.prefill_cycles + sum(self.token_cycles)
        tp = int(self.parallel.get("tp", 1))
        out = []
        for dev in range(self.devices):
            active = self.device_cycles.get(dev, 0.0)
            kernels = self.device_kernels(dev)
            out.append(
                {
                    "device": dev,
                    "stage": dev // tp,
                    "active_ms": _r(active / self.clock_mhz / 1e3),
                    "idle_share": _r(1 - active / total) if total > 0 else 0.0,
                    "link_wait_ms": _r(self.link_wait_cycles(dev) / self.clock_mhz / 1e3),
                    "kernels": {k: v.to_json() for k, v in kernels.items()},
                }
            )
        return out

    @property
    def reconfiguration_ms(self) -> float:
        """Loading the decode bitstream after prefill (TTFT and TPOT exclude it)."""
        return self.reconfig_cycles / self.clock_mhz / 1e3

    @property
    def ttft_ms(self) -> float:
        return self.prefill_cycles / self.clock_mhz / 1e3

    @property
    def per_token_ms(self) -> list[float]:
        return [c / self.clock_mhz / 1e3 for c in self.token_cycles]

    @property
    def tpot_ms(self) -> float | None:
        toks = self.per_token_ms
        return sum(toks) / len(toks) if toks else None

    def to_json(self) -> dict[str, Any]:
        tpot = self.tpot_ms
        return {
            "model": self.model,
            "design": self.design,
            "platform": self.platform,
            "clock_mhz": self.clock_mhz,
            "layers": self.layers,
            "prompt_len": self.prompt_len,
            "gen_len": self.gen_len,
            "granularity": self.granularity,
            "ttft_ms": _r(self.ttft_ms),
            "tpot_ms": None if tpot is None else _r(tpot),
            "per_token_ms": [_r(t) for t in self.per_token_ms],
            "prefill_cycles": _r(self.prefill_cycles),
            "decode_cycles": _r(sum(self.token_cycles)),
            "reconfiguration_ms": _r(self.reconfiguration_ms),
            "ttft_includes_reconfiguration": False,
            "tpot_includes_reconfiguration": False,
            "kernels": {k: v.to_json() for k, v in self.kernels.items()},
            "fifos": {k: v.to_json() for k, v in self.fifos.items()},
            "hbm": {k: v.to_json() for k, v in self.hbm.items()},
            "phases": {p: s.to_json(self.clock_mhz) for p, s in self.phases.items()},
            "params": self.params,
            "events": self.events,
            "wall_s": self.wall_s,
            **(self._parallel_json() if self.devices > 1 else {}),
        }

    def _parallel_json(self) -> dict[str, Any]:
        ms = 1 / self.clock_mhz / 1e3
        return {
            "parallel": self.parallel,
            "devices": self.device_summary(),
            "links": {k: v.to_json() for k, v in self.links.items()},
            "stage_transfer_ms": _r(self.stage_transfer_cycles * ms),
        }


def _r(x: float) -> float:
    """Round for JSON: 9 significant digits keeps output stable and readable."""
    return float(f"{x:.9g}")


def _phase_stats(rec: PhaseRecord) -> PhaseStats:
    cycles = rec.cycles
    kernels = {}
    for name, acc in rec.kernels.items():
        active = sum(acc)
        fr = {s: (acc[i] / active if active > 0 else 0.0) for i, s in enumerate(STATES)}
        kernels[name] = KernelStats(rec.kernel_kinds[name], active, fr)
    fifos = {
        name: FifoStats(
            f.depth, f.monitor.area / cycles if cycles > 0 else 0.0, f.monitor.max_level
        )
        for name, f in rec.fifos.items()
    }
    hbm = {
        name: ChannelStats(
            c.bytes_read + c.bytes_written, c.busy_cycles / cycles if cycles > 0 else 0.0
        )
        for name, c in rec.channels.items()
        if c.bytes_read + c.bytes_written > 0
    }
    stalls = sorted(
        (
            Stall(
                k,
                state,
                on,
                c,
                c / kernels[k].active_cycles if kernels[k].active_cycles > 0 else 0.0,
            )
            for (k, state, on), c in rec.waits.items()
            if c > 0
        ),
        key=lambda s: (-s.cycles, s.kernel, s.state, s.on),
    )
    return PhaseStats(rec.bitstream, cycles, rec.launches, kernels, fifos, hbm, tuple(stalls))


def _merge_kernels(phases: list[PhaseRecord]) -> dict[str, KernelStats]:
    accs: dict[str, list[float]] = {}
    kinds: dict[str, list[str]] = {}
    for rec in phases:
        for name, acc in rec.kernels.items():
            tot = accs.setdefault(name, [0.0] * len(STATES))
            for i, v in enumerate(acc):
                tot[i] += v
            if rec.kernel_kinds[name] not in kinds.setdefault(name, []):
                kinds[name].append(rec.kernel_kinds[name])
    out = {}
    for name, acc in accs.items():
        active = sum(acc)
        fr = {s: (acc[i] / active if active > 0 else 0.0) for i, s in enumerate(STATES)}
        out[name] = KernelStats("/".join(kinds[name]), active, fr)
    return out


def _merge_fifos(phases: list[PhaseRecord]) -> dict[str, FifoStats]:
    area: dict[str, float] = {}
    depth: dict[str, int] = {}
    peak: dict[str, int] = {}
    total = sum(r.cycles for r in phases)
    for rec in phases:
        for name, f in rec.fifos.items():
            area[name] = area.get(name, 0.0) + f.monitor.area
            depth[name] = max(depth.get(name, 0), f.depth)
            peak[name] = max(peak.get(name, 0), f.monitor.max_level)
    return {n: FifoStats(depth[n], area[n] / total if total > 0 else 0.0, peak[n]) for n in area}


def _merge_channels(phases: list[PhaseRecord]) -> dict[str, ChannelStats]:
    nbytes: dict[str, float] = {}
    busy: dict[str, float] = {}
    total = sum(r.cycles for r in phases)
    for rec in phases:
        for name, c in rec.channels.items():
            nbytes[name] = nbytes.get(name, 0.0) + c.bytes_read + c.bytes_written
            busy[name] = busy.get(name, 0.0) + c.busy_cycles
    return {
        n: ChannelStats(nbytes[n], busy[n] / total if total > 0 else 0.0)
        for n in nbytes
        if nbytes[n] > 0
    }


def build_result(
    rec: Recorder,
    *,
    model: str,
    design: str,
    platform: str,
    clock_mhz: float,
    layers: int,
    prompt_len: int,
    gen_len: int,
    granularity: str,
    wall_s: float | None,
    params: dict[str, float],
    timeline: Timeline | None = None,
    parallel: dict[str, Any] | None = None,
    links: tuple[str, ...] = (),
) -> RunResult:
    """Freeze a recorder into a :class:`RunResult` (with its timeline, when recorded);
    ``links`` names the channels that are inter-card links, reported apart from memory."""
    phases = list(rec.phases.values())
    prefill = rec.phases.get("prefill")
    link_set = set(links)
    channels = _merge_channels(phases)
    stats = {p: _phase_stats(r) for p, r in rec.phases.items()}
    if link_set:
        for st in stats.values():
            for name in sorted(link_set & set(st.hbm)):
                st.links[name] = st.hbm.pop(name)
    waits: dict[tuple[str, str, str], float] = {}
    for r in phases:
        for key, c in r.waits.items():
            waits[key] = waits.get(key, 0.0) + c
    return RunResult(
        model=model,
        design=design,
        platform=platform,
        clock_mhz=clock_mhz,
        layers=layers,
        prompt_len=prompt_len,
        gen_len=gen_len,
        granularity=granularity,
        prefill_cycles=prefill.cycles if prefill else 0.0,
        token_cycles=tuple(rec.token_cycles),
        reconfig_cycles=rec.reconfig_cycles,
        phases=stats,
        kernels=_merge_kernels(phases),
        fifos=_merge_fifos(phases),
        hbm={k: v for k, v in channels.items() if k not in link_set},
        events=rec.events,
        wall_s=wall_s,
        params=params,
        timeline=timeline,
        parallel=parallel or {"tp": 1, "pp": 1, "devices": 1},
        links={k: v for k, v in channels.items() if k in link_set},
        device_cycles=dict(rec.device_cycles),
        stage_transfer_cycles=rec.stage_transfer_cycles,
        waits=waits,
    )
