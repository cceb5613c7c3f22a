"""SynthesizeMe (Ryan et al., ACL 2025): a persona induced from one person's preference pairs,
used with demonstrations as a personalized judge.

1. **Bootstrap reasoning.** For each context pair the LLM writes why the person preferred their
   choice; the reasoning is given back to the judge (without the label) and kept only if the
   judge then predicts the person's choice (P(chosen) averaged over both presentation orders
   above 1/2).
2. **Persona synthesis.** The kept reasoning with its pairs goes to a prompt that writes a
   short plain-text persona (without kept reasoning: from the choices alone, and said so).
3. **Demo selection.** Context pairs that the persona-only judge gets right are candidate
   demonstrations; random sets of at most ``max_demos`` (and the empty set) are tried on the
   validation pairs and the best is kept.

Evaluation (:func:`evaluate_judges`): pairwise accuracy on the test pairs, each judged in both
presentation orders, ties wrong, against the same judge without persona or demonstrations and
against a random 50 %. The person's decided pairs are split 50 / 20 / 30 (context / validation /
test) by :func:`split_examples`.
"""
from __future__ import annotations

import random
import sys
from dataclasses import asdict, dataclass, field

import numpy as np
from persona_core.progress import tqdm

from persona_core.metrics import bootstrap_interval
from persona_core.preferences.judge import Demo, Example, Judge, JudgeConfig, clip, debiased_correct, pair_block, pairwise_accuracy

REASONING_SYSTEM = "You study people's preferences between answers."
PERSONA_SYSTEM = "You write short, concrete descriptions of people's preferences."
PERSONA_LEAD = "This person"


@dataclass(frozen=True)
class SynthesizeMeConfig:
    """Token budgets are small so a CPU run stays short; raise them for a larger model."""

    reasoning_tokens: int = 48
    persona_tokens: int = 64
    attempts: int = 1  # reasoning attempts per context pair (the first greedy, the rest sampled)
    max_demos: int = 4
    n_demo_sets: int = 4
    fractions: tuple[float, float, float] = (0.5, 0.2, 0.3)
    min_pairs: int = 5
    seed: int = 0
    judge: JudgeConfig = field(default_factory=JudgeConfig)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------- data
def split_examples(examples: list[Example], fractions=(0.5, 0.2, 0.3), seed: int = 0) -> tuple[list, list, list]:
    """Shuffle and split into (context, validation, test); each part gets at least one pair
    (so at least three pairs are needed)."""
    if len(examples) < 3:
        raise ValueError(f"a context/validation/test split needs at least 3 decided pairs, got {len(examples)}")
    if len(fractions) != 3 or any(f <= 0 for f in fractions):
        raise ValueError(f"fractions must be three positive numbers, got {fractions}")
    total = sum(fractions)
    n = len(examples)
    order = random.Random(seed).sample(range(n), n)
    n_test = max(1, int(round(n * fractions[2] / total)))
    n_val = max(1, int(round(n * fractions[1] / total)))
    n_ctx = n - n_test - n_val
    if n_ctx < 1:
        n_test -= 1 - n_ctx
        n_ctx = 1
    picked = [examples[i] for i in order]
    return picked[:n_ctx], picked[n_ctx:n_ctx + n_val], picked[n_ctx + n_val:]


def examples_from_votes(votes, pairs: dict) -> list[Example]:
    """Decided votes (``a`` or ``b``) as examples; ties and both-bad carry no preference."""
    out = []
    for v in votes:
        if v.choice not in ("a", "b"):
            continue
        p = pairs[v.pair_id]
        chosen, rejected = (p.response_a, p.response_b) if v.choice == "a" else (p.response_b, p.response_a)
        out.append(Example(v.pair_id, p.prompt, chosen, rejected))
    return out


# ------------------------------------------------------------------------- estimator
@dataclass
class Trace:
    example: Example
    order: str  # how the pair was shown to the reasoner ("cr": chosen first)
    reasoning: str
    p_chosen: float  # judge's P(chosen) with the reasoning, averaged over both orders
    kept: bool


class SynthesizeMe:
    """Fit on one person's context and validation examples; learned state: ``traces_``,
    ``persona_``, ``demos_``, ``demo_search_``, ``persona_source_``."""

    def __init__(self, llm, config: SynthesizeMeConfig = SynthesizeMeConfig()) -> None:
        self.llm = llm
        self.config = config

    # ------------------------------------------------------------------ helpers
    def _generate(self, user_texts: list[str], system: str, max_new_tokens: int, seed: int | None,
                  greedy: bool = True) -> list[str]:
        from persona_core.llm import GenerationSettings

        settings = GenerationSettings(temperature=0.0 if greedy else 0.8, top_p=0.95, max_new_tokens=max_new_tokens, seed=seed)
        prompts = [self.llm.chat_prompt(u, system=system) for u in user_texts]
        out: list[str] = []
        bs = self.config.judge.batch_size
        for start in range(0, len(prompts), bs):
            out += [t.strip() for t in self.llm.generate(prompts[start:start + bs], settings=settings)]
        return out

    def _judge(self, persona: str | None = None, demos=()) -> Judge:
        return Judge(self.llm, persona=persona, demos=list(demos), config=self.config.judge)

    def reasoning_prompt(self, ex: Example, order: str) -> str:
        n = self.config.judge.max_chars
        a, b = (ex.chosen, ex.rejected) if order == "cr" else (ex.rejected, ex.chosen)
        label = "A" if order == "cr" else "B"
        return (
            f"A person read this conversation and preferred Response {label}.\n\n{pair_block(ex.prompt, a, b, n)}\n\n"
            f"In one or two sentences, explain what this choice says about what the person values."
        )

    def persona_prompt(self, traces: list[Trace], examples: list[Example]) -> str:
        n = min(self.config.judge.max_chars, 240)
        lines = []
        if traces:
            for i, t in enumerate(traces, 1):
                lines.append(f"Choice {i}\nQuestion: {clip(t.example.prompt, n)}\nPreferred: {clip(t.example.chosen, n)}\n"
                             f"Not preferred: {clip(t.example.rejected, n)}\nWhy: {clip(t.reasoning, n)}")
        else:
            for i, ex in enumerate(examples, 1):
                lines.append(f"Choice {i}\nQuestion: {clip(ex.prompt, n)}\nPreferred: {clip(ex.chosen, n)}\n"
                             f"Not preferred: {clip(ex.rejected, n)}")
        return (
            "Here are choices one person made between two answers.\n\n" + "\n\n".join(lines) +
            f"\n\nDescribe this person's preferences in two or three sentences, starting with \"{PERSONA_LEAD}\"."
        )

    # ---------------------------------------------------------------------- fit
    def bootstrap_reasoning(self, context: list[Example]) -> list[Trace]:
        """Step 1: reasoning per context pair (``attempts`` tries), verified by the judge."""
        cfg = self.config
        rng = random.Random(cfg.seed)
        judge = self._judge()
        best: dict[int, Trace] = {}
        for attempt in range(cfg.attempts):
            orders = [rng.choice(["cr", "rc"]) for _ in context]
            texts = self._generate([self.reasoning_prompt(ex, o) for ex, o in zip(context, orders)], REASONING_SYSTEM,
                                   cfg.reasoning_tokens, seed=cfg.seed + attempt, greedy=attempt == 0)
            first, second = judge.both_orders(context, texts)
            for i, ex in enumerate(context):
                p = float((first[i] + second[i]) / 2)
                trace = Trace(ex, orders[i], texts[i], p, kept=p > 0.5 and bool(texts[i]))
                if i not in best or (trace.kept, trace.p_chosen) > (best[i].kept, best[i].p_chosen):
                    best[i] = trace
        return [best[i] for i in range(len(context))]

    def synthesize_persona(self, traces: list[Trace], context: list[Example]) -> tuple[str, str]:
        """Step 2: the persona text and where it came from (``"reasoning"`` or ``"choices"``)."""
        kept = [t for t in traces if t.kept]
        source = "reasoning" if kept else "choices"
        text = self._generate([self.persona_prompt(kept, context)], PERSONA_SYSTEM, self.config.persona_tokens,
                              seed=self.config.seed)[0]
        text = " ".join(text.split())
        if not text:
            text = f"{PERSONA_LEAD} has no clear preference pattern yet."
        return text, source

    def select_demos(self, persona: str, traces: list[Trace], validation: list[Example]) -> tuple[list[Demo], list[dict]]:
        """Step 3: candidate demo sets from context pairs the persona judge gets right; the best on validation."""
        cfg = self.config
        rng = random.Random(cfg.seed + 1)
        examples = [t.example for t in traces]
        first, second = self._judge(persona).both_orders(examples)
        agree = [t for t, ok in zip(traces, debiased_correct(first, second)) if ok]
        candidates: list[list[Trace]] = [[]]
        if agree:
            k = min(cfg.max_demos, len(agree))
            seen = set()
            for _ in range(cfg.n_demo_sets * 3):
                subset = tuple(sorted(rng.sample(range(len(agree)), k)))
                if subset not in seen:
                    seen.add(subset)
                    candidates.append([agree[i] for i in subset])
                if len(candidates) > cfg.n_demo_sets:
                    break
        search, best, best_score = [], [], -1.0
        for cand in candidates:
            demos = [Demo(t.example, rng.choice(["cr", "rc"]), t.reasoning if t.kept else "") for t in cand]
            f, s = self._judge(persona, demos).both_orders(validation)
            score = (pairwise_accuracy(f, s), float(np.mean(debiased_correct(f, s))))
            search.append({"demo_pairs": [d.example.pair_id for d in demos], "val_accuracy": score[0],
                           "val_accuracy_debiased": score[1]})
            if sum(score) > best_score:
                best, best_score = demos, sum(score)
        return best, search

    def fit(self, context: list[Example], validation: list[Example]) -> "SynthesizeMe":
        if not context or not validation:
            raise ValueError("SynthesizeMe.fit needs at least one context and one validation pair")
        steps = tqdm(total=3, desc="synthesize", unit="step", file=sys.stderr)
        steps.set_postfix_str("reasoning")
        self.traces_ = self.bootstrap_reasoning(context)
        steps.update(1)
        steps.set_postfix_str("persona")
        self.persona_, self.persona_source_ = self.synthesize_persona(self.traces_, context)
        steps.update(1)
        steps.set_postfix_str("demos")
        self.demos_, self.demo_search_ = self.select_demos(self.persona_, self.traces_, validation)
        steps.update(1)
        steps.close()
        return self

    def judge(self) -> Judge:
        """The personalized judge: persona + selected demonstrations."""
        return self._judge(self.persona_, self.demos_)


# ------------------------------------------------------------------------- evaluation
def judge_scores(judge: Judge, test: list[Example]) -> dict:
    """Accuracy of one judge on the test pairs (both orders, ties wrong), its 95 % bootstrap
    interval over pairs, the debiased accuracy (orders averaged) and order consistency."""
    f, s = judge.both_orders(test)
    per_pair = ((f > 0.5).astype(float) + (s > 0.5).astype(float)) / 2
    lo, hi = bootstrap_interval(per_pair)
    return {
        "accuracy": pairwise_accuracy(f, s),
        "ci95": [lo, hi],
        "accuracy_debiased": float(np.mean(debiased_correct(f, s))),
        "order_consistency": float(np.mean((f > 0.5) == (s > 0.5))),
    }


def evaluate_judges(model: SynthesizeMe, test: list[Example]) -> dict:
    """The personalized judge vs the same judge without persona or demos vs random 50 %."""
    return {
        "test_pairs": len(test),
        "synthesizeme": judge_scores(model.judge(), test),
        "default_judge": judge_scores(Judge(model.llm, config=model.config.judge), test),
        "random": 0.5,
    }
