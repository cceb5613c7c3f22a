"""Persona embeddings by collaborative filtering over categorical answers."""
from persona_core.embed.factorization import CategoricalFactorization, FactorizationConfig, majority_baseline
from persona_core.embed.split import heldout_split

__all__ = ["CategoricalFactorization", "FactorizationConfig", "heldout_split", "majority_baseline"]
