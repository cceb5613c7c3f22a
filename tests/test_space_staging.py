"""Staging folders of a persona-space save: which leftovers the next save removes."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from persona_core.space import STAGING_FILE, remove_stale_staging


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)  # the process has exited and been reaped


def _staging(parent, name, marker):
    d = parent / name
    d.mkdir()
    (d / "space.npz").write_bytes(b"partial")
    if marker is not None:
        (d / STAGING_FILE).write_text(json.dumps(marker))
    return d


def test_only_folders_of_dead_writers_on_this_host_are_removed(tmp_path):
    host = socket.gethostname()
    dead = _staging(tmp_path, "aaa.tmp-1", {"host": host, "pid": _dead_pid()})
    alive = _staging(tmp_path, "bbb.tmp-2", {"host": host, "pid": os.getpid()})
    elsewhere = _staging(tmp_path, "ccc.tmp-3", {"host": host + "-other", "pid": _dead_pid()})
    unmarked = _staging(tmp_path, "ddd.tmp-4", None)
    garbled = _staging(tmp_path, "eee.tmp-5", None)
    (garbled / STAGING_FILE).write_text("{not json")
    published = _staging(tmp_path, "fff", {"host": host, "pid": _dead_pid()})  # not a staging name

    assert remove_stale_staging(tmp_path) == [dead]
    assert not dead.exists()
    assert all(d.exists() for d in (alive, elsewhere, unmarked, garbled, published))
    assert remove_stale_staging(tmp_path / "missing") == []
