"""Seeded held-out split of each respondent's answers."""
from __future__ import annotations

import numpy as np

from persona_core.data.survey import Answers, Survey


def heldout_split(survey_or_answers: Survey | Answers, fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """Boolean mask over the answers: ``True`` marks a held-out answer.

    Within every respondent, ``round(fraction * n_answers)`` answers chosen at random (seeded) are
    held out, so every respondent keeps most of their answers for training and contributes to the
    evaluation. The same seed always gives the same split.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    answers = survey_or_answers.answers if isinstance(survey_or_answers, Survey) else survey_or_answers
    n = len(answers)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(n), answers.respondent))  # grouped by respondent, shuffled within
    resp_sorted = answers.respondent[order]
    group_start = np.r_[0, np.flatnonzero(np.diff(resp_sorted)) + 1]
    group_size = np.diff(np.r_[group_start, n])
    rank_in_group = np.arange(n) - np.repeat(group_start, group_size)
    n_held = np.repeat(np.rint(fraction * group_size).astype(np.int64), group_size)
    mask = np.zeros(n, dtype=bool)
    mask[order] = rank_in_group < n_held
    return mask
