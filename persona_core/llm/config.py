"""Which language model to load, on which device, in which precision."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from persona_core.data import paths
from persona_core.llm_name import DEFAULT_MODEL, MODEL_ENV, resolve_model_name

__all__ = ["DEFAULT_MODEL", "LLMConfig", "MODEL_ENV"]


_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


@dataclass(frozen=True)
class LLMConfig:
    """Settings of the language-model backend.

    ``model``: ``None`` -> env ``PERSONA_MODEL`` -> :data:`DEFAULT_MODEL`. Otherwise the
    default alias, a path to a ``.gguf`` file, a local Hugging Face model directory, or a
    Hugging Face hub id. ``device``: ``"auto"`` (CUDA when available, else CPU) or any
    torch device string. ``dtype``: ``"auto"`` (bfloat16 on CUDA, float32 on CPU) or
    ``float32`` / ``bfloat16`` / ``float16``. ``cache_dir``: ``None`` -> env
    ``PERSONA_CACHE_DIR`` -> ``~/.cache/persona_explorer``.
    """

    model: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    cache_dir: str | None = None

    def resolved_model(self) -> str:
        return resolve_model_name(self.model)

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def resolved_dtype(self) -> torch.dtype:
        if self.dtype == "auto":
            return torch.bfloat16 if self.resolved_device().type == "cuda" else torch.float32
        try:
            return _DTYPES[self.dtype.lower()]
        except KeyError:
            raise ValueError(
                f"LLMConfig.dtype: unknown dtype {self.dtype!r}; use 'auto' or one of {sorted(_DTYPES)}"
            ) from None

    def resolved_cache_dir(self) -> Path:
        return Path(self.cache_dir).expanduser() if self.cache_dir else paths.cache_dir()
