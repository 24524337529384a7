"""A small design sweep in a loop: the FFN arrays' PE columns against prefill latency.

Every point is a RunRequest; equal requests have equal keys in every process, so a sweep
can skip points it has already done.

    python examples/sweep_ffn_columns.py
"""

import spatialsim as ss

base = ss.RunRequest(design="chen2024-w8a8", prompt_len=128, gen_len=0)
done: dict[str, float] = {}
print(f"{'FFN cols':>8s}  {'TTFT ms':>9s}  {'Eq. 8 ms':>9s}  bound by")
for cols in (8, 16, 32, 16):
    req = base.replace(set={"kernel.ffn1.cols": cols, "kernel.ffn2.cols": cols})
    if req.key in done:
        print(f"{cols:8d}  (already simulated: {done[req.key]:.3f} ms)")
        continue
    rep = ss.simulate(req)
    done[req.key] = rep.ttft_ms
    print(
        f"{cols:8d}  {rep.ttft_ms:9.3f}  {rep.analytical['prefill_ms']:9.3f}  "
        f"{rep.analytical['prefill_bound']}"
    )
