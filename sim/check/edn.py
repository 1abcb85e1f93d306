"""EDN values and their reader, for the part of EDN that Jepsen histories use.

Enough of https://github.com/edn-format/edn for Jepsen histories: nil, booleans,
numbers (with `N`, `M` and ratios), strings, characters, keywords, symbols,
vectors, lists, maps, sets, `##Inf`/`##NaN`, `;` comments, `#_` discards and
tagged elements (the tag is dropped, the form kept). Keywords and symbols are
read as `Keyword` and `Symbol`: str subclasses whose form the writer
(sim/check/edn_writer.py) gives back.

The reader is one loop over the matches of one regular expression (each match
is the whitespace and comments before a token, then the token), with an
explicit stack of open collections: no recursion, no per-character Python
code, so reading is linear in the text and about as fast per op as the JSON
lines reader. Repeated keywords (`:process`, `:type`, `:invoke`) are read once
and shared.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sim.errors import HistoryError

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "Keyword",
    "Symbol",
    "hashable",
    "is_keyword_name",
    "parse_edn",
    "read_forms",
]


class Keyword(str):
    """An EDN keyword (`:timed-out`) read as a value; a str, written back as a keyword."""

    __slots__ = ()

    def __repr__(self) -> str:
        return ":" + self


class Symbol(str):
    """An EDN symbol other than nil, true and false; a str, written back bare."""

    __slots__ = ()


# EDN's delimiters: whitespace (commas are whitespace), brackets, strings, comments.
_D = r' \t\r\n,()\[\]{}";'
_TOKEN = re.compile(
    rf"""
    (?:[ \t\r\n,]++|;[^\n]*+)*+         # whitespace and comments before the token
    (?:
      (?P<kw>:[^{_D}]*)
    | (?P<int>[+-]?\d+N?)(?![^{_D}])
    | (?P<open>[\[({{]|\#\{{)
    | (?P<close>[\])}}])
    | (?P<str>"[^"\\]*(?:\\[\s\S][^"\\]*)*")
    | (?P<atom>[^{_D}\#\\][^{_D}]*)
    | \#(?P<dispatch>[_#]?[^{_D}]*)
    | \\(?P<char>[^{_D}]+|[\s\S])
    | (?P<end>\Z)
    | (?P<bad>[\s\S])
    )
    """,
    re.VERBOSE,
)
_INT = re.compile(r"[+-]?\d+N?")
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?")
_RATIO = re.compile(r"[+-]?\d+/\d+")
_KEYWORD_NAME = re.compile(r"[A-Za-z*+!_?<>=$%&\-][\w*+!?<>=$%&\-.:/#']*")
_STRING_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|[\s\S])")
_STRING_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_CHARACTERS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r"}
_SYMBOLIC = {"Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
_KW, _INT_TOKEN, _OPEN, _CLOSE, _STR, _ATOM, _DISPATCH, _CHAR, _END, _BAD = range(1, 11)
_HISTORY_START = re.compile(r"(?:[ \t\r\n,]++|;[^\n]*+)*+[\[(]")
_MISSING = object()

MAX_DEPTH = 100
"""Collections (and `#_`/tag prefixes) nest at most this deep: a Jepsen op is a map of
values two or three levels deep; the limit keeps whatever reads a value (hashing, the
checker, the writer) clear of Python's recursion limit."""
MAX_INT_DIGITS = 4300
"""The longest integer read (Python's own limit on converting digits to an int)."""

# A frame's kind: a collection that gathers forms, or a prefix (`#_`, `#tag`)
# that waits for the one form it applies to.
_VECTOR, _LIST, _MAP, _SET, _TOP, _DISCARD, _TAG = range(7)
_OPENERS = {"[": (_VECTOR, "]"), "(": (_LIST, ")"), "{": (_MAP, "}"), "#{": (_SET, "}")}


class _EdnSyntaxError(Exception):
    """Malformed EDN at a character position (turned into a HistoryError with the line)."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


def _string(body: str, pos: int) -> str:
    """A string literal's body with its escapes decoded."""

    def unescape(m: re.Match[str]) -> str:
        esc = m[1]
        if esc in _STRING_ESCAPES:
            return _STRING_ESCAPES[esc]
        if len(esc) == 5:
            return chr(int(esc[1:], 16))
        raise _EdnSyntaxError(f"bad escape \\{esc}", pos + m.start())

    return _STRING_ESCAPE.sub(unescape, body)


def _atom(tok: str, pos: int) -> Any:
    """A number, keyword, nil, boolean or symbol from one token."""
    if tok.startswith(":"):
        if not is_keyword_name(tok[1:]):
            raise _EdnSyntaxError(f"bad keyword {tok!r}", pos)
        return Keyword(tok[1:])
    if tok == "nil":
        return None
    if tok == "true":
        return True
    if tok == "false":
        return False
    if _INT.fullmatch(tok):
        return _int(tok.rstrip("N"), pos)
    if _FLOAT.fullmatch(tok):
        return float(tok.rstrip("M"))
    if _RATIO.fullmatch(tok):
        num, den = tok.split("/")
        if len(num) > MAX_INT_DIGITS or len(den) > MAX_INT_DIGITS:
            raise _EdnSyntaxError(f"ratio too long (at most {MAX_INT_DIGITS} digits)", pos)
        if int(den) == 0:
            raise _EdnSyntaxError(f"ratio {tok} divides by zero", pos)
        try:
            return int(num) / int(den)
        except OverflowError:
            raise _EdnSyntaxError(f"ratio {tok[:20]}... too large for a number", pos) from None
    if tok[:1].isdigit() or (tok[:1] in "+-" and tok[1:2].isdigit()) or not tok:
        raise _EdnSyntaxError(f"bad token {tok!r}", pos)
    return Symbol(tok)


def _int(digits: str, pos: int) -> int:
    """An integer token's value; one past MAX_INT_DIGITS is an error, not a ValueError."""
    try:
        return int(digits)
    except ValueError:
        raise _EdnSyntaxError(
            f"integer of {len(digits.lstrip('+-'))} digits (at most {MAX_INT_DIGITS})", pos
        ) from None


def _collection(kind: int, items: list[Any], pos: int) -> Any:
    """The value of a closed collection."""
    if kind == _MAP:
        if len(items) % 2:
            raise _EdnSyntaxError("a map needs an even number of forms", pos)
        keys, values = items[::2], items[1::2]
        try:
            return dict(zip(keys, values, strict=True))
        except TypeError:  # a vector or map as a key: make it hashable
            return {hashable(k): v for k, v in zip(keys, values, strict=True)}
    if kind == _SET:
        return frozenset(hashable(v) for v in items)
    return items


def _read(
    text: str,
    depth: int = 1,
    starts: list[int] | None = None,
    max_depth: int | None = MAX_DEPTH,
) -> list[Any]:
    """Read every top-level form of `text`.

    Args:
        text: EDN text.
        depth: which forms `starts` notes: 1 the top-level forms, 2 the elements
            of the one top-level collection (a second top-level form is then an error).
        starts: when given, the position each form at `depth` starts at is appended.
        max_depth: how deep collections may nest (None: no limit).
    """
    top: list[Any] = []
    # One frame per open collection or prefix: [kind, items, closing delimiter].
    stack: list[list[Any]] = [[_TOP, top, None]]
    kind, items = _TOP, top
    n = 1  # len(stack)
    noting = starts is not None
    deepest = (max_depth if max_depth is not None else len(text)) + 1  # `n` counts the top
    atoms: dict[str, Any] = {}  # keywords, symbols, nil, true, false: read once, shared
    start = 0
    # The branches test `m.lastindex`, the number of the token's group in _TOKEN.
    for m in _TOKEN.finditer(text):
        group = m.lastindex
        if noting:
            if n == depth:
                start = m.start(group)
            elif n == 1 and top and group != _END:
                raise _EdnSyntaxError("text after the history vector", m.start(group))
        if group == _KW:
            tok = m[_KW]
            value = atoms.get(tok)
            if value is None:
                value = atoms[tok] = _atom(tok, m.start(group))
        elif group == _INT_TOKEN:
            tok = m[_INT_TOKEN]
            value = _int(tok[:-1] if tok[-1] == "N" else tok, m.start(group))
        elif group == _OPEN:
            if n >= deepest:
                raise _EdnSyntaxError(f"nested deeper than {max_depth} levels", m.start(group))
            kind, close = _OPENERS[m[_OPEN]]
            items = []
            stack.append([kind, items, close])
            n += 1
            continue
        elif group == _CLOSE:
            if m[_CLOSE] != stack[-1][2]:
                raise _EdnSyntaxError(f"unexpected {m[_CLOSE]!r}", m.start(group))
            stack.pop()
            n -= 1
            value = _collection(kind, items, m.start(group))
            kind, items = stack[-1][0], stack[-1][1]
        elif group == _ATOM:
            tok = m[_ATOM]
            value = atoms.get(tok, _MISSING)
            if value is _MISSING:
                value = _atom(tok, m.start(group))
                if not isinstance(value, int | float) or isinstance(value, bool):
                    atoms[tok] = value
        elif group == _STR:
            tok = m[_STR][1:-1]
            value = _string(tok, m.start(group) + 1) if "\\" in tok else tok
        elif group == _DISPATCH:
            tok = m[_DISPATCH]
            if tok == "_" or (tok and tok[0] != "#"):
                # `#_` discards the next form; a tag (`#inst "..."`,
                # `#jepsen.history.Op{...}`) is dropped and its form kept.
                if n >= deepest:
                    raise _EdnSyntaxError(f"nested deeper than {max_depth} levels", m.start(group))
                kind, items = (_DISCARD if tok == "_" else _TAG), None
                stack.append([kind, None, None])
                n += 1
                continue
            if not tok:
                raise _EdnSyntaxError("'#' must be followed by a tag", m.start(group))
            if tok[1:] not in _SYMBOLIC:
                raise _EdnSyntaxError(f"unknown symbolic value #{tok}", m.start(group) + 1)
            value = _SYMBOLIC[tok[1:]]
        elif group == _CHAR:
            tok = m[_CHAR]
            value = _CHARACTERS.get(tok, tok)
        elif group == _END:
            break
        else:
            pos = m.start(group)
            if text[pos] == '"':
                raise _EdnSyntaxError("unterminated string", pos)
            raise _EdnSyntaxError("unexpected end of input", len(text))  # a lone backslash
        # A form is complete: a prefix takes it, else the innermost collection.
        while kind >= _DISCARD:
            stack.pop()
            n -= 1
            prefix = kind
            kind, items = stack[-1][0], stack[-1][1]
            if prefix == _DISCARD:
                break
        else:
            items.append(value)  # type: ignore[union-attr]
            if n == depth and noting:
                starts.append(start)  # type: ignore[union-attr]
    if n > 1:
        if stack[-1][2] is None:
            raise _EdnSyntaxError("unexpected end of input", len(text))
        raise _EdnSyntaxError(f"missing {stack[-1][2]!r}", len(text))
    return top


def is_keyword_name(name: str) -> bool:
    """True when `:name` is a keyword EDN allows."""
    return _KEYWORD_NAME.fullmatch(name) is not None


def hashable(value: Any) -> Any:
    """Map keys and set members must hash: vectors become tuples, maps sorted pairs, all the
    way down (a map whose values are vectors too). Values nest at most MAX_DEPTH deep."""
    if isinstance(value, list):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(((hashable(k), hashable(v)) for k, v in value.items()), key=repr))
    return value


def _line_of(text: str, pos: int) -> int:
    """The line of one position (for an error message only: it counts from the start)."""
    return text.count("\n", 0, pos) + 1


def parse_edn(text: str, max_depth: int | None = None) -> list[Any]:
    """Read every top-level EDN form in `text`.

    Args:
        text: EDN text.
        max_depth: how deep collections may nest (None: no limit; the reader keeps its
            own stack, but a set or map key nested past Python's recursion limit is not
            readable: hashing it recurses).

    Raises:
        HistoryError: the text is not EDN; the message names the line.
    """
    try:
        return _read(text, max_depth=max_depth)
    except _EdnSyntaxError as exc:
        raise HistoryError(f"line {_line_of(text, exc.pos)}: bad EDN: {exc}") from None


def read_forms(text: str, *, unwrap_vector: bool = False) -> list[tuple[int, Any]]:
    """Top-level EDN forms with the line each starts on, nested at most MAX_DEPTH deep.

    Args:
        text: EDN text.
        unwrap_vector: when the text is one vector or one list, give its
            elements (each with its own line) instead. Jepsen and Knossos write
            a history either way: one map per line, `[...]` or `(...)`.

    Raises:
        HistoryError: the text is not EDN; the message names the line.
    """
    starts: list[int] = []
    depth = 2 if unwrap_vector and _HISTORY_START.match(text) else 1
    try:
        items = _read(text, depth, starts)
    except _EdnSyntaxError as exc:
        raise HistoryError(f"line {_line_of(text, exc.pos)}: bad EDN: {exc}") from None
    if depth == 2:
        items = items[0]
    # Count newlines from one form to the next, not from the start each time:
    # counting from the start makes a long history quadratic to load.
    forms = []
    line, counted = 1, 0
    for pos, form in zip(starts, items, strict=True):
        line += text.count("\n", counted, pos)
        counted = pos
        forms.append((line, form))
    return forms
