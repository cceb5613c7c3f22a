"""Language-model backend: load a frozen causal LM, generate and score with per-row soft prompts."""
from persona_core.llm.config import LLMConfig
from persona_core.llm.errors import ModelError
from persona_core.llm.loading import load_model

__all__ = ["LLMConfig", "ModelError", "load_model"]
