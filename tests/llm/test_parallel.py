"""Single-row decoding streams stepped side by side on the decode pool."""
from __future__ import annotations

import threading

import torch

from persona_core.llm.parallel import decode_pool, lockstep


def _stream(texts: list[str], seen: list[tuple[str, int]]):
    for t in texts:
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        yield [t]


def test_lockstep_yields_one_piece_per_stream_until_all_are_done():
    seen: list[tuple[str, int]] = []
    steps = list(lockstep([_stream(["a", "b", "c"], seen), _stream(["x"], seen)]))
    assert steps == [["a", "x"], ["b", ""], ["c", ""]]
    assert all(name.startswith("decode-row") for name, _ in seen)  # every step ran on the pool


def test_decode_pool_threads_share_the_torch_threads_and_the_caller_keeps_its_own():
    before = torch.get_num_threads()
    pool = decode_pool()
    assert decode_pool() is pool
    counts = {f.result() for f in [pool.submit(torch.get_num_threads) for _ in range(4)]}
    assert counts == {max(1, before // 2)}
    assert torch.get_num_threads() == before
    seen = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert seen == [before]  # threads made later (another app session) are not slowed


def test_a_stream_error_reaches_the_caller():
    def broken():
        yield ["ok"]
        raise RuntimeError("model failed")

    steps = lockstep([broken(), iter([["a"], ["b"]])])
    assert next(steps) == ["ok", "a"]
    try:
        next(steps)
    except RuntimeError as exc:
        assert "model failed" in str(exc)
    else:
        raise AssertionError("the error was swallowed")
