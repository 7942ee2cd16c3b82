"""A small reader for Caffe's prototxt files (protobuf's text format).

Grammar (what Caffe's network and solver files use)::

    message := field*
    field   := NAME ":" value | NAME ":"? "{" message "}"
    value   := NUMBER | STRING | NAME            (NAME: an enum such as MAX, or true/false)

``#`` starts a comment; ``,`` and ``;`` between fields are allowed.  Every
field may repeat (``bottom: "a" bottom: "b"``), so a :class:`Message` keeps a
list per name.  Nothing is ever evaluated; a syntax error names the file,
line and column.  Nesting deeper than :data:`MAX_DEPTH` blocks is refused (Caffe's
files nest a handful of levels; a deeper file is a mistake or an attack on the
reader's stack).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterator

from minifw.errors import MinifwError

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)(?![A-Za-z_]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[:{}<>,;\[\]])
""", re.VERBOSE)


MAX_DEPTH = 100  # blocks inside blocks; Caffe's own files use at most 4 or 5
MAX_DIGITS = 400  # digits in one number: more than any float holds, well under Python's int parsing limit


class PrototxtError(MinifwError, ValueError):
    """A prototxt file cannot be read, or lacks something it needs."""


@dataclass
class Token:
    kind: str
    text: str
    line: int
    col: int


def _tokens(text: str, source: str) -> Iterator[Token]:
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            snippet = text[pos: pos + 10].split("\n")[0]
            raise PrototxtError(f"{source}:{line}:{pos - line_start + 1}: unexpected character(s) {snippet!r}")
        kind = m.lastgroup
        if kind != "ws":
            yield Token(kind, m.group(), line, pos - line_start + 1)
        nl = m.group().count("\n")
        if nl:
            line += nl
            line_start = m.start() + m.group().rfind("\n") + 1
        pos = m.end()


def _unquote(s: str) -> str:
    body = s[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class Message:
    """A parsed message: repeated fields by name, with the line each came from."""

    def __init__(self, name: str = "", line: int = 0, source: str = "<prototxt>", col: int = 0):
        self.name, self.line, self.col, self.source = name, line, col, source
        self.fields: dict[str, list[Any]] = {}
        self.lines: dict[str, list[int]] = {}
        self.cols: dict[str, list[int]] = {}

    def add(self, name: str, value: Any, line: int, col: int = 0) -> None:
        self.fields.setdefault(name, []).append(value)
        self.lines.setdefault(name, []).append(line)
        self.cols.setdefault(name, []).append(col)

    def has(self, name: str) -> bool:
        return name in self.fields

    def all(self, name: str) -> list:
        return list(self.fields.get(name, []))

    def get(self, name: str, default: Any = None) -> Any:
        vals = self.fields.get(name)
        return vals[-1] if vals else default

    def where(self, name: str | None = None, index: int = -1) -> str:
        """``file:line:column`` of field ``name`` (its ``index``-th occurrence; the last by default), or of
        this message when ``name`` is absent."""
        if name and name in self.lines:
            line, col = self.lines[name][index], self.cols[name][index]
        else:
            line, col = self.line, self.col
        return f"{self.source}:{line}:{col}" if col else f"{self.source}:{line}"

    def require(self, name: str, what: str = "") -> Any:
        if name not in self.fields:
            ctx = f" in {what}" if what else (f" in {self.name}" if self.name else "")
            raise PrototxtError(f"{self.where()}: missing required key {name!r}{ctx}")
        return self.fields[name][-1]

    def message(self, name: str) -> "Message":
        """A sub-message, or an empty one if absent."""
        v = self.get(name)
        if v is None:
            return Message(name, self.line, self.source, self.col)
        if not isinstance(v, Message):
            raise PrototxtError(f"{self.where(name)}: {name!r} should be a {{ ... }} block, got {v!r}")
        return v

    def number(self, name: str, default=None, kind=float, minimum=None, maximum=None, below=None):
        """The number ``name`` (finite, an integer when ``kind`` is int, at least ``minimum``, at most
        ``maximum``, less than ``below``), or an error naming the field and its ``file:line:column``."""
        if name not in self.fields:
            return None if default is None else kind(default)
        return _check_number(self.fields[name][-1], name, self.where(name), kind, minimum, maximum, below)

    def numbers(self, name: str, kind=float, minimum=None, maximum=None) -> list:
        """Every value of the repeated field ``name``, each checked as :meth:`number` checks one."""
        return [_check_number(v, name, self.where(name, i), kind, minimum, maximum, None)
                for i, v in enumerate(self.fields.get(name, []))]

    def string(self, name: str, default=None, required: str = ""):
        """The text of field ``name`` (a quoted string or an enum name such as MAX), or ``default``;
        ``required`` (what needs it) makes a missing field an error."""
        if name not in self.fields:
            if required:
                self.require(name, required)
            return default
        v = self.fields[name][-1]
        if not isinstance(v, str):
            raise PrototxtError(f"{self.where(name)}: {name!r} should be a string, got {_show(v)}")
        return v

    def strings(self, name: str) -> list[str]:
        """Every value of the repeated field ``name``, each a string."""
        out = []
        for i, v in enumerate(self.fields.get(name, [])):
            if not isinstance(v, str):
                raise PrototxtError(f"{self.where(name, i)}: {name!r} should be a string, got {_show(v)}")
            out.append(v)
        return out

    def flag(self, name: str, default: bool) -> bool:
        """The boolean field ``name`` (true/false), or ``default``."""
        if name not in self.fields:
            return default
        v = self.fields[name][-1]
        if not isinstance(v, bool):
            raise PrototxtError(f"{self.where(name)}: {name!r} should be true or false, got {_show(v)}")
        return v

    def __repr__(self) -> str:
        return f"<Message {self.name or '(top)'} {sorted(self.fields)}>"


def _show(v: Any) -> str:
    return f"a {{ ... }} block ({v.name!r})" if isinstance(v, Message) else repr(v)


def _check_number(v, name, where, kind, minimum, maximum, below):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PrototxtError(f"{where}: {name!r} should be a number, got {_show(v)}")
    if not math.isfinite(v):
        raise PrototxtError(f"{where}: {name!r} should be a finite number, got {v!r}")
    if kind is int and float(v) != int(v):
        raise PrototxtError(f"{where}: {name!r} should be an integer, got {v!r}")
    if minimum is not None and v < minimum:
        raise PrototxtError(f"{where}: {name!r} should be at least {minimum}, got {v!r}")
    if maximum is not None and v > maximum:
        raise PrototxtError(f"{where}: {name!r} should be at most {maximum}, got {v!r}")
    if below is not None and v >= below:
        raise PrototxtError(f"{where}: {name!r} should be less than {below}, got {v!r}")
    return kind(v)


def parse(text: str, source: str = "<prototxt>") -> Message:
    """Parse prototxt ``text``; ``source`` names the file in error messages."""
    if not isinstance(text, str):
        raise PrototxtError(f"{source}: prototxt text should be a str, got {type(text).__name__}")
    toks = list(_tokens(text, source))
    pos = 0

    def err(tok: Token | None, msg: str) -> PrototxtError:
        if tok is None:
            last = toks[-1] if toks else Token("", "", 1, 1)
            return PrototxtError(f"{source}:{last.line}:{last.col + len(last.text)}: {msg} (at the end of the file)")
        return PrototxtError(f"{source}:{tok.line}:{tok.col}: {msg}")

    def peek() -> Token | None:
        return toks[pos] if pos < len(toks) else None

    def value(tok: Token):
        if tok.kind == "string":
            s = _unquote(tok.text)
            nxt = peek()
            while nxt is not None and nxt.kind == "string":  # adjacent strings concatenate
                s += _unquote(nxt.text)
                advance()
                nxt = peek()
            return s
        if tok.kind == "number":
            t = tok.text
            if len(t) > MAX_DIGITS:
                raise err(tok, f"a number of {len(t)} characters is too long (at most {MAX_DIGITS})")
            return int(t) if re.fullmatch(r"[-+]?\d+", t) else float(t)
        if tok.kind == "name":
            return {"true": True, "false": False, "True": True, "False": False}.get(tok.text, tok.text)
        raise err(tok, f"expected a value, got {tok.text!r}")

    def advance() -> Token | None:
        nonlocal pos
        t = peek()
        pos += 1
        return t

    def body(msg: Message, closer: str | None, depth: int = 0) -> Message:
        while True:
            tok = advance()
            if tok is None:
                if closer is not None:
                    raise err(None, f"missing {closer!r} to close {msg.name!r} opened on line {msg.line}")
                return msg
            if tok.kind == "punct" and tok.text in ",;":
                continue
            if tok.kind == "punct" and tok.text == closer:
                return msg
            if tok.kind != "name":
                raise err(tok, f"expected a field name, got {tok.text!r}")
            nxt = advance()
            if nxt is not None and nxt.text == ":":
                after = peek()
                if after is not None and after.text in ("{", "<"):
                    nxt = advance()
                else:
                    v = advance()
                    if v is None:
                        raise err(None, f"expected a value after {tok.text!r}:")
                    if v.kind == "punct":
                        raise err(v, f"expected a value after {tok.text!r}:, got {v.text!r}")
                    msg.add(tok.text, value(v), tok.line, tok.col)
                    continue
            if nxt is not None and nxt.text in ("{", "<"):
                if depth >= MAX_DEPTH:
                    raise err(tok, f"{tok.text!r} opens a block nested more than {MAX_DEPTH} levels deep "
                                   f"(at most {MAX_DEPTH})")
                sub = Message(tok.text, tok.line, source, tok.col)
                body(sub, "}" if nxt.text == "{" else ">", depth + 1)
                msg.add(tok.text, sub, tok.line, tok.col)
                continue
            got = "the end of the file" if nxt is None else repr(nxt.text)
            raise err(nxt, f"expected ':' or '{{' after {tok.text!r}, got {got}")

    return body(Message("", 1, source, 1), None)


def parse_file(path) -> Message:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise PrototxtError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise PrototxtError(f"{path}: not a text file ({e.reason})") from None
    return parse(text, str(path))
