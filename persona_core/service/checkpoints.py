"""Finding and loading the SPM checkpoints trained for a persona space.

Checkpoints are folders holding ``checkpoint.json`` (see :mod:`persona_core.steer.checkpoint`),
anywhere under the artifacts folder (``PERSONA_ARTIFACTS_DIR``) or a folder named explicitly.
Only those trained on the embedding run in use can steer its personas.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from persona_core.data.paths import artifacts_dir

RECORD = "checkpoint.json"


@dataclass(frozen=True)
class CheckpointInfo:
    """One SPM checkpoint: where, which run it belongs to, mode, progress, last accuracy."""

    path: str
    run_key: str | None
    mode: str | None
    epoch: int | None
    step: int | None
    accuracy: float | None
    modified: float

    @property
    def label(self) -> str:
        acc = "" if self.accuracy is None else f", held-out accuracy {self.accuracy:.1%}"
        return f"{Path(self.path).name} ({self.mode} mode, step {self.step}{acc})"


def _info(folder: Path) -> CheckpointInfo | None:
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict):
        return None
    curve = record.get("learning_curve") or []
    last = curve[-1] if curve and isinstance(curve[-1], dict) else {}
    acc = last.get("accuracy", last.get("accuracy_per_respondent"))
    return CheckpointInfo(
        path=str(folder),
        run_key=record.get("run_key"),
        mode=(record.get("config") or {}).get("spm", {}).get("mode"),
        epoch=record.get("epoch"),
        step=record.get("step"),
        accuracy=float(acc) if isinstance(acc, (int, float)) else None,
        modified=(folder / RECORD).stat().st_mtime,
    )


def find_checkpoints(run_key: str | None = None, root: str | Path | None = None, max_depth: int = 4) -> list[CheckpointInfo]:
    """SPM checkpoints under ``root`` (default: the artifacts folder), newest first; with
    ``run_key`` only those trained on that embedding run."""
    base = Path(root) if root is not None else artifacts_dir()
    if not base.is_dir():
        return []
    found = []
    base_depth = len(base.parts)
    for folder, dirs, files in os.walk(base):
        depth = len(Path(folder).parts) - base_depth
        if depth >= max_depth:
            dirs[:] = []
        if RECORD in files:
            info = _info(Path(folder))
            if info is not None and (run_key is None or info.run_key == run_key):
                found.append(info)
    return sorted(found, key=lambda c: c.modified, reverse=True)


def checkpoints_by_run(root: str | Path | None = None) -> dict[str, list[CheckpointInfo]]:
    """Every checkpoint under ``root`` (default: the artifacts folder), grouped by the embedding
    run key it was trained on, newest first in each group; one walk of the folder for every run."""
    grouped: dict[str, list[CheckpointInfo]] = {}
    for info in find_checkpoints(root=root):
        if info.run_key:
            grouped.setdefault(info.run_key, []).append(info)
    return grouped


def load_spm(path: str | Path, run_key: str, llm):
    """Load the SPM at ``path`` for the LLM ``llm``; refuses (with
    :class:`persona_core.steer.checkpoint.CheckpointMismatchError`) a checkpoint of another
    embedding run or another LLM. Returns ``(spm, record)``."""
    from persona_core.steer.checkpoint import load_checkpoint
    from persona_core.steer.engine import model_geometry

    spm, record = load_checkpoint(path, run_key=run_key, geometry=model_geometry(llm.model), base_model=llm.model)
    spm.to(llm.device)
    return spm, record
