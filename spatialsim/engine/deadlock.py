"""Deadlock diagnosis: the wait-for cycle among kernels stuck on FIFOs.

A kernel starved on FIFO f waits for f's producer; a kernel blocked on f waits for f's
consumer. When the event queue runs dry with kernels unfinished, those waits form a graph;
a cycle in it is the deadlock, reported kernel -> FIFO -> kernel with depths and levels.
"""

from __future__ import annotations

import networkx as nx

from spatialsim.engine.kernels import Kernel
from spatialsim.errors import DeadlockError


def diagnose(kernels: list[Kernel], phase: str, layer: int, now: float) -> DeadlockError:
    """Build the error describing why ``kernels`` (one launch) cannot finish."""
    g = nx.DiGraph()
    kernels_by_name = {k.name: k for k in kernels}
    stuck = [k for k in kernels if not k.done]
    for k in stuck:
        if k.waiting is None:
            continue
        fifo, op = k.waiting
        peer = fifo.src if op == "get" else fifo.dst
        g.add_edge(k.name, peer, fifo=fifo, op=op)
    cycle_edges: list[tuple[str, str]] = []
    for start in sorted(g.nodes):
        try:
            cycle_edges = [(u, v) for u, v in nx.find_cycle(g, source=start)]
            break
        except nx.NetworkXNoCycle:
            continue
    cycle = []
    lines = []
    for u, v in cycle_edges:
        fifo = g.edges[u, v]["fifo"]
        op = g.edges[u, v]["op"]
        cycle.append(
            {
                "kernel": u,
                "op": op,
                "fifo": fifo.name,
                "depth": fifo.depth,
                "occupancy": min(fifo.level, fifo.depth),
                "peer": v,
            }
        )
        verb = "waits for data on" if op == "get" else "waits for room in"
        held = min(fifo.level, fifo.depth)
        state = "empty" if held == 0 else ("full" if held >= fifo.depth else "partly filled")
        lines.append(
            f"  {u} {verb} FIFO {fifo.name} (depth {fifo.depth} words, holds "
            f"{held}: {state}), which only {v} can "
            f"{'fill' if op == 'get' else 'drain'}"
        )
    others = sorted(k.name for k in stuck if k.name not in {u for u, _ in cycle_edges})
    where = f"{phase}, layer {layer}, cycle {now:,.0f}"
    if cycle:
        msg = (
            f"deadlock in {where}: every unfinished kernel is waiting on a FIFO. "
            f"Wait-for cycle:\n" + "\n".join(lines)
        )
        if others:
            msg += f"\n  also stuck behind it: {', '.join(others)}"
        full = [c for c in cycle if c["op"] == "put"]
        links = {c["fifo"]: g.edges[c["kernel"], c["peer"]]["fifo"] for c in full}
        for c in full:
            route = links[c["fifo"]].link
            if route is not None:
                block = getattr(kernels_by_name[c["kernel"]].p, "block_words", "?")
                how = (
                    "give each link at least one block with `link_depth` <words>"
                    if route.describe().startswith("the inter-card")
                    else f"deepen it with `set` fifo.{c['fifo']}.depth=<words>"
                )
                msg += (
                    f"\n{c['fifo']} is the receive buffer of {route.describe()}, full at "
                    f"{c['depth']} words: {c['kernel']} sends a block of {block} words before "
                    f"it reads its neighbour's, so every unit of the ring waits for room; {how}"
                )
                continue
            msg += (
                f"\n{c['fifo']} is full at {c['depth']} words: {c['kernel']} must write "
                f"more than that before {c['peer']} can read; deepen it with "
                f"`set` fifo.{c['fifo']}.depth=<words>"
            )
    else:
        done = {k.name for k in kernels if k.done}
        lines = []
        for k in stuck:
            if k.waiting is None:
                continue
            fifo, op = k.waiting
            peer = fifo.src if op == "get" else fifo.dst
            if peer not in done:
                continue
            if op == "get":
                lines.append(
                    f"  {k.name} waits for data on FIFO {fifo.name}, but {peer} has "
                    f"finished after writing {fifo.words_put:,} words; {k.name} has "
                    f"asked for {fifo.words_got:,}"
                )
            else:
                lines.append(
                    f"  {k.name} waits for room in FIFO {fifo.name}, but {peer} has "
                    f"finished after reading {fifo.words_got:,} words; {k.name} has "
                    f"written {fifo.words_put:,}"
                )
        msg = (
            f"simulation stopped in {where} with kernels unfinished and no wait-for cycle: "
            f"{', '.join(k.name for k in stuck)}"
        )
        if lines:
            msg += (
                "\nProducer and consumer disagree on how many words a FIFO carries (check "
                "the sizes of the two kernels, e.g. out_features and features):\n"
                + "\n".join(lines)
            )
    return DeadlockError(msg, cycle)
