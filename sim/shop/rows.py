"""Read-modify-write of one row until it lands: the step every order protocol is made of.

An order's steps (reserve, confirm, release, record) each change one row: read
it (resolving siblings as the client must), compute the new row, write it
conditionally on the version read; on a conflict, read again and retry. The
step says what to do with the row it finds: a new row, `DONE` (nothing left to
write: the change is already there) or `IMPOSSIBLE` (the row forbids it: the
hold to confirm was released).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.client import Proc, StoreClient
from sim.config.shop import Resolver
from sim.engine.kernel import Engine
from sim.modes.base import ReadResult, Status, Version
from sim.shop.resolvers import resolve

DONE = object()
"""A change's answer: the row already holds it, nothing to write."""
IMPOSSIBLE = object()
"""A change's answer: the row forbids it; give up without writing."""

Change = Callable[[Any], Any]
"""change(row or None) -> a new row, DONE or IMPOSSIBLE."""


@dataclass(frozen=True, slots=True)
class Updated:
    """How an update ended: OK (written or already done), CONFLICT (impossible), FAIL, TIMEOUT.

    `row` and `version` are what the store holds after an OK write (the row
    written, the version the store gave it); `retries` counts version conflicts;
    `wrote` says whether OK came from a write (else the row already held the change).
    """

    status: Status
    row: Any = None
    version: Version = None
    retries: int = 0
    error: str | None = None
    wrote: bool = False


def write_back(
    client: StoreClient, key: str, read: ReadResult, merged: Any, deadline: float
) -> Proc:
    """After a read that returned siblings, write the resolver's merge back with its context.

    The client, not the store, resolves conflicts (DESIGN.md): without this a
    product that sold out during a partition would keep its siblings forever.
    The outcome does not change what the customer is told.
    """
    if len(read.siblings) > 1:
        yield from client.write(key, merged, deadline, context=read.version)


class Updater:
    """Runs read-modify-write steps for the clients of one run.

    Args:
        env: the engine.
        resolver: merges the siblings a read returns.
        max_retries: version conflicts tolerated before giving up (FAIL "aborted").
        backoff_ms: the first pause after a conflict (doubles, with jitter).
        rng: the back-off's random stream.
    """

    def __init__(
        self,
        env: Engine,
        resolver: Resolver,
        max_retries: int,
        backoff_ms: float,
        rng: np.random.Generator,
    ) -> None:
        self.env = env
        self.resolver = resolver
        self.max_retries = max_retries
        self.backoff_ms = backoff_ms
        self.rng = rng

    def resolve(self, siblings: tuple[Any, ...]) -> Any:
        """The one value a client acts on: the single sibling, or the resolver's merge."""
        return resolve(siblings, self.resolver)

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with jitter, so that retrying clients spread out."""
        return self.backoff_ms * (2 ** min(attempt, 6)) * float(self.rng.uniform(0.5, 1.5))

    def update(
        self,
        client: StoreClient,
        key: str,
        change: Change,
        deadline: float,
        start: tuple[Any, Version] | None = None,
        retries: int | None = None,
    ) -> Proc:
        """Change row `key` until a conditional write lands or the deadline; yields an Updated.

        `start` is a (row, version) already known (a write this client just
        made), tried before reading. `retries` overrides max_retries (None: the
        run's).
        """
        limit = self.max_retries if retries is None else retries
        conflicts = 0
        known = start
        while True:
            read = None
            if known is None:
                read = yield from client.read(key, deadline)
                if read.status is not Status.OK:
                    return Updated(read.status, retries=conflicts, error=read.error)
                row, version = self.resolve(read.siblings), read.version
            else:
                row, version = known
            new = change(row)
            if new is DONE or new is IMPOSSIBLE:
                if read is not None:  # nothing to write: still resolve the siblings read
                    yield from write_back(client, key, read, row, deadline)
                if new is DONE:
                    return Updated(Status.OK, row, version, conflicts)
                return Updated(Status.CONFLICT, row, version, conflicts, "impossible")
            write = yield from client.write(
                key, new, deadline, context=version, conditional=True, expected=row
            )
            if write.status is Status.OK:
                return Updated(Status.OK, new, write.version, conflicts, wrote=True)
            if write.status is not Status.CONFLICT:
                return Updated(write.status, retries=conflicts, error=write.error)
            if conflicts >= limit:
                return Updated(Status.FAIL, retries=conflicts, error="aborted")
            pause = self.backoff(conflicts)
            conflicts += 1
            known = None
            if self.env.now + pause >= deadline:
                return Updated(Status.FAIL, retries=conflicts, error="aborted")
            yield self.env.timeout(pause)
