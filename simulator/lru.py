"""A bounded memo, least recently used entry out first (the mapper's and the engine's caches that
outlive one hardware object)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable


class Lru:
    def __init__(self, size: int):
        self.size = size
        self.table: OrderedDict = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The entry of `key`, made by make() (and kept) when absent."""
        hit = self.table.get(key)
        if hit is None:
            hit = self.table[key] = make()
            if len(self.table) > self.size:
                self.table.popitem(last=False)
        else:
            self.table.move_to_end(key)
        return hit

    def clear(self) -> None:
        self.table.clear()

    def __len__(self) -> int:
        return len(self.table)
