"""Read a result and plot one figure: where each kernel's prefill time goes.

python examples/plot_stalls.py [OUT_DIR]
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import spatialsim as ss

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
rep = ss.simulate(design="chen2024-w8a8", prompt_len=128, gen_len=0, layers=2)
kernels = rep.result.phases["prefill"].kernels
names = list(kernels)
states = ("busy", "starved", "blocked", "hbm_wait")
fig, ax = plt.subplots(figsize=(9, 5))
left = [0.0] * len(names)
for state in states:
    shares = [kernels[n].fractions[state] for n in names]
    ax.barh(names, shares, left=left, label=state)
    left = [a + b for a, b in zip(left, shares, strict=True)]
ax.invert_yaxis()
ax.set_xlabel("share of the kernel's active time (prefill, 2 layers)")
ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4, frameon=False)
fig.tight_layout()
path = out / "prefill_stalls.png"
fig.savefig(path, dpi=100)
top = max(names, key=lambda n: kernels[n].fractions["starved"])
print(
    f"{len(names)} kernels; most starved: {top} "
    f"({kernels[top].fractions['starved']:.1%} of its active time)"
)
print(f"wrote {path.name}")
