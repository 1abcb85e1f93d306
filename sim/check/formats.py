"""History import and export: JSON lines, Jepsen EDN and Jepsen's log format, as lists of Op.

Three formats, one shape (`list[Op]` from sim/history.py):

- `jsonl`: capsim's own, one JSON object per line (`History.to_jsonl`).
- `edn`: Jepsen's history format, one map per op, e.g.
  `{:index 0, :process 0, :type :invoke, :f :read, :key "x", :value nil, :time 0}`.
  Read as one map per top-level form, or one top-level vector of maps; record
  tags (`#jepsen.history.Op{...}`) are accepted and ignored. Jepsen's `:time`
  is nanoseconds; an Op's is milliseconds, so it is divided by 10^6 on import
  and multiplied (then rounded to whole nanoseconds) on export. A map without
  `:time` gets its line number.
- `jepsen-log`: the lines Jepsen's `jepsen.util` logger prints while a test
  runs, e.g. `INFO  jepsen.util - 3<TAB>:invoke<TAB>:cas<TAB>[3 0]` (tabs and
  spaces mixed). Other lines are skipped. There is no key (key None) and no
  time (time = line number). A keyword in the value column of a fail or info
  line (`:info :write :timed-out`) is the error; the op then carries its
  invoke's value, as in Jepsen's EDN.

Jepsen's tools assume a process never invokes again after an `info` (Jepsen
retires the thread's process and gives it a new id). capsim keeps a client's
id, so `to_edn` renumbers like Jepsen: a process that continues after an info
becomes `id + n`, where n is one more than the largest integer process id
(Jepsen's concurrency when ids are 0..n-1), and again after each later info.
Parsing an exported history therefore gives the same ops with those new ids;
the checker's verdict is the same either way.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from sim.errors import HistoryError
from sim.history import INFO, INVOKE, NEMESIS, TYPES, History, Op

__all__ = [
    "FORMATS",
    "Keyword",
    "detect_format",
    "load_history",
    "parse_edn",
    "parse_history",
    "to_edn",
]

FORMATS = ("jsonl", "edn", "jepsen-log")
"""The formats parse_history reads (plus "auto", which picks one of them)."""


class Keyword(str):
    """An EDN keyword (`:timed-out`) read as a value; a str, written back as a keyword."""

    __slots__ = ()

    def __repr__(self) -> str:
        return ":" + self


class Symbol(str):
    """An EDN symbol other than nil, true and false; a str, written back bare."""

    __slots__ = ()


# ---------------------------------------------------------------------------
# EDN reader: enough of https://github.com/edn-format/edn for Jepsen histories.
# ---------------------------------------------------------------------------

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
            return {_hashable(k): v for k, v in zip(items[::2], items[1::2], strict=True)}
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

    def read_until(self, close: str) -> list[Any]:
        """Read forms up to the closing delimiter."""
        items = []
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise _EdnSyntaxError(f"missing {close!r}", self.pos)
            if self.text[self.pos] == close:
                self.pos += 1
                return items
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
            return frozenset(_hashable(v) for v in self.read_until("}"))
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
        if not _KEYWORD_NAME.fullmatch(tok[1:]):
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


def _hashable(value: Any) -> Any:
    """Map keys and set members must hash: vectors become tuples, maps sorted pairs."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
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
    return [form for _, form in _edn_forms(text)]


def _edn_forms(text: str) -> list[tuple[int, Any]]:
    """Top-level forms with the line each starts on."""
    reader = _EdnReader(text)
    forms = []
    try:
        while not reader.at_end():
            start = reader.pos
            forms.append((_line_of(text, start), reader.read()))
    except _EdnSyntaxError as exc:
        raise HistoryError(f"line {_line_of(text, exc.pos)}: bad EDN: {exc}") from None
    return forms


def _edn_op_forms(text: str) -> list[tuple[int, Any]]:
    """The op maps of an EDN history: top-level maps, or the elements of one top-level vector."""
    reader = _EdnReader(text)
    reader.skip()
    if reader.pos < len(text) and text[reader.pos] == "[":
        # One vector of maps: read its elements one by one to keep their lines.
        forms = []
        try:
            reader.pos += 1
            while True:
                reader.skip()
                if reader.pos >= len(text):
                    raise _EdnSyntaxError("missing ']'", reader.pos)
                if text[reader.pos] == "]":
                    reader.pos += 1
                    break
                start = reader.pos
                forms.append((_line_of(text, start), reader.read()))
            if not reader.at_end():
                raise _EdnSyntaxError("text after the history vector", reader.pos)
        except _EdnSyntaxError as exc:
            raise HistoryError(f"line {_line_of(text, exc.pos)}: bad EDN: {exc}") from None
        return forms
    return _edn_forms(text)


def _name(value: Any) -> str | None:
    """A keyword, symbol or string as a plain str; anything else None."""
    return str(value) if isinstance(value, str) else None


def _op_from_edn(form: Any, line: int) -> Op:
    """One Jepsen op map as an Op."""
    if not isinstance(form, dict):
        raise HistoryError(f"line {line}: expected an op map {{:process .. :type ..}}")
    if "process" not in form or "type" not in form or "f" not in form:
        missing = [k for k in ("process", "type", "f") if k not in form]
        raise HistoryError(f"line {line}: op map has no {', '.join(':' + k for k in missing)}")
    process = form["process"]
    if isinstance(process, str):
        process = str(process)
    elif isinstance(process, bool) or not isinstance(process, int):
        raise HistoryError(
            f"line {line}: :process must be an integer or a keyword (got {process!r})"
        )
    op_type = _name(form["type"])
    if op_type not in TYPES:
        raise HistoryError(
            f"line {line}: :type must be one of :invoke, :ok, :fail, :info (got {form['type']!r})"
        )
    f = _name(form["f"])
    if f is None:
        raise HistoryError(f"line {line}: :f must be a keyword (got {form['f']!r})")
    raw_time = form.get("time")
    if raw_time is None:
        time_ms = float(line)
    elif isinstance(raw_time, int | float) and not isinstance(raw_time, bool):
        time_ms = raw_time / 1e6  # Jepsen's :time is nanoseconds
    else:
        raise HistoryError(f"line {line}: :time must be a number (got {raw_time!r})")
    error = form.get("error")
    if error is not None and not isinstance(error, str):
        error = _edn(error)
    elif error is not None:
        error = str(error)
    key = form.get("key")
    return Op(
        process,
        op_type,
        f,
        _hashable(key),
        form.get("value"),
        time_ms,
        error,
        form.get("version"),
    )


def _parse_edn_history(text: str) -> list[Op]:
    return [_op_from_edn(form, line) for line, form in _edn_op_forms(text)]


# ---------------------------------------------------------------------------
# EDN writer.
# ---------------------------------------------------------------------------


def _edn_string(s: str) -> str:
    return (
        '"'
        + s.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
        + '"'
    )


def _edn_name(s: str) -> str:
    """A name as a keyword when EDN allows it, else as a string."""
    return ":" + s if _KEYWORD_NAME.fullmatch(s) else _edn_string(s)


def _edn(value: Any) -> str:
    """One value as EDN text."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Keyword):
        return _edn_name(value)
    if isinstance(value, Symbol):
        return str(value)
    if isinstance(value, str):
        return _edn_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "##NaN"
        if math.isinf(value):
            return "##Inf" if value > 0 else "##-Inf"
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(_edn(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_edn(k)} {_edn(v)}" for k, v in value.items()) + "}"
    if isinstance(value, set | frozenset):
        return "#{" + " ".join(sorted(_edn(v) for v in value)) + "}"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as EDN")


def to_edn(ops: list[Op] | History) -> str:
    """Jepsen EDN for a history: one op map per line, keys in a fixed order.

    Processes that invoke again after an `info` are renumbered as Jepsen does
    (see the module docstring), so Jepsen's checkers can read the result.

    Raises:
        HistoryError: a value has no EDN form (the message names the op).
    """
    ops = list(ops)
    ints = [op.process for op in ops if isinstance(op.process, int)]
    n = max(ints, default=-1) + 1  # Jepsen's concurrency, when ids are 0..n-1
    current: dict[int, int] = {}  # process -> id its next invoke gets
    opened: dict[tuple[int, str], int] = {}  # (process, f) -> id its invoke got
    lines = []
    for index, op in enumerate(ops):
        process: Any = op.process
        if isinstance(process, int):
            if op.type == INVOKE:
                pid = current.get(process, process)
                opened[(process, op.f)] = pid
            else:
                pid = opened.pop((process, op.f), current.get(process, process))
                if op.type == INFO:
                    # Jepsen: a process whose op crashed never invokes again; its
                    # thread continues as process + concurrency.
                    current[process] = current.get(process, process) + n
            process = pid
        else:
            process = Keyword(process) if _KEYWORD_NAME.fullmatch(process) else process
        fields = [
            f":index {index}",
            f":process {_edn(process)}",
            f":type :{op.type}",
            f":f {_edn_name(op.f)}",
        ]
        try:
            fields.append(f":key {_edn(op.key)}")
            fields.append(f":value {_edn(op.value)}")
            fields.append(f":time {round(op.time * 1e6)}")  # Jepsen's :time is nanoseconds
            if op.error is not None:
                fields.append(f":error {_edn_name(op.error)}")
            if op.version is not None:
                fields.append(f":version {_edn(op.version)}")
        except TypeError as exc:
            raise HistoryError(f"op {index + 1}: {exc}") from None
        lines.append("{" + ", ".join(fields) + "}\n")
    return "".join(lines)


# ---------------------------------------------------------------------------
# Jepsen's log format.
# ---------------------------------------------------------------------------

_LOG_OP = re.compile(
    r"jepsen\.util\s+-\s+(?P<process>\d+|:[^\s]+)\s+(?P<type>:\S+)\s+(?P<f>:\S+)"
    r"(?:\s+(?P<value>.*?))?\s*$"
)


def _parse_jepsen_log(text: str) -> list[Op]:
    """Ops from the jepsen.util lines of a Jepsen log (see the module docstring)."""
    ops: list[Op] = []
    invoked: dict[Any, Any] = {}  # process -> value of its open invoke
    seen_text = False
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        seen_text = True
        m = _LOG_OP.search(line)
        if m is None:
            continue  # another logger's line
        raw_process, raw_type, f = m["process"], m["type"][1:], m["f"][1:]
        process: int | str = int(raw_process) if raw_process.isdigit() else raw_process[1:]
        if raw_type not in TYPES:
            if process == NEMESIS or not isinstance(process, int):
                continue  # e.g. a nemesis message that is not an op
            raise HistoryError(
                f"line {lineno}: type must be one of :invoke, :ok, :fail, :info (got :{raw_type})"
            )
        value: Any = None
        if m["value"]:
            try:
                forms = parse_edn(m["value"])
            except HistoryError as exc:
                raise HistoryError(f"line {lineno}: bad value {m['value']!r} ({exc})") from None
            if len(forms) != 1:
                raise HistoryError(f"line {lineno}: expected one value (got {m['value']!r})")
            value = forms[0]
        error = None
        if raw_type == INVOKE:
            invoked[process] = value
        else:
            opened_value = invoked.pop(process, None)
            if raw_type in ("fail", "info") and isinstance(value, Keyword):
                # `:info :write :timed-out`: the keyword is the error, not the value.
                error, value = str(value), opened_value
        ops.append(Op(process, raw_type, f, None, value, float(lineno), error))
    if seen_text and not ops:
        raise HistoryError(
            "line 1: no Jepsen op lines (expected 'INFO jepsen.util - PROCESS :TYPE :F VALUE')"
        )
    return ops


# ---------------------------------------------------------------------------
# JSON lines, detection, entry points.
# ---------------------------------------------------------------------------


def _parse_jsonl(text: str) -> list[Op]:
    ops = History.from_jsonl(text).ops
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    for op, line in zip(ops, lines, strict=True):
        if op.type not in TYPES:
            raise HistoryError(
                f"line {line}: type must be one of {', '.join(TYPES)} (got {op.type!r})"
            )
        if not isinstance(op.f, str):
            raise HistoryError(f"line {line}: f must be a string (got {op.f!r})")
        if isinstance(op.process, bool) or not isinstance(op.process, int | str):
            raise HistoryError(
                f"line {line}: process must be an integer or a string (got {op.process!r})"
            )
    return ops


def detect_format(text: str) -> str:
    """Guess a history's format from its text: "jsonl", "edn" or "jepsen-log".

    Raises:
        HistoryError: no format fits.
    """
    lines = text.splitlines()
    for lineno, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith("{"):
            try:
                return "jsonl" if isinstance(json.loads(stripped), dict) else "edn"
            except ValueError:
                return "edn"
        if stripped.startswith(("[", "#")):
            return "edn"
        if any(_LOG_OP.search(rest) for rest in lines[lineno - 1 :]):
            return "jepsen-log"
        raise HistoryError(
            f"line {lineno}: cannot tell the history's format "
            f"(expected JSON lines, Jepsen EDN or a Jepsen log; pass the format)"
        )
    return "jsonl"  # empty: an empty history in any format


_PARSERS = {"jsonl": _parse_jsonl, "edn": _parse_edn_history, "jepsen-log": _parse_jepsen_log}


def parse_history(text: str, format: str = "auto") -> list[Op]:
    """Parse a history from text.

    Args:
        text: the history.
        format: "auto" (detect_format), "jsonl", "edn" or "jepsen-log".

    Raises:
        HistoryError: the format is unknown or the text is malformed (names the line).
    """
    if format == "auto":
        format = detect_format(text)
    parser = _PARSERS.get(format)
    if parser is None:
        raise HistoryError(f"format: must be one of auto, {', '.join(FORMATS)} (got {format!r})")
    return parser(text)


def load_history(path: str | Path, format: str = "auto") -> list[Op]:
    """Read and parse a history file.

    Raises:
        HistoryError: the file cannot be read or is malformed.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise HistoryError(f"{path}: not a UTF-8 text file") from None
    try:
        return parse_history(text, format)
    except HistoryError as exc:
        raise HistoryError(f"{path}: {exc}") from None
