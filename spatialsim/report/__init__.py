"""Reporting: tables, JSON and (later) plots and traces. Reads results, never the engine."""
