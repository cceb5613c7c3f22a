"""SPM checkpoints: safetensors weights + optimizer state + a JSON record, tied to an embedding run.

A checkpoint directory holds ``spm.safetensors`` (the model), ``optimizer.safetensors``
(AdamW moments, so a resumed run continues exactly) and ``checkpoint.json`` (config, the
embedding run's key, epoch/step, learning curve, data selection). Files are written to a
temporary name and renamed, so a run killed mid-save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from persona_core.data.errors import DataError
from persona_core.steer.config import SPMConfig, SteerConfig
from persona_core.steer.model import SoftPromptModel

WEIGHTS = "spm.safetensors"
OPTIMIZER = "optimizer.safetensors"
RECORD = "checkpoint.json"
FORMAT_VERSION = 1


class CheckpointMismatchError(DataError):
    """A checkpoint that belongs to another embedding run (or another LLM) than the one in use."""


def has_checkpoint(directory: str | Path) -> bool:
    d = Path(directory)
    return (d / RECORD).is_file() and (d / WEIGHTS).is_file()


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_checkpoint(
    directory: str | Path,
    spm: SoftPromptModel,
    record: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Write the SPM (and optimizer) and ``record`` (must hold ``run_key`` and ``config``)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if "run_key" not in record or "config" not in record:
        raise ValueError("a checkpoint record needs 'run_key' and 'config'")
    tensors = {k: v.detach().cpu().contiguous() for k, v in spm.state_dict().items()}
    _atomic(d / WEIGHTS, lambda p: save_file(tensors, str(p)))
    full = dict(record)
    full.update(format=FORMAT_VERSION, embed_dim=spm.embed_dim, geometry=spm.geometry)
    if optimizer is not None:
        state = optimizer.state_dict()
        flat = {
            f"{idx}.{name}": (val if torch.is_tensor(val) else torch.tensor(val)).detach().cpu().contiguous()
            for idx, st in state["state"].items()
            for name, val in st.items()
        }
        _atomic(d / OPTIMIZER, lambda p: save_file(flat, str(p)))
        full["optimizer_param_groups"] = state["param_groups"]
    _atomic(d / RECORD, lambda p: p.write_text(json.dumps(full, indent=1, default=_jsonable)))
    return d


def read_record(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / RECORD
    if not path.is_file():
        raise DataError("no SPM checkpoint here (checkpoint.json missing)", file=directory)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"checkpoint record is not valid JSON ({exc})", file=path) from None


def check_run_key(record: dict[str, Any], run_key: str | None, where: str | Path) -> None:
    """Refuse a checkpoint trained on another embedding run than ``run_key``."""
    if run_key is not None and record.get("run_key") != run_key:
        raise CheckpointMismatchError(
            f"this SPM checkpoint was trained on embedding run {record.get('run_key')!r}, but the persona "
            f"space in use is embedding run {run_key!r}; its persona vectors live in a different space, so "
            "the SPM cannot steer with them. Retrain it (python -m persona_core train) or use the matching "
            "persona space.",
            file=where,
        )


def load_checkpoint(
    directory: str | Path, run_key: str | None = None, geometry: dict[str, int] | None = None,
    base_model=None,
) -> tuple[SoftPromptModel, dict[str, Any]]:
    """Load an SPM and its record. ``run_key``/``geometry``: refuse a checkpoint that does not match.
    ``base_model``: the SPM is moved to its device; for an SPM trained with a LoRA adapter, load the adapter (safetensors) onto a
    copy of this model and bind it to the SPM (:attr:`SoftPromptModel.steered_lm`)."""
    d = Path(directory)
    record = read_record(d)
    check_run_key(record, run_key, d)
    if geometry is not None and dict(record.get("geometry", {})) != dict(geometry):
        raise CheckpointMismatchError(
            f"this SPM was trained for an LLM with geometry {record.get('geometry')}, the loaded LLM has {geometry}",
            file=d,
        )
    config = SteerConfig.from_dict(record["config"])
    spm = SoftPromptModel(config.spm, record["embed_dim"], record["geometry"])
    state = load_file(str(d / WEIGHTS))
    spm.load_state_dict(state)
    spm.eval()
    if base_model is not None:  # the SPM's output meets the model's activations on its device (CUDA too)
        spm.to(next(base_model.parameters()).device)
    if base_model is not None and config.adapter is not None:
        from persona_core.steer.adapter import ADAPTER_WEIGHTS, FREE_TEXT_ADAPTER_WEIGHTS, inner_model, load_adapter

        if not (d / ADAPTER_WEIGHTS).is_file():
            raise DataError(f"this SPM was trained with a LoRA adapter, but {ADAPTER_WEIGHTS} is missing", file=d)
        spm.bind_lm(inner_model(load_adapter(base_model, config.adapter, d)))
        if config.train.free_text_adapter:
            if not (d / FREE_TEXT_ADAPTER_WEIGHTS).is_file():
                raise DataError(f"this SPM was trained with a free-text adapter, but {FREE_TEXT_ADAPTER_WEIGHTS} is missing",
                                file=d)
            spm.bind_generation_lm(inner_model(load_adapter(base_model, config.adapter, d, FREE_TEXT_ADAPTER_WEIGHTS)))
    return spm, record


def load_optimizer_state(directory: str | Path, optimizer: torch.optim.Optimizer) -> None:
    """Restore AdamW moments saved by :func:`save_checkpoint` into ``optimizer``."""
    d = Path(directory)
    record = read_record(d)
    flat = load_file(str(d / OPTIMIZER))
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, val in flat.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = val
    optimizer.load_state_dict({"state": state, "param_groups": record["optimizer_param_groups"]})


def _jsonable(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
