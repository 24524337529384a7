"""Serve a request trace on the design, with the same options a run takes.

python examples/replay_trace.py
"""

import spatialsim as ss

req = ss.RunRequest(design="chen2024-w8a8", clock_mhz=200.0, layers=4)
rep = ss.replay("traces/poisson_100.csv", req, samples=4, limit=30)
doc = rep.to_json()
print(
    f"{doc['requests']} requests at {rep.clock_mhz:g} MHz ({req.layers} layers), "
    f"{rep.latency.simulations} exact simulations"
)
for key in ("ttft_ms", "tpot_ms", "e2e_ms"):
    s = doc[key]
    print(f"  {key:8s} p50 {s['p50']:8.3f}  p90 {s['p90']:8.3f}  p99 {s['p99']:8.3f}")
print(f"  utilisation {doc['utilization']:.1%}")
