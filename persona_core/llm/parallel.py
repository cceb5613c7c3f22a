"""Decoding a few single-row streams side by side, each in its own thread.

A comparison's two rows can decode as two batch-1 streams, each on its own core and stepped in
lockstep, the steered one on a copy of the model with the adapter merged in
(``Comparer(parallel_rows=True)``). On a CPU that costs about 1.2-1.25x one row alone; since
small-batch steps multiply by row-major weights (:mod:`persona_core.llm.cpu_layout`), one batch of
two costs 1.0-1.15x, and is the default (``bench/app.py --only batch`` measures both).

torch has no per-call thread count. OpenMP keeps one per OS thread, though: the pool's threads set
theirs once when they start, and the thread that made the pool then sets its own (and the default
for threads made later) back. The pool is made once per process and shared, as the model is.
Written here because no library runs Python generators in lockstep on a thread pool.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Sequence

import torch

DECODE_WORKERS = 2  # a comparison's two rows
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_DONE = object()


def _take_share(threads: int) -> None:
    torch.set_num_threads(threads)
    # torch sets a thread's OpenMP count from the process-wide value on the thread's first parallel
    # call; make that call now, while the value is this share, so the thread keeps it
    torch.get_num_threads()


def decode_pool() -> ThreadPoolExecutor:
    """The process's pool of :data:`DECODE_WORKERS` decoding threads, each with an equal share of
    the torch threads this process had when the pool was made (at least one)."""
    global _POOL
    workers = DECODE_WORKERS
    with _POOL_LOCK:
        if _POOL is None:
            before = torch.get_num_threads()
            share = max(1, before // workers)
            pool = ThreadPoolExecutor(workers, thread_name_prefix="decode-row",
                                      initializer=_take_share, initargs=(share,))
            started = threading.Barrier(workers)
            for f in [pool.submit(started.wait, 30) for _ in range(workers)]:  # every thread made and set up
                f.result()
            torch.set_num_threads(before)  # this thread, and threads made from now on, keep their count
            _POOL = pool
        return _POOL


def _advance(stream: Iterator[list[str]]):
    return next(stream, _DONE)


def lockstep(streams: Sequence[Iterator[list[str]]]) -> Iterator[list[str]]:
    """Yield, per step, one piece per stream (each a single-row decoding stream: it yields lists
    of one piece), every stream's step run at once on the :func:`decode_pool` (more streams than
    its threads wait their turn); a finished stream gives "" until all are done."""
    pool = decode_pool()
    live = list(streams)
    pieces_done = [False] * len(live)
    while not all(pieces_done):
        futures = [None if done else pool.submit(_advance, s) for s, done in zip(live, pieces_done)]
        pieces = []
        for i, future in enumerate(futures):
            got = _DONE if future is None else future.result()
            if got is _DONE:
                pieces_done[i] = True
                pieces.append("")
            else:
                pieces.append(got[0])
        if not all(pieces_done):
            yield pieces
