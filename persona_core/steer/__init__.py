"""Soft-prompting model (SPM): steer a frozen LLM toward a persona embedding.

A persona is a point of the collaborative-filtering space (a respondent's vector, a cohort
centroid, or any vector); the SPM turns it into virtual tokens (prefix key/values, prepended
input embeddings, or input embeddings after the question), trained on respondents' answers.
"""
from persona_core.steer.checkpoint import CheckpointMismatchError, load_checkpoint, save_checkpoint
from persona_core.steer.config import SPMConfig, SteerConfig, TrainConfig, tiny_config
from persona_core.steer.model import SoftPromptModel
from persona_core.steer.train import SPMTrainer, TrainResult

__all__ = [
    "CheckpointMismatchError",
    "SPMConfig",
    "SPMTrainer",
    "SoftPromptModel",
    "SteerConfig",
    "TrainConfig",
    "TrainResult",
    "load_checkpoint",
    "save_checkpoint",
    "tiny_config",
]
