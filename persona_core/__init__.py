"""Persona Explorer's library: survey data, persona space, LLM steering, evaluation.

Usable from a notebook without the app; ``python -m persona_core`` runs pipelines headless.
"""
__version__ = "0.1.0"
