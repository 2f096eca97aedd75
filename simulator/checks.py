"""Collect every validation problem of one file, each with its key path.

Only `from_dict` functions use this: parse at the edge, then trust types.
"""
from __future__ import annotations

import difflib
import math
from typing import Any, Iterable

from .errors import ConfigError
from .limits import MAX_PROBLEMS_SHOWN, MAX_VALUE_CHARS, FieldLimit

_MISSING = object()


class HugeInteger:
    """A YAML integer with more digits than limits.MAX_INT_DIGITS: kept as text so that no
    conversion can fail, and refused by whichever key holds it."""

    def __init__(self, text: str):
        self.text = text
        self.digits = sum(c.isdigit() for c in text)

    def __repr__(self) -> str:
        return f"a {self.digits}-digit integer ({self.text[:20]}...)"


def short(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """`text` cut to about `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit - 20]}... ({len(text):,} characters)"


def describe(value: Any, text_expected: bool = False) -> str:
    """How a found value is shown in a message (`text_expected`: the slot wants a string); never
    longer than about MAX_VALUE_CHARS characters."""
    if isinstance(value, bool):
        advice = ", so quote the word if you mean text" if text_expected else ""
        return f"{value} (a boolean: YAML reads unquoted yes/no/on/off/true/false as booleans{advice})"
    if isinstance(value, str):
        return repr(value) if len(value) <= MAX_VALUE_CHARS else \
            f"{value[:MAX_VALUE_CHARS - 20]!r}... ({len(value):,} characters)"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and value.bit_length() > 3 * MAX_VALUE_CHARS:
        return _long_integer(value)
    return short(repr(value))


def _long_integer(value: int) -> str:
    """'a 5000-digit integer (12345678901234567890...)' without str(value): Python refuses to
    convert integers of more than 4300 digits to text."""
    magnitude = abs(value)
    digits = int(magnitude.bit_length() * 0.30102999566398)     # floor(log10) or one less
    while 10 ** digits <= magnitude:
        digits += 1
    lead = magnitude // 10 ** (digits - 20)
    return f"a {digits}-digit integer ({'-' if value < 0 else ''}{lead}...)"


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Checker:
    """Accumulates (key_path, message) problems; `raise_if_any` turns them into one ConfigError.

    Only the first MAX_PROBLEMS_SHOWN problems are kept (a message may be a callable, evaluated
    only when kept: a did-you-mean costs time); `count` is every problem found."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[tuple[str, str]] = []
        self.count = 0

    def add(self, path: str, message) -> None:
        self.count += 1
        if len(self.problems) < MAX_PROBLEMS_SHOWN:
            self.problems.append((path, message() if callable(message) else message))

    def raise_if_any(self) -> None:
        if self.count:
            raise ConfigError(self.source, self.problems, more=self.count - len(self.problems))

    # --- structure -------------------------------------------------------------------------
    def mapping(self, path: str, value: Any, required: Iterable[str], optional: Iterable[str] = ()):
        """Check a mapping's keys; return it (or {} when it is not a mapping)."""
        required = list(required)
        allowed = required + list(optional)
        if not isinstance(value, dict):
            if path:
                self.add(path, f"expected a mapping, got {describe(value)}")
            elif value is None:
                self.add(path, f"the file is empty; expected a mapping with the keys {', '.join(required)}")
            else:
                self.add(path, f"expected a mapping with the keys {', '.join(required)} at the top level, "
                               f"got {describe(value)}")
            return {}
        for key in value:
            if key not in allowed:
                self.add(join(path, short(str(key))), lambda key=key: unknown_key_message(str(key), allowed))
        for key in required:
            if key not in value:
                self.add(join(path, key), "missing key")
        return value

    def sequence(self, path: str, value: Any, min_len: int = 0, what: str = "entries") -> list:
        """Check a list (of at least `min_len` `what`); return it (or [] when it is not a list)."""
        if not isinstance(value, list):
            self.add(path, f"expected a list of {what}, got {describe(value)}")
            return []
        if len(value) < min_len:
            if min_len == 1:
                self.add(path, f"expected a non-empty list of {what}, got an empty list")
            else:
                self.add(path, f"expected a list of at least {min_len} {what}, got {len(value)}")
        return value

    # --- scalars (each returns None when the value is wrong) --------------------------------
    def integer(self, path: str, value: Any, minimum: int | None = None, maximum: int | None = None):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
            else:
                self.add(path, f"expected an integer{_range_text(minimum, maximum)}, got {describe(value)}")
                return None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.add(path, f"expected an integer{_range_text(minimum, maximum)}, got {describe(value)}")
            return None
        return value

    def number(self, path: str, value: Any, minimum: float | None = None, positive: bool = False,
               maximum: float | None = None):
        """A finite number (ints of any size are compared exactly, never converted first)."""
        ok = not isinstance(value, bool) and isinstance(value, (int, float))
        if ok and isinstance(value, float):
            ok = math.isfinite(value)
        if ok:
            ok = not ((positive and value <= 0) or (minimum is not None and value < minimum)
                      or (maximum is not None and value > maximum))
        if not ok:
            self.add(path, f"expected {_number_text(minimum, maximum, positive)}, got {describe(value)}")
            return None
        return float(value)

    def field(self, path: str, value: Any, limit: FieldLimit):
        """A hardware field checked against its documented range (limits.HW_FIELDS)."""
        if limit.integer:
            return self.integer(path, value, minimum=int(limit.minimum), maximum=int(limit.maximum))
        return self.number(path, value, minimum=limit.minimum, maximum=limit.maximum)

    def choice(self, path: str, value: Any, choices: Iterable[str]):
        choices = list(choices)
        if not isinstance(value, str) or value not in choices:
            hint = ""
            if isinstance(value, str) and len(value) <= MAX_VALUE_CHARS:
                close = [c for c in choices if c.lower() == value.strip().lower()]
                close = close or difflib.get_close_matches(value, choices, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.add(path, f"expected one of {', '.join(choices)}; got {describe(value, True)}{hint}")
            return None
        return value

    def boolean(self, path: str, value: Any):
        if not isinstance(value, bool):
            self.add(path, f"expected true or false, got {describe(value)}")
            return None
        return value

    def string(self, path: str, value: Any):
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"expected a non-empty string, got {describe(value, True)}")
            return None
        return value


def unknown_key_message(key: str, allowed: Iterable[str]) -> str:
    """'unknown key (did you mean ...?)', or the allowed keys when none is close."""
    allowed = list(allowed)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6) if len(key) <= MAX_VALUE_CHARS else []
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    return f"unknown key (allowed keys: {', '.join(allowed)})" if allowed else "unknown key"


def _number_text(minimum, maximum, positive: bool) -> str:
    if positive and minimum is None:
        return "a positive number" + (f" <= {maximum:g}" if maximum is not None else "")
    if minimum is not None and maximum is not None:
        return f"a number in [{minimum:g}, {maximum:g}]"
    return ("a number" + (f" >= {minimum:g}" if minimum is not None else "")
            + (f" <= {maximum:g}" if maximum is not None else ""))


def _range_text(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{_bound_text(minimum)}, {_bound_text(maximum)}]"
    if minimum is not None:
        return f" >= {_bound_text(minimum)}"
    if maximum is not None:
        return f" <= {_bound_text(maximum)}"
    return ""


def _bound_text(value: int) -> str:
    """Large limits as powers of two (2^40, 2^63-1), as limits.py writes them."""
    if value < 0:
        return "-" + _bound_text(-value)
    for offset, suffix in ((0, ""), (1, "-1")):
        v = value + offset
        if value >= 2 ** 20 and v & (v - 1) == 0:
            return f"2^{v.bit_length() - 1}{suffix}"
    return str(value)
