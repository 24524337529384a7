"""Accelerator designs: kernel graphs, templates, design files, overrides and resources."""
