"""A least-recently-used memo that threads may share (the app's sessions and script runs share one
comparer): :class:`cachetools.LRUCache` behind a lock. A value is computed outside the lock, once:
a thread asking for a key that another thread is computing waits for that result (a prompt the
Compare page runs ahead is not run a second time by a click that comes before it is done)."""
from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Callable, Generic, Hashable, TypeVar

from cachetools import LRUCache

V = TypeVar("V")


class LockedLRU(Generic[V]):
    """``get_or_compute(key, compute)``: the memoized value of ``key``, computed on a miss."""

    def __init__(self, max_items: int) -> None:
        self._cache: LRUCache = LRUCache(maxsize=max_items)
        self._pending: dict[Hashable, Future] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            return self._cache.get(key)

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            value = self._cache.get(key)
            if value is not None:
                return value
            pending = self._pending.get(key)
            owner = pending is None
            if owner:
                pending = self._pending[key] = Future()
        if not owner:
            return pending.result()  # another thread computes it: wait for that
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                del self._pending[key]
            pending.set_exception(exc)
            raise
        with self._lock:
            self._cache[key] = value
            del self._pending[key]
        pending.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)
