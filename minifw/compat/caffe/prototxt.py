"""A small reader for Caffe's prototxt files (protobuf's text format).

Grammar (what Caffe's network and solver files use)::

    message := field*
    field   := NAME ":" value | NAME ":"? "{" message "}"
    value   := NUMBER | STRING | NAME            (NAME: an enum such as MAX, or true/false)

``#`` starts a comment; ``,`` and ``;`` between fields are allowed.  Every
field may repeat (``bottom: "a" bottom: "b"``), so a :class:`Message` keeps a
list per name.  Nothing is ever evaluated; a syntax error names the file,
line and column.
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

    def __init__(self, name: str = "", line: int = 0, source: str = "<prototxt>"):
        self.name, self.line, self.source = name, line, source
        self.fields: dict[str, list[Any]] = {}
        self.lines: dict[str, list[int]] = {}

    def add(self, name: str, value: Any, line: int) -> None:
        self.fields.setdefault(name, []).append(value)
        self.lines.setdefault(name, []).append(line)

    def has(self, name: str) -> bool:
        return name in self.fields

    def all(self, name: str) -> list:
        return list(self.fields.get(name, []))

    def get(self, name: str, default: Any = None) -> Any:
        vals = self.fields.get(name)
        return vals[-1] if vals else default

    def where(self, name: str | None = None) -> str:
        line = self.lines[name][-1] if name and name in self.lines else self.line
        return f"{self.source}:{line}"

    def require(self, name: str, what: str = "") -> Any:
        if name not in self.fields:
            ctx = f" in {what}" if what else (f" in {self.name}" if self.name else "")
            raise PrototxtError(f"{self.where()}: missing required key {name!r}{ctx}")
        return self.fields[name][-1]

    def message(self, name: str) -> "Message":
        """A sub-message, or an empty one if absent."""
        v = self.get(name)
        if v is None:
            return Message(name, self.line, self.source)
        if not isinstance(v, Message):
            raise PrototxtError(f"{self.where(name)}: {name!r} should be a {{ ... }} block, got {v!r}")
        return v

    def number(self, name: str, default=None, kind=float, minimum=None):
        """The number ``name`` (finite, an integer when ``kind`` is int, at least ``minimum``), or the error's line."""
        v = self.get(name, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise PrototxtError(f"{self.where(name)}: {name!r} should be a number, got {v!r}")
        if not math.isfinite(v):
            raise PrototxtError(f"{self.where(name)}: {name!r} should be a finite number, got {v!r}")
        if kind is int and float(v) != int(v):
            raise PrototxtError(f"{self.where(name)}: {name!r} should be an integer, got {v!r}")
        if minimum is not None and v < minimum:
            raise PrototxtError(f"{self.where(name)}: {name!r} should be at least {minimum}, got {v!r}")
        return kind(v)

    def __repr__(self) -> str:
        return f"<Message {self.name or '(top)'} {sorted(self.fields)}>"


def parse(text: str, source: str = "<prototxt>") -> Message:
    """Parse prototxt ``text``; ``source`` names the file in error messages."""
    toks = list(_tokens(text, source))
    pos = 0

    def err(tok: Token | None, msg: str) -> PrototxtError:
        if tok is None:
            last = toks[-1] if toks else Token("", "", 1, 1)
            return PrototxtError(f"{source}:{last.line}: {msg} (at the end of the file)")
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
            return int(t) if re.fullmatch(r"[-+]?\d+", t) else float(t)
        if tok.kind == "name":
            return {"true": True, "false": False, "True": True, "False": False}.get(tok.text, tok.text)
        raise err(tok, f"expected a value, got {tok.text!r}")

    def advance() -> Token | None:
        nonlocal pos
        t = peek()
        pos += 1
        return t

    def body(msg: Message, closer: str | None) -> Message:
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
                    msg.add(tok.text, value(v), tok.line)
                    continue
            if nxt is not None and nxt.text in ("{", "<"):
                sub = Message(tok.text, tok.line, source)
                body(sub, "}" if nxt.text == "{" else ">")
                msg.add(tok.text, sub, tok.line)
                continue
            got = "the end of the file" if nxt is None else repr(nxt.text)
            raise err(nxt, f"expected ':' or '{{' after {tok.text!r}, got {got}")

    return body(Message("", 1, source), None)


def parse_file(path) -> Message:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise PrototxtError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise PrototxtError(f"{path}: not a text file ({e.reason})") from None
    return parse(text, str(path))
