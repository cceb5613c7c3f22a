"""Settings of the soft-prompting model (SPM) and of its training, as dataclasses."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from persona_core.steer.adapter import AdapterConfig

MODES = ("prefix", "prompt", "suffix", "suffix_kv")
FREE_TEXT_PARAMS = ("all", "spm", "own_adapter", "own_adapter_only")


@dataclass
class SPMConfig:
    """Architecture of a soft-prompting model.

    ``mode``: where the T virtual tokens go —
    ``prefix`` (per-layer key/value vectors before the input, Li et al.'s main variant),
    ``prompt`` (input embeddings prepended to the input) or
    ``suffix`` (input embeddings after the question, before the answer cue: the question's
    key/value cache is computed once and shared by every persona answering it) or
    ``suffix_kv`` (per-layer key/values placed after the question's cached key/values, before
    the answer cue: prefix-tuning capacity at suffix cost -- only the cue runs per row).
    ``hidden``: sizes of the MLP's hidden layers (the paper: one layer of 32 units).
    ``cue_tokens``: how many prompt tokens follow the virtual tokens in suffix modes (``None``:
    the whole end of turn and assistant header, 5 tokens with ChatML; 1: only the last token, so
    each row runs T + 1 tokens through the LLM instead of T + 5).
    ``standardize``: feed the MLP z-scored persona embeddings (mean/std of the training
    respondents' embeddings, stored with the model).
    """

    mode: str = "suffix_kv"
    n_tokens: int = 1
    cue_tokens: int | None = 1
    hidden: tuple[int, ...] = (32,)
    activation: str = "tanh"
    standardize: bool = True
    init_scale: float = 1.0

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.mode not in MODES:
            raise ValueError(f"SPM mode must be one of {MODES}, got {self.mode!r}")
        if self.cue_tokens is not None and self.cue_tokens < 1:
            raise ValueError(f"cue_tokens must be >= 1 or None, got {self.cue_tokens}")
        if self.n_tokens < 1:
            raise ValueError(f"n_tokens must be >= 1, got {self.n_tokens}")
        if self.activation not in ("tanh", "relu", "gelu"):
            raise ValueError(f"activation must be tanh, relu or gelu, got {self.activation!r}")


@dataclass
class TrainConfig:
    """How an SPM is trained (defaults fit 2 CPU cores in under 20 minutes on GSS 2016).

    The default subsamples: ``max_respondents`` training respondents and ``max_questions``
    questions (``None`` = all). ``eval_respondents`` respondents' held-out answers on
    ``eval_questions`` of the training questions (at most ``eval_answers_per_respondent`` each)
    give the learning curve every ``eval_every`` steps; few questions with many answers each
    keep the curve cheap, since scoring is batched by question.
    ``unseen_fraction`` of the respondents are kept out of SPM training entirely (for the
    unseen-respondent test). One step = one mini-batch of up to ``batch_size`` respondents
    answering the same question (so the question's cache is shared, in suffix mode);
    ``questions_per_step`` such batches (consecutive in the shuffled order, so mostly of different
    questions) are averaged into one step, so an adapter does not chase the last question it saw. ``schedule``: ``constant`` or ``cosine``
    (to 0 over all steps) after ``warmup_steps`` of linear warm-up; ``adapter_lr``: the LoRA
    adapter's learning rate (``None``: ``lr``). ``distill``: weight of the collaborative-filtering
    teacher's option distribution for the same (respondent, question) in each row's target
    (``(1 - distill)`` on the real answer); it needs a teacher passed to ``SPMTrainer.fit``.
    ``persona_shift``: weight of a second teacher term aimed at the persona's own part: within each
    question's mini-batch, every row's option log-probabilities minus the batch's mean row must
    match the teacher's (squared error, centred over the options); it needs the teacher too.
    ``text_answer``: weight of a free-text term: on the first ``text_answer_questions`` of each
    step's question batches, the question is also asked alone (no options listed) and each
    option is read by its own text as the answer (``engine.read_options(readout="text")``), with
    the same targets, for the batch's first ``text_answer_rows`` rows (it costs per row); it teaches the steered model to say the persona's answer in words, which
    the letter alone does not reach (FINDINGS round 3).
    ``free_text``: weight of a second free-text term, on the base model's own words: before
    training, each yes/no training question is asked without options of the base model
    ``free_text_samples`` times (at most ``free_text_tokens`` tokens each) and every answer is
    mapped to its option (:mod:`persona_core.steer.free_text`); then, in every question batch
    of a step whose question has such answers, the batch's first ``free_text_rows`` rows are each
    taught (teacher-forced, mean log-likelihood per token) one of them that says the row's real
    option, after the question asked as Compare asks it. ``free_text_params``: what that term
    trains: ``all`` (the SPM and the adapter), ``spm`` (the SPM only; the adapter, shared by
    every persona, gets no gradient from it and is left to the letters) or ``own_adapter`` (the
    SPM and a second adapter of the same shape, used only when the SPM generates text; saved as
    ``adapter_free_text.safetensors``) or ``own_adapter_only`` (that second adapter alone: it
    reads the SPM's virtual tokens but sends no gradient back, so the SPM and the letters'
    adapter train exactly as without the term).
    """

    lr: float = 3e-3
    weight_decay: float = 1e-3
    epochs: int = 2
    steps_per_epoch: int = 500
    batch_size: int = 32
    max_respondents: int | None = 800
    max_questions: int | None = 200
    min_question_answers: int = 50
    unseen_fraction: float = 0.1
    eval_every: int = 250
    eval_respondents: int = 200
    eval_questions: int | None = 30
    eval_answers_per_respondent: int | None = None
    seed: int = 0
    progress: bool = True
    questions_per_step: int = 1
    schedule: str = "constant"
    warmup_steps: int = 0
    adapter_lr: float | None = None
    distill: float = 0.0
    persona_shift: float = 0.0
    text_answer: float = 0.0
    text_answer_questions: int = 1
    text_answer_rows: int = 8
    free_text: float = 0.0
    free_text_samples: int = 8
    free_text_tokens: int = 24
    free_text_rows: int = 8
    free_text_params: str = "all"

    def __post_init__(self) -> None:
        for name in ("free_text", "text_answer", "text_answer_questions", "persona_shift"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("free_text_samples", "free_text_tokens", "free_text_rows", "text_answer_rows", "questions_per_step"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.free_text_params not in FREE_TEXT_PARAMS:
            raise ValueError(f"free_text_params must be one of {FREE_TEXT_PARAMS}, got {self.free_text_params!r}")
        if not 0.0 <= self.distill <= 1.0:
            raise ValueError(f"distill must be in [0, 1], got {self.distill}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        if self.schedule == "cosine" and self.steps_per_epoch is None:
            raise ValueError("the cosine schedule needs steps_per_epoch (its length is epochs x steps_per_epoch)")

    @property
    def free_text_adapter(self) -> bool:
        """Whether the free-text term trains an adapter of its own (saved beside the letters' one)."""
        return self.free_text > 0 and self.free_text_params.startswith("own_adapter")

    def lr_factor(self, step: int) -> float:
        """Multiplier of the learning rate at (0-based) ``step``."""
        import math

        if self.warmup_steps and step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return 1.0
        total = max(1, self.epochs * self.steps_per_epoch - self.warmup_steps)
        done = min(1.0, (step - self.warmup_steps) / total)
        return 0.5 * (1.0 + math.cos(math.pi * done))


@dataclass
class SteerConfig:
    """Everything ``python -m persona_core train`` needs: the SPM, its training, the LLM, and
    the optional LoRA adapter shared by all personas (``None``: the LLM stays frozen)."""

    spm: SPMConfig = field(default_factory=SPMConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    model: str | None = None
    adapter: AdapterConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"spm": asdict(self.spm), "train": asdict(self.train), "model": self.model,
                "adapter": None if self.adapter is None else asdict(self.adapter)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SteerConfig":
        unknown = set(data) - {"spm", "train", "model", "adapter"}
        if unknown:
            raise ValueError(f"unknown config section(s): {sorted(unknown)}")
        adapter = data.get("adapter")
        return cls(
            spm=_build(SPMConfig, data.get("spm", {}), "spm"),
            train=_build(TrainConfig, data.get("train", {}), "train"),
            model=data.get("model"),
            adapter=None if adapter is None else _build(AdapterConfig, adapter, "adapter"),
        )

    @classmethod
    def load(cls, path: str | Path) -> "SteerConfig":
        """Read a JSON config file (sections ``spm``, ``train``, ``model``; all optional)."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None


def default_config() -> SteerConfig:
    """What ``python -m persona_core train`` trains: the suffix_kv SPM jointly with one LoRA
    adapter shared by all personas, several questions per step, warm-up then cosine decay, each
    row's target half the real answer and half the CF model's distribution, and the persona-shift
    term at 0.3 (FINDINGS round 5); beside them, a second adapter that says the persona's answer
    in words, read by Compare and pair generation only (``free_text_params="own_adapter_only"``:
    the SPM and the letters' adapter train exactly as without it; FINDINGS round 9). 260 steps,
    not 300: the train fits 20 minutes with a margin, for 0.7 points of held-out accuracy, inside
    its interval (FINDINGS round 15)."""
    return SteerConfig(
        spm=SPMConfig(),
        train=TrainConfig(epochs=1, steps_per_epoch=260, batch_size=32, questions_per_step=4, lr=3e-3,
                          adapter_lr=1e-3, schedule="cosine", warmup_steps=20, eval_every=100,
                          distill=0.5, persona_shift=0.3, free_text=1.0, free_text_params="own_adapter_only"),
        adapter=AdapterConfig(),
    )


def tiny_config() -> SteerConfig:
    """A configuration small enough for CI (seconds to a minute on 2 cores)."""
    return SteerConfig(
        spm=SPMConfig(mode="suffix_kv", n_tokens=1, hidden=(16,)),
        train=TrainConfig(
            epochs=1, steps_per_epoch=20, batch_size=8, max_respondents=60, max_questions=10,
            min_question_answers=5, eval_every=10, eval_respondents=20, eval_questions=5,
            lr=1e-2, questions_per_step=2, adapter_lr=1e-3,
        ),
        adapter=AdapterConfig(r=4),
    )


def _build(cls, values: dict, section: str):
    names = {f.name for f in fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown key(s) in config section {section!r}: {sorted(unknown)}")
    return cls(**values)
