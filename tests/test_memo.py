"""The shared LRU memo: least recently used out first, computed once per key, safe across threads."""
from __future__ import annotations

import threading

from persona_core.memo import LockedLRU


def test_the_least_recently_used_key_goes_first_and_a_hit_computes_nothing():
    memo: LockedLRU[str] = LockedLRU(2)
    calls = []

    def compute(key):
        calls.append(key)
        return key.upper()

    assert memo.get_or_compute("a", lambda: compute("a")) == "A"
    assert memo.get_or_compute("b", lambda: compute("b")) == "B"
    assert memo.get_or_compute("a", lambda: compute("a")) == "A"  # a hit, and "a" is now the recent one
    memo.get_or_compute("c", lambda: compute("c"))  # pushes out "b"
    assert calls == ["a", "b", "c"] and len(memo) == 2
    assert memo.get("b") is None and memo.get("a") == "A"
    memo.clear()
    assert memo.get("a") is None and len(memo) == 0


def test_threads_share_it_without_losing_entries_or_breaking_the_limit():
    memo: LockedLRU[int] = LockedLRU(16)
    errors = []

    def work(offset):
        try:
            for i in range(2000):
                key = (offset + i) % 40
                assert memo.get_or_compute(key, lambda: key * 2) == key * 2
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 7,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(memo) == 16
