"""Hardware platforms (FPGA cards): resources, memories and links, from sourced data files."""

from spatialsim.hardware.platform import (
    BRAM36_BITS,
    BUILTIN_PLATFORMS,
    URAM_BITS,
    Platform,
    get_platform,
    load_platform_file,
)

__all__ = [
    "BRAM36_BITS",
    "BUILTIN_PLATFORMS",
    "URAM_BITS",
    "Platform",
    "get_platform",
    "load_platform_file",
]
