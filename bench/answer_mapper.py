"""How far the free-text answer-to-option mapper can be trusted; prints one JSON object.

``bench/free_text.py`` judges whether free text carries the steering by mapping each generated
answer to an option with the base model (:func:`persona_core.llm.likelihood.closest_option`).
That figure means something only if the mapper reads a stance from an answer. Here it maps
answers whose stance is known: on the GSS's yes/no questions (options exactly ``yes`` and ``no``)
and on a few plain yes/no questions, every one of :data:`STANCES`' short answers (six that say
yes, six that say no, none using the option's own word alone). For the raw mapper and the
calibrated one (``calibrate=True``: minus its scores after a content-free answer), it reports
accuracy, the share of answers mapped to ``yes`` (0.5 is unbiased) and accuracy on the option's
own text. Beyond yes/no, on the GSS's most common other scales (agree-disagree, too little / about
right / too much, should / should not be, confidence, true/false), the raw mapper reads two
answers of known stance per option (:data:`SCALE_STANCES`): exact accuracy, within one step of
the scale, and chance.

    python bench/answer_mapper.py [--space DIR] [--questions 20] [--scale-questions 3]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from persona_core.cli_steer import resolve_space  # noqa: E402
from persona_core.llm import LLM  # noqa: E402
from persona_core.llm.likelihood import closest_option  # noqa: E402
from persona_core.llm.loading import load_model  # noqa: E402
from persona_core.steer.free_text import is_yes_no  # noqa: E402

STANCES = {
    "yes": ("Yes, I do.", "Absolutely.", "I'd say so, definitely.", "Of course, I'm all for it.", "Sure, that's true for me.",
            "Yes, very much so."),
    "no": ("No, I don't.", "Not at all.", "I'd say not, definitely.", "Of course not, I'm against it.",
           "No, that's not true for me.", "No, not really."),
}
PLAIN_QUESTIONS = ("Do you enjoy drinking tea?", "Would you rather live in a big city?", "Do you watch sports on television?",
                   "Should pets be allowed in restaurants?", "Do you like rainy weather?", "Do you read books every week?")


def yes_no_questions(space, limit: int, seed: int) -> list[tuple[str, list[str]]]:
    """Up to ``limit`` of the survey's questions whose options are exactly yes and no (seeded draw),
    each as (text, its options in the survey's order)."""
    found = [(q.text, list(q.options)) for q in space.survey.questions if is_yes_no(q)]
    rng = np.random.default_rng(seed)
    keep = sorted(rng.choice(len(found), min(limit, len(found)), replace=False)) if found else []
    return [found[i] for i in keep]


# Answers of known stance for the GSS's most common scales beyond yes/no (none is an option's bare
# text): the other questions' free text is judged by the same mapper (bench/free_text.py).
SCALE_STANCES: dict[str, tuple[str, ...]] = {
    "strongly agree": ("I agree completely.", "Absolutely, there is no doubt about it."),
    "agree": ("I mostly go along with that.", "Yes, on the whole I think so."),
    "neither agree nor disagree": ("I have no opinion either way.", "I'm in the middle on that."),
    "disagree": ("I mostly don't think so.", "No, on the whole I'd say that's not right."),
    "strongly disagree": ("I completely reject that.", "Absolutely not, that is wrong."),
    "too little": ("We are not spending nearly enough on it.", "It needs far more money than it gets."),
    "about right": ("What we spend now is fine.", "The current level is sensible, leave it as it is."),
    "too much": ("We already spend far more than we should.", "That spending should be cut back."),
    "definitely should be": ("It must be, without question.", "Certainly, that is the government's job."),
    "probably should be": ("I lean towards yes, I think it likely should.", "Probably, on balance."),
    "probably should not be": ("I lean against it, on balance.", "Probably not, though I'm unsure."),
    "definitely should not be": ("Under no circumstances.", "Certainly not, that isn't the government's job."),
    "a great deal": ("I trust them completely.", "I have lots of confidence in them."),
    "only some": ("I trust them somewhat, with doubts.", "Partly, but not fully."),
    "hardly any": ("I barely trust them at all.", "Almost none, I'm very sceptical."),
    "true": ("That's correct.", "Yes, that is right."),
    "false": ("That's wrong.", "No, that is incorrect."),
}


def scale_questions(space, limit_per_scale: int, seed: int) -> list[tuple[str, list[str]]]:
    """Up to ``limit_per_scale`` survey questions (seeded draw) of each option set whose every
    option has answers in :data:`SCALE_STANCES`, each as (text, its options in the survey's order)."""
    by_scale: dict[frozenset, list[tuple[str, list[str]]]] = {}
    for q in space.survey.questions:
        options = [str(o).strip().lower() for o in q.options]
        if (len(options) > 2 and all(o in SCALE_STANCES for o in options)) or sorted(options) == ["false", "true"]:
            by_scale.setdefault(frozenset(options), []).append((q.text, list(q.options)))
    rng = np.random.default_rng(seed)
    picked = []
    for found in by_scale.values():
        keep = sorted(rng.choice(len(found), min(limit_per_scale, len(found)), replace=False))
        picked.extend(found[i] for i in keep)
    return picked


def measure_scales(llm, questions: list[tuple[str, list[str]]]) -> dict:
    """The raw mapper on :data:`SCALE_STANCES`' answers: exact accuracy, accuracy within one step
    of the scale (the survey's option order), and chance, pooled and per option set."""
    rows = []
    for text, options in tqdm(questions, desc="scales", file=sys.stderr):
        index = {str(o).strip().lower(): i for i, o in enumerate(options)}
        for option, said in index.items():
            for answer in SCALE_STANCES[option]:
                picked = int(np.argmax(closest_option(llm, text, answer, options)))
                rows.append((" / ".join(options), picked == said, abs(picked - said) <= 1, 1 / len(options)))

    def summary(part):
        return {"answers": len(part), "accuracy": float(np.mean([r[1] for r in part])),
                "within_one_step": float(np.mean([r[2] for r in part])), "chance": float(np.mean([r[3] for r in part]))}

    scales = sorted({r[0] for r in rows})
    return {"pooled": summary(rows), "per_scale": {k: summary([r for r in rows if r[0] == k]) for k in scales}}


def measure(llm, questions: list[tuple[str, list[str]]], calibrate: bool) -> dict:
    hits, said_yes, own_text = [], [], []
    for text, options in tqdm(questions, desc=f"calibrate={calibrate}", file=sys.stderr):
        index = {str(o).strip().lower(): i for i, o in enumerate(options)}
        for stance, answers in STANCES.items():
            for answer in answers:
                picked = int(np.argmax(closest_option(llm, text, answer, options, calibrate=calibrate)))
                hits.append(picked == index[stance])
                said_yes.append(picked == index["yes"])
        for o, option in enumerate(options):
            own_text.append(int(np.argmax(closest_option(llm, text, option, options, calibrate=calibrate))) == o)
    return {"answers": len(hits), "accuracy": float(np.mean(hits)), "share_mapped_to_yes": float(np.mean(said_yes)),
            "accuracy_on_option_text": float(np.mean(own_text))}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", help="persona space folder (default: the newest stored space)")
    ap.add_argument("--questions", type=int, default=20, help="GSS yes/no questions drawn")
    ap.add_argument("--scale-questions", type=int, default=3, help="survey questions drawn per scale beyond yes/no")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    space, _ = resolve_space(argparse.Namespace(db=None, dataset=None, space=args.space))
    llm = LLM(*load_model())
    sets = {"survey_yes_no": yes_no_questions(space, args.questions, args.seed),
            "plain_yes_no": [(q, ["Yes", "No"]) for q in PLAIN_QUESTIONS]}
    out = {"space": space.run_key, "load_average_at_start": os.getloadavg()[0],
           "questions": {k: len(v) for k, v in sets.items()}}
    for name, questions in sets.items():
        out[name] = {"raw": measure(llm, questions, calibrate=False), "calibrated": measure(llm, questions, calibrate=True)}
    scales = scale_questions(space, args.scale_questions, args.seed)
    out["questions"]["survey_scales"] = len(scales)
    out["survey_scales"] = measure_scales(llm, scales)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
