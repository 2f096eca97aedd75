"""Types and evaluation of sweep expressions (the AST of expr.py).

`infer` checks an expression once against the types its names can take at any point (arithmetic on
a string, ordering a boolean, a constraint that is not true/false are refused before anything
runs). `compile_expr` turns the AST into nested closures over a per-point list of values (constant
parts folded, so their errors are found once); what can only fail at some points (division by zero,
a result beyond int64 or not finite, sqrt or log2 out of domain) raises ExprError with the span of
the operator. Integers are Python ints, so nothing wraps; booleans are never numbers.
"""
from __future__ import annotations

import math
import operator

from .expr import Binary, Call, Compare, Const, ExprError, Logic, Name, Node, Unary, children

NUMBER = frozenset({"int", "float"})
INT_LIMIT = 2 ** 63 - 1                 # the simulator counts in int64
_WORDS = {"int": "a number", "float": "a number", "bool": "a boolean", "str": "a string", "list": "a list",
          "null": "null"}


def type_of(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "null" if value is None else "list"


def describe_types(types) -> str:
    words = list(dict.fromkeys(_WORDS[t] for t in sorted(types)))
    return " or ".join(words) if words else "nothing"


def show_value(value) -> str:
    """A value in a message: lists as a|b (as in the reports), long integers as powers of two."""
    if isinstance(value, list):
        return "|".join(map(str, value))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 15:
        sign, size = ("-" if value < 0 else ""), abs(value)
        exact = size & (size - 1) == 0
        return f"{sign}2**{size.bit_length() - 1}" if exact else f"about {sign}2**{math.log2(size):.1f}"
    return repr(value) if isinstance(value, str) else str(value)


# --- static types -----------------------------------------------------------------------------
def infer(node: Node, name_types) -> frozenset:
    """The set of types `node` can evaluate to; `name_types(Name)` gives a name's. ExprError when an
    operator cannot apply to what its operands can be."""
    if isinstance(node, Const):
        return frozenset({type_of(node.value)})
    if isinstance(node, Name):
        return frozenset(name_types(node))
    if isinstance(node, Unary):
        inner = infer(node.operand, name_types)
        if node.op == "not":
            _need(inner, {"bool"}, node.operand, "'not' needs true or false")
            return frozenset({"bool"})
        _need(inner, NUMBER, node.operand, f"unary '{node.op}' needs a number")
        return inner
    if isinstance(node, Binary):
        return _infer_binary(node, name_types)
    if isinstance(node, Compare):
        return _infer_compare(node, name_types)
    if isinstance(node, Logic):
        for operand in node.operands:
            _need(infer(operand, name_types), {"bool"}, operand, f"'{node.op}' needs true or false on both sides")
        return frozenset({"bool"})
    return _infer_call(node, name_types)


def _need(types, allowed, node: Node, what: str) -> None:
    bad = set(types) - set(allowed)
    if bad:
        verb = "is" if bad == set(types) else "can be"
        subject = f"{node.text} {verb}" if isinstance(node, Name) else f"this {verb}"
        raise ExprError(f"{what}; {subject} {describe_types(bad)}", node.start, node.end)


def _infer_binary(node: Binary, name_types) -> frozenset:
    left, right = infer(node.left, name_types), infer(node.right, name_types)
    for side, types in ((node.left, left), (node.right, right)):
        _need(types, NUMBER, side, f"'{node.op}' needs numbers on both sides")
    if node.op == "/":
        return frozenset({"float"})
    if node.op == "**" and "int" in left and "int" in right:
        exact = isinstance(node.right, Const) and node.right.value >= 0
        return frozenset({"int"} | ({"float"} if not exact or "float" in left | right else set()))
    return frozenset("int" if a == b == "int" else "float" for a in left for b in right)


def _infer_compare(node: Compare, name_types) -> frozenset:
    types = [infer(o, name_types) for o in node.operands]
    for op, (a, b), (sa, sb) in zip(node.ops, zip(types, types[1:]), zip(node.operands, node.operands[1:])):
        if op in ("==", "!="):
            if not _kinds(a) & _kinds(b):
                raise ExprError(f"'{op}' compares {describe_types(a)} with {describe_types(b)}: they are never "
                                f"equal", sa.start, sb.end)
            continue
        for side, t in ((sa, a), (sb, b)):
            _need(t, NUMBER, side, f"'{op}' orders numbers only")
    return frozenset({"bool"})


def _kinds(types) -> set:
    return {"number" if t in NUMBER else t for t in types}


def _infer_call(node: Call, name_types) -> frozenset:
    arity = (2, None) if node.func in ("min", "max") else (1, 1)
    if len(node.args) < arity[0] or (arity[1] is not None and len(node.args) > arity[1]):
        want = "at least two arguments" if arity[1] is None else "one argument"
        raise ExprError(f"{node.func}() takes {want}, got {len(node.args)}", node.start, node.end)
    types = [infer(a, name_types) for a in node.args]
    for arg, t in zip(node.args, types):
        _need(t, NUMBER, arg, f"{node.func}() needs numbers")
    if node.func in ("ceil", "floor"):
        return frozenset({"int"})
    if node.func in ("sqrt", "log2"):
        return frozenset({"float"})
    return frozenset().union(*types)


# --- evaluation -------------------------------------------------------------------------------
def compile_expr(node: Node, resolve):
    """A function env -> value for `node`. `resolve(Name)` gives ('const', value) or
    ('slot', index, path): the value is env[index], indexed by each element of `path` in turn."""
    is_const, value = _compile(node, resolve)
    if is_const:
        return lambda env: value
    return value


def _compile(node: Node, resolve):
    """(True, value) for a constant node (evaluated now), else (False, function of env)."""
    if isinstance(node, Const):
        return True, node.value
    if isinstance(node, Name):
        return _compile_name(node, resolve)
    parts = [_compile(child, resolve) for child in children(node)]
    run = _runner(node, [_constant(p[1]) if p[0] else p[1] for p in parts])
    if all(p[0] for p in parts):
        return True, run(None)
    return False, run


def _constant(value):
    return lambda env: value


def _compile_name(node: Name, resolve):
    found = resolve(node)
    if found[0] == "const":
        return True, found[1]
    _, index, path = found
    if not path:
        return False, lambda env: env[index]

    def indexed(env):
        value = env[index]
        for i in path:
            value = value[i]
        return value
    return False, indexed


def _runner(node: Node, fns):
    if isinstance(node, Unary):
        (f,) = fns
        if node.op == "not":
            return lambda env: not f(env)
        return (lambda env: checked(-f(env), node)) if node.op == "-" else f
    if isinstance(node, Binary):
        return _binary_runner(node, *fns)
    if isinstance(node, Compare):
        return _compare_runner(node, fns)
    if isinstance(node, Logic):
        if node.op == "and":
            return lambda env: all(f(env) for f in fns)
        return lambda env: any(f(env) for f in fns)
    func = _FUNCTIONS[node.func]
    return lambda env: func([f(env) for f in fns], node)


def _binary_runner(node: Binary, left, right):
    """+ - * inline (the common case, one call per node); the rest through their checked helpers."""
    how = _PLAIN.get(node.op)
    if how is None:
        op = _BINARY[node.op]
        return lambda env: op(left(env), right(env), node)
    span = (node.op_start, node.op_end)

    def run(env):
        value = how(left(env), right(env))
        if type(value) is int and -INT_LIMIT <= value <= INT_LIMIT:
            return value
        return checked(value, node, *span)
    return run


def _compare_runner(node: Compare, fns):
    ops = [_COMPARE[op] for op in node.ops]

    def run(env):
        left = fns[0](env)
        for op, f in zip(ops, fns[1:]):
            right = f(env)
            if not op(left, right):
                return False
            left = right
        return True
    return run


def checked(value, node: Node, start: int | None = None, end: int | None = None):
    """`value` if it is a finite float or an int within int64; else ExprError at the node (or span)."""
    where = (node.start, node.end) if start is None else (start, end)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExprError("the result is not a finite number", *where)
    elif isinstance(value, int) and not isinstance(value, bool) and not -INT_LIMIT <= value <= INT_LIMIT:
        raise ExprError(f"the result, {show_value(value)}, is outside the int64 range the simulator counts in "
                        f"(|x| < 2**63)", *where)
    return value


def _divide(how):
    def run(a, b, node):
        if b == 0:
            raise ExprError(f"division by zero ({show_value(a)} {node.op} 0)", node.op_start, node.op_end)
        return checked(how(a, b), node, node.op_start, node.op_end)
    return run


def _power(a, b, node: Binary):
    span = (node.op_start, node.op_end)
    if a == 0 and b < 0:
        raise ExprError("division by zero (0 to a negative power)", *span)
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1 and b * math.log2(abs(a)) > 64:
        # refused before computing: the exact power could take a long time and much memory
        raise ExprError(f"the result, about {'-' if a < 0 and b % 2 else ''}2**{b * math.log2(abs(a)):.1f}, is outside "
                        f"the int64 range the simulator counts in (|x| < 2**63)", *span)
    try:
        value = a ** b
    except OverflowError:
        raise ExprError("the result is not a finite number", *span) from None
    if isinstance(value, complex):
        raise ExprError(f"a negative number to a fractional power ({show_value(a)} ** {show_value(b)})", *span)
    return checked(value, node, *span)


def equal(a, b) -> bool:
    """Equality where a boolean never equals a number (True == 1 in Python)."""
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(equal, a, b))
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _domain(name: str, ok, how):
    def run(args, node):
        (x,) = args
        if not ok(x):
            raise ExprError(f"{name}() of {show_value(x)} is not defined", node.start, node.end)
        return checked(how(x), node)
    return run


_PLAIN = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_BINARY = {"/": _divide(operator.truediv), "//": _divide(operator.floordiv), "%": _divide(operator.mod), "**": _power}
_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b, "==": equal, "!=": lambda a, b: not equal(a, b)}
_FUNCTIONS = {
    "min": lambda args, node: min(args), "max": lambda args, node: max(args),
    "abs": lambda args, node: abs(args[0]),
    "ceil": lambda args, node: checked(math.ceil(args[0]), node),
    "floor": lambda args, node: checked(math.floor(args[0]), node),
    "sqrt": _domain("sqrt", lambda x: x >= 0, math.sqrt),
    "log2": _domain("log2", lambda x: x > 0, math.log2),
}
