"""The experiment layer: requests, the functions that run them, and their reports."""
