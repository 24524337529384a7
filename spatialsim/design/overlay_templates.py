"""The ``dfx`` template: DFX (Hong et al., MICRO 2022), a temporal overlay on 1, 2 or 4
U280 cards, from the architecture facts in Hong 2022.

One compute core per card: a DMA unit on all 32 HBM pseudo-channels (512-bit ports), the
matrix unit (16 lanes x 64-input trees, fp16), its special functions, the 64-wide vector
unit and, on more than one card, the router of the QSFP ring. The units are kernels of
kind ``overlay`` (:mod:`spatialsim.kinds.overlay`) joined by token FIFOs wherever the
compiled instruction stream has one unit wait for another; the DMA-to-MPU FIFO holds as
many tokens as there are weight buffers. Each card runs the same stream on its slice of
the weights (heads and output columns split, four all-gathers per layer), so the design
is built for its card count: ``--design dfx --tp 4`` is DFX on four cards.

What Hong 2022 leaves open is a documented, calibratable kernel parameter with a stated
default: the per-instruction issue cost (``issue_cycles``), the special-function latency
(``sfu_cycles``), the weight buffer size (``weight_chunk_kb``) and count (the depth of the
DMA-to-MPU FIFO, :data:`WEIGHT_BUFFERS`), the router's block (``block_words``); the hop
latency and the link efficiency are the cost model's (``link_hop_latency_ns``,
``link_efficiency``).

A prompt runs token by token (``prompt_mode = "tokenwise"``): Hong 2022's "Summarization"
says the core executes a matrix-matrix product as a series of matrix-vector products and
re-streams the weights for each input vector. ``--set design.prompt_mode=packed`` gives the
alternative in which the compiler reuses each weight chunk across the prompt's tokens.
"""

from __future__ import annotations

import networkx as nx

from spatialsim.design.graph import Design, PhaseBinding, add_fifo, add_kernel
from spatialsim.errors import UserError
from spatialsim.kinds.overlay_program import Shape, compile_layer
from spatialsim.workload.models import ModelConfig

DFX_CLOCK_MHZ = 200.0  # Hong 2022: 200 MHz kernel clock
DFX_CARDS = (1, 2, 4)  # Hong 2022: 1, 2 or 4 U280 cards in one appliance
HBM_PORTS = 32  # Hong 2022: all 32 pseudo-channels, 512-bit AXI ports
# Weight buffers between the DMA and the matrix unit: double buffering, an assumption
# (Hong 2022: on-chip buffer sizes are not published).
WEIGHT_BUFFERS = 2
TOKEN_DEPTH = 16  # other units' scoreboard entries: an assumption
# Placement: the DMA next to the HBM (SLR0); the matrix unit's 3,072 DSPs fill SLR1; the
# vector and special-function units and the router in SLR2. Hong 2022 gives no floorplan.
PLACEMENT = {"dma": 0, "mpu": 1, "sfu": 2, "vpu": 2, "router": 2}


def build_dfx(model: ModelConfig, max_seq_len: int, devices: int = 1) -> Design:
    """DFX for ``model`` on ``devices`` cards (its tensor parallelism)."""
    if devices not in DFX_CARDS:
        raise UserError(
            f"dfx runs on {', '.join(map(str, DFX_CARDS))} cards (Hong 2022), got {devices}",
            field="tp",
        )
    if model.heads % devices or model.hidden % devices or model.ffn % devices:
        raise UserError(
            f"dfx splits heads and columns over the cards: {model.name}'s {model.heads} "
            f"heads, width {model.hidden} and FFN {model.ffn} do not divide by {devices} "
            "(DFX changed GPT-2 1.5B to 24 heads for this, Hong 2022)",
            field="tp",
        )
    common = {
        "hidden": model.hidden,
        "heads": model.heads,
        "head_dim": model.head_dim,
        "ffn": model.ffn,
        "devices": devices,
    }
    g = nx.DiGraph()
    units = ["dma", "mpu", "sfu", "vpu"] + (["router"] if devices > 1 else [])
    for unit in units:
        extra = {}
        if unit == "dma":
            extra = {"ports": [f"HBM[{i}]" for i in range(HBM_PORTS)], "port_bits": 512}
        add_kernel(g, unit, "overlay", PLACEMENT[unit], unit=unit, **common, **extra)
    # token FIFOs where the stream has one unit wait for another (prefill and decode
    # streams have the same pairs; a two-token step shows all of them)
    probe = Shape(
        model.hidden, model.heads, model.head_dim, model.ffn, devices,
        16, 64, 64, 6.0, 11.0, 20.0, 10.0, 256 * 1024, 2, 1024,
    )  # fmt: skip
    pairs = sorted({(i.unit, c) for i in compile_layer(probe, 2, 3, 1) for c in i.notify})
    for src, dst in pairs:
        depth = WEIGHT_BUFFERS if (src, dst) == ("dma", "mpu") else TOKEN_DEPTH
        add_fifo(g, src, dst, depth, 1)
    return Design(
        name="dfx",
        model=model,
        clock_mhz=DFX_CLOCK_MHZ,
        max_seq_len=max_seq_len,
        resident_layers=1,
        launch_scope="step",
        # Hong 2022 "Summarization": the core is built for one token; a prompt runs as a series
        # of matrix-vector products with no weight reuse across tokens, so each prompt token
        # goes through every layer as a decode step does. "packed" (the compiler's weight
        # reuse over the prompt's tokens) stays a documented choice: design.prompt_mode.
        prompt_mode="tokenwise",
        phases={"prefill": PhaseBinding("overlay", 1), "decode": PhaseBinding("overlay", 1)},
        bitstreams={"overlay": g},
        description=f"DFX temporal overlay (Hong et al. MICRO 2022) on {devices} U280 "
        "card(s): one instruction stream per card over DMA, a 16 x 64 fp16 matrix unit, "
        "special functions, a 64-wide vector unit and the QSFP ring router",
        notes={
            "source": "Hong 2022",
            "assumptions": "issue_cycles, sfu_cycles, weight_chunk_kb, weight buffers (2), "
            "router block_words and the floorplan are not published; resources split the "
            "published totals (39.9 % LUT, 39.2 % DSP)",
        },
    )
