"""Finding SPM checkpoints by the embedding run they were trained on."""
from __future__ import annotations

import json
import os
from pathlib import Path

from persona_core.service.checkpoints import checkpoints_by_run, find_checkpoints


def _record(folder: Path, run_key: str | None, step: int, modified: float) -> Path:
    folder.mkdir(parents=True)
    record = {"config": {"spm": {"mode": "suffix_kv"}}, "step": step, "learning_curve": [{"accuracy": 0.5}]}
    if run_key is not None:
        record["run_key"] = run_key
    (folder / "checkpoint.json").write_text(json.dumps(record))
    os.utime(folder / "checkpoint.json", (modified, modified))
    return folder


def test_checkpoints_are_grouped_by_run_newest_first(tmp_path):
    old_a = _record(tmp_path / "spm" / "a" / "first", "a", 100, 1_000)
    new_a = _record(tmp_path / "spm" / "a" / "second", "a", 300, 2_000)
    only_b = _record(tmp_path / "spm" / "b" / "x", "b", 20, 1_500)
    _record(tmp_path / "spm" / "orphan", None, 5, 3_000)  # no run key: it steers no run
    (tmp_path / "spm" / "broken").mkdir()
    (tmp_path / "spm" / "broken" / "checkpoint.json").write_text("{not json")

    grouped = checkpoints_by_run(tmp_path)
    assert sorted(grouped) == ["a", "b"]
    assert [c.path for c in grouped["a"]] == [str(new_a), str(old_a)]
    assert [c.step for c in grouped["b"]] == [20] and grouped["b"][0].path == str(only_b)
    assert grouped["a"] == find_checkpoints("a", root=tmp_path)  # the same as asking for one run
    assert checkpoints_by_run(tmp_path / "nowhere") == {}
