"""The ``artifacts`` command: parses, calls :mod:`artifacts.api`, prints."""
