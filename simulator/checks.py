"""Collect every validation problem of one file, each with its key path.

Only `from_dict` functions use this: parse at the edge, then trust types.
"""
from __future__ import annotations

import difflib
import math
from typing import Any, Iterable

from .errors import ConfigError

_MISSING = object()


def describe(value: Any, text_expected: bool = False) -> str:
    """How a found value is shown in a message (`text_expected`: the slot wants a string)."""
    if isinstance(value, bool):
        advice = ", so quote the word if you mean text" if text_expected else ""
        return f"{value} (a boolean: YAML reads unquoted yes/no/on/off/true/false as booleans{advice})"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Checker:
    """Accumulates (key_path, message) problems; `raise_if_any` turns them into one ConfigError."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.source, self.problems)

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
                self.add(join(path, str(key)), unknown_key_message(str(key), allowed))
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
            if isinstance(value, float) and value.is_integer() and math.isfinite(value):
                value = int(value)
            else:
                self.add(path, f"expected an integer{_range_text(minimum, maximum)}, got {describe(value)}")
                return None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.add(path, f"expected an integer{_range_text(minimum, maximum)}, got {value}")
            return None
        return value

    def number(self, path: str, value: Any, minimum: float | None = None, positive: bool = False):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            what = "a positive number" if positive else "a number" + (f" >= {minimum:g}" if minimum is not None else "")
            self.add(path, f"expected {what}, got {describe(value)}")
            return None
        if positive and value <= 0:
            self.add(path, f"expected a positive number, got {value!r}")
            return None
        if minimum is not None and value < minimum:
            self.add(path, f"expected a number >= {minimum:g}, got {value!r}")
            return None
        return float(value)

    def choice(self, path: str, value: Any, choices: Iterable[str]):
        choices = list(choices)
        if not isinstance(value, str) or value not in choices:
            hint = ""
            if isinstance(value, str):
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
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    return f"unknown key (allowed keys: {', '.join(allowed)})" if allowed else "unknown key"


def _range_text(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""
