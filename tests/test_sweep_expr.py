"""The sweep expression language (simulator/sweep/expr.py, calc.py) on its own.

Oracle: Python itself. Random well-typed expressions are rendered as text that means the same in
Python and in the sweep language (same precedence, same operators, True/False), then evaluated by
the package and by Python's eval (here, in the test, never in the package); they must agree,
including on which expressions fail (a division by zero in Python is an ExprError in the package).
"""
from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from simulator.sweep.calc import compile_expr, infer, type_of
from simulator.sweep.expr import ExprError, parse, unparse

NAMES = {"x": 7, "y": -3, "z": 2.5, "w": 0, "flag": True}
ORACLE_GLOBALS = {"__builtins__": {}, "min": min, "max": max, "abs": abs, "ceil": math.ceil, "floor": math.floor,
                  "sqrt": math.sqrt, "log2": math.log2, **NAMES}


def run(text: str, names: dict = NAMES):
    node = parse(text)
    slots = list(names)
    infer(node, lambda n: {type_of(names[n.text])})
    fn = compile_expr(node, lambda n: ("slot", slots.index(n.text), ()))
    return fn([names[k] for k in slots])


# --- random expressions against Python --------------------------------------------------------
LEAVES = st.one_of(st.integers(-40, 40).map(str), st.sampled_from(["x", "y", "z", "w", "0", "2.5", "0.5", "1e2"]))


def _extend(sub):
    return st.one_of(
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "//", "%"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),   # precedence
        st.tuples(sub, st.sampled_from(["0", "1", "2"])).map(lambda t: f"({t[0]}) ** {t[1]}"),
        sub.map(lambda s: f"-{s}"),
        st.tuples(st.sampled_from(["min", "max"]), st.lists(sub, min_size=2, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(st.sampled_from(["abs", "ceil", "floor"]), sub).map(lambda t: f"{t[0]}({t[1]})"),
    )


def numbers(max_leaves: int):
    """Numeric expressions of up to `max_leaves` leaves. The leaves are small, so results beyond int64
    (which the package refuses and Python computes) are rare; when Python's result is beyond it, the
    package must refuse too."""
    return st.recursive(LEAVES, _extend, max_leaves=max_leaves)


def booleans(max_leaves: int):
    compare = st.tuples(numbers(max_leaves), st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), numbers(max_leaves),
                        st.sampled_from(["", " < 100"])).map(lambda t: f"{t[0]} {t[1]} {t[2]}{t[3]}")
    leaf = st.one_of(compare, st.sampled_from(["true", "false", "flag"]))
    sub = st.one_of(leaf, leaf.map(lambda s: f"({s})"))
    return st.one_of(leaf, st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(" ".join),
                     sub.map(lambda s: f"not {s}"))


def python_value(text: str):
    """Python's value of the same text, or the exception it raises."""
    py = text.replace("true", "True").replace("false", "False")
    try:
        return eval(py, ORACLE_GLOBALS)  # noqa: S307 - the test's oracle, on generated text only
    except (ZeroDivisionError, OverflowError, ValueError) as exc:
        return exc


def agrees(text: str) -> None:
    want = python_value(text)
    if isinstance(want, Exception) or (isinstance(want, float) and not math.isfinite(want)) or \
            (isinstance(want, int) and abs(want) >= 2 ** 63):
        with pytest.raises(ExprError):
            run(text)
        return
    got = run(text)
    assert type(got) is type(want), (text, got, want)
    assert got == want, (text, got, want)


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(numbers(10))
def test_arithmetic_agrees_with_python(text):
    agrees(text)


@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(booleans(4))
def test_comparisons_and_logic_agree_with_python(text):
    agrees(text)


@pytest.mark.parametrize("text, value", [
    ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("2 ** 3 ** 2", 512), ("-2 ** 2", -4), ("2 ** -1", 0.5),
    ("7 // 2", 3), ("-7 // 2", -4), ("7 % -3", -2), ("7 / 2", 3.5), ("1 < 2 < 3", True), ("3 > 2 > 2", False),
    ("not 1 > 2 and 2 > 1", True), ("1_024 * 2", 2048), ("1e3", 1000.0), (".5 + 1", 1.5), ("ceil(2.1)", 3),
    ("floor(-2.1)", -3), ("sqrt(16)", 4.0), ("log2(1024)", 10.0), ("max(1, 2.5, 2)", 2.5), ("'ws' == 'ws'", True),
    ("true != false", True), ("x * 2 == 14", True),
])
def test_values(text, value):
    got = run(text)
    assert got == value and type(got) is type(value)


def test_booleans_are_not_numbers_in_equality():
    assert run("flag == true") is True
    with pytest.raises(ExprError, match="'==' compares a boolean with a number: they are never equal"):
        run("flag == 1")


# --- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message, caret", [
    ("", "empty expression", "^"),
    ("2 +", "expected a number, a key or '(', got the end of the expression", "   ^"),
    ("(2 + 3", "expected ')' to close the '(' at column 1, got the end of the expression", "      ^"),
    ("2 3", "expected an operator or the end of the expression, got '3'", "  ^"),
    ("x = 2", "unexpected character '=' (did you mean '=='?)", "  ^"),
    ("x => 2", "unexpected character '=>' (did you mean '>='?)", "  ^^"),
    ("x ^ 2", "unexpected character '^' (did you mean '**'?)", "  ^"),
    ("x && y", "unexpected character '&&' (did you mean 'and'?)", "  ^^"),
    ("'abc", "unclosed string: add the closing '", "^"),
    ("mix(1, 2)", "unknown function 'mix' (functions: min, max, abs, ceil, floor, sqrt, log2)", "^^^"),
    ("min(1, 2", "expected ',' or ')' to close min(, got the end of the expression", "        ^"),
    ("2 * and", "expected a number, a key or '(', got 'and'", "    ^^^"),
])
def test_syntax_errors_point_at_the_token(text, message, caret):
    with pytest.raises(ExprError) as info:
        parse(text)
    assert info.value.message == message
    assert info.value.caret(text, indent="").split("\n") == [text, caret]


@pytest.mark.parametrize("text, message, caret", [
    ("2 * 'ws'", "'*' needs numbers on both sides; this is a string", "    ^^^^"),
    ("flag + 1", "'+' needs numbers on both sides; flag is a boolean", "^^^^"),
    ("'a' < 'b'", "'<' orders numbers only; this is a string", "^^^"),
    ("x == 'ws'", "'==' compares a number with a string: they are never equal", "^^^^^^^^^"),
    ("x and flag", "'and' needs true or false on both sides; x is a number", "^"),
    ("not x", "'not' needs true or false; x is a number", "    ^"),
    ("-flag", "unary '-' needs a number; flag is a boolean", " ^^^^"),
    ("min(x)", "min() takes at least two arguments, got 1", "^^^^^^"),
    ("sqrt(1, 2)", "sqrt() takes one argument, got 2", "^^^^^^^^^^"),
    ("abs('a')", "abs() needs numbers; this is a string", "    ^^^"),
])
def test_type_errors_are_found_before_evaluation(text, message, caret):
    with pytest.raises(ExprError) as info:
        infer(parse(text), lambda n: {type_of(NAMES[n.text])})
    assert info.value.message == message
    assert info.value.caret(text, indent="").split("\n")[1] == caret


def test_a_name_that_can_be_a_number_or_a_string():
    with pytest.raises(ExprError, match=r"'\*' needs numbers on both sides; d can be a string"):
        infer(parse("2 * d"), lambda n: {"int", "str"})


@pytest.mark.parametrize("text, names, message, caret", [
    ("x / w", {}, "division by zero (7 / 0)", "  ^"),
    ("x // (w * 2)", {}, "division by zero (7 // 0)", "  ^^"),
    ("x % w", {}, "division by zero (7 % 0)", "  ^"),
    ("w ** -1", {}, "division by zero (0 to a negative power)", "  ^^"),
    ("x ** 40", {}, "the result, about 2**112.3, is outside the int64 range the simulator counts in (|x| < 2**63)",
     "  ^^"),
    ("y ** 41", {}, "the result, about -2**65.0, is outside the int64 range the simulator counts in (|x| < 2**63)",
     "  ^^"),
    ("2 ** (x * 9)", {}, "the result, 2**63, is outside the int64 range the simulator counts in (|x| < 2**63)",
     "  ^^"),
    ("x * 2 ** 62", {}, "the result, about 2**64.8, is outside the int64 range the simulator counts in (|x| < 2**63)",
     "  ^"),
    ("z ** 1000.0", {}, "the result is not a finite number", "  ^^"),
    ("z * 1e308", {}, "the result is not a finite number", "  ^"),
    ("y ** 0.5", {}, "a negative number to a fractional power (-3 ** 0.5)", "  ^^"),
    ("sqrt(y)", {}, "sqrt() of -3 is not defined", "^^^^^^^"),
    ("log2(w)", {}, "log2() of 0 is not defined", "^^^^^^^"),
    ("ceil(z * 1e300)", {}, "the result, about 2**997.9, is outside the int64 range the simulator counts in "
                            "(|x| < 2**63)", "^^^^^^^^^^^^^^^"),
])
def test_errors_that_depend_on_the_values(text, names, message, caret):
    with pytest.raises(ExprError) as info:
        run(text, {**NAMES, **names})
    assert info.value.message == message
    assert info.value.caret(text, indent="").split("\n")[1] == caret


def test_constant_parts_fail_once_when_compiled():
    with pytest.raises(ExprError, match=r"division by zero \(1 / 0\)"):
        compile_expr(parse("x + 1 / 0"), lambda n: ("slot", 0, ()))


def test_short_circuit_guards_the_right_side():
    assert run("w != 0 and x / w > 1") is False
    assert run("w == 0 or x / w > 1") is True


def test_canonical_text_ignores_spacing_and_redundant_parentheses():
    assert unparse(parse("2*mac_array.cols")) == unparse(parse("(2 * (mac_array.cols))"))
    assert unparse(parse("2 * a + b")) != unparse(parse("2 * (a + b)"))


def test_errors_survive_pickling():
    err = pickle.loads(pickle.dumps(ExprError("boom", 3, 5)))
    assert (err.message, err.start, err.end) == ("boom", 3, 5)
