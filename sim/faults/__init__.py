"""Fault kinds of the nemesis, one small class each (registered by `FAULTS` in their modules)."""
