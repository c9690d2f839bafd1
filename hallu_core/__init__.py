"""Hallu's core: everything the dashboard and the CLI do, without any UI."""
__version__ = "0.1.0"
