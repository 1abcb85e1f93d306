"""EDN values and their reader, for the part of EDN that Jepsen histories use.

Enough of https://github.com/edn-format/edn for Jepsen histories: nil, booleans,
numbers (with `N`, `M` and ratios), strings, characters, keywords, symbols,
vectors, lists, maps, sets, `##Inf`/`##NaN`, `#_` discards and tagged
elements (the tag is dropped, the form kept). Keywords and symbols are read as
`Keyword` and `Symbol`: str subclasses whose form the writer
(sim/check/edn_writer.py) gives back.
"""

from __future__ import annotations

import math
import re
from typing import Any

from sim.errors import HistoryError

__all__ = [
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


_DELIMITERS = frozenset(' \t\r\n,()[]{}";')
_WHITESPACE = frozenset(" \t\r\n,")
_INT = re.compile(r"[+-]?\d+N?")
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?")
_RATIO = re.compile(r"[+-]?\d+/\d+")
_KEYWORD_NAME = re.compile(r"[A-Za-z*+!_?<>=$%&\-][\w*+!?<>=$%&\-.:/#']*")
_STRING_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_CHARACTERS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r"}


class _EdnSyntaxError(Exception):
    """Malformed EDN at a character position (turned into a HistoryError with the line)."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


class _EdnReader:
    """A recursive-descent reader over one text; `pos` is the next character to read."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        """Skip whitespace, commas (whitespace in EDN) and `;` comments."""
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c in _WHITESPACE:
                self.pos += 1
            elif c == ";":
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
            else:
                return

    def at_end(self) -> bool:
        """True when only whitespace and comments are left."""
        self.skip()
        return self.pos >= len(self.text)

    def token(self) -> str:
        """Read up to the next delimiter."""
        start = self.pos
        text, n = self.text, len(self.text)
        while self.pos < n and text[self.pos] not in _DELIMITERS:
            self.pos += 1
        return text[start : self.pos]

    def read(self) -> Any:
        """Read one form."""
        self.skip()
        if self.pos >= len(self.text):
            raise _EdnSyntaxError("unexpected end of input", self.pos)
        c = self.text[self.pos]
        if c == "{":
            self.pos += 1
            items = self.read_until("}")
            if len(items) % 2:
                raise _EdnSyntaxError("a map needs an even number of forms", self.pos)
            return {hashable(k): v for k, v in zip(items[::2], items[1::2], strict=True)}
        if c == "[":
            self.pos += 1
            return self.read_until("]")
        if c == "(":
            self.pos += 1
            return self.read_until(")")
        if c == '"':
            return self.read_string()
        if c == "#":
            return self.read_dispatch()
        if c == "\\":
            self.pos += 1
            name = self.token()
            if not name:  # a delimiter character such as \( or \space-less \,
                name = self.text[self.pos]
                self.pos += 1
            return _CHARACTERS.get(name, name)
        if c in ")]}":
            raise _EdnSyntaxError(f"unexpected {c!r}", self.pos)
        start = self.pos
        tok = self.token()
        return _atom(tok, start)

    def read_until(self, close: str | None, starts: list[int] | None = None) -> list[Any]:
        """Read forms up to the closing delimiter (None: to the end of the text).

        Args:
            close: the closing delimiter, or None for the top level.
            starts: when given, the position each form starts at is appended to it.
        """
        items = []
        while True:
            self.skip()
            if self.pos >= len(self.text):
                if close is None:
                    return items
                raise _EdnSyntaxError(f"missing {close!r}", self.pos)
            if self.text[self.pos] == close:
                self.pos += 1
                return items
            if starts is not None:
                starts.append(self.pos)
            items.append(self.read())

    def read_string(self) -> str:
        """Read a string literal, decoding the escapes EDN allows."""
        text, n = self.text, len(self.text)
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < n:
            c = text[self.pos]
            if c == '"':
                self.pos += 1
                return "".join(out)
            if c == "\\":
                esc = text[self.pos + 1 : self.pos + 2]
                if esc == "u":
                    digits = text[self.pos + 2 : self.pos + 6]
                    try:
                        out.append(chr(int(digits, 16)))
                    except ValueError:
                        raise _EdnSyntaxError(f"bad escape \\u{digits}", self.pos) from None
                    self.pos += 6
                    continue
                if esc not in _STRING_ESCAPES:
                    raise _EdnSyntaxError(f"bad escape \\{esc}", self.pos)
                out.append(_STRING_ESCAPES[esc])
                self.pos += 2
                continue
            out.append(c)
            self.pos += 1
        raise _EdnSyntaxError("unterminated string", start)

    def read_dispatch(self) -> Any:
        """Read a `#` form: set, discard, symbolic value or tagged element."""
        nxt = self.text[self.pos + 1 : self.pos + 2]
        if nxt == "{":
            self.pos += 2
            return frozenset(hashable(v) for v in self.read_until("}"))
        if nxt == "_":
            self.pos += 2
            self.read()  # #_ discards the next form
            return self.read()
        if nxt == "#":
            self.pos += 2
            start = self.pos
            name = self.token()
            values = {"Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
            if name not in values:
                raise _EdnSyntaxError(f"unknown symbolic value ##{name}", start)
            return values[name]
        # A tagged element (#inst "...", #jepsen.history.Op{...}): keep the form, drop the tag.
        self.pos += 1
        start = self.pos
        if not self.token():
            raise _EdnSyntaxError("'#' must be followed by a tag", start)
        return self.read()


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
        return int(tok.rstrip("N"))
    if _FLOAT.fullmatch(tok):
        return float(tok.rstrip("M"))
    if _RATIO.fullmatch(tok):
        num, den = tok.split("/")
        return int(num) / int(den)
    if tok[:1].isdigit() or (tok[:1] in "+-" and tok[1:2].isdigit()) or not tok:
        raise _EdnSyntaxError(f"bad token {tok!r}", pos)
    return Symbol(tok)


def is_keyword_name(name: str) -> bool:
    """True when `:name` is a keyword EDN allows."""
    return _KEYWORD_NAME.fullmatch(name) is not None


def hashable(value: Any) -> Any:
    """Map keys and set members must hash: vectors become tuples, maps sorted pairs."""
    if isinstance(value, list):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(value.items(), key=repr))
    return value


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def parse_edn(text: str) -> list[Any]:
    """Read every top-level EDN form in `text`.

    Raises:
        HistoryError: the text is not EDN; the message names the line.
    """
    return _read_top_level(text, unwrap_vector=False, starts=None)


def read_forms(text: str, *, unwrap_vector: bool = False) -> list[tuple[int, Any]]:
    """Top-level EDN forms with the line each starts on.

    Args:
        text: EDN text.
        unwrap_vector: when the text is one vector, give its elements (each with
            its own line) instead; Jepsen writes a history either way.

    Raises:
        HistoryError: the text is not EDN; the message names the line.
    """
    starts: list[int] = []
    items = _read_top_level(text, unwrap_vector, starts)
    # Count newlines from one form to the next, not from the start each time:
    # counting from the start makes a long history quadratic to load.
    forms = []
    line, counted = 1, 0
    for pos, form in zip(starts, items, strict=True):
        line += text.count("\n", counted, pos)
        counted = pos
        forms.append((line, form))
    return forms


def _read_top_level(text: str, unwrap_vector: bool, starts: list[int] | None) -> list[Any]:
    """The top-level forms (or one top-level vector's elements), noting their starts."""
    reader = _EdnReader(text)
    try:
        reader.skip()
        if unwrap_vector and text.startswith("[", reader.pos):
            reader.pos += 1
            items = reader.read_until("]", starts)
            if not reader.at_end():
                raise _EdnSyntaxError("text after the history vector", reader.pos)
            return items
        return reader.read_until(None, starts)
    except _EdnSyntaxError as exc:
        raise HistoryError(f"line {_line_of(text, exc.pos)}: bad EDN: {exc}") from None
