"""spatialsim: simulate and model FPGA spatial (dataflow) accelerators for LLM inference.

The package is split by concern: ``workload`` (model shapes and operator lists),
``hardware`` (platforms), ``design`` (accelerator graphs), ``analytical`` (the closed-form
model of Chen et al. 2024) and ``cli`` (the command line).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spatialsim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
