"""A small survey with planted opinion groups and readable questions, for the app's tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

from persona_core.data.survey import Answers, Question, Survey
from persona_core.space import SpaceConfig
from persona_core.cohorts import CohortConfig
from persona_core.embed.factorization import FactorizationConfig
from persona_core.profile import ProfileConfig
from persona_core.project import ProjectionConfig

QUESTIONS = [
    ("parks", "How much should the city spend on parks?", ("Much less", "Less", "The same", "More", "Much more"), True),
    ("bus", "Do you ride the bus at least once a week?", ("Yes", "No"), False),
    ("trust", "Can most people be trusted?", ("Most people can be trusted", "Can't be too careful"), False),
    ("guns", "Should gun permits be required?", ("Favor", "Oppose"), False),
    ("taxes", "Are your federal income taxes too high?", ("Too high", "About right", "Too low"), True),
    ("church", "How often do you attend religious services?", ("Never", "Yearly", "Monthly", "Weekly"), True),
    ("police", "How much confidence do you have in the police?", ("A great deal", "Only some", "Hardly any"), True),
    ("climate", "How worried are you about climate change?", ("Not at all", "A little", "Somewhat", "Very"), True),
    ("immig", "Should immigration be increased or decreased?", ("Increased", "Kept the same", "Decreased"), True),
    ("pet", "Which pet would you rather have?", ("Cat", "Dog", "Fish", "No pet"), False),
    ("news", "Where do you get most of your news?", ("TV", "Newspapers", "Internet", "Radio"), False),
    ("union", "Do you approve of labor unions?", ("Approve", "Disapprove"), False),
]


def app_survey(n_respondents: int = 150, n_groups: int = 3, observed: float = 0.85, seed: int = 0) -> Survey:
    """``n_groups`` groups that each prefer one option per question (planted), with attributes
    (age, party, region) tied to the group."""
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, n_respondents)
    questions = [Question(qid, text, opts, ordinal=ordinal) for qid, text, opts, ordinal in QUESTIONS]
    preferred = np.array([[(g * 7 + j * 3) % q.n_options for j, q in enumerate(questions)] for g in range(n_groups)])
    rows, cols, opts = [], [], []
    for i in range(n_respondents):
        for j, q in enumerate(questions):
            if rng.random() > observed:
                continue
            logits = rng.normal(0, 0.4, q.n_options)
            logits[preferred[groups[i], j]] += 3.0
            p = np.exp(logits - logits.max())
            rows.append(i)
            cols.append(j)
            opts.append(rng.choice(q.n_options, p=p / p.sum()))
    parties = np.array(["Democrat", "Republican", "Independent"])
    attributes = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n_respondents),
            "party": np.where(rng.random(n_respondents) < 0.8, parties[groups % 3], parties[rng.integers(0, 3, n_respondents)]),
            "region": rng.choice(["North", "South", "East", "West"], n_respondents),
        },
        index=[f"r{i}" for i in range(n_respondents)],
    )
    return Survey.from_codes(
        "app-test", questions, [f"r{i}" for i in range(n_respondents)],
        Answers(np.array(rows), np.array(cols), np.array(opts)), attributes=attributes, source={"kind": "synthetic"},
    )


def fast_config() -> SpaceConfig:
    """A persona-space configuration that builds the small survey in seconds."""
    return SpaceConfig(
        factorization=FactorizationConfig(n_factors=8, epochs=30, progress=False),
        projection=ProjectionConfig(n_neighbors=10),
        cohorts=CohortConfig(min_cluster_size=10),
        profile=ProfileConfig(min_answers=5),
    )


# --------------------------------------------------------------------- built space
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402


@dataclass(frozen=True)
class BuiltSpace:
    """A small persona space stored in a SQLite file with its artifacts folder."""

    url: str
    root: Path
    artifacts: Path
    run_id: int
    run_key: str

    def forget_cohort_names(self) -> None:
        """Delete every LLM-written cohort name stored in the space's database."""
        from sqlalchemy import delete

        from db.models import CohortName
        from db.session import session_scope

        with session_scope(self.url) as s:
            s.execute(delete(CohortName))


_BUILT: dict[str, BuiltSpace] = {}


def build_app_space(root: Path) -> BuiltSpace:
    """Build and store :func:`app_survey`'s space under ``root`` (memoized per process, so test
    folders that each ask for it share one build)."""
    from persona_core.pipeline import build_and_store

    if "space" not in _BUILT:
        url = f"sqlite:///{root / 'persona.db'}"
        artifacts = root / "artifacts"
        result = build_and_store(app_survey(), db_url=url, config=fast_config(), artifact_dir=artifacts / "space")
        _BUILT["space"] = BuiltSpace(url, root, artifacts, result.run_id, result.space.run_key)
    return _BUILT["space"]


def write_csv_survey(survey: Survey, folder: Path) -> Path:
    """``survey`` in the CSV long format (answers.csv, questions.csv, respondents.csv)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    a = survey.answers
    pd.DataFrame({
        "respondent_id": [survey.respondent_ids[i] for i in a.respondent],
        "question_id": [survey.questions[j].id for j in a.question],
        "answer": [survey.questions[j].options[k] for j, k in zip(a.question, a.option)],
    }).to_csv(folder / "answers.csv", index=False)
    pd.DataFrame({
        "question_id": [q.id for q in survey.questions],
        "text": [q.text for q in survey.questions],
        "options": [json.dumps(list(q.options)) for q in survey.questions],
        "ordinal": [str(q.ordinal).lower() for q in survey.questions],
    }).to_csv(folder / "questions.csv", index=False)
    survey.attributes.reset_index().to_csv(folder / "respondents.csv", index=False)
    return folder


def train_tiny_spm(space: BuiltSpace, steps: int = 8) -> Path:
    """Train a suffix-mode SPM for a few steps on the built space, saved where the app finds it
    (``<artifacts>/spm/<run_key>/tiny``); memoized per process."""
    if "spm" in _BUILT:
        return _BUILT["spm"]
    from persona_core.llm import LLM
    from persona_core.service.catalog import load_space_view
    from persona_core.steer.config import tiny_config
    from persona_core.steer.train import SPMTrainer

    view = load_space_view(space.url, space.run_id)
    llm = LLM.from_config()
    config = tiny_config()
    config.train.steps_per_epoch = steps
    config.train.eval_every = 0
    config.train.progress = False
    out = space.artifacts / "spm" / space.run_key / "tiny"
    SPMTrainer(llm.model, llm.tokenizer, config, checkpoint_dir=out).fit(
        view.survey, view.embeddings, view.heldout_mask, view.run_key
    )
    _BUILT["spm"] = out
    return out
