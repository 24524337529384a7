"""The one set of defaults every command and the Python API share.

A workload nobody specifies is the paper's GPT-2 build on the U280 (Chen et al. 2024,
§5: GPT-2-medium, the W8A8 design, systolic prefill and GEMV decode) with a 128-token
prompt and 16 generated tokens. Commands show these in their ``--help``; tests check that
no command or API function carries a default of its own (tests/test_defaults.py).
"""

from __future__ import annotations

MODEL = "gpt2-medium"
PLATFORM = "u280"
DESIGN = "chen2024-w8a8"
PROMPT_LEN = 128  # prompt tokens (prefill) and, for per-phase commands, the sequence length
GEN_LEN = 16  # tokens generated after the prompt
SEQ_LEN = PROMPT_LEN + GEN_LEN  # what a design built by default holds: the default workload
WORKERS: int | None = None  # None: chosen by the job's size (spatialsim.executor)
TEMPORAL = "dfx"  # what `compare` sets the design against (DFX, Hong 2022)

__all__ = ["DESIGN", "GEN_LEN", "MODEL", "PLATFORM", "PROMPT_LEN", "SEQ_LEN", "TEMPORAL", "WORKERS"]
