"""A least-recently-used memo that threads may share (the app's sessions share one comparer):
:class:`cachetools.LRUCache` behind a lock. The value is computed outside the lock, so two
threads may both compute a missing value; the second one's is kept."""
from __future__ import annotations

import threading
from typing import Callable, Generic, Hashable, TypeVar

from cachetools import LRUCache

V = TypeVar("V")


class LockedLRU(Generic[V]):
    """``get_or_compute(key, compute)``: the memoized value of ``key``, computed on a miss."""

    def __init__(self, max_items: int) -> None:
        self._cache: LRUCache = LRUCache(maxsize=max_items)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            return self._cache.get(key)

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = compute()
            with self._lock:
                self._cache[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)
