"""Off-chip memory costs: effective bandwidth and access latency.

A read of n bytes costs the access latency plus n over the effective bandwidth. The effective
bandwidth (the channel's efficiency for one master) is the smallest of:

- what the kernel's AXI port can ask for (width x kernel clock; a 512-bit port at 250 MHz
  asks 16 GB/s);
- what one channel delivers for a stream of that length, interpolated log-linearly between
  the measured small-burst rate and the measured saturated sequential rate (Chen 2024
  section 5: 6.7 GB/s for 32-byte bursts, 13.2 GB/s from 128 KB on). Its parameters are
  the platform's ``small_burst_bytes``, ``small_burst_bw_gbps``, ``read_saturation_bytes``
  and ``read_bw_gbps`` (and the write pair);
- what the master's outstanding reads can cover (Little's law): ``outstanding`` bursts of
  ``burst_bytes`` in flight over one round trip of the channel's latency. With the Vitis
  defaults (16 x 1 KiB over about 125 ns) this is about 130 GB/s and never binds; a master
  with one outstanding 64-byte burst gets about 0.5 GB/s.
"""

from __future__ import annotations

from math import log

from spatialsim.hardware.platform import Hbm


def port_rate_gbps(port_bits: int, clock_mhz: float) -> float:
    """GB/s an AXI master can request: one beat of ``port_bits`` per kernel cycle."""
    return port_bits / 8 * clock_mhz * 1e6 / 1e9


def hbm_channel_rate_gbps(hbm: Hbm, stream_bytes: float, write: bool = False) -> float:
    """One pseudo-channel's rate for a sequential stream of ``stream_bytes``."""
    seq = hbm.write_bw_gbps if write else hbm.read_bw_gbps
    sat = hbm.write_saturation_bytes if write else hbm.read_saturation_bytes
    small_bytes, small_bw = hbm.small_burst_bytes, hbm.small_burst_bw_gbps
    if stream_bytes >= sat:
        return seq
    if stream_bytes <= small_bytes:
        return small_bw
    frac = log(stream_bytes / small_bytes) / log(sat / small_bytes)
    return small_bw + (seq - small_bw) * frac


def outstanding_rate_gbps(outstanding: float, burst_bytes: float, latency_ns: float) -> float:
    """The most a master with ``outstanding`` bursts of ``burst_bytes`` in flight can draw
    over a round trip of ``latency_ns`` (bytes per ns is GB/s)."""
    if latency_ns <= 0:
        return float("inf")
    return outstanding * burst_bytes / latency_ns


def hbm_latency_ns(hbm: Hbm, slr_distance: int, slr_crossing_ns: float) -> float:
    """Idle read latency of a pseudo-channel reached through the switch from a kernel
    ``slr_distance`` SLRs away from the HBM: page hit + switch penalty + crossings."""
    return hbm.latency_ns + hbm.switch_penalty_ns + slr_distance * slr_crossing_ns
