"""Statistics of the current votes: votes per annotator, agreement between annotators
(Krippendorff's alpha, nominal, and raw pairwise agreement) on pairs with two or more
annotators, and the steered-vs-unsteered win rate per persona with a bootstrap interval."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

import numpy as np

from db.models import CHOICES
from db.store import PreferencePairInfo
from persona_core.metrics import bootstrap_interval
from persona_core.preferences.store import Vote


@dataclass(frozen=True)
class Agreement:
    pairs: int  # pairs with two or more annotators
    annotators: int  # annotators who voted on at least one of them
    alpha: float | None  # Krippendorff's alpha (nominal); None when undefined (one category only, or no pairs)
    raw: float | None  # share of agreeing annotator pairs, pooled over pairs


@dataclass(frozen=True)
class WinRate:
    """Steered side vs unsteered for one persona: wins count 1, ties 1/2, both-bad votes are
    left out (counted); ``low``/``high`` is the bootstrap percentile interval (``None`` with
    fewer than two votes)."""

    persona: str
    votes: int  # wins + losses + ties
    wins: int
    losses: int
    ties: int
    both_bad: int
    rate: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class StatsConfig:
    n_boot: int = 2000
    level: float = 0.95
    seed: int = 0


def votes_per_annotator(votes: list[Vote]) -> dict[str, dict[str, int]]:
    """Per annotator: total current votes and the count of each choice."""
    out: dict[str, dict[str, int]] = {}
    for v in votes:
        row = out.setdefault(v.annotator, {"votes": 0, **{c: 0 for c in CHOICES}})
        row["votes"] += 1
        row[v.choice] += 1
    return dict(sorted(out.items()))


def agreement(votes: list[Vote]) -> Agreement:
    """Agreement on the pairs that two or more annotators voted on (choices as nominal values)."""
    import krippendorff

    by_pair: dict[int, dict[str, str]] = defaultdict(dict)
    for v in votes:
        by_pair[v.pair_id][v.annotator] = v.choice
    shared = {p: a for p, a in by_pair.items() if len(a) >= 2}
    if not shared:
        return Agreement(0, 0, None, None)
    coders = sorted({name for a in shared.values() for name in a})
    pairs = sorted(shared)
    code = {c: i for i, c in enumerate(CHOICES)}
    data = np.full((len(coders), len(pairs)), np.nan)
    agree = total = 0
    for j, p in enumerate(pairs):
        choices = list(shared[p].values())
        for name, choice in shared[p].items():
            data[coders.index(name), j] = code[choice]
        counts = Counter(choices)
        agree += sum(k * (k - 1) for k in counts.values())
        total += len(choices) * (len(choices) - 1)
    try:
        alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    except ValueError:  # one category only: alpha is undefined
        alpha = None
    if alpha is not None and not np.isfinite(alpha):
        alpha = None
    return Agreement(len(pairs), len(coders), alpha, agree / total)


def persona_label(meta_persona) -> str:
    if isinstance(meta_persona, dict):
        return str(meta_persona.get("title") or meta_persona.get("key") or "unknown persona")
    return str(meta_persona) if meta_persona else "unknown persona"


def win_rates(votes: list[Vote], pairs: dict[int, PreferencePairInfo], cfg: StatsConfig = StatsConfig()) -> list[WinRate]:
    """Steered-vs-unsteered win rate per persona over current votes on pairs whose meta
    names a ``steered_side`` (``a`` or ``b``)."""
    outcomes: dict[str, list[str]] = defaultdict(list)
    for v in votes:
        pair = pairs.get(v.pair_id)
        if pair is None:
            continue
        steered = pair.meta.get("steered_side")
        if steered not in ("a", "b"):
            continue
        if v.choice in ("a", "b"):
            outcome = "win" if v.choice == steered else "loss"
        else:
            outcome = v.choice
        outcomes[persona_label(pair.meta.get("persona"))].append(outcome)
    out = []
    for persona, results in sorted(outcomes.items()):
        c = Counter(results)
        scores = np.array([{"win": 1.0, "loss": 0.0, "tie": 0.5}[r] for r in results if r != "both_bad"])
        rate = low = high = None
        if len(scores):
            rate = float(scores.mean())
            if len(scores) > 1:  # one vote has no interval
                low, high = bootstrap_interval(scores, confidence=cfg.level, n_resamples=cfg.n_boot, seed=cfg.seed)
        out.append(WinRate(persona, len(scores), c["win"], c["loss"], c["tie"], c["both_bad"], rate, low, high))
    return out


def summary(votes: list[Vote], pairs: dict[int, PreferencePairInfo], cfg: StatsConfig = StatsConfig()) -> dict:
    """All statistics as plain JSON-able data."""
    return {
        "pairs": len(pairs),
        "votes": len(votes),
        "votes_per_annotator": votes_per_annotator(votes),
        "agreement": asdict(agreement(votes)),
        "win_rates": [asdict(w) for w in win_rates(votes, pairs, cfg)],
    }


def database_summary(db_url: str | None, cfg: StatsConfig = StatsConfig()) -> dict:
    """:func:`summary` of every current vote in the database."""
    from db.session import session_scope
    from persona_core.preferences import store

    with session_scope(db_url) as session:
        votes = store.list_votes(session)
        pairs = {p.id: p for p in store.list_pairs(session)}
    return summary(votes, pairs, cfg)
