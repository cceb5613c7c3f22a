"""Persona texts for the prompting baselines, and the shared soft prompt (PEFT prompt tuning).

* demographic: the respondent's attributes written as a persona description;
* history: the respondent's k training answers to the questions most similar to the asked
  one (cosine similarity of the factorization's question vectors, Li et al.'s k = 5);
* shared prompt: one soft prompt of N virtual tokens for everybody, trained with PEFT's
  prompt tuning -- tells whether the persona-specific part of the SPM does the work.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from persona_core.progress import tqdm

from persona_core.data.survey import Answers, Survey
from persona_core.steer.prompts import PromptBuilder

#: Attributes used for the demographic persona when present (GSS names; others: all columns).
DEMOGRAPHIC_COLUMNS = (
    "age", "sex", "race", "hispanic", "degree", "marital", "income16", "region",
    "partyid", "polviews", "relig", "attend", "wrkstat",
)


def demographic_texts(survey: Survey, respondents: Sequence[int], columns: Sequence[str] | None = None) -> list[str]:
    """One persona description per respondent index, from ``survey.attributes``."""
    attrs = survey.attributes
    if columns is None:
        columns = [c for c in DEMOGRAPHIC_COLUMNS if c in attrs.columns] or list(attrs.columns)
    labels = survey.source.get("attribute_labels", {}) if isinstance(survey.source, dict) else {}
    cache: dict[int, str] = {}
    out = []
    for r in respondents:
        r = int(r)
        if r not in cache:
            row = attrs.iloc[r]
            parts = []
            for c in columns:
                v = row[c]
                if v is None or (isinstance(v, float) and math.isnan(v)) or pd.isna(v):
                    continue
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                parts.append(f"{labels.get(c, c)}: {v}")
            cache[r] = "\nAnswer as the person described here would. " + ("; ".join(parts) + "." if parts else "")
        out.append(cache[r])
    return out


@dataclass
class HistoryPrompter:
    """Answer-history persona texts: the k most similar questions this respondent answered
    in the training split (similarity: cosine of ``question_vectors``)."""

    survey: Survey
    train_answers: Answers
    question_vectors: np.ndarray
    k: int = 5

    def __post_init__(self) -> None:
        v = np.asarray(self.question_vectors, np.float64)
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        self._sim = v @ v.T
        a = self.train_answers
        order = np.argsort(a.respondent, kind="stable")
        self._q = a.question[order]
        self._o = a.option[order]
        starts = np.searchsorted(a.respondent[order], np.arange(self.survey.n_respondents + 1))
        self._start, self._end = starts[:-1], starts[1:]

    def similar(self, respondent: int, question: int) -> list[tuple[int, int]]:
        """``[(question, option)]`` of the respondent's k most similar training answers."""
        s, e = self._start[respondent], self._end[respondent]
        qs, os = self._q[s:e], self._o[s:e]
        keep = qs != question
        qs, os = qs[keep], os[keep]
        if qs.size == 0:
            return []
        top = np.argsort(-self._sim[question, qs], kind="stable")[: self.k]
        return [(int(qs[i]), int(os[i])) for i in top]

    def text(self, respondent: int, question: int) -> str:
        pairs = self.similar(respondent, question)
        if not pairs:
            return ""
        lines = [f"- {self.survey.questions[q].text.strip()}: {self.survey.questions[q].options[o]}" for q, o in pairs]
        return "\nAnswer as the person with these earlier answers would:\n" + "\n".join(lines)

    def texts(self, respondents: Sequence[int], questions: Sequence[int]) -> list[str]:
        return [self.text(int(r), int(q)) for r, q in zip(respondents, questions)]


class SharedPromptBaseline:
    """One soft prompt for everybody, trained with PEFT prompt tuning (N virtual tokens).

    Every respondent gets the same prompt, so the loss over a question's training answers equals
    (number of answers) x cross-entropy against the question's answer distribution: training uses
    those distributions directly (one row per question, weighted by its count), which is the same
    objective as mini-batches of individual answers at a fraction of the cost.
    """

    def __init__(self, model, tokenizer, n_tokens: int = 2, lr: float = 3e-3, steps: int = 100,
                 batch_size: int = 8, seed: int = 0, progress: bool = True) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.n_tokens, self.lr, self.steps, self.batch_size, self.seed = n_tokens, lr, steps, batch_size, seed
        self.progress = progress
        self.builder = PromptBuilder(tokenizer)

    def _peft(self):
        from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

        cfg = PromptTuningConfig(
            task_type=TaskType.CAUSAL_LM, num_virtual_tokens=self.n_tokens, prompt_tuning_init=PromptTuningInit.RANDOM
        )
        peft_model = get_peft_model(self.model, cfg)
        # Start from real token embeddings (as the SPM does), the usual prompt-tuning init.
        ids = self.tokenizer.encode(" persona", add_special_tokens=False)
        ids = torch.tensor((ids * self.n_tokens)[: self.n_tokens])
        with torch.no_grad():
            peft_model.prompt_encoder["default"].embedding.weight.copy_(self.model.get_input_embeddings()(ids))
        return peft_model

    def _logprobs(self, peft_model, survey: Survey, questions: Sequence[int]) -> list[torch.Tensor]:
        """One forward per question (no padding, so positions match between training and scoring)."""
        out = []
        for q in questions:
            p = self.builder.parts(survey.questions[int(q)])
            ids = torch.cat([p.head, p.cue]).unsqueeze(0)
            logits = peft_model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, -1]
            out.append(torch.log_softmax(logits[p.labels], dim=-1))
        return out

    def fit(self, survey: Survey, train_answers: Answers, questions: Sequence[int]) -> "SharedPromptBaseline":
        """Train on the training answers' per-question distributions of ``questions``."""
        torch.manual_seed(self.seed)
        peft_model = self._peft_model_with_init(survey)
        questions = np.asarray(questions)
        counts = {int(q): np.bincount(train_answers.option[train_answers.question == q],
                                      minlength=survey.questions[int(q)].n_options) for q in questions}
        questions = np.array([q for q in questions if counts[int(q)].sum() > 0])
        total = sum(int(counts[int(q)].sum()) for q in questions)
        params = [p for p in peft_model.parameters() if p.requires_grad]
        optim = torch.optim.AdamW(params, lr=self.lr, weight_decay=0.0)
        rng = np.random.default_rng(self.seed)
        self.step_seconds_: list[float] = []
        import time

        for _ in tqdm(range(self.steps), desc="shared prompt", unit="step", disable=not self.progress,
                      leave=False, file=sys.stderr):
            t = time.perf_counter()
            batch = rng.choice(questions, size=min(self.batch_size, len(questions)), replace=False)
            lps = self._logprobs(peft_model, survey, batch)
            loss = sum(-(torch.from_numpy(counts[int(q)]).float() * lp).sum() for q, lp in zip(batch, lps))
            loss = loss / sum(float(counts[int(q)].sum()) for q in batch)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            self.step_seconds_.append(time.perf_counter() - t)
        self.prompt_ = peft_model.get_prompt_embedding_to_save("default").detach().clone()
        self.n_train_answers_ = total
        return self

    def _peft_model_with_init(self, survey):
        # Prompt tuning adds no layers to the base model (it only wraps it), so the shared,
        # memoized model object stays a plain frozen LM for everybody else.
        self._peft_model = self._peft()
        return self._peft_model

    @torch.no_grad()
    def predict_logprobs(self, survey: Survey, questions: Sequence[int]) -> list[np.ndarray]:
        """Option log-probs per row (one forward per distinct question: the prompt is shared)."""
        questions = np.asarray(questions)
        uniq = np.unique(questions)
        by_q = {int(q): lp.numpy() for q, lp in zip(uniq, self._logprobs(self._peft_model, survey, uniq))}
        return [by_q[int(q)] for q in questions]
