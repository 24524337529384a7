"""The power model's coefficients: static power per card, dynamic power per resource, and
energy per byte moved through HBM and over inter-card links.

Energy of a run (computed in :mod:`spatialsim.experiment.energy`) is

    static_w x cards x run time
    + sum over kernels of (their resources x per-resource dynamic power x clock) x busy time
    + HBM bytes x hbm_pj_per_bit x 8 + link bytes x link_pj_per_bit x 8.

A kernel draws its dynamic power only while busy (a stalled pipeline's datapath does not
toggle; clock-tree power is in the static term). Every coefficient carries its source; the
ones marked *assumption* are not published for these cards and are meant to be calibrated
against board power readings (``xbutil examine -r electrical`` reports the card's power).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from spatialsim.costmodel.params import check_ranges
from spatialsim.errors import UserError

RANGES: dict[str, tuple[float, float, str]] = {
    "static_w": (0, 1000, "W per card"),
    "dsp_uw_per_mhz": (0, 1000, "uW per DSP per MHz"),
    "lut_uw_per_mhz": (0, 100, "uW per LUT per MHz"),
    "ff_uw_per_mhz": (0, 100, "uW per FF per MHz"),
    "bram36_uw_per_mhz": (0, 1000, "uW per BRAM36 per MHz"),
    "uram_uw_per_mhz": (0, 1000, "uW per URAM per MHz"),
    "hbm_pj_per_bit": (0, 1000, "pJ per bit"),
    "link_pj_per_bit": (0, 10000, "pJ per bit"),
}

SOURCES: dict[str, str] = {
    "static_w": "assumption: an Alveo card configured and idle (board, shell, HBM refresh, "
    "transceivers, clock trees); the U280's board envelope is 225 W and the U50's 75 W "
    "(AMD DS963, DS965), an idle card draws a fraction of that",
    "dsp_uw_per_mhz": "assumption: a DSP48E2 multiply-add with both operands toggling, of "
    "the order the Xilinx Power Estimator gives for 16 nm UltraScale+",
    "lut_uw_per_mhz": "assumption: a LUT with its routing at a 12.5 % toggle rate (the XPE "
    "default), 16 nm UltraScale+",
    "ff_uw_per_mhz": "assumption: a flip-flop at a 12.5 % toggle rate, 16 nm UltraScale+",
    "bram36_uw_per_mhz": "assumption: a BRAM36 read and written every cycle, 16 nm",
    "uram_uw_per_mhz": "assumption: a URAM288 read and written every cycle, 16 nm",
    "hbm_pj_per_bit": "O'Connor et al., Fine-Grained DRAM, MICRO 2017: HBM2 about 3.9 pJ "
    "per bit transferred",
    "link_pj_per_bit": "assumption: a 100 Gb/s QSFP28 port (module up to 3.5 W, power "
    "class 4 of the QSFP28 MSA, plus the transceivers) at full rate, about 35 pJ per bit",
}


@dataclass(frozen=True)
class PowerParams:
    """Coefficients of the power model (see the module docstring and :data:`SOURCES`)."""

    static_w: float = 25.0
    dsp_uw_per_mhz: float = 8.0
    lut_uw_per_mhz: float = 0.15
    ff_uw_per_mhz: float = 0.03
    bram36_uw_per_mhz: float = 20.0
    uram_uw_per_mhz: float = 35.0
    hbm_pj_per_bit: float = 3.9
    link_pj_per_bit: float = 35.0

    def __post_init__(self) -> None:
        check_ranges(self, RANGES, "power")

    @classmethod
    def of(cls, values: dict[str, float]) -> PowerParams:
        """Coefficients with ``values`` replacing the defaults (names checked)."""
        names = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in names:
                raise UserError(
                    f"unknown power parameter {key!r}; valid: {', '.join(sorted(names))}",
                    field="power",
                )
        return cls(**values)

    def dynamic_w(self, resources: dict[str, float], clock_mhz: float) -> float:
        """Power of a datapath of ``resources`` while it works at ``clock_mhz``."""
        uw_per_mhz = (
            resources.get("dsp", 0.0) * self.dsp_uw_per_mhz
            + resources.get("lut", 0.0) * self.lut_uw_per_mhz
            + resources.get("ff", 0.0) * self.ff_uw_per_mhz
            + resources.get("bram36", 0.0) * self.bram36_uw_per_mhz
            + resources.get("uram", 0.0) * self.uram_uw_per_mhz
        )
        return uw_per_mhz * clock_mhz * 1e-6
