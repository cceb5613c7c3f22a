"""LLM-written cohort names: the prompt, what counts as a name, and the default model naming the
planted cohorts of the app's test survey."""
from __future__ import annotations

import numpy as np
import pytest

from persona_core.llm import LLM
from persona_core.naming import (
    CohortNamingConfig,
    FEW_SHOT,
    clean_name,
    cohort_evidence,
    identified_share,
    name_cohorts,
    name_identifiability,
    naming_prompt,
)
from persona_core.profile import answer_phrase


@pytest.fixture(scope="module")
def llm() -> LLM:
    return LLM.from_config()


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    from persona_core.service.catalog import load_space_view
    from tests.app.synthetic import build_app_space

    built = build_app_space(tmp_path_factory.mktemp("naming_space"))
    return load_space_view(built.url, built.run_id)


@pytest.mark.parametrize(
    ("reply", "name"),
    [
        ("Labor union supporters", "Labor union supporters"),
        ('"Devout churchgoers".\nMore text', "Devout churchgoers"),
        ("- Name: Worried retirees", "Worried retirees"),
        ("  \n Skeptical scientists! ", "Skeptical scientists"),
        ("", None),
        ("...", None),
        ("Low-income families with children: yes", None),  # a copied question: answer line
        ("Romney's healthcare plan is too expensive, so he's not", None),  # a sentence, not a name
        ("Sterter-Sterter-Sterter-", None),  # cut off mid-word
        ("Do you approve of labor unions", None),  # repeats an evidence line's question
    ],
)
def test_clean_name_keeps_a_short_name_and_nothing_else(reply, name):
    assert clean_name(reply, ["Do you approve of labor unions: Approve"], max_words=6) == name


def test_prompt_shows_the_worked_examples_then_the_cohorts_evidence(llm):
    evidence = ["Do you approve of labor unions: Approve", "Should gun permits be required: Favor"]
    prompt = naming_prompt(llm, evidence)
    positions = [prompt.index(name) for _, name in FEW_SHOT]
    assert positions == sorted(positions)
    assert all(prompt.index(line) > positions[-1] for line in evidence)
    assert prompt.endswith(llm.chat_prompt("x").rsplit("x", 1)[1])  # the assistant header: the reply comes next


def test_the_prompt_key_changes_with_the_settings():
    assert CohortNamingConfig().prompt_key == CohortNamingConfig().prompt_key
    assert CohortNamingConfig(evidence_items=4).prompt_key != CohortNamingConfig().prompt_key
    assert CohortNamingConfig(batch_size=1).prompt_key == CohortNamingConfig().prompt_key
    with pytest.raises(ValueError):
        CohortNamingConfig(max_words=0)


def test_the_default_model_names_the_planted_cohorts_from_their_distinctive_answers(llm, view):
    calls: list[tuple[int, int]] = []
    names = name_cohorts(llm, view.profiles, CohortNamingConfig(batch_size=2), progress=lambda d, t: calls.append((d, t)))
    assert sorted(names) == view.cohorts
    assert calls[-1] == (len(view.cohorts), len(view.cohorts)) and len(calls) == -(-len(view.cohorts) // 2)
    for label, rec in names.items():
        top = view.profiles[label]["distinctive_questions"][:3]
        assert rec.evidence == tuple(answer_phrase(d, 60) for d in top) and len(rec.evidence) == 3
        assert rec.raw, "the model's reply is kept, name or not"
        assert rec.name is None or rec.name == clean_name(rec.raw, rec.evidence)
    assert any(rec.name for rec in names.values()), "no cohort got a name"
    again = name_cohorts(llm, view.profiles)
    assert {c: r.name for c, r in again.items()} == {c: r.name for c, r in names.items()}, "greedy: reproducible"


class _SameReply:
    """Answers every prompt with one text (to test the rule on names two cohorts share)."""

    def __init__(self, text: str) -> None:
        self.text, self.prompts = text, 0

    def chat_turns_prompt(self, turns, system=None) -> str:
        return "\n".join(t["content"] for t in turns)

    def generate(self, prompts, settings=None):
        self.prompts += len(prompts)
        return [self.text] * len(prompts)


def test_a_name_two_cohorts_share_names_neither_and_no_evidence_means_no_call(view):
    fake = _SameReply("Busy parents")
    profiles = {**view.profiles, 99: {"distinctive_questions": []}}
    calls: list[tuple[int, int]] = []
    names = name_cohorts(fake, profiles, progress=lambda d, t: calls.append((d, t)))
    assert fake.prompts == len(view.cohorts)  # the cohort without evidence is not asked about
    assert calls[0] == (1, len(profiles)) and calls[-1] == (len(profiles), len(profiles))  # but counts as named
    assert names[99].name is None and names[99].evidence == ()
    assert all(names[c].name is None and names[c].raw == "Busy parents" for c in view.cohorts)
    one = name_cohorts(fake, {view.cohorts[0]: view.profiles[view.cohorts[0]]})
    assert one[view.cohorts[0]].name == "Busy parents"


def test_names_built_from_the_evidence_identify_their_cohort_and_a_constant_name_does_not(llm, view):
    evidence = [cohort_evidence(view.profiles[c]) for c in view.cohorts]
    k = len(evidence)
    own = name_identifiability(llm, [view.cohort_names[c] for c in view.cohorts], evidence)
    constant = name_identifiability(llm, ["people"] * k, evidence)
    assert own.shape == constant.shape == (k, k)
    assert identified_share(own) >= (k - 1) / k
    assert identified_share(constant) == pytest.approx(1 / k)
    assert np.allclose(constant, constant[0])
    one = name_identifiability(llm, [view.cohort_names[view.cohorts[-1]]], evidence)
    assert one.shape == (1, k) and identified_share(one, own=[k - 1]) == identified_share(own[-1:], own=[k - 1])
    with pytest.raises(ValueError):
        identified_share(one, own=[0, 1])


class _Scripted:
    """The real model for everything but generation, which answers from a script (evidence line -> reply)."""

    def __init__(self, llm: LLM, script: dict[str, str]) -> None:
        self._llm, self.script = llm, script

    def __getattr__(self, name):
        return getattr(self._llm, name)

    def generate(self, prompts, settings=None):
        last_turn = [p.rsplit("apart:", 1)[1] for p in prompts]
        return [next(reply for line, reply in self.script.items() if line in turn) for turn in last_turn]


# Names about the app survey's questions (tests/app/synthetic.py). Which answers end up among a cohort's
# evidence depends on the machine's map and clusters, so the test asks the model which cohort each name fits.
TOPICAL_NAMES = ("Dog owners", "Cat lovers", "Labor union supporters", "Union skeptics", "Bus riders", "Drivers",
                 "Online news readers", "TV news watchers", "Gun permit supporters", "Churchgoers",
                 "Police skeptics", "Climate worriers", "Immigration supporters", "Trusting people")


def test_a_name_that_fits_another_cohorts_answers_better_is_dropped(llm, view):
    evidence = {c: cohort_evidence(view.profiles[c]) for c in view.cohorts}
    cohorts = sorted(evidence)
    pmi = name_identifiability(llm, TOPICAL_NAMES, [evidence[c] for c in cohorts])
    ranked = np.sort(pmi, axis=1)
    margin = ranked[:, -1] - ranked[:, -2]  # how clearly each name fits its best cohort
    best = [cohorts[j] for j in np.argmax(pmi, axis=1)]
    fitting = {c: sorted((i for i, b in enumerate(best) if b == c), key=lambda i: -margin[i]) for c in cohorts}
    # the cohort two names fit most clearly: the first names it, the second is given to another cohort
    named = max((c for c in cohorts if len(fitting[c]) >= 2), key=lambda c: margin[fitting[c][1]])
    own, stray = fitting[named][:2]
    misnamed, other = [c for c in cohorts if c != named][:2]
    # and a third cohort gets the name that most clearly fits some cohort but that one
    elsewhere = max((i for i, b in enumerate(best) if b != other and i not in (own, stray)), key=lambda i: margin[i])
    assert min(margin[stray], margin[elsewhere]) > 0.5, f"names fit no cohort clearly: {dict(zip(TOPICAL_NAMES, best))}"
    script = {evidence[named][0]: TOPICAL_NAMES[own], evidence[misnamed][0]: TOPICAL_NAMES[stray],
              evidence[other][0]: TOPICAL_NAMES[elsewhere]}
    names = name_cohorts(_Scripted(llm, script), view.profiles)
    assert names[named].name == TOPICAL_NAMES[own] and names[named].reason == ""
    assert names[misnamed].name is None and names[misnamed].raw == TOPICAL_NAMES[stray]
    assert names[misnamed].reason == f"the name fits cohort {named}'s answers better than this cohort's"
    assert names[other].name is None and names[other].reason == f"the name fits cohort {best[elsewhere]}'s answers better than this cohort's"
    unchecked = name_cohorts(_Scripted(llm, script), view.profiles, CohortNamingConfig(check_identifies=False))
    assert {c: r.name for c, r in unchecked.items()} == {named: TOPICAL_NAMES[own], misnamed: TOPICAL_NAMES[stray],
                                                          other: TOPICAL_NAMES[elsewhere]}

