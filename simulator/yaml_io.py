"""Strict YAML loading.

Plain PyYAML silently keeps the last of two duplicate keys and reads `1e-3` as a string (YAML 1.1
floats need a dot).  This loader rejects duplicates and reads exponent notation as floats; every
error names the file and the line.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from .errors import ConfigError

_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with duplicate-key rejection and exponent floats."""


# Replace the YAML 1.1 float resolver with one that also accepts 1e-3 and 1e9.
_StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:float"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _ch in "-+0123456789.":
    _StrictLoader.yaml_implicit_resolvers.setdefault(_ch, []).append(("tag:yaml.org,2002:float", _FLOAT))


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    # Check the keys written in this mapping before merging `<<: *anchor` keys in: a key written
    # here legitimately overrides a merged one, but a key written twice is a mistake.
    seen: dict = {}
    for key_node, _ in node.value:
        key = "<<" if key_node.tag == _MERGE_TAG else loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"unhashable key {key!r} (a key must be a plain value)", key_node.start_mark) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1}); "
                f"YAML would silently keep only the last value, so remove one", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def loads(text: str, source: str = "<string>"):
    """Parse YAML text strictly; raise ConfigError naming `source` and the line on any problem."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        raise ConfigError(source, [("", f"YAML error at {where}: {problem}{context}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [("", f"YAML error: {exc}")]) from None


def load_file(path: str | Path):
    """Read and strictly parse a YAML file.  Returns (data, text)."""
    text = read_text(path, "a YAML file")
    return loads(text, str(path)), text


def read_text(path: str | Path, what: str) -> str:
    """A config file's text; a missing, unreadable or non-UTF-8 file is a ConfigError naming it."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [("", "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), [("", f"is a directory, expected {what}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [("", f"cannot read: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                                           f"at offset {exc.start}); is this {what}?")]) from None
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read: {exc.strerror or exc}")]) from None
