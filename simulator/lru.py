"""A bounded memo, least recently used entry out first (the mapper's, the engine's and the
schedule's caches that outlive one hardware object), bounded by its number of entries and, where
they vary in size, by their weight (bytes, or tasks)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable


class Lru:
    """At most `size` entries and, with `weigh` (entry -> bytes), at most `max_bytes` in all (the
    newest entry is kept even when it alone is larger)."""

    def __init__(self, size: int, max_bytes: int | None = None, weigh: Callable[[Any], int] | None = None):
        self.size, self.max_bytes, self.weigh = size, max_bytes, weigh
        self.table: OrderedDict = OrderedDict()
        self.bytes = 0

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The entry of `key`, made by make() (and kept) when absent."""
        hit = self.find(key)
        if hit is None:
            hit = make()
            self.put(key, hit)
        return hit

    def find(self, key: Hashable) -> Any:
        """The entry of `key` (now the most recently used), or None."""
        hit = self.table.get(key)
        if hit is not None:
            self.table.move_to_end(key)
        return hit

    def put(self, key: Hashable, value: Any) -> None:
        """Keep `value` under `key` (in place of any entry there), then drop the least recently used
        entries beyond the bounds."""
        old = self.table.pop(key, None)
        if old is not None and self.weigh is not None:
            self.bytes -= self.weigh(old)
        self.table[key] = value
        if self.weigh is not None:
            self.bytes += self.weigh(value)
        while len(self.table) > 1 and (len(self.table) > self.size or
                                       (self.max_bytes is not None and self.bytes > self.max_bytes)):
            _, gone = self.table.popitem(last=False)
            if self.weigh is not None:
                self.bytes -= self.weigh(gone)

    def clear(self) -> None:
        self.table.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.table)
