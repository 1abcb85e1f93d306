"""The simulation engine: network, faults, ring and world; it knows nothing of modes or the shop."""
