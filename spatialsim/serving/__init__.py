"""Serving request traces on a simulated accelerator: latency tables and FCFS replay."""
