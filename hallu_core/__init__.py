"""Hallu's core: everything the dashboard and the CLI do, without any UI."""
import os

# torch's OpenMP threads busy-wait by default; on a shared 2-core machine that costs
# several times the CPU per training step. Must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
