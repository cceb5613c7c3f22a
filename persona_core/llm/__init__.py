"""Language-model backend: load a frozen causal LM, generate and score with per-row soft prompts."""
from persona_core.llm.backend import LLM, BatchInputs, Prefill
from persona_core.llm.config import LLMConfig
from persona_core.llm.errors import ModelError
from persona_core.llm.loading import load_model
from persona_core.llm.prompts import option_labels
from persona_core.llm.sampling import GenerationSettings

__all__ = ["LLM", "BatchInputs", "Prefill", "GenerationSettings", "LLMConfig", "ModelError", "load_model", "option_labels"]
