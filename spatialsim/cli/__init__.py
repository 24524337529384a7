"""The ``spatialsim`` command line."""
