"""What a fault kind is: a scenario table that knows its windows, how to start, stop, describe.

A fault kind is one small class (Jepsen's nemesis is a schedule: faults are
data). It parses and validates its own `[[faults]]` table (pydantic checks
types and ranges; `check` what depends on the cluster, naming the dotted
path), and it acts on the world only through a `FaultTarget`: install a cut,
heal it, crash or restart a node, skew a clock. The nemesis (sim/engine)
calls `start` at each window's start and `stop` with what `start` returned at
its end, and records `describe()` in the history. Nothing here imports SimPy.

To add a kind, write a module in sim/faults with a subclass and `FAULTS = (...)`;
tests/faults/test_plugin.py shows one defined in a test file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

from pydantic import Field

from sim import plugins
from sim.config.limits import check_time
from sim.config.table import Table, shown
from sim.errors import ScenarioError

Cut = Callable[[int, int], bool]
"""cut(src, dst): True when a message from src to dst is dropped."""


class FaultTarget(Protocol):
    """What a fault may change: the links, the nodes' liveness, their clocks."""

    nodes: int

    def cut(self, cut: Cut) -> object:
        """Start dropping what `cut` selects; returns a handle for `heal`."""

    def heal(self, handle: object) -> None:
        """Remove a cut installed with `cut`."""

    def crash(self, node: int) -> None:
        """Take `node` down (nested crashes of one node count: it restarts after the last)."""

    def restart(self, node: int) -> None:
        """Bring `node` back up."""

    def skew(self, node: int, delta_ms: float) -> None:
        """Move `node`'s clock by `delta_ms`."""


class Fault(Table):
    """One `[[faults]]` entry: when it is active, and what it does meanwhile.

    `end_ms` None means the fault never heals. Subclasses set `name` (the
    TOML `kind`), add their own fields and implement `start`, `stop`, `describe`.
    """

    PATH = "fault"
    name: ClassVar[str] = ""
    order: ClassVar[int] = 1_000
    disrupts: ClassVar[bool] = True
    """Whether it cuts links or takes nodes down: only such faults make fault windows
    (availability during faults, the last heal); clock skew is reported apart."""

    start_ms: float = Field(ge=0.0)
    end_ms: float | None = None

    @property
    def kind(self) -> str:
        """The fault's kind, as `kind` in its TOML table."""
        return self.name

    @property
    def heals(self) -> bool:
        """Whether the fault ends within the run."""
        return self.end_ms is not None

    def windows(self, end_of_run_ms: float) -> list[tuple[float, float | None]]:
        """The [start, end) windows in which the fault is active (one, unless it flaps)."""
        return [(self.start_ms, self.end_ms)]

    def window_count(self, end_of_run_ms: float) -> float:
        """How many windows `windows` would list, without listing them (for the limits)."""
        return 1

    def sides(self, nodes: int) -> list[tuple[int, ...]] | None:
        """The groups of nodes it splits the cluster into (None: it splits nothing)."""
        return None

    def check(self, nodes: int, path: str) -> None:
        """Validate against the cluster size; raise ScenarioError naming `path`'s fields.

        Subclasses extend it (calling super) to check the nodes they name.
        """
        check_time(self.start_ms, f"{path}.start_ms")
        check_time(self.end_ms, f"{path}.end_ms")
        if self.end_ms is not None and self.end_ms <= self.start_ms:
            raise ScenarioError(
                f"{path}.end_ms: must be > {path}.start_ms (got {self.end_ms} <= {self.start_ms})"
            )

    def start(self, target: FaultTarget) -> Any:
        """Begin the fault; the value returned is handed to `stop`."""
        raise NotImplementedError

    def stop(self, target: FaultTarget, handle: Any) -> None:
        """End the fault begun by the `start` that returned `handle`."""
        raise NotImplementedError

    def describe(self) -> Any:
        """The fault as a JSON value for the history (the `value` of the nemesis' op)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The `[[faults]]` table: `kind` first, `end_ms` left out when it never heals."""
        out = {"kind": self.name, **super().to_dict()}
        if self.end_ms is None:
            del out["end_ms"]
        return out


class CutFault(Fault):
    """A fault that drops messages on some links while it is active."""

    def cut_for(self, nodes: int) -> Cut:
        """The cut predicate over a cluster of `nodes` nodes."""
        raise NotImplementedError

    def start(self, target: FaultTarget) -> Any:
        """Install the cut."""
        return target.cut(self.cut_for(target.nodes))

    def stop(self, target: FaultTarget, handle: Any) -> None:
        """Heal it."""
        target.heal(handle)


def node_id(value: int, path: str, nodes: int) -> int:
    """`value` if node `value` exists, else a ScenarioError naming `path`."""
    if value >= nodes or value < 0:
        raise ScenarioError(
            f"{path}: node {value} does not exist (cluster.nodes = {nodes}: 0..{nodes - 1})"
        )
    return value


def node_list(values: Sequence[int], path: str, nodes: int) -> tuple[int, ...]:
    """A non-empty list of distinct, existing node ids, else a ScenarioError naming `path`."""
    if not values:
        raise ScenarioError(f"{path}: must be a non-empty list of node ids (got [])")
    out = tuple(node_id(v, f"{path}[{i}]", nodes) for i, v in enumerate(values))
    if len(set(out)) != len(out):
        raise ScenarioError(f"{path}: lists a node twice (got {list(out)})")
    return out


def parse_fault(raw: Any, path: str) -> Fault:
    """A `[[faults]]` table as the Fault of its `kind` (looked up in the FAULTS registry).

    Raises:
        ScenarioError: not a table, no or an unknown kind, or a bad field.
    """
    if isinstance(raw, Fault):
        return raw
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: must be a table (got {shown(raw)})")
    if "kind" not in raw:
        raise ScenarioError(f"{path}.kind: missing (allowed: {', '.join(plugins.FAULTS.names())})")
    cls = plugins.FAULTS.get(raw["kind"], f"{path}.kind")
    return cls.parse({k: v for k, v in raw.items() if k != "kind"}, path)


def fault(kind: str, **fields: Any) -> Fault:
    """A fault of kind `kind` from its TOML fields: `fault("isolate", start_ms=0, node=2)`."""
    return parse_fault({"kind": kind, **fields}, "fault")
