"""The base of every scenario table: a frozen pydantic model; errors are one line naming the path.

pydantic does the type checks, conversions and dict round-trips; this module
only turns its structured errors into capsim's one-line form,
`cluster.nodes: must be >= 1 (got 0)`, and adds what every table shares:
strict types (no "5" for 5, no 1 for true), no NaN or infinity, unknown keys
refused with the list of allowed ones, lists accepted where a tuple is stored.

A table knows its place in a scenario (`PATH`), so that a table built on its
own in Python (`ClusterConfig(nodes=0)`) names the same path as one loaded from
TOML. Errors raised inside validators are `ScenarioError`s with an absolute
path: pydantic lets exceptions other than ValueError and AssertionError pass
untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from sim.config.limits import shown
from sim.errors import ScenarioError


def as_tuple(value: Any) -> Any:
    """Lists become tuples, nested too (TOML has lists; frozen tables hold tuples)."""
    if isinstance(value, list | tuple):
        return tuple(as_tuple(v) for v in value)
    return value


Ints = Annotated[tuple[int, ...], BeforeValidator(as_tuple)]
Floats = Annotated[tuple[float, ...], BeforeValidator(as_tuple)]


def dotted(parts: Iterable[str | int]) -> str:
    """A location as a dotted path: ("faults", 0, "groups", 1) -> faults[0].groups[1]."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def join(path: str, rest: str) -> str:
    """`path` followed by `rest` (a dotted path or an index)."""
    if not path:
        return rest
    if not rest:
        return path
    return f"{path}{rest}" if rest.startswith("[") else f"{path}.{rest}"


_PHRASES = {
    "greater_than_equal": ("ge", "must be >= {}"),
    "greater_than": ("gt", "must be > {}"),
    "less_than_equal": ("le", "must be <= {}"),
    "less_than": ("lt", "must be < {}"),
}
_TYPES = {
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "finite_number": "must be finite",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dataclass_type": "must be a table",
}


def _phrase(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = shown(error.get("input"))
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind == "missing":
        return "missing"
    if kind in _PHRASES:
        bound, text = _PHRASES[kind]
        return f"{text.format(ctx[bound])} (got {got})"
    if kind in ("too_short", "too_long"):
        return f"must have {ctx.get('min_length', ctx.get('max_length'))} items (got {got})"
    if kind == "literal_error":
        allowed = ctx["expected"].replace("'", "").replace(" or ", ", ")
        return f"unknown {got} (allowed: {allowed})"
    if kind in _TYPES:
        return f"{_TYPES[kind]} (got {got})"
    return f"{error['msg'][:1].lower()}{error['msg'][1:]} (got {got})"


def scenario_error(exc: ValidationError, path: str) -> ScenarioError:
    """The first of pydantic's errors as one line: `<path>.<loc>: <what is wrong>`."""
    error = exc.errors(include_url=False)[0]
    where = join(path, dotted(str(p) if not isinstance(p, int) else p for p in error["loc"]))
    text = _phrase(error)
    return ScenarioError(f"{where}: {text}" if where else text)


_VALIDATING: ContextVar[bool] = ContextVar("capsim_table_validating", default=False)
"""True while a table is being validated: tables nested in it leave errors to it.

pydantic runs a nested table's `__init__` too; only the outermost call turns
pydantic's error into a ScenarioError, so the path it names is whole. A table
parsed on its own inside a validator (a mode's settings) names its own path.
"""


class Table(BaseModel):
    """A frozen, strictly typed scenario table; `PATH` is where it sits in a scenario."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        arbitrary_types_allowed=True,
        validate_by_name=True,
        validate_by_alias=True,
        validate_default=False,
    )

    PATH: ClassVar[str] = ""

    def __init__(self, /, **data: Any) -> None:
        if _VALIDATING.get():  # a table inside another's validation: the outer one reports
            super().__init__(**data)
            return
        token = _VALIDATING.set(True)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise scenario_error(exc, self.PATH) from None
        finally:
            _VALIDATING.reset(token)

    @classmethod
    def parse(cls, raw: Any, path: str | None = None) -> Self:
        """Validate a TOML-shaped table; errors name `path` (default: the table's PATH).

        Raises:
            ScenarioError: a value is missing, unknown, of the wrong type or out of range.
        """
        where = cls.PATH if path is None else path
        if isinstance(raw, cls):
            return raw
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"{where}: must be a table (got {shown(raw)})")
        token = _VALIDATING.set(True)
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as exc:
            raise scenario_error(exc, where) from None
        finally:
            _VALIDATING.reset(token)

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The keys this table accepts in TOML (a field's alias where it has one)."""
        return tuple(f.alias or name for name, f in cls.model_fields.items())

    @classmethod
    def normalise(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Bring a table given in another accepted layout into this one (default: as is)."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # Unknown keys are refused here rather than by extra="forbid", so that
        # the message lists what is allowed.
        if isinstance(data, Mapping):
            data = cls.normalise(dict(data))
            known = {*cls.model_fields, *(f.alias for f in cls.model_fields.values() if f.alias)}
            for key in data:
                if key not in known:
                    allowed = ", ".join(cls.keys())
                    raise ValueError(f"unknown key {key!r} (allowed: {allowed})")
        return data

    def to_dict(self) -> dict[str, Any]:
        """The table as TOML-shaped, JSON-ready data (tuples become lists)."""
        fields = type(self).model_fields
        return {f.alias or name: plain(getattr(self, name)) for name, f in fields.items()}


def plain(value: Any) -> Any:
    """A value as JSON-ready data: tables and distributions as dicts, tuples as lists."""
    if isinstance(value, Table):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value
