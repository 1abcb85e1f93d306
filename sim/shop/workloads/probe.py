"""PBS's experiment inside the simulator: how long after a write commits will a read see it?

Bailis et al., "Probabilistically Bounded Staleness for Practical Partial
Quorums" (VLDB 2012). Probe keys are written by one writer each, a new
version `write_interval_ms` after the previous one (a key's versions never
overlap: the next waits for the previous commit). A write commits when its
coordinator holds W acks: the moment the store client hears OK, since probe
clients sit on their node (no client hop: it is not part of t, as in PBS).
After each commit, one read per offset t of `offsets_ms` leaves its
coordinator t ms later. Every write and every read is coordinated by a node
drawn uniformly over all nodes, as clients arriving anywhere would be.

Each read is recorded as a shop operation `probe` whose value names the write
it probes and its offset (`{"write": j, "offset_ms": t}`) and, once answered,
the newest version it returned (`"returned"`): sim/metrics/visibility.py
turns those into t-visibility and k-staleness. The store operations beneath
are recorded as usual. Versions are strings `p<key>.<j>`.

The trials are spread over as many keys as it takes to fit them in
`duration_ms`: each key gets floor(duration_ms / write_interval_ms) writes.
Reads past the end of the run are not issued (their offsets show fewer
reads). An offset beyond `write_interval_ms` also sees the versions written
after the probed one: "that write or a newer one" counts them consistent.

Reads must not disturb what they measure: the probe turns read repair and
anti-entropy off unless the scenario sets them (`WorkloadSpec.quiet`).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Self

from pydantic import Field, model_validator

from sim.client import Proc, StoreClient
from sim.config.table import Floats
from sim.config.workload import WorkloadConfig, WorkloadSettings
from sim.errors import ScenarioError
from sim.history import INVOKE, PROBE, Op
from sim.modes.base import Status, Version
from sim.shop.workloads.base import OUTCOME, Shop, WorkloadSpec

DEFAULT_OFFSETS_MS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0,
                      5000.0, 10000.0)  # fmt: skip
"""A log grid from 0 to 10 s."""

NODE_BLOCK = 4096
"""Coordinators are drawn this many at a time (one numpy call, not one per request)."""


class ProbeSettings(WorkloadSettings):
    """`[workload.probe]`: how many writes, when each is read, how often a key is written."""

    trials: int = Field(10_000, ge=1)
    """Probe writes in all (each read at every offset)."""
    offsets_ms: Floats = DEFAULT_OFFSETS_MS
    """When, after a write commits, its reads leave their coordinators (ascending, >= 0)."""
    write_interval_ms: float = Field(1000.0, gt=0.0)
    """From one version's commit to the next version of the same key."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        offsets = self.offsets_ms
        if not offsets:
            raise ScenarioError("workload.probe.offsets_ms: must list at least one offset")
        if any(t < 0 or not math.isfinite(t) for t in offsets):
            raise ScenarioError(
                f"workload.probe.offsets_ms: offsets must be finite and >= 0 (got {list(offsets)})"
            )
        if any(b <= a for a, b in itertools.pairwise(offsets)):
            raise ScenarioError(
                f"workload.probe.offsets_ms: must be strictly ascending (got {list(offsets)})"
            )
        return self


def version_tag(key: int, seq: int) -> str:
    """The value of version `seq` of probe key `key` (its tag in the history)."""
    return f"p{key}.{seq}"


def seq_of(value: Any) -> int:
    """The version number of a probe value `p<key>.<seq>`."""
    return int(str(value).rsplit(".", 1)[1])


def probe_key(key: int) -> str:
    """The store key of probe key `key`."""
    return f"probe:{key}"


class Probe:
    """One run's probe: a writer per key, and the reads at every offset after each commit."""

    def __init__(self, shop: Shop, config: WorkloadConfig, settings: ProbeSettings) -> None:
        self.shop = shop
        self.config = config
        self.settings = settings
        self.env = shop.env
        self.nodes = shop.nodes
        self.coordinators = shop.streams.get("probe")
        per_key = max(1, int(shop.duration_ms // settings.write_interval_ms))
        self.keys = math.ceil(settings.trials / per_key)
        self.writes = [per_key] * self.keys
        self.writes[-1] = settings.trials - per_key * (self.keys - 1)
        self._reads = 0
        self._nodes: list[int] = []

    def start(self) -> None:
        """Start every key's writer, each at its own phase within the first interval."""
        phases = self.coordinators.uniform(0.0, self.settings.write_interval_ms, self.keys)
        for key in range(self.keys):
            self.env.process(self._writer(key, float(phases[key])))

    def _node(self) -> int:
        """A coordinator drawn uniformly over the nodes (drawn in blocks: one per request)."""
        if not self._nodes:
            self._nodes = self.coordinators.integers(self.nodes, size=NODE_BLOCK).tolist()
        return self._nodes.pop()

    def _writer(self, key: int, phase: float) -> Proc:
        env = self.env
        store_key = probe_key(key)
        client = self.shop.node_client(0, f"probe-w{key}")
        yield env.timeout(phase)
        context: Version = None
        for seq in range(self.writes[key]):
            client.node = self._node()
            deadline = env.now + self.config.timeout_ms
            result = yield from client.write(store_key, version_tag(key, seq), deadline, context)
            if result.status is Status.OK:
                context = result.version
                for offset in self.settings.offsets_ms:
                    env.call_later(offset, self._read, store_key, seq, offset)
            yield env.timeout(self.settings.write_interval_ms)

    def _read(self, key: str, seq: int, offset: float) -> None:
        self._reads += 1
        client = self.shop.node_client(self._node(), f"probe-r{self._reads}")
        self.env.process(self._probe(client, key, seq, offset))

    def _probe(self, client: StoreClient, key: str, seq: int, offset: float) -> Proc:
        env = self.env
        asked = {"write": seq, "offset_ms": offset}
        history = self.shop.history
        history.append(Op(client.process, INVOKE, PROBE, key, asked, env.now))
        read = yield from client.read(key, env.now + self.config.timeout_ms)
        value = None
        if read.status is Status.OK:
            returned = max((seq_of(v) for v in read.siblings), default=None)
            value = {**asked, "returned": returned}
        status = read.status if read.status in (Status.OK, Status.TIMEOUT) else Status.FAIL
        history.append(Op(client.process, OUTCOME[status], PROBE, key, value, env.now, read.error))


WORKLOAD = WorkloadSpec(
    name="probe",
    settings=ProbeSettings,
    build=Probe,
    summary="PBS's experiment: reads at offsets after each write commits (t-visibility)",
    order=30,
    quiet=True,
)
