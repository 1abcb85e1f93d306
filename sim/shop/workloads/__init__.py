"""Workloads: who shops and how, one module each (registered by `WORKLOAD` in their modules)."""
