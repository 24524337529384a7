"""Calibration: read HLS reports and board measurements, fit the simulator's parameters
with confidence intervals, and keep the result as a profile runs can use."""
