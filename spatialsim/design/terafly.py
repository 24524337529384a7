"""``terafly-opt1.3b``: TeraFly's OPT-1.3B decoder on one Alveo U50LV, from TeraFly repo.

Two compute units (CUs), one per SLR, each compute half of every output vector and swap
their halves on an on-card ring; the 24 layers loop on chip (one kernel call per token,
``launch_scope = "step"``) and the host feeds even the prompt one token at a time
(``prompt_mode = "tokenwise"``). Each CU is expressed with the existing kinds:

- its layer input (its 1,024-value share of the hidden row) enters through a loader, a
  splitter keeps a copy for the residual, and stage 1 (LayerNorm) ends in a ring
  all-gather of the whole normalised row;
- stage 2: the Q, K and V GEMVs (8 engines of 64 int8 MACs each, one 512-bit HBM port
  per engine, CU0 on HBM[0..7], CU1 on HBM[16..23]) each produce the CU's 1,024 outputs
  (its 16 heads), which go round the ring (``exchange``: the all-gather's traffic, each
  CU keeps its own heads);
- stage 3: K and V into the HBM cache (ports 0/1 hold K, 2/3 hold V);
- stage 4: attention over the CU's 16 heads, two at a time (HEAD_PARALLEL), one cached
  row per cycle (64-wide trees), ending in a ring all-gather;
- stage 5: the output projection and its ring exchange; stage 6: residual and LayerNorm
  and an all-gather; stage 7: FC1 and an all-gather of the 8,192-wide row; stage 8: ReLU;
  stage 9: FC2 and its exchange; stage 10: the residual, written back.

That is TeraFly's seven ring exchanges per layer. The GEMV kernels of a CU form one
``engine_group``: TeraFly reuses one GEMV stage for all of them, so its resources count
once. Row-wise fp32 kernels (LayerNorm, residual, ReLU, the ring) move 8 values per word
(``vector = 8``: INP_PARALLEL and ROUTE_NUM, 256-bit flits), the GEMVs read 8 per word
from them too. The ring FIFOs are 64 deep and move blocks of 8 flits.

What the design language does not express exactly (stated so the error can be judged):
TeraFly's stages run strictly one after another while here a stage may start on the
first words of the previous one (the GEMVs buffer their whole input first, so the
difference is small); LayerNorm statistics over the two halves need a small exchange of
their own, not modelled; the layer input and output go through HBM (ports 7 and 23, one
4 KiB row per layer) where TeraFly keeps them in on-chip buffers.
"""

from __future__ import annotations

import networkx as nx

from spatialsim.design.graph import Design, PhaseBinding, add_fifo, add_kernel
from spatialsim.errors import UserError
from spatialsim.workload.models import ModelConfig

CLOCK_MHZ = 240.3  # TeraFly repo: 250 MHz requested, 240.3 MHz achieved
CUS = 2  # params.h CU
ENGINES = 8  # PROCESSOR: GEMV engines per CU, one HBM port each
PES, PACK = 32, 2  # 64 int8 MACs per engine per cycle (INP_NUM = 64 per 512-bit word)
VECTOR = 8  # INP_PARALLEL / ROUTE_NUM: fp32 values per word
HEAD_PARALLEL = 2
ATTN_LANES = 64  # a cached row of a 64-wide head per cycle
RING_DEPTH = 64  # ring FIFO depth
RING_BLOCK = 8  # blocks of 8 flits travel round the ring
STAGE_DEPTH = 2  # shift-register FIFOs in the first stages
OUT_DEPTH = 128  # BRAM FIFOs on outputs
ROUTER_DEPTH = 32  # FIFOs around the router
HBM_BASE = (0, 16)  # CU0 HBM[0..7], CU1 HBM[16..23]
IO_PORT = 7  # assumption: the layer's row in and out (TeraFly keeps it on chip)
MAX_SEQ = 1024  # FULL_SEQ_NUM
FP32_WORD = 32 * VECTOR
INT8 = 8


def _cu(g: nx.DiGraph, cu: int, model: ModelConfig, max_seq_len: int) -> None:
    d, f = model.hidden, model.ffn
    share, heads = d // CUS, model.heads // CUS
    base = HBM_BASE[cu]
    weights = [f"HBM[{base + i}]" for i in range(ENGINES)]
    io = [f"HBM[{base + IO_PORT}]"]
    n = f"cu{cu}_"

    def kernel(name: str, kind: str, **params: object) -> None:
        add_kernel(g, n + name, kind, cu, **params)

    def gemv(name: str, k: int, out: int) -> None:
        kernel(
            name, "gemv", engines=ENGINES, pes=PES, pack=PACK, in_features=k,
            out_features=out, weight_bits=INT8, act_bits=INT8, out_dtype="fp32",
            ports=weights, port_bits=512, engine_group=f"cu{cu}_gemv", vector=VECTOR,
        )  # fmt: skip

    def ring(name: str, op: str, features: int) -> None:
        kernel(
            name, "collective", lanes=1, features=features, op=op, devices=CUS,
            block_words=RING_BLOCK, vector=VECTOR,
        )  # fmt: skip

    def fifo(src: str, dst: str, depth: int = STAGE_DEPTH, width: int = FP32_WORD) -> None:
        add_fifo(g, n + src, n + dst, depth, width)

    kernel("load", "loader", ports=io, port_bits=512, lanes=1, features=share,
           quantize=False, vector=VECTOR, axi_group=f"cu{cu}_gemv")  # fmt: skip
    kernel("split1", "splitter", lanes=1, features=share, quantize=False, vector=VECTOR)
    kernel("ln1", "layernorm", lanes=1, features=share, reduction_ii=1, norm="layernorm",
           vector=VECTOR)  # fmt: skip
    ring("ring_ln1", "all_gather", d)
    for x in ("q", "k", "v"):
        gemv(f"{x}_proj", d, share)
        ring(f"ring_{x}", "exchange", d)
    kernel("k_writer", "kv_writer", target="k", ii=1, features=share, max_seq_len=max_seq_len,
           act_bits=INT8, ports=weights[0:2], port_bits=512, vector=VECTOR,
           axi_group=f"cu{cu}_gemv")  # fmt: skip
    kernel("v_writer", "kv_writer", target="v", ii=1, features=share, max_seq_len=max_seq_len,
           act_bits=INT8, ports=weights[2:4], port_bits=512, vector=VECTOR,
           axi_group=f"cu{cu}_gemv")  # fmt: skip
    kernel("q_buffer", "buffer", features=share, lanes=1, vector=VECTOR)
    for op in ("qk", "sv"):
        kernel(f"{op}_matmul", "attn_gemv", op=op, heads_parallel=HEAD_PARALLEL,
               lanes=ATTN_LANES, heads=heads, head_dim=model.head_dim, act_bits=INT8,
               vector=VECTOR)  # fmt: skip
    kernel("mask", "mask", lanes=1, heads=heads, causal=True, heads_parallel=HEAD_PARALLEL)
    kernel("softmax", "softmax", lanes=1, heads=heads, reduction_ii=1,
           heads_parallel=HEAD_PARALLEL, output="streamed")  # fmt: skip
    ring("ring_attn", "all_gather", d)
    gemv("out_proj", d, share)
    ring("ring_out", "exchange", d)
    kernel("residual0", "residual", lanes=1, features=share, vector=VECTOR)
    kernel("split2", "splitter", lanes=1, features=share, quantize=False, vector=VECTOR)
    kernel("ln2", "layernorm", lanes=1, features=share, reduction_ii=1, norm="layernorm",
           vector=VECTOR)  # fmt: skip
    ring("ring_ln2", "all_gather", d)
    gemv("fc1", d, f // CUS)
    ring("ring_fc1", "all_gather", f)
    kernel("relu", "activation", lanes=1, features=f, fn="relu", act_depth_cycles=3.0,
           vector=VECTOR)  # fmt: skip
    gemv("fc2", f, share)
    ring("ring_fc2", "exchange", d)
    kernel("residual1", "residual", lanes=1, features=share, vector=VECTOR)
    kernel("store", "writer", ports=io, port_bits=512, lanes=1, features=share, vector=VECTOR,
           axi_group=f"cu{cu}_gemv")  # fmt: skip

    bypass = share // VECTOR  # one row of the share, in words
    fifo("load", "split1")
    fifo("split1", "ln1")
    fifo("ln1", "ring_ln1")
    for x in ("q", "k", "v"):
        fifo("ring_ln1", f"{x}_proj", OUT_DEPTH)
        fifo(f"{x}_proj", f"ring_{x}", ROUTER_DEPTH)
    fifo("ring_k", "k_writer", OUT_DEPTH)
    fifo("ring_v", "v_writer", OUT_DEPTH)
    fifo("ring_q", "q_buffer", OUT_DEPTH)
    fifo("k_writer", "qk_matmul", STAGE_DEPTH, INT8)
    fifo("q_buffer", "qk_matmul", STAGE_DEPTH, INT8)
    fifo("qk_matmul", "mask", STAGE_DEPTH, 32)
    fifo("mask", "softmax", STAGE_DEPTH, 32)
    # softmax runs three passes over a row with bypass FIFOs of 6,144 (TeraFly repo)
    fifo("softmax", "sv_matmul", 6144, INT8)
    fifo("v_writer", "sv_matmul", STAGE_DEPTH, INT8)
    fifo("sv_matmul", "ring_attn", ROUTER_DEPTH)
    fifo("ring_attn", "out_proj", OUT_DEPTH)
    fifo("out_proj", "ring_out", ROUTER_DEPTH)
    fifo("split1", "residual0", bypass)
    fifo("ring_out", "residual0", OUT_DEPTH)
    fifo("residual0", "split2")
    fifo("split2", "ln2")
    fifo("ln2", "ring_ln2")
    fifo("ring_ln2", "fc1", OUT_DEPTH)
    fifo("fc1", "ring_fc1", ROUTER_DEPTH)
    fifo("ring_fc1", "relu", OUT_DEPTH)
    fifo("relu", "fc2", f // VECTOR)  # FC2 buffers its whole input row
    fifo("fc2", "ring_fc2", ROUTER_DEPTH)
    fifo("split2", "residual1", bypass)
    fifo("ring_fc2", "residual1", OUT_DEPTH)
    fifo("residual1", "store")


RINGS = ("ring_ln1", "ring_q", "ring_k", "ring_v", "ring_attn", "ring_out", "ring_ln2",
         "ring_fc1", "ring_fc2")  # fmt: skip


def build_terafly(model: ModelConfig, max_seq_len: int, devices: int = 1) -> Design:
    """TeraFly on one U50LV for ``model`` (built for OPT-1.3B; any OPT-like decoder whose
    sizes split over the two CUs)."""
    if devices != 1:
        raise UserError(
            "terafly-opt1.3b runs on one card (its two compute units share it); tp must be 1",
            field="tp",
        )
    if (model.ffn_kind, model.norm, model.causal, model.kv_heads) != (
        "relu",
        "pre",
        True,
        model.heads,
    ):
        raise UserError(
            f"terafly-opt1.3b is an OPT decoder (ReLU FFN, pre-LayerNorm, causal, no grouped "
            f"K/V heads); {model.name} is not; valid: opt-125m, opt-1.3b, opt-2.7b, ... "
            "('spatialsim models' lists them)",
            field="model",
        )
    for what, size in (("hidden", model.hidden), ("FFN", model.ffn), ("heads", model.heads)):
        unit = CUS * (VECTOR if what != "heads" else HEAD_PARALLEL)
        if size % unit:
            raise UserError(
                f"terafly-opt1.3b splits {what} {size} of {model.name} over {CUS} CUs in "
                f"units of {unit}; it does not divide",
                field="model",
            )
    if max_seq_len > MAX_SEQ:
        raise UserError(
            f"terafly-opt1.3b holds {MAX_SEQ} KV positions (FULL_SEQ_NUM); {max_seq_len} asked",
            field="max_seq_len",
        )
    g = nx.DiGraph()
    for cu in range(CUS):
        _cu(g, cu, model, max_seq_len)
    for name in RINGS:  # the on-card ring: CU0 -> CU1 -> CU0, 256-bit flits, 64 deep
        add_fifo(g, f"cu0_{name}", f"cu1_{name}", RING_DEPTH, FP32_WORD)
        add_fifo(g, f"cu1_{name}", f"cu0_{name}", RING_DEPTH, FP32_WORD)
    return Design(
        name="terafly-opt1.3b",
        model=model,
        clock_mhz=CLOCK_MHZ,
        max_seq_len=max_seq_len,
        resident_layers=1,
        launch_scope="step",
        prompt_mode="tokenwise",
        phases={"prefill": PhaseBinding("decoder", 1), "decode": PhaseBinding("decoder", 1)},
        bitstreams={"decoder": g},
        description="TeraFly (zjnyly/TeraFly, OPT-1.3b_optimize): two compute units, one per "
        "SLR, each half of every output, seven ring exchanges per layer; layers looped on "
        "chip, one call per token",
        notes={
            "source": "TeraFly repo (repository commit 5e67091)",
            "not modelled": "strictly sequential stages; LayerNorm statistics exchange; the "
            "layer row is read from and written to HBM[7]/HBM[23] instead of on-chip buffers",
        },
    )
