"""Strict YAML loading.

Plain PyYAML silently keeps the last of two duplicate keys and reads `1e-3` as a string (YAML 1.1
floats need a dot).  This loader rejects duplicates and reads exponent notation as floats; every
error names the file and the line.

Hostile input is refused before it can hurt (limits.py): only regular files are read (a FIFO or a
device would block or never end), at most MAX_FILE_BYTES of them; nesting deeper than
MAX_YAML_DEPTH (PyYAML composes recursively) and more than MAX_YAML_NODES values (aliases
counted in full) are refused with the line; an integer of more than MAX_INT_DIGITS digits becomes a
checks.HugeInteger that the key holding it refuses; any value PyYAML cannot build (a date like
2024-13-45) is a YAML error at its line.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import yaml

from .checks import HugeInteger, short as _short
from .errors import ConfigError
from .limits import MAX_FILE_BYTES, MAX_INT_DIGITS, MAX_YAML_DEPTH, MAX_YAML_NODES

_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with duplicate-key rejection, exponent floats and bounded nesting and size."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._sizes: dict[int, int] = {}     # id(node) -> values in its subtree (for aliases)

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            self._count(self._sizes.get(id(node), 1), mark)
            return node
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_YAML_DEPTH} levels deep (mappings and lists)",
                    self.peek_event().start_mark)
            before = self._nodes
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            self._count(1, mark)
            self._sizes[id(node)] = self._nodes - before
            return node
        finally:
            self._depth -= 1

    def _count(self, n: int, mark) -> None:
        self._nodes += n
        if self._nodes > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"more than {MAX_YAML_NODES:,} values (each use of an alias counts its whole "
                            f"value)", mark)

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, TypeError) as exc:   # e.g. a date like 2024-13-45
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {str(exc)[:200]}", node.start_mark) from None


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
                None, None, f"unhashable key {_short(repr(key))} (a key must be a plain value)", key_node.start_mark) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {_short(repr(key))} (first at line {seen[key] + 1}); "
                f"YAML would silently keep only the last value, so remove one", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _construct_int(loader: _StrictLoader, node: yaml.ScalarNode):
    text = loader.construct_scalar(node)
    if sum(c.isdigit() for c in text) > MAX_INT_DIGITS:
        return HugeInteger(text)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


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
        raise ConfigError(source, [("", f"YAML error: {str(exc)[:300]}")]) from None
    except RecursionError:       # cannot happen with the depth limit; never a traceback if it does
        raise ConfigError(source, [("", f"YAML error: nested too deeply (at most {MAX_YAML_DEPTH} "
                                        f"levels)")]) from None


def load_file(path: str | Path):
    """Read and strictly parse a YAML file (a regular file of at most MAX_FILE_BYTES).
    Returns (data, text)."""
    text = read_text(path, "a YAML file")
    return loads(text, str(path)), text


def read_text(path: str | Path, what: str) -> str:
    """A config file's text (a regular file of at most MAX_FILE_BYTES); a missing, unreadable,
    oversized or non-UTF-8 file is a ConfigError naming it."""
    try:
        raw = read_limited(path)
    except ConfigError:
        raise
    except FileNotFoundError:
        raise ConfigError(str(path), [("", "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), [("", f"is a directory, expected {what}")]) from None
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [("", f"cannot read: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                                           f"at offset {exc.start}); is this {what}?")]) from None
    return text


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def read_limited(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; ConfigError otherwise. The file is
    opened without blocking (a FIFO would wait for a writer) and checked again once open."""
    path = str(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            if what == "a directory":
                raise IsADirectoryError(path)
            raise ConfigError(path, [("", f"is {what}, not a regular file; only regular files are read")])
        if info.st_size > limit:
            raise ConfigError(path, [("", _too_big(info.st_size, limit))])
        chunks, size = [], 0
        while True:                        # read to the end, but never more than the limit
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise ConfigError(path, [("", _too_big(size, limit, growing=True))])
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_big(size: int, limit: int, growing: bool = False) -> str:
    return (f"{'grew past' if growing else 'is'} {size / 2 ** 20:.2f} MiB{' while being read' if growing else ''}; "
            f"configuration files are limited to {limit // 2 ** 20} MiB (is this the right file?)")
