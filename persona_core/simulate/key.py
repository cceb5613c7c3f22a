"""The run key: a hash of everything a simulation's rows depend on (never of the engine)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from persona_core.simulate.rows import PersonaSet, QuestionBank, RowPlan

CHECKPOINT_FILES = ("spm.safetensors", "adapter.safetensors")


def checkpoint_digest(directory: str | Path) -> str:
    """SHA-256 of the checkpoint's weight files (SPM and adapter, where present): a retrained
    checkpoint in the same folder gets a new digest."""
    h = hashlib.sha256()
    for name in CHECKPOINT_FILES:
        path = Path(directory) / name
        if path.is_file():
            h.update(name.encode())
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


def simulation_key(space_run_key: str, checkpoint: str, personas: PersonaSet, bank: QuestionBank, plan: RowPlan,
                   settings: dict[str, Any], model: str | None) -> str:
    """64 hex digits over the persona space, the checkpoint (its digest), the LLM, the personas,
    the questions (their full text: new questions from a file count by content), the row plan
    and the engine-independent ``settings``."""
    content = {
        "space": space_run_key,
        "checkpoint": checkpoint,
        "model": model,
        "personas": [personas.kinds, personas.keys],
        "questions": bank.to_records(),
        "plan": [plan.n_personas, plan.n_questions, plan.batch_rows, [len(c) for c in plan.chunks]],
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
