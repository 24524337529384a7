"""Off-chip memory footprint per channel: every layer's weights and KV cache where they are
bound, and the head's matrix and embedding table once, against the channel's capacity.

With C = 1 the same kernels serve every layer, so a port's channel must hold that kernel's
weights for all N layers (and a K/V writer's channel the cache of all layers). A footprint
above a channel's capacity does not stop a simulation, but the design could not be built
with that binding: the board would need the port spread over a range of channels. A card
whose whole memory cannot hold its share of the model is refused (:func:`check_capacity`).
"""

from __future__ import annotations

from collections import defaultdict
from math import ceil

from spatialsim.design.graph import Design
from spatialsim.errors import UserError
from spatialsim.hardware.platform import Platform


def channel_bytes(design: Design, layers: int, tokens: int) -> dict[str, float]:
    """Bytes resident on each bound channel for ``layers`` layers and ``tokens`` cached."""
    used: dict[str, float] = defaultdict(float)
    seen: set[tuple[str, str]] = set()
    for g in design.bitstreams.values():
        for name, a in g.nodes(data=True):
            ports = a.get("ports", ())
            if not ports or (name, ",".join(ports)) in seen:
                continue
            seen.add((name, ",".join(ports)))
            once = name in design.head  # the head's matrices are the model's, not a layer's
            if a["kind"] in ("linear", "gemv"):
                size = a["in_features"] * a["out_features"] * a["weight_bits"] / 8
                size *= 1 if once else layers
            elif a["kind"] == "kv_writer" and a.get("cache", "hbm") == "hbm":
                size = tokens * a["features"] * a["act_bits"] / 8 * layers
            elif a["kind"] == "embedding" and not a["tied"]:  # tied: the LM head's matrix
                size = a["vocab"] * a["features"] * a["table_bits"] / 8
            else:
                continue
            for port in ports:
                used[port] += size / len(ports)
    return dict(used)


def footprint_warnings(design: Design, platform: Platform, layers: int, tokens: int) -> list[str]:
    """One message per channel whose resident bytes exceed its capacity."""
    caps = {}
    if platform.hbm is not None:
        caps["HBM"] = platform.hbm.channel_mb * 2**20
    if platform.ddr is not None:
        caps["DDR"] = platform.ddr.channel_gb * 2**30
    out = []

    def order(item: tuple[str, float]) -> tuple[str, int]:
        kind, _, index = item[0].rstrip("]").partition("[")
        return kind, int(index)

    for port, nbytes in sorted(channel_bytes(design, layers, tokens).items(), key=order):
        cap = caps.get(port.split("[")[0])
        if cap is not None and nbytes > cap:
            out.append(
                f"{port} would hold {nbytes / 2**20:,.0f} MiB ({layers} layers) but a "
                f"channel has {cap / 2**20:,.0f} MiB; on the board the port must span "
                f"{-(-nbytes // cap):.0f} channels"
            )
    return out


def card_capacity(platform: Platform) -> tuple[str, float]:
    """The card's off-chip memory: its kind and bytes (HBM when it has both)."""
    if platform.hbm is not None:
        return "HBM", platform.hbm.channels * platform.hbm.channel_mb * 2**20
    if platform.ddr is not None:
        return "DDR", platform.ddr.channels * platform.ddr.channel_gb * 2**30
    return "memory", 0.0


def check_capacity(
    design: Design, platform: Platform, layers: int, tokens: int, tp: int = 1, pp: int = 1
) -> None:
    """Refuse a run whose cards cannot hold their share of the weights and K/V cache: with
    ``tp`` cards per stage each holds 1/tp of every matrix and cache, with ``pp`` stages
    each holds ceil(layers / pp) layers. Every bitstream's bindings count (the W8A8
    templates keep the prefill arrays' and the decode engines' weight layouts apart)."""
    per_card = ceil(layers / pp)
    total = sum(channel_bytes(design, per_card, tokens).values()) / tp
    kind, cap = card_capacity(platform)
    if cap and total > cap:
        need = ceil(total / cap)
        raise UserError(
            f"design {design.name}: a card would hold {total / 2**30:,.2f} GiB of weights and "
            f"K/V cache ({per_card} layers of {design.model.name}"
            + (f", 1/{tp} of each" if tp > 1 else "")
            + f") but {platform.name} has {cap / 2**30:,.2f} GiB of {kind}; split the model "
            f"over at least {need * tp * pp} cards (tensor parallelism, tp: a share of every "
            "layer per card; pipeline parallelism, pp: a share of the layers)",
            field="tp",
        )
