"""Run a design: the host launches one layer at a time, prefill then token-by-token decode.

As on the board (Chen 2024 designs), the region kernels of a layer are launched together and run
concurrently, waiting on each other's streams; the same kernels serve every layer (C = 1),
reading that layer's weights from HBM and passing activations through HBM between layers.
Prefill pushes the prompt in packs of P tokens; each decode step pushes one token whose
attention spans the growing KV cache. With a per-phase bitstream (chen2024-w8a8), prefill
runs the systolic bitstream and decode the GEMV one.

On several cards (``tp`` x ``pp``, Chen 2024 model), each card runs its tensor-parallel share
of the design (:func:`spatialsim.design.parallel.shard`) as its own kernels, memory
channels and recorder entries (``dev<i>.``), and the collectives of one stage's cards are
joined by link FIFOs over the cluster's simulated links. Pipeline stages hold consecutive
layers; after a stage's last layer its activations are sent to the next stage's cards over
the links, and with one request in flight the other stages wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx
import simpy

from spatialsim.constants import FP32_BYTES, PP_SCHEDULES
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work, decode_work, prefill_work
from spatialsim.design.graph import Design, prefixed_copy
from spatialsim.design.kernels import is_handoff, kernel_params
from spatialsim.design.parallel import shard, stream_into
from spatialsim.engine.deadlock import diagnose
from spatialsim.engine.fifo import Fifo
from spatialsim.engine.kernels import Crew, Granularity, Kernel
from spatialsim.engine.links import LinkSystem, OnChipRing
from spatialsim.engine.memsys import PCIE, MemorySystem
from spatialsim.errors import UserError, choices_message
from spatialsim.hardware.cluster import Cluster
from spatialsim.hardware.platform import Platform
from spatialsim.kinds.base import split
from spatialsim.metrics.recorder import Recorder
from spatialsim.metrics.result import RunResult, build_result

# Receive buffer of an inter-card link FIFO: TeraFly's ring FIFOs are 64 deep
# (TeraFly repo); a design parameter (--link-depth), not a measured constant.
LINK_DEPTH_WORDS = 64


@dataclass(frozen=True)
class RunConfig:
    """What to simulate: prompt and generation lengths, layers, clock and engine options.

    ``layers`` defaults to the model's; ``clock_mhz`` to the design's. ``host_io`` adds the
    PCIe transfers of the prompt's activations in and the last hidden state out.

    ``replay_layers``: the layers of one step (the prompt, or one generated token) do the
    same work on the same kernels, and each launch starts with empty FIFOs and idle memory
    channels, so after the first launch of a step the others are exact copies. With this on
    (the default) the engine simulates the first and replays its measured effect for the
    rest, checking that the state it starts from is the same; a test shows the results equal
    a launch-by-launch simulation.

    ``timeline`` records kernel spans, FIFO levels and memory transfers (metrics/timeline.py)
    for Perfetto traces and plots. ``decode_only`` skips the prompt: the first decode step
    finds ``prompt_len`` tokens already in the KV cache (for latency tables at a given
    context).

    ``tp`` and ``pp`` split the run over ``tp`` x ``pp`` cards (tensor parallel inside a
    layer, pipeline parallel across layers); ``link_depth_words`` is the receive buffer of
    each inter-card link FIFO, in words of the stream it carries.
    """

    prompt_len: int
    gen_len: int = 0
    layers: int | None = None
    clock_mhz: float | None = None
    granularity: Granularity = field(default_factory=Granularity)
    params: CostParams = field(default_factory=CostParams)
    host_io: bool = False
    replay_layers: bool = True
    decode_only: bool = False
    timeline: bool = False
    tp: int = 1
    pp: int = 1
    link_depth_words: int = LINK_DEPTH_WORDS
    pp_schedule: str = "streamed"

    def __post_init__(self) -> None:
        for name, low in (
            ("prompt_len", 1),
            ("gen_len", 0),
            ("tp", 1),
            ("pp", 1),
            ("link_depth_words", 1),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise UserError(f"{name} must be an integer >= {low}, got {v!r}")
        if self.pp_schedule not in PP_SCHEDULES:
            raise UserError(
                choices_message("pp_schedule", self.pp_schedule, PP_SCHEDULES),
                field="pp_schedule",
            )
        if self.layers is not None and (
            isinstance(self.layers, bool) or not isinstance(self.layers, int) or self.layers < 1
        ):
            raise UserError(f"layers must be a positive integer, got {self.layers!r}")
        if self.clock_mhz is not None and not self.clock_mhz > 0:
            raise UserError(f"clock_mhz must be positive, got {self.clock_mhz!r}")
        cpr = self.granularity.chunks_per_row
        if cpr is not None and (isinstance(cpr, bool) or not isinstance(cpr, int) or cpr < 1):
            raise UserError(f"chunks per row must be a positive integer, got {cpr!r}")


def events_scheduled(env: simpy.Environment) -> int:
    """Events the environment has scheduled; once the queue has run dry every one of them
    was processed. SimPy numbers events with a private counter; reading it costs nothing
    per event, unlike overriding ``step``."""
    counter = getattr(env, "_eid", None)
    if counter is None:  # pragma: no cover - a SimPy without the counter
        return -1
    n: int = next(counter)
    return n


class Simulation:
    """One run of a design on a platform (or a cluster of them); :meth:`run` returns the
    frozen result."""

    def __init__(
        self,
        design: Design,
        platform: Platform,
        config: RunConfig,
        progress: Callable[[int, int, str], None] | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        self.progress = progress  # called as (done, total, label) after each decode step
        self.design = design
        self.platform = platform
        self.config = config
        model = design.model
        self.layers = config.layers if config.layers is not None else model.layers
        if self.layers > model.layers:
            raise UserError(
                f"layers {self.layers} exceeds {model.name}'s {model.layers} layers", field="layers"
            )
        longest = config.prompt_len + config.gen_len
        if longest > design.max_seq_len:
            raise UserError(
                f"prompt + generated tokens = {longest} exceed the design's "
                f"max_seq_len {design.max_seq_len}; rebuild it with "
                f"max_seq_len {longest}",
                field="max_seq_len",
            )
        devices = config.tp * config.pp
        self.cluster = cluster if cluster is not None else Cluster(platform, devices)
        if self.cluster.devices != devices:
            raise UserError(
                f"tp {config.tp} x pp {config.pp} needs {devices} cards; the cluster has "
                f"{self.cluster.devices}",
                field="tp",
            )
        if config.pp > self.layers:
            raise UserError(
                f"pp {config.pp} exceeds the {self.layers} layers simulated; each pipeline "
                "stage needs at least one layer",
                field="pp",
            )
        self.card = shard(design, config.tp)
        self.streamed = config.pp > 1 and config.pp_schedule == "streamed"
        self.stage_layers = split(self.layers, config.pp)
        self.clock_mhz = config.clock_mhz if config.clock_mhz is not None else design.clock_mhz
        self.env = simpy.Environment()
        self.rec = Recorder(timeline=config.timeline)
        self.prefixes = [f"dev{i}." if devices > 1 else "" for i in range(devices)]
        self.mems = [
            MemorySystem(platform, self.clock_mhz, config.params, self.rec.channel, prefix)
            for prefix in self.prefixes
        ]
        self.mem = self.mems[0]
        self.links = LinkSystem(self.cluster, self.clock_mhz, config.params, self.rec.channel)
        self._step = 0
        self._current: list[Kernel] = []
        self._where = ("prefill", 0)
        self._host_done = False
        self._kparams: dict[str, Any] = {}
        self._estimates: dict[tuple[int, Any], Any] = {}  # isolated estimates, computed once
        self._handoff: dict[str, frozenset[str]] = {}
        self._mem_of: dict[str, MemorySystem] = {}
        self._crews: dict[tuple[str, int], tuple[nx.DiGraph, Crew]] = {}

    # -- building one launch --------------------------------------------------------------
    def _stage_graph(self, phase: str, stage: int, into: nx.DiGraph | None = None) -> nx.DiGraph:
        """The kernels of ``stage``'s cards for ``phase`` (added to ``into`` when given):
        each card's share of the layer, its names prefixed with the card, and its
        collectives joined round the ring."""
        g = self.card.layer_graph(phase)
        tp = self.config.tp
        cards = [stage * tp + r for r in range(tp)]
        if len(self.prefixes) == 1:
            return g
        h = nx.DiGraph() if into is None else into
        placed: dict[str, int] = dict(h.graph.get("device", {}))
        for dev in cards:
            prefixed_copy(g, self.prefixes[dev], h)
            placed.update({self.prefixes[dev] + n: dev for n in g.nodes})
        h.graph["device"] = placed
        for n, a in g.nodes(data=True):
            bits = kernel_params(n, a).ring_word_bits()
            if bits is None or tp == 1:
                continue
            for r, dev in enumerate(cards):
                nxt = cards[(r + 1) % tp]
                src, dst = self.prefixes[dev] + n, self.prefixes[nxt] + n
                width = bits or next(w for _, _, w in g.in_edges(n, data="width_bits"))
                h.add_edge(
                    src,
                    dst,
                    name=f"link{dev}->{nxt}:{n}",
                    depth_words=self.config.link_depth_words,
                    width_bits=width,
                    route=self.links.route(dev, nxt),
                )
        return h

    def _fifos(self, phase: str, g: nx.DiGraph) -> dict[tuple[str, str], Fifo]:
        fifos = {}
        crossing = self.config.params.slr_crossing_cycles
        for src, dst, a in g.edges(data=True):
            route = a.get("route")
            if route is not None:
                latency, staging = route.latency, 0
            else:
                latency = crossing * abs(g.nodes[src]["slr"] - g.nodes[dst]["slr"])
                staging = self._kparams[src].output_burst_words()
                if (
                    self._kparams[src].ring_word_bits() is not None
                    and self._kparams[dst].ring_word_bits() is not None
                ):  # two compute units' collectives on one card: an on-chip ring
                    route = OnChipRing(f"{src}->{dst}", a["width_bits"])
            f = Fifo(
                self.env,
                a["name"],
                a["depth_words"],
                src,
                dst,
                a["width_bits"],
                latency=latency,
                staging=staging,
            )
            f.link = route
            f.monitor = self.rec.fifo(
                phase, a["name"], a["depth_words"], a["width_bits"], self.env.now
            )
            fifos[(src, dst)] = f
        return fifos

    def _launch(
        self, phase: str, g: nx.DiGraph, fifos: dict[tuple[str, str], Fifo], step: Work
    ) -> Generator[simpy.Event, Any, None]:
        env, cfg = self.env, self.config
        scope = self.design.launch_scope
        overhead = cfg.params.launch_overhead_us * self.clock_mhz
        if scope == "layer" and overhead > 0:
            yield env.timeout(overhead)
        crew = self._crew(phase, g, fifos)
        t_launch = env.now
        self._current = crew.kernels
        self.rec.launch_begin(phase, list(g.nodes))
        for f in fifos.values():
            f.words_put = f.words_got = 0
        starts = self._region_starts(g, overhead) if scope == "region" and overhead > 0 else {}
        yield crew.launch(step, starts)
        wait = cfg.params.wait_overhead_us * self.clock_mhz
        if scope != "step" and wait > 0:
            yield env.timeout(wait)
        self.rec.launch_end(phase, self._step, t_launch, env.now)
        for f in fifos.values():
            if f.level or f.words_put != f.words_got:
                raise UserError(
                    f"design {self.design.name}: in {phase}, {f.src} wrote {f.words_put:,} "
                    f"words per layer into FIFO {f.name} but {f.dst} read {f.words_got:,}; "
                    f"the sizes of the two kernels disagree (check out_features / features)"
                )

    @staticmethod
    def _region_starts(g: nx.DiGraph, overhead: float) -> dict[str, float]:
        """With one enqueue per region kernel, region k (in SLR order) starts after k
        enqueues."""
        slrs = sorted({g.nodes[n]["slr"] for n in g.nodes})
        return {n: (slrs.index(g.nodes[n]["slr"]) + 1) * overhead for n in g.nodes}

    def _crew(self, phase: str, g: nx.DiGraph, fifos: dict[tuple[str, str], Fifo]) -> Crew:
        """The kernel processes of launch graph ``g``, wired to its FIFOs on first use and
        kept for every later launch of the phase."""
        key = (phase, id(g))
        held = self._crews.get(key)
        if held is not None and held[0] is g:
            return held[1]
        probe = self.rec.kernel
        kernels = [
            Kernel(
                self.env,
                node,
                self._kparams[node],
                {src: fifos[(src, node)] for src in g.predecessors(node)},
                [fifos[(node, dst)] for dst in g.successors(node)],
                probe(phase, node, g.nodes[node]["kind"]),
                self._mem_of[node],
                self.config.params,
                self.config.granularity,
                self._handoff[node],
            )
            for node in g.nodes
        ]
        crew = Crew(self.env, kernels)
        self._crews[key] = (g, crew)  # holding g keeps its id unique while the crew lives
        return crew

    def _idle(self, fifos: dict[tuple[str, str], Fifo]) -> bool:
        now = self.env.now
        return (
            all(c.busy_until <= now for m in self.mems for c in m.channels.values())
            and self.links.idle(now)
            and not any(f.level for f in fifos.values())
        )

    def _layers(
        self,
        phase: str,
        g: nx.DiGraph,
        fifos: dict[tuple[str, str], Fifo],
        step: Work,
        layers: int,
    ) -> Generator[simpy.Event, Any, None]:
        """Launch every layer of one step on one stage, replaying identical launches when
        allowed (with ``launch_scope`` = step, one enqueue and one completion wait for all
        of them)."""
        params, looped = self.config.params, self.design.launch_scope == "step"
        if looped and params.launch_overhead_us > 0:
            yield self.env.timeout(params.launch_overhead_us * self.clock_mhz)
        yield from self._each_layer(phase, g, fifos, step, layers)
        if looped and params.wait_overhead_us > 0:
            yield self.env.timeout(params.wait_overhead_us * self.clock_mhz)

    def _each_layer(
        self,
        phase: str,
        g: nx.DiGraph,
        fifos: dict[tuple[str, str], Fifo],
        step: Work,
        layers: int,
    ) -> Generator[simpy.Event, Any, None]:
        layer = 0
        while layer < layers:
            self._where = (phase, layer)
            replay = self.config.replay_layers and layer + 1 < layers and self._idle(fifos)
            if not replay:
                yield from self._launch(phase, g, fifos, step)
                layer += 1
                continue
            before = self.rec.snapshot(phase)
            t0 = self.env.now
            yield from self._launch(phase, g, fifos, step)
            layer += 1
            if not self._idle(fifos):
                continue
            copies = layers - layer
            after = self.rec.snapshot(phase)
            yield self.env.timeout(copies * (self.env.now - t0))
            self.rec.replay(phase, before, after, copies, self.env.now)
            layer = layers

    def _host_transfer(self, nbytes: float, card: int = 0) -> Generator[simpy.Event, Any, None]:
        ready = self.mems[card].open_pcie(self.env.now).request(self.env.now, nbytes)
        if ready > self.env.now:
            yield self.env.timeout(ready - self.env.now)

    def _stream_graph(self, phase: str, stages: int) -> nx.DiGraph:
        """One iteration of streamed pipeline stages: ``stages`` stages' cards, each
        stage's layer streaming into the next stage's over the links."""
        h = nx.DiGraph()
        for s in range(stages):
            self._stage_graph(phase, s, h)
        tp = self.config.tp
        for s in range(stages - 1):
            for r in range(tp):
                a, b = s * tp + r, (s + 1) * tp + r
                link = {
                    "name": f"link{a}->{b}:stream",
                    "depth_words": self.config.link_depth_words,
                    "route": self.links.route(a, b),
                }
                stream_into(h, self.prefixes[a], self.prefixes[b], link)
        return h

    def _stage_handoff(
        self, stage: int, nbytes: float, src: int | None = None
    ) -> Generator[simpy.Event, Any, None]:
        """Send the activations of stage ``src`` (default ``stage - 1``) to ``stage``'s
        cards (card r of one stage to card r of the other, all at once, over the links)."""
        tp, now = self.config.tp, self.env.now
        src = stage - 1 if src is None else src
        arrive = now
        for r in range(tp):
            route = self.links.route(src * tp + r, stage * tp + r)
            arrive = max(arrive, route.request(now, nbytes) + route.latency)
        if arrive > now:
            yield self.env.timeout(arrive - now)
        self.rec.stage_transfer(arrive - now)

    # -- phases ---------------------------------------------------------------------------
    def _phase(self, phase: str) -> list[tuple[nx.DiGraph, dict[tuple[str, str], Fifo]]]:
        """The launch graphs and FIFOs of ``phase``: one per stage (staged), or one per
        iteration shape (streamed: all stages, then the remainder's)."""
        binding = self.design.phases[phase]
        self.rec.begin_phase(phase, binding.bitstream, self.env.now)
        out = []
        pp = self.config.pp
        if self.streamed:
            shapes = [pp] + ([self.layers % pp] if self.layers % pp else [])
            graphs = [self._stream_graph(phase, k) for k in shapes]
        else:
            graphs = [self._stage_graph(phase, stage) for stage in range(pp)]
        for g in graphs:
            # typed parameters of every kernel, validated once per phase, not per launch
            for n in g.nodes:
                self._kparams[n] = kernel_params(n, g.nodes[n])
                self._mem_of[n] = self.mems[g.graph.get("device", {}).get(n, 0)]
                self._handoff[n] = frozenset(
                    s for s in g.predecessors(n) if is_handoff(g.nodes[s]["kind"])
                )
            out.append((g, self._fifos(phase, g)))
        return out

    def _head_stage(self, phase: str) -> tuple[nx.DiGraph, dict[tuple[str, str], Fifo]] | None:
        """The head's kernels for ``phase`` on the last stage's first card (whole, not
        split over tensor-parallel cards), or None for a design without a head."""
        head = self.design.head_graph(phase)
        if head is None:
            return None
        card = (self.config.pp - 1) * self.config.tp
        if len(self.prefixes) > 1:
            head = prefixed_copy(head, self.prefixes[card])
        for n in head.nodes:
            self._kparams[n] = kernel_params(n, head.nodes[n])
            self._mem_of[n] = self.mems[card]
            self._handoff[n] = frozenset()
        return head, self._fifos(phase, head)

    def _run_head(
        self, phase: str, head: tuple[nx.DiGraph, dict[tuple[str, str], Fifo]] | None
    ) -> Generator[simpy.Event, Any, None]:
        """One launch of the head after the step's last layer: the last token's logits,
        its argmax and the next input row."""
        if head is None:
            return
        g, fifos = head
        self._where = (phase, self.layers)
        card = (self.config.pp - 1) * self.config.tp
        t0 = self.env.now
        yield from self._launch(phase, g, fifos, Work(phase, 1, 1, 1, 0))
        self.rec.device_active(card, self.env.now - t0)

    def _end_phase(self, phase: str) -> None:
        self.rec.end_phase(phase, self.env.now)

    def _stages(
        self,
        phase: str,
        stages: list[tuple[nx.DiGraph, dict[tuple[str, str], Fifo]]],
        step: Work,
        rows: int,
    ) -> Generator[simpy.Event, Any, None]:
        """One step through every pipeline stage in turn; ``rows`` tokens of activations
        cross each stage boundary."""
        tp = self.config.tp
        if self.streamed:
            yield from self._streamed(phase, stages, step, rows)
            return
        for s, (g, fifos) in enumerate(stages):
            if s:
                yield from self._stage_handoff(s, rows * self.design.model.hidden * FP32_BYTES)
            t0 = self.env.now
            yield from self._layers(phase, g, fifos, step, self.stage_layers[s])
            for r in range(tp):
                self.rec.device_active(s * tp + r, self.env.now - t0)

    def _streamed(
        self,
        phase: str,
        shapes: list[tuple[nx.DiGraph, dict[tuple[str, str], Fifo]]],
        step: Work,
        rows: int,
    ) -> Generator[simpy.Event, Any, None]:
        """Streamed pipeline stages: each iteration runs one layer on every stage at once,
        stage to stage over the links; between iterations the last stage's output goes
        back to the first stage's cards. Identical iterations (with their wrap-around
        transfer) are replayed like identical layers."""
        pp, tp = self.config.pp, self.config.tp
        nbytes = rows * self.design.model.hidden * FP32_BYTES
        full, rest = divmod(self.layers, pp)
        plan = [(shapes[0], pp, full)] + ([(shapes[1], rest, 1)] if rest else [])
        for n_plan, ((g, fifos), k, n) in enumerate(plan):
            if n_plan:  # the remainder after the full iterations
                yield from self._stage_handoff(0, nbytes, src=pp - 1)
            cards = range(k * tp)
            self._where = (phase, 0)
            idle = self.config.replay_layers and n > 1 and self._idle(fifos)
            before, t0 = self.rec.snapshot(phase), self.env.now
            yield from self._launch(phase, g, fifos, step)
            dt = self.env.now - t0
            for card in cards:
                self.rec.device_active(card, dt)
            if idle and self._idle(fifos):
                # every later iteration is a wrap-around transfer and a copy of this launch
                after = self.rec.snapshot(phase)
                moved, th = self.rec.stage_transfer_cycles, self.env.now
                yield from self._stage_handoff(0, nbytes, src=k - 1)
                dh = self.env.now - th
                handed = self.rec.snapshot(phase)
                yield self.env.timeout((n - 1) * dt + (n - 2) * dh)
                if n > 2:
                    self.rec.replay(phase, after, handed, n - 2, self.env.now)
                    self.rec.stage_transfer((n - 2) * (self.rec.stage_transfer_cycles - moved))
                self.rec.replay(phase, before, after, n - 1, self.env.now)
                for card in cards:
                    self.rec.device_active(card, (n - 1) * dt)
                continue
            for i in range(1, n):
                self._where = (phase, i * pp)
                yield from self._stage_handoff(0, nbytes, src=k - 1)
                start = self.env.now
                yield from self._launch(phase, g, fifos, step)
                for card in cards:
                    self.rec.device_active(card, self.env.now - start)

    def _host(self) -> Generator[simpy.Event, Any, None]:
        if not self.config.decode_only:
            yield from self._prefill()
        yield from self._decode()
        self._host_done = True

    def _prefill(self) -> Generator[simpy.Event, Any, None]:
        cfg, d = self.config, self.design.model.hidden
        stages = self._phase("prefill")
        last = len(self.mems) - 1
        if cfg.host_io:
            yield from self._host_transfer(cfg.prompt_len * d * FP32_BYTES)
        pack = self.design.tokens_per_pack("prefill")
        if self.design.prompt_mode == "tokenwise":  # each prompt token through every layer
            for i in range(cfg.prompt_len):
                self._step = i
                yield from self._stages("prefill", stages, decode_work(i, pack), 1)
        else:
            step = prefill_work(cfg.prompt_len, pack)
            yield from self._stages("prefill", stages, step, cfg.prompt_len)
        yield from self._run_head("prefill", self._head_stage("prefill"))
        if cfg.host_io:
            yield from self._host_transfer(d * FP32_BYTES, last)
        self._end_phase("prefill")

    def _decode(self) -> Generator[simpy.Event, Any, None]:
        cfg, d = self.config, self.design.model.hidden
        if cfg.gen_len:
            phases = self.design.phases
            if not cfg.decode_only and phases["prefill"].bitstream != phases["decode"].bitstream:
                reconfig = cfg.params.reconfig_ms * 1e3 * self.clock_mhz
                if reconfig > 0:  # load the decode bitstream; TTFT and TPOT exclude it
                    yield self.env.timeout(reconfig)
                    self.rec.reconfiguration(reconfig)
            stages = self._phase("decode")
            head = self._head_stage("decode")
            last = len(self.mems) - 1
            pack = self.design.tokens_per_pack("decode")
            for i in range(cfg.gen_len):
                self._step = i
                t0 = self.env.now
                cached = cfg.prompt_len + i
                step = decode_work(cached, pack)
                if cfg.host_io:
                    yield from self._host_transfer(d * FP32_BYTES)
                yield from self._stages("decode", stages, step, 1)
                yield from self._run_head("decode", head)
                if cfg.host_io:
                    yield from self._host_transfer(d * FP32_BYTES, last)
                if cfg.params.token_overhead_us > 0:  # the host's share of each token
                    yield self.env.timeout(cfg.params.token_overhead_us * self.clock_mhz)
                self.rec.token(self.env.now - t0)
                if self.progress is not None:
                    self.progress(i + 1, cfg.gen_len, "decode")
            self._end_phase("decode")

    def run(self) -> RunResult:
        """Simulate; raise :class:`DeadlockError` if the design cannot make progress."""
        t0 = time.perf_counter()
        self.env.process(self._host())
        self.env.run()
        if not self._host_done:
            phase, layer = self._where
            raise diagnose(self._current, phase, layer, self.env.now)
        self.rec.events = events_scheduled(self.env)
        wall = time.perf_counter() - t0
        cfg = self.config
        params: dict[str, Any] = asdict(cfg.params)
        params["granularity"] = cfg.granularity.label
        result = build_result(
            self.rec,
            model=self.design.model.name,
            design=self.design.name,
            platform=self.platform.name,
            clock_mhz=self.clock_mhz,
            layers=self.layers,
            prompt_len=cfg.prompt_len,
            gen_len=cfg.gen_len,
            granularity=cfg.granularity.label,
            wall_s=wall,
            params=params,
            timeline=self.rec.timeline,
            parallel={
                "tp": cfg.tp,
                "pp": cfg.pp,
                "devices": self.cluster.devices,
                "topology": self.cluster.topology,
                "cluster": self.cluster.describe(),
                "stage_layers": list(self.stage_layers),
                "link_depth_words": cfg.link_depth_words,
            },
            links=tuple(self.links.channels),
        )
        return result


def simulate(
    design: Design,
    platform: Platform,
    config: RunConfig,
    progress: Callable[[int, int, str], None] | None = None,
    cluster: Cluster | None = None,
) -> RunResult:
    """Simulate ``design`` on ``platform`` (or on ``cluster``'s cards) for ``config``; see
    :class:`Simulation`."""
    return Simulation(design, platform, config, progress, cluster).run()


__all__ = ["PCIE", "RunConfig", "Simulation", "simulate"]
