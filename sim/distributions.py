"""Latency distributions (frozen dataclasses drawing from a numpy Generator) and a buffered sampler.

Each kind mirrors one TOML table of DESIGN.md (`{dist = "exponential", mean = 5.0}`):
`sample(rng, size)` draws a float64 array in milliseconds, `mean` is the
analytic mean (`math.inf` where it does not exist), `to_dict()` gives the table
back, and `parse_distribution(table, path)` is its inverse, validating every
field with a one-line `ScenarioError` naming the dotted path.

Heavy tails (exponential, lognormal, Pareto) are capped at `MAX_SAMPLE_MS`
(about 32 years) so that no draw is ever `inf`: no run lasts that long, so a
capped message is simply never delivered. `Sampler` hands the hot path one
pre-drawn value per call (STYLE.md §5).
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from sim.errors import ScenarioError

MAX_SAMPLE_MS = 1e12
"""Upper bound of every draw, so heavy tails stay finite (see the module docstring)."""


@runtime_checkable
class Distribution(Protocol):
    """A latency distribution in milliseconds: what `Sampler` and the scenario accept."""

    @property
    def mean(self) -> float:
        """The analytic mean; `math.inf` where it does not exist."""
        ...

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw `size` values (float64, ms, finite, >= 0) from `rng`."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The TOML/JSON table that `parse_distribution` turns back into this distribution."""
        ...


# --------------------------------------------------------------------------- field checks


def _fail(path: str, message: str) -> ScenarioError:
    return ScenarioError(f"{path}: {message}")


def _number(value: Any, path: str) -> float:
    """A finite real as float; bool is not a number (TOML's `true` must not pass as 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(path, f"must be a number (got {value!r})")
    try:
        x = float(value)
    except OverflowError:  # an int beyond float range
        x = math.inf
    if not math.isfinite(x):
        raise _fail(path, f"must be finite (got {value!r})")
    return x


def _above(value: Any, path: str, low: float = 0.0) -> float:
    x = _number(value, path)
    if x <= low:
        raise _fail(path, f"must be > {low:g} (got {x!r})")
    return x


def _at_least(value: Any, path: str, low: float = 0.0) -> float:
    x = _number(value, path)
    if x < low:
        raise _fail(path, f"must be >= {low:g} (got {x!r})")
    return x


def _sequence(value: Any, path: str, what: str) -> tuple[Any, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
        raise _fail(path, f"must be a list of {what} (got {value!r})")
    if not value:
        raise _fail(path, f"must not be empty (a list of {what})")
    return tuple(value)


def _freeze(obj: object, values: Mapping[str, Any]) -> None:
    """Store normalised field values on a frozen dataclass (from __post_init__)."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)


def _capped(x: np.ndarray) -> np.ndarray:
    return np.minimum(x, MAX_SAMPLE_MS, out=x)


# --------------------------------------------------------------------------- the kinds


@dataclass(frozen=True, slots=True)
class Constant:
    """Always `value` ms: a deterministic link (useful in tests and as a mixture's fast path)."""

    value: float
    kind: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        _freeze(self, self._check(self.kind, value=self.value))

    @staticmethod
    def _check(path: str, *, value: Any) -> dict[str, Any]:
        return {"value": _at_least(value, f"{path}.value")}

    @property
    def mean(self) -> float:
        """The constant itself."""
        return self.value

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` copies of the value; draws nothing from `rng`."""
        return np.full(size, self.value, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """`{dist = "constant", value = ...}`."""
        return {"dist": self.kind, "value": self.value}


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform on [low, high] ms."""

    low: float
    high: float
    kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        _freeze(self, self._check(self.kind, low=self.low, high=self.high))

    @staticmethod
    def _check(path: str, *, low: Any, high: Any) -> dict[str, Any]:
        lo = _at_least(low, f"{path}.low")
        hi = _number(high, f"{path}.high")
        if hi < lo:
            raise _fail(f"{path}.high", f"must be >= {path}.low (got {hi!r} < {lo!r})")
        return {"low": lo, "high": hi}

    @property
    def mean(self) -> float:
        """(low + high) / 2."""
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` uniform draws."""
        return rng.uniform(self.low, self.high, size)

    def to_dict(self) -> dict[str, Any]:
        """`{dist = "uniform", low = ..., high = ...}`."""
        return {"dist": self.kind, "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponential with the given mean (memoryless; the classic queueing assumption)."""

    mean: float
    kind: ClassVar[str] = "exponential"

    def __post_init__(self) -> None:
        _freeze(self, self._check(self.kind, mean=self.mean))

    @staticmethod
    def _check(path: str, *, mean: Any) -> dict[str, Any]:
        return {"mean": _above(mean, f"{path}.mean")}

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` exponential draws, capped at MAX_SAMPLE_MS."""
        return _capped(rng.exponential(self.mean, size))

    def to_dict(self) -> dict[str, Any]:
        """`{dist = "exponential", mean = ...}`."""
        return {"dist": self.kind, "mean": self.mean}


@dataclass(frozen=True, slots=True)
class Lognormal:
    """exp(N(mu, sigma²)): `mu` and `sigma` are the underlying normal's, so the median is e^mu."""

    mu: float
    sigma: float
    kind: ClassVar[str] = "lognormal"

    def __post_init__(self) -> None:
        _freeze(self, self._check(self.kind, mu=self.mu, sigma=self.sigma))

    @staticmethod
    def _check(path: str, *, mu: Any, sigma: Any) -> dict[str, Any]:
        return {"mu": _number(mu, f"{path}.mu"), "sigma": _at_least(sigma, f"{path}.sigma")}

    @property
    def mean(self) -> float:
        """exp(mu + sigma² / 2), or inf when that overflows."""
        try:
            return math.exp(self.mu + self.sigma**2 / 2)
        except OverflowError:
            return math.inf

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` lognormal draws, capped at MAX_SAMPLE_MS."""
        with np.errstate(over="ignore"):
            return _capped(rng.lognormal(self.mu, self.sigma, size))

    def to_dict(self) -> dict[str, Any]:
        """`{dist = "lognormal", mu = ..., sigma = ...}`."""
        return {"dist": self.kind, "mu": self.mu, "sigma": self.sigma}


@dataclass(frozen=True, slots=True)
class Pareto:
    """Classical Pareto: P(X > x) = (xm / x)^alpha for x >= xm; infinite mean when alpha <= 1."""

    xm: float
    alpha: float
    kind: ClassVar[str] = "pareto"

    def __post_init__(self) -> None:
        _freeze(self, self._check(self.kind, xm=self.xm, alpha=self.alpha))

    @staticmethod
    def _check(path: str, *, xm: Any, alpha: Any) -> dict[str, Any]:
        return {"xm": _above(xm, f"{path}.xm"), "alpha": _above(alpha, f"{path}.alpha")}

    @property
    def mean(self) -> float:
        """alpha·xm / (alpha − 1) for alpha > 1, else inf."""
        if self.alpha <= 1:
            return math.inf
        return self.alpha * self.xm / (self.alpha - 1)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` Pareto draws (>= xm), capped at MAX_SAMPLE_MS."""
        # numpy's `pareto` is Lomax (Pareto II, support from 0): shift by 1 and scale by xm.
        with np.errstate(over="ignore"):
            return _capped(self.xm * (1.0 + rng.pareto(self.alpha, size)))

    def to_dict(self) -> dict[str, Any]:
        """`{dist = "pareto", xm = ..., alpha = ...}`."""
        return {"dist": self.kind, "xm": self.xm, "alpha": self.alpha}


@dataclass(frozen=True, slots=True)
class Mixture:
    """Each draw comes from part i with probability weight_i / sum(weights).

    `parts` keeps the weights as given (so that parse(to_dict) round-trips
    exactly); the normalised probabilities are derived once.
    """

    parts: tuple[tuple[float, Distribution], ...]
    _probs: np.ndarray = field(init=False, repr=False, compare=False)
    kind: ClassVar[str] = "mixture"

    def __post_init__(self) -> None:
        _freeze(self, self._check(self.kind, parts=self.parts))
        weights = np.array([w for w, _ in self.parts], dtype=np.float64)
        weights /= weights.max()  # first, so that a sum of huge weights cannot overflow
        object.__setattr__(self, "_probs", weights / weights.sum())

    @staticmethod
    def _check(path: str, *, parts: Any) -> dict[str, Any]:
        items = _sequence(parts, f"{path}.parts", "(weight, distribution) pairs")
        out = []
        for i, item in enumerate(items):
            where = f"{path}.parts[{i}]"
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise _fail(where, f"must be a (weight, distribution) pair (got {item!r})")
            weight, dist = item
            if not isinstance(dist, Distribution):
                raise _fail(where, f"must hold a distribution (got {dist!r})")
            out.append((_above(weight, f"{where}.weight"), dist))
        return {"parts": tuple(out)}

    @property
    def mean(self) -> float:
        """The weighted mean of the parts (inf if any part's is)."""
        probs = self._probs.tolist()
        # A part whose weight underflowed to probability 0 is never drawn: 0 * inf is not nan here.
        return math.fsum(p * d.mean for p, (_, d) in zip(probs, self.parts, strict=True) if p)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw every component index at once, then each component's values in one call."""
        index = rng.choice(len(self.parts), size=size, p=self._probs)
        out = np.empty(size, dtype=np.float64)
        for i, (_, dist) in enumerate(self.parts):
            mask = index == i
            count = int(np.count_nonzero(mask))
            if count:
                out[mask] = dist.sample(rng, count)
        return out

    def to_dict(self) -> dict[str, Any]:
        """`{dist = "mixture", parts = [{weight = ..., dist = ..., ...}, ...]}`."""
        return {
            "dist": self.kind,
            "parts": [{"weight": w, **d.to_dict()} for w, d in self.parts],
        }


@dataclass(frozen=True, slots=True)
class Empirical:
    """Resample uniformly, with replacement, from measured latencies (e.g. a production trace)."""

    samples: tuple[float, ...]
    _array: np.ndarray = field(init=False, repr=False, compare=False)
    kind: ClassVar[str] = "empirical"

    def __post_init__(self) -> None:
        _freeze(self, self._check(self.kind, samples=self.samples))
        object.__setattr__(self, "_array", np.array(self.samples, dtype=np.float64))

    @staticmethod
    def _check(path: str, *, samples: Any) -> dict[str, Any]:
        items = _sequence(samples, f"{path}.samples", "numbers >= 0")
        return {"samples": tuple(_at_least(x, f"{path}.samples[{i}]") for i, x in enumerate(items))}

    @property
    def mean(self) -> float:
        """The samples' average."""
        return math.fsum(self.samples) / len(self.samples)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` draws, each one of the given samples with equal probability."""
        return self._array[rng.integers(0, len(self._array), size)]

    def to_dict(self) -> dict[str, Any]:
        """`{dist = "empirical", samples = [...]}`."""
        return {"dist": self.kind, "samples": list(self.samples)}


# --------------------------------------------------------------------------- parsing

_KINDS: dict[str, type] = {
    cls.kind: cls for cls in (Constant, Empirical, Exponential, Lognormal, Mixture, Pareto, Uniform)
}
_FIELDS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "empirical": ("samples",),
    "exponential": ("mean",),
    "lognormal": ("mu", "sigma"),
    "mixture": ("parts",),
    "pareto": ("xm", "alpha"),
    "uniform": ("low", "high"),
}
KINDS: tuple[str, ...] = tuple(sorted(_KINDS))
"""Every `dist` name parse_distribution accepts."""


def parse_distribution(spec: Mapping[str, Any], path: str) -> Distribution:
    """Build a distribution from its TOML table, validating every field.

    Args:
        spec: the table, e.g. `{"dist": "exponential", "mean": 5.0}`.
        path: its dotted path in the scenario, used in error messages.

    Returns:
        The frozen distribution; `parse_distribution(d.to_dict(), path) == d`.

    Raises:
        ScenarioError: one line naming the dotted path and what is allowed.
    """
    return _parse(spec, path, extra=())


def _parse(spec: Any, path: str, extra: tuple[str, ...]) -> Distribution:
    """Parse one table; `extra` are keys the caller consumes (a mixture part's weight)."""
    if not isinstance(spec, Mapping):
        raise _fail(
            path, f'must be a table like {{dist = "exponential", mean = 5.0}} (got {spec!r})'
        )
    allowed = ", ".join(KINDS)
    if "dist" not in spec:
        raise _fail(f"{path}.dist", f"missing (allowed: {allowed})")
    kind = spec["dist"]
    if not isinstance(kind, str):
        raise _fail(f"{path}.dist", f"must be a string (allowed: {allowed}; got {kind!r})")
    if kind not in _KINDS:
        raise _fail(f"{path}.dist", f"unknown {kind!r} (allowed: {allowed})")
    names = _FIELDS[kind]
    keys = sorted(("dist", *extra, *names))
    for key in spec:
        if key not in keys:
            raise _fail(path, f"unknown key {key!r} (allowed: {', '.join(keys)})")
    for name in names:
        if name not in spec:
            raise _fail(f"{path}.{name}", f"missing (dist {kind!r} needs: {', '.join(names)})")
    values = {name: spec[name] for name in names}
    if kind == "mixture":
        parts = _sequence(values["parts"], f"{path}.parts", "tables with a weight")
        pairs = []
        for i, part in enumerate(parts):
            where = f"{path}.parts[{i}]"
            dist = _parse(part, where, extra=("weight",))
            if "weight" not in part:
                raise _fail(f"{where}.weight", "missing (each part needs a weight > 0)")
            pairs.append((_above(part["weight"], f"{where}.weight"), dist))
        values["parts"] = tuple(pairs)
    cls = _KINDS[kind]
    return cls(**cls._check(path, **values))


# --------------------------------------------------------------------------- hot path


class Sampler(functools.partial):
    """The next latency from a buffer of pre-drawn values: `sampler()` or `sampler.next()`.

    Values are drawn `block` at a time (one vectorised numpy call, then
    `.tolist()`), and served by `next()` over an `itertools.chain` of blocks,
    all in C: the class derives from `functools.partial(next, stream)` so that
    calling an instance runs no Python frame (about 45 ns instead of 95 ns
    for a Python `__call__`, measured with timeit). The draws depend only on the
    generator's state and the order of calls, so runs replay exactly.

    Args:
        dist: the distribution to draw from.
        rng: the generator (one named stream per subsystem, see sim.rng).
        block: how many values each refill draws.
    """

    dist: Distribution
    block: int
    next: Callable[[], float]

    def __new__(cls, dist: Distribution, rng: np.random.Generator, block: int = 4096) -> Sampler:
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise ValueError(f"block must be an integer >= 1 (got {block!r})")
        if isinstance(dist, Constant):
            # Nothing to draw: serve the constant forever.
            stream: Any = itertools.repeat(dist.value)
        else:

            def refill() -> list[float]:
                return dist.sample(rng, block).tolist()

            # iter(callable, sentinel) calls refill whenever a block runs out; it never
            # returns the sentinel, so the stream is endless.
            stream = itertools.chain.from_iterable(iter(refill, None))
        self = super().__new__(cls, next, stream)
        self.dist = dist
        self.block = block
        self.next = stream.__next__
        return self

    def __repr__(self) -> str:
        return f"Sampler({self.dist!r}, block={self.block})"

    def __reduce__(self) -> Any:
        # The buffered stream holds a generator by closure; a sampler belongs to one run.
        raise TypeError("a Sampler cannot be pickled; pickle its distribution instead")
