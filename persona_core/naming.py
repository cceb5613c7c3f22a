"""Cohort names written by the LLM from each cohort's distinctive answers.

BERTopic's representation models and Toponymy name a cluster by showing an LLM its most
characteristic content and asking for a short label. Here the content is the cohort's most
distinctive answers (:func:`persona_core.profile.distinctive_questions`) as
``"<question, shortened>: <answer>"`` lines. A model as small as the default SmolLM2-135M does
not follow a bare instruction ("The group is known as ...", or it echoes a question), so the
prompt shows three worked examples first (few-shot), and :func:`clean_name` keeps only a reply
that is a short name: a copied ``question: answer`` line, a sentence or nothing is no name
(``None``). A name two cohorts got, or one that the model itself reads as another cohort's
(:func:`name_identifiability`), is dropped too; the app keeps the rule-based label for those.
Every name is shown beside the evidence it was written from; ``bench/cohort_names.py`` measures
how well names tell the cohorts apart.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from typing import Callable, Mapping, Sequence

import numpy as np

from db.cohort_names import CohortNameRecord
from persona_core.profile import answer_phrase

#: worked examples of the prompt (evidence lines, name); none is about a survey the app ships
FEW_SHOT: tuple[tuple[tuple[str, ...], str], ...] = (
    (("Favor death penalty for murder: oppose", "Gun permit law: favor", "Political views: liberal"),
     "Liberal gun-control supporters"),
    (("How often R attends church: every week", "Pray: several times a day", "Bible is the word of God: yes"),
     "Devout churchgoers"),
    (("Labor force status: retired", "Age: 70 or older", "Social security is enough: no"), "Worried retirees"),
)
INSTRUCTION = "Survey answers that set a group of people apart:\n{lines}\nName the group in 2 to 5 words."


@dataclass(frozen=True)
class CohortNamingConfig:
    """``evidence_items``: distinctive answers shown per cohort, each question's wording cut to
    ``evidence_chars``; ``max_words``: a longer reply is no name; ``max_new_tokens``: the reply's
    budget (greedy decoding, so a name is reproducible); ``batch_size``: cohorts per generation
    batch; ``check_identifies``: keep a name only if the model, reading it, finds its own cohort's
    answers likelier than any other cohort's (see :func:`name_cohorts`)."""

    evidence_items: int = 3
    evidence_chars: int = 60
    max_words: int = 6
    max_new_tokens: int = 16
    batch_size: int = 4
    check_identifies: bool = True

    def __post_init__(self) -> None:
        if self.evidence_items < 1 or self.max_words < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError(f"CohortNamingConfig values must be >= 1, got {self}")

    @property
    def prompt_key(self) -> str:
        """Identifies the prompt and the settings that shape a name (the cache key beside the
        model's name); ``batch_size`` only sets the pace, so it is left out."""
        settings = {k: v for k, v in asdict(self).items() if k != "batch_size"}
        blob = json.dumps({"config": settings, "shots": FEW_SHOT, "instruction": INSTRUCTION}, sort_keys=True)
        return "fewshot-" + hashlib.sha256(blob.encode()).hexdigest()[:12]


def cohort_evidence(profile: Mapping, config: CohortNamingConfig | None = None) -> tuple[str, ...]:
    """The lines a cohort is named from: its most distinctive answers, most distinctive first."""
    cfg = config or CohortNamingConfig()
    items = list(profile.get("distinctive_questions") or [])[: cfg.evidence_items]
    return tuple(answer_phrase(item, cfg.evidence_chars) for item in items)


def _user_text(evidence: Sequence[str]) -> str:
    return INSTRUCTION.format(lines="\n".join(f"- {line}" for line in evidence))


def naming_prompt(llm, evidence: Sequence[str]) -> str:
    """The few-shot chat prompt that asks ``llm`` (a :class:`persona_core.llm.LLM`) to name one cohort."""
    turns: list[dict[str, str]] = []
    for shot_evidence, shot_name in FEW_SHOT:
        turns += [{"role": "user", "content": _user_text(shot_evidence)}, {"role": "assistant", "content": shot_name}]
    turns.append({"role": "user", "content": _user_text(evidence)})
    return llm.chat_turns_prompt(turns)


_LEAD_IN = re.compile(r"^(?:[-*•]\s*|(?:group\s+)?name\s*[:\-]\s*|group\s*:\s*)+", re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]")


def clean_name(reply: str, evidence: Sequence[str] = (), max_words: int = 6) -> str | None:
    """The name in a model's ``reply``, or ``None`` when it is none: its first line without
    bullets, a ``Name:`` lead-in, quotes and end punctuation; no name if it is empty, has no
    letter, is longer than ``max_words`` words, ends mid-word (``-``), has a colon (a copied
    ``question: answer`` line) or repeats an evidence line."""
    lines = [ln.strip() for ln in str(reply).splitlines() if ln.strip()]
    if not lines:
        return None
    name = _LEAD_IN.sub("", lines[0]).strip().strip("\"'“”‘’`").strip()
    name = name.rstrip(".,;!").strip().strip("\"'“”‘’`").strip()
    if not name or not _LETTER.search(name) or ":" in name or name.endswith("-"):
        return None
    if len(name.split()) > max_words:
        return None
    lowered = name.casefold()
    if any(lowered == line.casefold() or lowered == line.split(":", 1)[0].strip().casefold() for line in evidence):
        return None
    return name


def name_cohorts(llm, profiles: Mapping[int, Mapping], config: CohortNamingConfig | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 only: Sequence[int] | None = None) -> dict[int, CohortNameRecord]:
    """Name the cohorts of ``profiles`` (label -> profile; ``only``: just these labels) with
    ``llm``, greedily, a batch of cohorts at a time; ``progress(done, total)`` after each batch
    (``total``: every cohort of the call; those without evidence count as done at once). A name
    is kept only if it passes :func:`clean_name`, no other cohort of the call got it, and
    (``config.check_identifies``) it makes its own cohort's evidence likelier than any other
    cohort's of ``profiles`` (:func:`name_identifiability`). Otherwise ``name`` is ``None`` and
    ``reason`` says why. A cohort without distinctive answers is not asked about (``llm`` may be
    ``None`` when no cohort of the call has any)."""
    from persona_core.llm.sampling import GenerationSettings

    cfg = config or CohortNamingConfig()
    evidence = {int(label): cohort_evidence(profile, cfg) for label, profile in profiles.items()}
    wanted = sorted(evidence) if only is None else sorted(int(label) for label in only)
    results = {label: CohortNameRecord(label, None, "", (), "the cohort has no distinctive answers")
               for label in wanted if not evidence.get(label)}
    todo = [label for label in wanted if evidence.get(label)]
    settings = GenerationSettings(temperature=0.0, max_new_tokens=cfg.max_new_tokens)
    if progress is not None and results:
        progress(len(results), len(wanted))
    for start in range(0, len(todo), cfg.batch_size):
        batch = todo[start : start + cfg.batch_size]
        replies = llm.generate([naming_prompt(llm, evidence[label]) for label in batch], settings=settings)
        for label, reply in zip(batch, replies):
            name = clean_name(reply, evidence[label], cfg.max_words)
            results[label] = CohortNameRecord(label, name, reply.strip(), evidence[label],
                                              "" if name else f"the reply is no name of at most {cfg.max_words} words")
        if progress is not None:
            progress(len(wanted) - len(todo) + start + len(batch), len(wanted))
    given: dict[str, list[int]] = {}
    for label in todo:
        if results[label].name:
            given.setdefault(results[label].name.casefold(), []).append(label)
    for labels in given.values():
        for label in labels if len(labels) > 1 else []:
            others = ", ".join(str(o) for o in labels if o != label)
            results[label] = replace(results[label], name=None, reason=f"cohort {others} got the same name")
    if cfg.check_identifies:
        _keep_identifying_names(llm, results, evidence)
    return {label: results[label] for label in sorted(results)}


def _keep_identifying_names(llm, results: dict[int, CohortNameRecord], evidence: Mapping[int, Sequence[str]]) -> None:
    """Drop (in place) each name that points at another cohort's evidence more than at its own."""
    named = [label for label, r in results.items() if r.name]
    columns = [label for label in sorted(evidence) if evidence[label]]
    if not named or len(columns) < 2:
        return
    pmi = name_identifiability(llm, [results[label].name for label in named], [evidence[c] for c in columns])
    for row, label in enumerate(named):
        best = columns[int(np.argmax(pmi[row]))]
        if best != label:
            results[label] = replace(results[label], name=None,
                                     reason=f"the name fits cohort {best}'s answers better than this cohort's")


IDENTIFY_PROMPT = 'A group of survey respondents is called "{name}". Which answers set them apart?'
NEUTRAL_NAME = "a group"


def name_identifiability(llm, names: Sequence[str], evidence_sets: Sequence[Sequence[str]]) -> np.ndarray:
    """How well names point at cohorts: for name ``i`` and evidence set ``j``, the log-likelihood
    of set ``j``'s lines after a prompt that gives name ``i``, minus the same after a neutral name
    (pointwise mutual information, so long or common evidence does not win by itself). Returns that
    (names x sets) matrix; a name identifies its cohort when its row is largest in its cohort's
    column (see :func:`identified_share`; chance: one in ``len(evidence_sets)``)."""
    from persona_core.llm.likelihood import continuation_logprobs

    if not names or not evidence_sets:
        return np.zeros((len(names), len(evidence_sets)))
    contexts = llm.encode([llm.chat_prompt(IDENTIFY_PROMPT.format(name=n)) for n in [NEUTRAL_NAME, *names]])
    texts = llm.encode(["\n".join(f"- {line}" for line in ev) for ev in evidence_sets])
    lps = continuation_logprobs(llm.model, [c for c in contexts for _ in texts], [t for _ in contexts for t in texts],
                                batch_size=16)
    scores = np.array([lp.sum() for lp in lps]).reshape(len(contexts), len(texts))
    return scores[1:] - scores[0]


def identified_share(pmi: np.ndarray, own: Sequence[int] | None = None) -> float:
    """Share of names whose own cohort scores highest in a :func:`name_identifiability` matrix;
    ``own[i]``: the column of name ``i``'s cohort (default: name ``i`` is set ``i``'s)."""
    if pmi.size == 0:
        return float("nan")
    own_cols = np.arange(pmi.shape[0]) if own is None else np.asarray(own)
    if own_cols.shape != (pmi.shape[0],):
        raise ValueError(f"{pmi.shape[0]} names but {own_cols.size} own cohorts")
    return float(np.mean(np.argmax(pmi, axis=1) == own_cols))
