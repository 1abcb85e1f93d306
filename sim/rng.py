"""One root seed per run, split into independent named random streams.

Each subsystem (arrivals, network latency, faults, Raft timers...) draws from
its own stream so that adding a fault does not reshuffle customer arrivals
(STYLE.md §5). Streams are derived with numpy's SeedSequence from the root seed
and a stable hash of the name, so they are identical in every process.
"""

from __future__ import annotations

import zlib

import numpy as np


class Streams:
    """Named, independent numpy Generators derived from one root seed."""

    __slots__ = ("_cache", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._cache: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        """The generator for `name`; the same object on every call within a run."""
        gen = self._cache.get(name)
        if gen is None:
            # crc32 is stable across processes, unlike hash(str).
            seq = np.random.SeedSequence(self.seed, spawn_key=(zlib.crc32(name.encode()),))
            gen = np.random.Generator(np.random.PCG64(seq))
            self._cache[name] = gen
        return gen
