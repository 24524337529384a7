"""Names and constants shared across the layers, each defined once with its source.

Everything here is a fact of the designs or of the statistics used, not a tunable cost
(tunable costs live in :class:`spatialsim.costmodel.params.CostParams`).
"""

from __future__ import annotations

# The four states a kernel's active time is split into (docs/metrics.md).
STATES = ("busy", "starved", "blocked", "hbm_wait")
BUSY, STARVED, BLOCKED, HBM_WAIT = range(4)

# The non-linear kernels of the chen2024 designs compute and pass activations in fp32.
FP32_BYTES = 4

# Chen 2024 designs: prefill tokens travel in packs of P = 8 and share each loaded weight (r_i).
PACK_TOKENS = 8

# Two-sided 95 % quantile of the normal distribution (1.95996, rounded as it is usually
# quoted), for intervals propagated to first order from a calibration profile's covariance.
Z95 = 1.96

# Tensor parallelism names the all-reduce it adds after a row-split linear ``<linear>`` +
# this suffix (spatialsim/design/parallel.py); reports pick the collectives out by it.
COLLECTIVE_SUFFIX = "_allreduce"

# How pipeline stages run: "streamed" (each stage's layer streams into the next stage's
# over the links, the stages working at once; Chen 2024 model, "streams an l x d tensor
# between devices", and Eq. 13) or "staged" (a stage runs its layers, then hands the
# activations on; with one request in flight the stages take turns).
PP_SCHEDULES = ("streamed", "staged")
