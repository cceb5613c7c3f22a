"""The shared LRU memo: least recently used out first, computed once per key, safe across threads."""
from __future__ import annotations

import threading

import pytest

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


def test_a_key_being_computed_is_waited_for_not_computed_again():
    memo: LockedLRU[str] = LockedLRU(4)
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow():
        calls.append(1)
        started.set()
        assert release.wait(10)
        return "value"

    results = []
    first = threading.Thread(target=lambda: results.append(memo.get_or_compute("k", slow)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: results.append(memo.get_or_compute("k", slow)))
    second.start()
    second.join(0.2)
    assert second.is_alive(), "the second caller waits for the first one's value"
    release.set()
    first.join(10)
    second.join(10)
    assert results == ["value", "value"] and calls == [1]


def test_a_failed_computation_is_raised_and_not_kept():
    memo: LockedLRU[str] = LockedLRU(4)

    def boom():
        raise RuntimeError("no model")

    with pytest.raises(RuntimeError, match="no model"):
        memo.get_or_compute("k", boom)
    assert memo.get_or_compute("k", lambda: "later") == "later"
