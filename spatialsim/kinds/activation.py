"""The FFN activation (fp32): GeLU and ReLU read one word per output (II 1); SwiGLU
(``silu_mul``) needs the gate and the up word of each output. Where they come from is a
structural choice (``gate_up``): one fused linear writing them as adjacent words of one
stream (II 2), or separate gate and up linears, each on its own stream, read in the same
cycle (II 1). LLaMA's layer has the separate projections (chen2024-llama templates).

The ACT loop's iteration latency (``act_depth_cycles``) is the length of the build's
arithmetic chain, which depends on how the build computes GeLU (an erf in fp32, a tanh
polynomial, a table), and Chen 2024 describes none of them. The HLS reports give it per
build: 168 in the W4A8 build (68,212 = 16 x (4,095 + 168) + 4, Chen 2024 W4A8), 73 in the
W8A8 prefill build (266,756 = 64 x (4,095 + 73) + 4) and 38 in the W8A8 decode build
(4,133 = 4,095 + 38; Chen 2024 W8A8). Those kernels' estimates therefore reproduce their
own rows by construction; the trips are still the loop structure's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spatialsim.costmodel.loops import Estimate, Loop, make_estimate
from spatialsim.costmodel.params import CostParams
from spatialsim.costmodel.work import Work
from spatialsim.kinds.base import (
    Coeffs,
    KernelParams,
    KernelProcess,
    KernelWork,
    Proc,
    RowStream,
    features,
    lanes,
    param,
    vector,
)
from spatialsim.kinds.registry import KindSpec, register

W4A8_DEPTH = 168.0  # the W4A8 build's GeLU (Chen 2024 W4A8)
# A ReLU is a compare and a select between the read and the write: an assumption (no report
# of a ReLU kernel exists here), 3 cycles.
RELU_DEPTH = 3.0


@dataclass(frozen=True)
class ActivationParams(RowStream, KernelParams):
    KIND = "activation"

    lanes: int = lanes()
    features: int = features()
    fn: str = param("function", choices=("gelu", "relu", "silu_mul"))
    act_depth_cycles: float = param(
        "iteration latency of the ACT loop (the activation's arithmetic chain)",
        low=1,
        high=1e4,
        default=W4A8_DEPTH,
    )
    vector: int = vector()
    gate_up: str = param(
        "SwiGLU only: 'fused', gate and up words interleaved on one stream; 'split', gate "
        "on the first input stream and up on the second",
        choices=("fused", "split"),
        default="fused",
    )

    @property
    def fan_in(self) -> int:
        """Input words per output: 2 for SwiGLU (gate and up), 1 for GeLU and ReLU."""
        return 2 if self.fn == "silu_mul" else 1

    @property
    def streams(self) -> int:
        """Input streams: 2 for SwiGLU with split gate and up, else 1."""
        return 2 if self.fn == "silu_mul" and self.gate_up == "split" else 1

    @property
    def ii(self) -> int:
        """Words read from one stream per output."""
        return self.fan_in // self.streams

    def stream_words_in(self) -> int | None:
        return self.ii * self.words

    def stream_words_out(self) -> int | None:
        return self.words


def work(p: ActivationParams, w: Work) -> KernelWork:
    return KernelWork(elements=w.tokens * p.features * p.fan_in)


def estimate(name: str, p: ActivationParams, w: Work, cost: CostParams) -> Estimate:
    loops = [Loop("ACT", p.words, p.ii, p.act_depth_cycles, w.packs)]
    return make_estimate(name, p.KIND, loops, 0.0, cost)


def body(k: KernelProcess) -> Proc:
    p: ActivationParams = k.p
    ii = p.ii
    if p.streams == 2:  # gate first, up second (graph order)
        gate, up = list(k.ins.values())
    else:
        gate, up = k.stream_in(), None
    for _ in k.step.pack_sizes():
        for wo in k.gran.split(p.words):
            if up is not None:
                yield from k.get(gate, wo)
            yield from k.take(up if up is not None else gate, ii * wo, ii * wo, float(ii))
            yield from k.emit(wo, span=ii * wo)
        k.busy(p.act_depth_cycles - ii)


def hls(p: ActivationParams) -> dict[str, Any]:
    return {"FN": p.fn, "SPLIT": p.streams == 2}


# GeLU (W4A8 region reports)
COEFFS = Coeffs(per_lane={"dsp": 32, "lut": 2042, "ff": 3271}, fixed={"uram": 8})


def resources(p: ActivationParams) -> dict[str, float]:
    return COEFFS.scaled(0, p.lanes * p.vector)


SPEC = register(
    KindSpec("activation", __doc__ or "", ActivationParams, work, estimate, body, hls, resources)
)
