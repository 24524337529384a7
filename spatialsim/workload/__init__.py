"""Workloads: model shapes and the per-layer operator lists of prefill and decode."""

from spatialsim.workload.models import MODELS, ModelConfig, get_model, load_hf_config
from spatialsim.workload.operators import Operator, Precision, layer_macs, layer_operators

__all__ = [
    "MODELS",
    "ModelConfig",
    "Operator",
    "Precision",
    "get_model",
    "layer_macs",
    "layer_operators",
    "load_hf_config",
]
