"""A small, safe parser for expressions typed by people (never ``eval``).

Grammar (Python's precedence; ``^`` is accepted for ``**``)::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("-" | "+") unary | power
    power   := atom (("**" | "^") unary)?          right-associative
    atom    := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

Names are variables, the constants ``pi`` and ``e``, or functions from the
primitive registry (``sin cos tan exp ln/log sqrt tanh sigmoid relu abs``...).
Errors say what was expected and point at the column (1-based).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from minifw.errors import MinifwError
from minifw.registry import _REGISTRY

CONSTANTS = {"pi": math.pi, "e": math.e}
ALIASES = {"ln": "log", "max": "maximum", "min": "minimum"}


def functions() -> dict[str, object]:
    """Callable names -> primitive: every elementwise unary/binary primitive
    with a scalar function, plus the aliases (``ln``, ``max``, ``min``)."""
    out = {p.name: p for p in _REGISTRY.values() if p.kind in ("unary", "binary") and p.scalar is not None}
    for alias, name in ALIASES.items():
        if name in _REGISTRY:
            out[alias] = _REGISTRY[name]
    return out


class ExprError(MinifwError, ValueError):
    """A problem with an expression, located at ``column`` (1-based) of ``text``."""

    def __init__(self, message: str, text: str = "", column: int | None = None):
        self.message, self.text, self.column = message, text, column
        where = f" at column {column}" if column is not None else ""
        super().__init__(f"{message}{where}" + (f": {text!r}" if text else ""))

    def pointer(self) -> str:
        """Two lines: the text and a caret under the column."""
        if self.column is None:
            return self.text
        return f"{self.text}\n{' ' * (self.column - 1)}^"


class ExprSyntaxError(ExprError):
    """The text does not follow the grammar."""


class UnknownNameError(ExprError):
    """A function or variable that does not exist (with the closest known one)."""


def suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- AST --------------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    value: float
    col: int
    text: str = ""


@dataclass(frozen=True)
class Var:
    name: str
    col: int


@dataclass(frozen=True)
class Call:
    """A primitive applied to arguments (operators are calls too)."""

    prim: str  # registry name
    args: tuple
    col: int
    fname: str = ""  # as typed, for messages


Node = Num | Var | Call

# --- tokens -------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
                    r"|(?P<op>\*\*|[-+*/^(),]))")


@dataclass(frozen=True)
class Tok:
    kind: str  # num, name, op, end
    text: str
    col: int


def tokenize(text: str) -> list[Tok]:
    toks, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            toks.append(Tok("end", "", pos + 1))
            return toks
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprSyntaxError(f"unexpected character {text[pos]!r}", text, pos + 1)
        kind = m.lastgroup
        start = m.start(kind)
        toks.append(Tok(kind, m.group(kind), start + 1))
        pos = m.end()


MAX_DEPTH = 100
"""How deeply an expression may nest; deeper input is refused with its column (not a RecursionError)."""


class Parser:
    def __init__(self, text: str):
        if not isinstance(text, str):
            raise TypeError(f"an expression must be a string, got {type(text).__name__}")
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0
        self.funcs = functions()

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def _describe(self, t: Tok) -> str:
        return "the end of the input" if t.kind == "end" else repr(t.text)

    def error(self, expected: str, t: Tok | None = None) -> ExprSyntaxError:
        t = t or self.tok
        hint = ""
        if t.kind in ("num", "name") and expected.startswith("an operator"):
            hint = " (write 2*x, not 2x or 2 x)"
        return ExprSyntaxError(f"expected {expected} but found {self._describe(t)}{hint}", self.text, t.col)

    def eat(self, text: str) -> bool:
        if self.tok.kind == "op" and self.tok.text == text:
            self.i += 1
            return True
        return False

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise ExprSyntaxError("expected an expression but the input is empty", self.text, 1)
        node = self.expr()
        if self.tok.kind != "end":
            if self.tok.text == ")":
                raise ExprSyntaxError("unbalanced ')': no '(' before it", self.text, self.tok.col)
            raise self.error("an operator (+ - * / **) or the end of the input")
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.tok.kind == "op" and self.tok.text in "+-" and self.tok.text:
            t = self.tok
            self.i += 1
            node = Call("add" if t.text == "+" else "sub", (node, self.term()), t.col, t.text)
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/"):
            t = self.tok
            self.i += 1
            node = Call("mul" if t.text == "*" else "div", (node, self.unary()), t.col, t.text)
        return node

    def unary(self) -> Node:
        # Every way to nest (parentheses, calls, signs, powers) passes here: bounding the depth keeps the
        # recursive descent far from Python's recursion limit; flat sums and products do not nest.
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise ExprSyntaxError(f"the expression nests deeper than {MAX_DEPTH} levels (parentheses, calls, "
                                      f"signs or powers)", self.text, self.tok.col)
            return self._unary()
        finally:
            self.depth -= 1

    def _unary(self) -> Node:
        t = self.tok
        if self.eat("-"):
            operand = self.unary()
            if isinstance(operand, Num):  # -2 is a number, not an operation
                return Num(-operand.value, t.col, "-" + operand.text)
            return Call("neg", (operand,), t.col, "-")
        if self.eat("+"):
            return self.unary()
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        t = self.tok
        if self.eat("**") or self.eat("^"):
            exponent = self.unary()
            if isinstance(exponent, Num) and exponent.value == 2:
                return Call("square", (base,), t.col, t.text)
            return Call("pow", (base, exponent), t.col, t.text)
        return base

    def atom(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.i += 1
            value = float(t.text)
            if math.isinf(value):
                raise ExprSyntaxError(f"the number {t.text} is too large for a float (it would be inf)", self.text,
                                      t.col)
            return Num(value, t.col, t.text)
        if t.kind == "name":
            self.i += 1
            if self.eat("("):
                return self.call(t)
            if t.text in self.funcs:
                raise ExprSyntaxError(f"expected '(' after the function {t.text!r}", self.text, self.tok.col)
            if t.text in CONSTANTS:
                return Num(CONSTANTS[t.text], t.col, t.text)
            return Var(t.text, t.col)
        if self.eat("("):
            node = self.expr()
            if not self.eat(")"):
                raise self.error("')' to close the '(' at column %d" % t.col)
            return node
        raise self.error("a number, a name or '('")

    def call(self, name: Tok) -> Node:
        prim = self.funcs.get(name.text)
        if prim is None:
            raise UnknownNameError(f"unknown function {name.text!r}{suggest(name.text, self.funcs)}", self.text,
                                   name.col)
        args = [self.expr()]
        while self.eat(","):
            args.append(self.expr())
        if not self.eat(")"):
            raise self.error(f"',' or ')' to close {name.text}(")
        if len(args) != prim.nin:
            raise ExprSyntaxError(f"{name.text} takes {prim.nin} argument{'s' if prim.nin > 1 else ''}, "
                                  f"got {len(args)}", self.text, name.col)
        return Call(prim.name, tuple(args), name.col, name.text)


def parse_ast(text: str) -> Node:
    return Parser(text).parse()


__all__ = ["parse_ast", "tokenize", "Num", "Var", "Call", "ExprError", "ExprSyntaxError", "UnknownNameError",
           "CONSTANTS", "ALIASES", "functions", "suggest"]
