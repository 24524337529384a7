"""Metrics: the recorder the engine reports to, and the frozen result of a run."""
