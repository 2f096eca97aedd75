"""The sweep file's expression language: parsed once into a small AST, never handed to Python's eval.

    expr       := or
    or         := and ('or' and)*
    and        := not ('and' not)*
    not        := 'not' not | comparison
    comparison := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)*     (chained: a < b <= c)
    sum        := product (('+' | '-') product)*
    product    := unary (('*' | '/' | '//' | '%') unary)*
    unary      := ('-' | '+') unary | power
    power      := atom ('**' unary)?                                      (right-associative)
    atom       := number | 'string' | true | false | dotted.key[0] | function '(' expr, ... ')' | '(' expr ')'

Types, evaluation and the per-point checks are in calc.py; which names exist is decided by the
sweep file (formulas.py). Every error carries the span of the offending text for a caret.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

FUNCTIONS = ("min", "max", "abs", "ceil", "floor", "sqrt", "log2")
KEYWORDS = {"and", "or", "not", "true", "false", "True", "False"}
_COMPARE = ("<", "<=", ">", ">=", "==", "!=")
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<name>[A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*)
  | (?P<op>\*\*|//|<=|>=|==|!=|[-+*/%<>(),])
""", re.X)
_HINTS = {"=>": ">=", "=<": "<=", "=": "==", "!": "not", "&": "and", "|": "or", "^": "**", "&&": "and",
          "||": "or"}


class ExprError(Exception):
    """A problem with an expression; `start:end` is the offending text (for the caret)."""

    def __init__(self, message: str, start: int = 0, end: int | None = None):
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = max(end if end is not None else start + 1, start + 1)

    def __reduce__(self):
        return type(self), (self.message, self.start, self.end)

    def caret(self, text: str, indent: str = "      ") -> str:
        """The expression with ^ under the offending part, as two lines."""
        start = min(self.start, len(text))
        end = min(max(self.end, start + 1), len(text) + 1)
        return f"{indent}{text}\n{indent}{' ' * start}{'^' * (end - start)}"


# --- the AST ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    start: int
    end: int


@dataclass(frozen=True)
class Const(Node):
    value: object               # int, float, bool or str


@dataclass(frozen=True)
class Name(Node):
    text: str                   # a dotted key such as memories[0].size_bytes, or area_mm2


@dataclass(frozen=True)
class Unary(Node):
    op: str                     # '-', '+' or 'not'
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str                     # + - * / // % **
    left: Node
    right: Node
    op_start: int
    op_end: int


@dataclass(frozen=True)
class Compare(Node):
    ops: tuple                  # comparison operators, one fewer than the operands
    operands: tuple
    op_spans: tuple             # ((start, end), ...) of each operator


@dataclass(frozen=True)
class Logic(Node):
    op: str                     # 'and' or 'or'
    operands: tuple


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple


# --- tokens and the parser --------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: str                   # number, string, name, op, end
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            two = text[pos:pos + 2]
            bad = two if two in _HINTS else text[pos]
            if bad in ("'", '"'):
                raise ExprError(f"unclosed string: add the closing {bad}", pos)
            hint = f" (did you mean '{_HINTS[bad]}'?)" if bad in _HINTS else ""
            raise ExprError(f"unexpected character {bad!r}{hint}", pos, pos + len(bad))
        if m.lastgroup != "space":
            tokens.append(Token(m.lastgroup, m.group(), m.start(), m.end()))
        pos = m.end()
    tokens.append(Token("end", "", len(text), len(text)))
    return tokens


def parse(text: str) -> Node:
    """The AST of `text`; ExprError (with the span of the offending token) when it is not an expression."""
    if not text.strip():
        raise ExprError("empty expression", 0)
    parser = _Parser(tokenize(text))
    node = parser.expr()
    tok = parser.peek()
    if tok.kind != "end":
        raise ExprError(f"expected an operator or the end of the expression, got {_shown(tok)}", tok.start, tok.end)
    return node


def _shown(tok: Token) -> str:
    return "the end of the expression" if tok.kind == "end" else repr(tok.text)


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, *texts: str) -> bool:
        tok = self.peek()
        return tok.kind in ("op", "name") and tok.text in texts

    def expect(self, text: str, what: str) -> Token:
        tok = self.peek()
        if tok.kind == "op" and tok.text == text:
            return self.take()
        raise ExprError(f"expected {what}, got {_shown(tok)}", tok.start, tok.end)

    def expr(self) -> Node:
        return self.logic("or", self.and_)

    def and_(self) -> Node:
        return self.logic("and", self.not_)

    def logic(self, op: str, inner) -> Node:
        operands = [inner()]
        while self.at(op) and self.peek().kind == "name":
            self.take()
            operands.append(inner())
        if len(operands) == 1:
            return operands[0]
        return Logic(operands[0].start, operands[-1].end, op, tuple(operands))

    def not_(self) -> Node:
        if self.at("not") and self.peek().kind == "name":
            tok = self.take()
            operand = self.not_()
            return Unary(tok.start, operand.end, "not", operand)
        return self.comparison()

    def comparison(self) -> Node:
        operands, ops, spans = [self.sum()], [], []
        while self.peek().kind == "op" and self.peek().text in _COMPARE:
            tok = self.take()
            ops.append(tok.text)
            spans.append((tok.start, tok.end))
            operands.append(self.sum())
        if not ops:
            return operands[0]
        return Compare(operands[0].start, operands[-1].end, tuple(ops), tuple(operands), tuple(spans))

    def binary_level(self, ops: tuple, inner) -> Node:
        node = inner()
        while self.peek().kind == "op" and self.peek().text in ops:
            tok = self.take()
            right = inner()
            node = Binary(node.start, right.end, tok.text, node, right, tok.start, tok.end)
        return node

    def sum(self) -> Node:
        return self.binary_level(("+", "-"), self.product)

    def product(self) -> Node:
        return self.binary_level(("*", "/", "//", "%"), self.unary)

    def unary(self) -> Node:
        if self.peek().kind == "op" and self.peek().text in ("-", "+"):
            tok = self.take()
            operand = self.unary()
            return Unary(tok.start, operand.end, tok.text, operand)
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.peek().kind == "op" and self.peek().text == "**":
            tok = self.take()
            exponent = self.unary()
            return Binary(base.start, exponent.end, "**", base, exponent, tok.start, tok.end)
        return base

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            return Const(tok.start, tok.end, _number(tok))
        if tok.kind == "string":
            return Const(tok.start, tok.end, tok.text[1:-1])
        if tok.kind == "op" and tok.text == "(":
            inner = self.expr()
            close = self.expect(")", "')' to close the '(' at column " + str(tok.start + 1))
            return _respan(inner, tok.start, close.end)
        if tok.kind == "name":
            return self.name(tok)
        raise ExprError(f"expected a number, a key or '(', got {_shown(tok)}", tok.start, tok.end)

    def name(self, tok: Token) -> Node:
        if tok.text in ("true", "True", "false", "False"):
            return Const(tok.start, tok.end, tok.text in ("true", "True"))
        if tok.text in KEYWORDS:
            raise ExprError(f"expected a number, a key or '(', got {tok.text!r}", tok.start, tok.end)
        if self.peek().kind == "op" and self.peek().text == "(":
            if tok.text not in FUNCTIONS:
                raise ExprError(f"unknown function {tok.text!r} (functions: {', '.join(FUNCTIONS)})",
                                tok.start, tok.end)
            self.take()
            args = [self.expr()]
            while self.peek().kind == "op" and self.peek().text == ",":
                self.take()
                args.append(self.expr())
            close = self.expect(")", f"',' or ')' to close {tok.text}(")
            return Call(tok.start, close.end, tok.text, tuple(args))
        return Name(tok.start, tok.end, tok.text)


def _number(tok: Token):
    digits = tok.text.replace("_", "")
    try:
        return int(digits) if re.fullmatch(r"\d+", digits) else float(digits)
    except ValueError:
        raise ExprError(f"not a number: {tok.text!r}", tok.start, tok.end) from None


def _respan(node: Node, start: int, end: int) -> Node:
    """A parenthesised node keeps its meaning; its span includes the parentheses."""
    fields = {k: getattr(node, k) for k in node.__dataclass_fields__}
    return type(node)(**{**fields, "start": start, "end": end})


# --- walking the AST --------------------------------------------------------------------------
def children(node: Node) -> tuple:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, (Compare, Logic)):
        return node.operands
    if isinstance(node, Call):
        return node.args
    return ()


def names(node: Node) -> list[Name]:
    """Every Name in `node`, left to right."""
    if isinstance(node, Name):
        return [node]
    return [n for child in children(node) for n in names(child)]


def unparse(node: Node) -> str:
    """A canonical, fully parenthesised text of `node` (spacing and redundant parentheses do not
    change it), for the sweep's fingerprint."""
    if isinstance(node, Const):
        return repr(node.value)
    if isinstance(node, Name):
        return node.text
    if isinstance(node, Unary):
        return f"({node.op}{' ' if node.op == 'not' else ''}{unparse(node.operand)})"
    if isinstance(node, Binary):
        return f"({unparse(node.left)} {node.op} {unparse(node.right)})"
    if isinstance(node, Compare):
        text = unparse(node.operands[0])
        for op, operand in zip(node.ops, node.operands[1:]):
            text += f" {op} {unparse(operand)}"
        return f"({text})"
    if isinstance(node, Logic):
        return "(" + f" {node.op} ".join(unparse(o) for o in node.operands) + ")"
    return f"{node.func}({', '.join(unparse(a) for a in node.args)})"
