"""Simulate the paper's GPT-2 design once and read the result.

python examples/run_one.py
"""

import spatialsim as ss

req = ss.RunRequest(model="gpt2-medium", design="chen2024-w8a8", prompt_len=64, gen_len=8)
rep = ss.simulate(req)

print(
    f"{req.model} on {req.platform} with {req.design}: prompt {req.prompt_len}, "
    f"{req.gen_len} generated"
)
print(f"TTFT {rep.ttft_ms:.3f} ms (Eq. 8: {rep.analytical['prefill_ms']:.3f} ms)")
print(f"TPOT {rep.tpot_ms:.3f} ms (Eq. 9: {rep.analytical['decode_ms_per_token']:.3f} ms)")
print("first and last token:", ", ".join(f"{t:.3f} ms" for t in rep.per_token_ms[::7]))
busiest = sorted(rep.kernels.items(), key=lambda kv: -kv[1].busy)[:3]
for name, k in busiest:
    print(
        f"  {name:10s} busy {k.busy:6.1%}  starved {k.starved:6.1%}  "
        f"blocked {k.blocked:6.1%}  hbm_wait {k.hbm_wait:6.1%}"
    )
doc = rep.to_json()
print("JSON keys:", ", ".join(sorted(doc)[:6]), "...")
