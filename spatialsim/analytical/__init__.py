"""The analytical model of Chen et al. 2024 §3: constraints, latency and work balancing."""
