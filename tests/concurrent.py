"""Run one function in several threads at once and collect what they raise (the concurrency tests)."""
from __future__ import annotations

import threading
from typing import Callable


def run_in_threads(work: Callable[[int], None], n: int) -> list[BaseException]:
    """``work(k)`` for ``k`` in ``range(n)``, each in its own thread, started together (a barrier);
    returns the exceptions they raised (empty if none)."""
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(k: int) -> None:
        try:
            start.wait()
            work(k)
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
