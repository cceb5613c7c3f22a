"""Unsteered and steered answers side by side, from one batch.

Every prompt is laid out as the soft-prompting model (SPM) was trained on it (see
:mod:`persona_core.steer.prompts`)::

    head (chat start, system prompt, question, instruction) | row part | cue (end of turn, assistant header)

The unsteered row has no row part; the steered row has the SPM's virtual tokens there (suffix
mode; prompt mode puts them before the head) or, without an SPM, the persona written as text.
Both rows go to :meth:`persona_core.llm.LLM.generate_stream` as per-row input embeddings in
one batch, so both sides stream together. SPMs whose virtual tokens are keys/values
(``suffix_kv``: after the question's cached keys/values; ``prefix``: before everything) decode
through :func:`persona_core.service.decoding.prefill_from_past`, still one batch. The batch's
prompt can be run ahead (:meth:`Comparer.prepare`, which the page calls once the persona and
question are shown) and is kept, so a click decodes from the first token. From there the two rows
decode as that batch of two, which on a CPU costs little more than one row a step
(:mod:`persona_core.llm.cpu_layout`; the unsteered row skips the adapter of an SPM that has one,
:func:`persona_core.steer.adapter.row_adapters`). ``parallel_rows=True`` decodes them side by side
instead, each a batch of one in its own thread (:mod:`persona_core.llm.parallel`), the steered one
on a copy of the model with the adapter merged in. Option probabilities
for a bank question come from the same layout with the training instruction, scored as in training.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from persona_core.data.survey import Question
from persona_core.llm import LLM, GenerationSettings, Prefill
from persona_core.llm.parallel import lockstep
from persona_core.llm.prompts import MCFormat, mc_user_text
from persona_core.memo import LockedLRU
from persona_core.service.personas import Persona
from persona_core.service.decoding import prefill_from_past, stream_from_past
from persona_core.steer.adapter import BASE, enable_row_adapters, merged_copy, row_adapters, with_row_adapters
from persona_core.steer.engine import HeadCache, extend_kv, rotate_keys, score_texts, score_virtual
from persona_core.steer.prompts import SYSTEM_PROMPT, PromptBuilder, chat_split, free_question_block

METHODS = {"spm": "Soft prompt (SPM) from the persona's embedding", "text": "Persona described in the prompt (text)"}
BANK_INSTRUCTION = "Choose one of the options and explain your choice in one or two sentences."
TEXT_PERSONA_LEAD = "\nAnswer as this person would. "
KV_MODES = ("prefix", "suffix_kv")
PREFILLS_KEPT = 4  # prompts run ahead and kept (a text-steered one holds ~25 MB of keys/values)


class SteeringUnavailable(RuntimeError):
    """The requested steering cannot be done (no SPM, a mode that cannot generate, ...)."""


@dataclass
class ComparisonResult:
    """One finished comparison, as the page keeps it and the annotation queue stores it."""

    prompt: str
    unsteered: str
    steered: str
    method: str
    persona_kind: str
    persona_key: str
    persona_title: str
    question_id: str | None
    settings: dict
    first_token_s: tuple[float | None, float | None] = (None, None)
    total_s: float = 0.0
    extra: dict = field(default_factory=dict)


def question_text(question: Question | str) -> str:
    """The user's turn of a comparison: a bank question with its lettered options and an
    instruction to choose and explain; a free-text question with an instruction to be brief."""
    if isinstance(question, Question):
        return mc_user_text(question.text, list(question.options), MCFormat(instruction=BANK_INSTRUCTION))
    text = str(question).strip()
    if not text:
        raise ValueError("the question is empty")
    return free_question_block(text)


def _request_key(question: Question | str, method: str, persona: Persona | None, description: str | None) -> tuple:
    """What one comparison's prompt and scores depend on (their memos' key)."""
    return (method, question_text(question), description.strip() if method == "text" else None,
            None if persona is None else (persona.kind, persona.key, persona.members, persona.run_key))


def has_options(question: Question | str) -> bool:
    """Whether ``question`` is a bank question with options to score and pick from (two or more)."""
    return isinstance(question, Question) and question.n_options >= 2


def answer_start(k: int, option: str) -> str:
    """How an answer that picks option ``k`` begins: its letter and text, as the bank prompt lists
    them, then "because", so that the model goes on to explain the pick (after "B. no." the 135M
    model mostly ends its turn: a bare option is no answer)."""
    return f"{chr(65 + k)}. {option.strip().rstrip('.')}, because"


class Comparer:
    """Generates and scores the unsteered and the steered answer of one persona, side by side.

    ``spm``: a loaded :class:`persona_core.steer.model.SoftPromptModel` (``None``: only text
    steering); ``spm_path``: where it came from (recorded with stored pairs). ``parallel_rows``:
    decode the two rows side by side in two threads rather than as one batch of two (bench/app.py
    --only batch, with the prompt run ahead: one batch 0.98x the unsteered answer alone with text
    steering and 1.15x with an SPM and its adapter; side by side 1.24x and 1.21x).
    """

    def __init__(self, llm: LLM, spm=None, spm_path: str | Path | None = None, system_prompt: str = SYSTEM_PROMPT,
                 parallel_rows: bool = False) -> None:
        self.llm = llm
        self.parallel_rows = parallel_rows
        self._merged: LLM | None = None
        self._merged_lock = threading.Lock()
        self.spm = spm
        self.spm_path = None if spm_path is None else str(spm_path)
        self.system_prompt = system_prompt
        self.builder = PromptBuilder(llm.tokenizer, system_prompt=system_prompt)
        self.heads = HeadCache(llm.model, max_items=64)
        self._prefills: LockedLRU[tuple[LLM, Prefill, list[str] | None]] = LockedLRU(PREFILLS_KEPT)
        self._probabilities: LockedLRU[tuple[np.ndarray, np.ndarray]] = LockedLRU(PREFILLS_KEPT)
        self._adapted_views: dict[bool, Comparer] = {}

    def _adapted(self, generation: bool = True) -> "Comparer | None":
        """For an SPM trained with a LoRA adapter: a comparer over the adapted copy of the model
        (its own question-head cache), used for the steered side only; ``generation``: the copy
        that generates text (:attr:`SoftPromptModel.generation_lm`), else the one that scores
        options. ``None`` otherwise."""
        lm = None if self.spm is None else (self.spm.generation_lm if generation else self.spm.steered_lm)
        if lm is None or lm is self.llm.model:
            return None
        view = self._adapted_views.get(generation)
        if view is None or view.llm.model is not lm:
            view = self._adapted_views[generation] = Comparer(
                LLM(lm, self.llm.tokenizer), spm=self.spm, spm_path=self.spm_path, system_prompt=self.system_prompt)
        return view

    def _steered_decoder(self, llm: LLM, names: list[str] | None) -> LLM:
        """What decodes the steered row of a batch from :meth:`_batch` on its own: the batch's model,
        or, where the batch switches adapters per row (``names``), its copy with the adapter merged in."""
        return llm if names is None else self._merged_llm(llm)

    def _merged_llm(self, adapted: LLM) -> LLM:
        """``adapted``'s model with its adapter merged in (made once): the steered row alone."""
        with self._merged_lock:
            if self._merged is None:
                self._merged = LLM(merged_copy(adapted.model), self.llm.tokenizer)
            return self._merged

    def unsteered_stream(self, question: Question | str, settings: GenerationSettings | None,
                         forced: list[int] | None = None) -> Iterator[list[str]]:
        """The unsteered answer alone, on the plain base model (shared question-head cache);
        ``forced``: the tokens it starts with (see :meth:`LLM.continue_stream`)."""
        head, cue = self._parts(question)
        with torch.inference_mode():
            shared = self.heads.get(torch.tensor(head, dtype=torch.long))
            rows = [self.llm.input_embeddings(cue)]
        return stream_from_past(self.llm, shared, torch.ones(1, shared[0][0].shape[2], dtype=torch.long), rows, settings,
                                forced=None if forced is None else [forced])

    # --------------------------------------------------------------- methods
    @property
    def methods(self) -> list[str]:
        """Steering methods available: ``"spm"`` when an SPM is loaded, always ``"text"``."""
        return (["spm"] if self.spm is not None else []) + ["text"]

    @property
    def spm_mode(self) -> str | None:
        return None if self.spm is None else self.spm.config.mode

    def _check(self, method: str, persona: Persona | None, description: str | None) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown steering method {method!r}; use one of {sorted(METHODS)}")
        if method == "spm":
            if self.spm is None:
                raise SteeringUnavailable("no SPM checkpoint is loaded for this persona space")
            if persona is None:
                raise SteeringUnavailable("steering with the SPM needs a persona")
        if method == "text" and not (description or "").strip():
            raise SteeringUnavailable("steering by text needs a persona description")

    def _virtual(self, persona: Persona) -> torch.Tensor:
        """The SPM's virtual tokens for ``persona``: (T, hidden) for prompt/suffix modes."""
        with torch.inference_mode():
            return self.spm(torch.as_tensor(np.asarray(persona.vector, np.float32)[None]))

    # ------------------------------------------------------------- generation
    def _parts(self, question: Question | str, cue_tokens: int | None = None) -> tuple[list[int], list[int]]:
        """Token ids of (head, cue); ``cue_tokens=c`` cuts the prompt ``c`` tokens before its end
        instead of after the user's text (where an SPM with that setting puts its tokens)."""
        head, cue = self.llm.encode(list(chat_split(self.llm.tokenizer, self.system_prompt, question_text(question))))
        if cue_tokens is not None:
            full = head + cue
            head, cue = full[:-cue_tokens], full[-cue_tokens:]
        return head, cue

    def prompt_ids(self, question: Question | str) -> list[int]:
        """Token ids of the unsteered prompt of ``question``: what the base model reads before
        its answer (for the answer's perplexity)."""
        head, cue = self._parts(question)
        return head + cue

    def generation_rows(
        self, question: Question | str, method: str, persona: Persona | None = None, description: str | None = None
    ) -> list[torch.Tensor]:
        """Input embeddings of the two rows (unsteered, steered) of one comparison."""
        self._check(method, persona, description)
        head, cue = self._parts(question, self.spm.config.cue_tokens if method == "spm" else None)
        emb = self.llm.input_embeddings
        plain = emb(head + cue)
        if method == "text":
            row = self.llm.encode([TEXT_PERSONA_LEAD + description.strip()])[0]
            return [plain, emb(head + row + cue)]
        mode = self.spm_mode
        with torch.inference_mode():
            virtual = self._virtual(persona)
            if mode == "suffix":
                steered = torch.cat([emb(head), virtual[0].to(plain.dtype), emb(cue)])
            elif mode == "prompt":
                steered = torch.cat([virtual[0].to(plain.dtype), plain])
            else:
                raise SteeringUnavailable(
                    f"a {mode}-mode SPM makes keys/values, not input embeddings; use kv_inputs()"
                )
        return [plain, steered]

    def shared_head_inputs(
        self, question: Question | str, method: str, persona: Persona | None = None, description: str | None = None
    ) -> tuple[list, torch.Tensor, list[torch.Tensor]]:
        """The question's head as a key/value cache shared by both rows (computed once per
        question and kept), and what each row adds after it: the cue (unsteered); the persona
        text or the suffix-mode virtual tokens, then the cue (steered). Only those tokens run per
        click, which keeps the first token quick. The persona text runs once, for the steered row
        alone, into that row's past (the unsteered row's past has masked slots there), so the
        batch does not pad the unsteered row to the text's length and compute it twice."""
        self._check(method, persona, description)
        if method == "spm" and self.spm_mode != "suffix":
            raise ValueError("only text and suffix-mode steering put their row part after the question head")
        head, cue = self._parts(question, self.spm.config.cue_tokens if method == "spm" else None)
        emb = self.llm.input_embeddings
        with torch.inference_mode():
            shared = self.heads.get(torch.tensor(head, dtype=torch.long))
            H = shared[0][0].shape[2]
            if method == "text":
                row = self.llm.encode([TEXT_PERSONA_LEAD + description.strip()])[0]
                extended = extend_kv(self.llm.model, shared, row)
                past = [(torch.cat([torch.cat([k, torch.zeros_like(ek[:, :, H:])], 2), ek]),
                         torch.cat([torch.cat([v, torch.zeros_like(ev[:, :, H:])], 2), ev]))
                        for (k, v), (ek, ev) in zip(shared, extended)]
                mask = torch.ones(2, H + len(row), dtype=torch.long)
                mask[0, H:] = 0
                return past, mask, [emb(cue), emb(cue)]
            past = [(k.expand(2, -1, -1, -1), v.expand(2, -1, -1, -1)) for k, v in shared]
            steered = torch.cat([self._virtual(persona)[0].to(self.llm.dtype), emb(cue)])
            rows = [emb(cue), steered]
        return past, torch.ones(2, H, dtype=torch.long), rows

    def kv_inputs(self, question: Question | str, persona: Persona,
                  unsteered_heads: HeadCache | None = None) -> tuple[list, torch.Tensor, torch.Tensor]:
        """(past, past mask, input embeddings) of the two rows for a key/value-mode SPM: the
        unsteered row's virtual slots are masked out. ``suffix_kv``: past = question head +
        virtual keys/values (rotated to follow the head), input = cue; ``prefix``: past = the
        virtual keys/values alone, input = the whole prompt (as in training).
        ``unsteered_heads``: where the unsteered row's question head comes from (the plain
        model's, when this comparer runs on an adapted copy; default: this comparer's)."""
        self._check("spm", persona, None)
        mode = self.spm_mode
        if mode not in KV_MODES:
            raise ValueError(f"{mode}-mode SPMs steer through input embeddings; use generation_rows()")
        head, cue = self._parts(question, self.spm.config.cue_tokens if mode == "suffix_kv" else None)
        model = self.llm.model
        with torch.inference_mode():
            virtual = self._virtual(persona)  # per layer (keys, values), (1, kvh, T, hd)
            T = virtual[0][0].shape[2]
            if mode == "suffix_kv":
                head_ids = torch.tensor(head, dtype=torch.long)
                shared = self.heads.get(head_ids)
                plain = shared if unsteered_heads is None else unsteered_heads.get(head_ids)
                H = shared[0][0].shape[2]
                keys = rotate_keys(model, [k for k, _ in virtual], H)
                past = []
                for (pk, pv), (hk, hv), k, (_, v) in zip(plain, shared, keys, virtual):
                    k, v = k.to(hk.dtype), v.to(hv.dtype)
                    past.append((torch.cat([torch.cat([pk, torch.zeros_like(k)], 2), torch.cat([hk, k], 2)]),
                                 torch.cat([torch.cat([pv, torch.zeros_like(v)], 2), torch.cat([hv, v], 2)])))
                mask = torch.ones(2, H + T, dtype=torch.long)
                mask[0, H:] = 0
                ids = cue
            else:
                past = [(torch.cat([torch.zeros_like(k), k]), torch.cat([torch.zeros_like(v), v])) for k, v in virtual]
                mask = torch.ones(2, T, dtype=torch.long)
                mask[0] = 0
                ids = head + cue
            embeds = self.llm.input_embeddings(ids).unsqueeze(0).expand(2, -1, -1)
        return past, mask, embeds

    def prepare(
        self, question: Question | str, method: str, persona: Persona | None = None, description: str | None = None,
        answer_first: bool = False,
    ) -> None:
        """Run the comparison's prompt now and keep it (:meth:`_batch`), so that :meth:`stream`
        starts from its first token. The prompt's costly part is the persona text: about 200
        tokens, 0.35 s on 2 CPU cores. The Compare page calls this once the persona and question
        are shown. ``answer_first``: score the options too (:meth:`answer_starts` draws from
        them). Raises what :meth:`stream` would raise."""
        self._check(method, persona, description)
        if answer_first and has_options(question):
            self.option_probabilities(question, method, persona, description)
        adapted = self._adapted() if method == "spm" else None
        with torch.inference_mode():
            if adapted is not None and self.spm_mode not in KV_MODES:  # two models: warm both heads
                self.heads.get(torch.tensor(self._parts(question)[0], dtype=torch.long))
                adapted.shared_head_inputs(question, method, persona, description)
            else:
                self._batch(question, method, persona, description)

    def forget_prepared(self) -> None:
        """Drop the prompts run ahead and the options scored (keep the question heads)."""
        self._prefills.clear()
        self._probabilities.clear()
        for view in self._adapted_views.values():
            view.forget_prepared()

    def _batch(self, question: Question | str, method: str, persona: Persona | None,
               description: str | None) -> tuple[LLM, Prefill, list[str] | None]:
        """The comparison's one batch (unsteered row, steered row) run through its prompt:
        ``(model to decode with, prefill, per-row adapters or None)``, kept for the last
        :data:`PREFILLS_KEPT` requests. Not for an adapter with an embedding-mode SPM (two models)."""
        key = _request_key(question, method, persona, description)
        return self._prefills.get_or_compute(key, lambda: self._run_prompt(question, method, persona, description))

    def _run_prompt(self, question, method, persona, description) -> tuple[LLM, Prefill, list[str] | None]:
        adapted = self._adapted() if method == "spm" else None
        if adapted is not None:
            # one batch on the adapted copy, its unsteered row skipping the adapter (PEFT's
            # mixed-adapter batch), so that side is the plain base model's answer
            names = [BASE, enable_row_adapters(adapted.llm.model)]
            past, mask, embeds = adapted.kv_inputs(question, persona, unsteered_heads=self.heads)
            with row_adapters(names):
                return adapted.llm, prefill_from_past(adapted.llm, past, mask, embeds), names
        if method == "spm" and self.spm_mode in KV_MODES:
            past, mask, embeds = self.kv_inputs(question, persona)
            return self.llm, prefill_from_past(self.llm, past, mask, embeds), None
        if method == "text" or self.spm_mode == "suffix":
            past, mask, rows = self.shared_head_inputs(question, method, persona, description)
            return self.llm, prefill_from_past(self.llm, past, mask, rows), None
        rows = self.generation_rows(question, method, persona, description)
        return self.llm, self.llm.prefill(["", ""], soft_prompts=rows), None

    def stream(
        self,
        question: Question | str,
        method: str,
        persona: Persona | None = None,
        description: str | None = None,
        settings: GenerationSettings | None = None,
        starts: tuple[str, str] | None = None,
    ) -> Iterator[tuple[str, str]]:
        """Yield ``(unsteered piece, steered piece)`` per decoding step, from one batch's prompt
        (see :meth:`_batch`; from the prompt run ahead by :meth:`prepare` when there is one), the
        rows decoded as that batch or side by side (``parallel_rows``). With an adapter and an
        embedding-mode SPM the two sides run on the two models, step by step side by side.
        ``starts``: the text each side's answer begins with (:meth:`answer_starts`), which the
        model then continues."""
        self._check(method, persona, description)
        forced = None if starts is None else [self.llm.encode([text])[0] for text in starts]
        adapted = self._adapted() if method == "spm" else None
        if adapted is not None and self.spm_mode not in KV_MODES:
            plain = (pieces[0] for pieces in self.unsteered_stream(question, settings, None if forced is None else forced[0]))
            steered = (pieces[1] for pieces in adapted.stream(question, method, persona, description, settings,
                                                              None if starts is None else ("", starts[1])))
            yield from itertools.zip_longest(plain, steered, fillvalue="")
            return
        llm, prefill, names = self._batch(question, method, persona, description)
        if self.parallel_rows:
            # the unsteered row on the plain model (what the batch's adapter-skipping row computes)
            decoders = [self.llm, self._steered_decoder(llm, names)]
            steps = lockstep([d.stream_prefill(prefill.row(i), settings, first_row=i,
                                               forced=None if forced is None else [forced[i]])
                              for i, d in enumerate(decoders)])
        else:
            steps = llm.stream_prefill(prefill, settings, forced=forced)
            if names is not None:
                steps = with_row_adapters(steps, names)
        for pieces in steps:
            yield pieces[0], pieces[1]

    def steered_answer(self, question: Question | str, method: str, persona: Persona | None = None,
                       description: str | None = None, settings: GenerationSettings | None = None,
                       start: str | None = None) -> str:
        """The steered side alone, as :meth:`stream` decodes it side by side (row 1 of the
        comparison's batch; ``start``: the text it begins with). Two personas' answers to one
        question (``pairs generate --mode personas``) are two of these, in every steering mode."""
        self._check(method, persona, description)
        adapted = self._adapted() if method == "spm" else None
        if adapted is not None and self.spm_mode not in KV_MODES:
            return adapted.steered_answer(question, method, persona, description, settings, start)
        llm, prefill, names = self._batch(question, method, persona, description)
        forced = None if start is None else [self.llm.encode([start])[0]]
        pieces = self._steered_decoder(llm, names).stream_prefill(prefill.row(1), settings, first_row=1, forced=forced)
        return "".join(piece[0] for piece in pieces).strip()

    def compare(
        self,
        question: Question | str,
        method: str,
        persona: Persona | None = None,
        description: str | None = None,
        settings: GenerationSettings | None = None,
        on_piece=None,
        answer_first: bool = False,
    ) -> ComparisonResult:
        """Run :meth:`stream` to the end (``on_piece(unsteered_text, steered_text)`` after each
        step, for live display) and return the result with time to first token per side.
        ``answer_first``: on a bank question, each side's answer starts with the option it picks
        from its own option probabilities (:meth:`answer_starts`), then the model explains it
        (a free-text question has no options, and is answered as without it)."""
        settings = settings or GenerationSettings()
        texts = ["", ""]
        first: list[float | None] = [None, None]
        t0 = time.perf_counter()
        picked = (self.answer_starts(question, method, persona, description, settings)
                  if answer_first and has_options(question) else None)
        starts = None if picked is None else tuple(start for start, _ in picked)
        for a, b in self.stream(question, method, persona, description, settings, starts):
            for i, piece in enumerate((a, b)):
                if piece:
                    texts[i] += piece
                    if first[i] is None:
                        first[i] = time.perf_counter() - t0
            if on_piece is not None:
                on_piece(texts[0], texts[1])
        return ComparisonResult(
            prompt=question_text(question),
            unsteered=texts[0].strip(),
            steered=texts[1].strip(),
            method=method,
            persona_kind=persona.kind if persona else "text",
            persona_key=persona.key if persona else "",
            persona_title=persona.title if persona else "",
            question_id=question.id if isinstance(question, Question) else None,
            settings={"temperature": settings.temperature, "top_p": settings.top_p,
                      "max_new_tokens": settings.max_new_tokens, "seed": settings.seed},
            first_token_s=(first[0], first[1]),
            total_s=time.perf_counter() - t0,
            extra={**({"description": description} if method == "text" else {"spm_checkpoint": self.spm_path,
                                                                              "spm_mode": self.spm_mode}),
                   **({} if picked is None else {"picked_options": [int(k) for _, k in picked]})},
        )

    def answer_starts(self, question: Question, method: str, persona: Persona | None = None,
                      description: str | None = None,
                      settings: GenerationSettings | None = None) -> tuple[tuple[str, int], tuple[str, int]]:
        """Per side (unsteered, steered): the start of its answer to a bank question and the option
        it names. Each side picks from its own option probabilities (:meth:`option_probabilities`,
        the reading the eval measures): the likeliest option when decoding is greedy, else a draw
        at the settings' temperature (seeded by ``settings.seed`` and the side's row). Free text
        would otherwise have to find the persona's answer on its own, and the 135M model's free
        answers on a bank question seldom name an option (FINDINGS round 11)."""
        settings = settings or GenerationSettings()
        probabilities = self.option_probabilities(question, method, persona, description)
        out = []
        for row, p in enumerate(probabilities):
            if settings.greedy:
                k = int(np.argmax(p))
            else:
                rng = np.random.default_rng(None if settings.seed is None else (settings.seed, row))
                tempered = np.exp(np.log(np.clip(p, 1e-300, None)) / settings.temperature)
                k = int(rng.choice(len(p), p=tempered / tempered.sum()))
            out.append((answer_start(k, question.options[k]), k))
        return out[0], out[1]

    # ---------------------------------------------------------------- scoring
    def option_probabilities(
        self, question: Question, method: str, persona: Persona | None = None, description: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities of the options of a bank question: (unsteered, steered), each sums to 1
        (kept for the last few requests: the page shows what :meth:`answer_starts` drew from)."""
        if not has_options(question):
            raise ValueError("option probabilities need a bank question with at least two options")
        self._check(method, persona, description)
        key = _request_key(question, method, persona, description)
        return self._probabilities.get_or_compute(
            key, lambda: self._score_options(question, method, persona, description))

    def _score_options(self, question: Question, method: str, persona: Persona | None,
                       description: str | None) -> tuple[np.ndarray, np.ndarray]:
        parts = self.builder.parts(question)
        model = self.llm.model
        empty = torch.zeros(0, dtype=torch.long)
        with torch.inference_mode():
            if method == "text":
                row = self.builder.encode_row_text(TEXT_PERSONA_LEAD + description.strip())
                lp = score_texts(model, self.heads, parts, [empty, row])
                plain, steered = lp[0], lp[1]
            else:
                plain = score_texts(model, self.heads, parts, [empty])[0]
                cut = self.builder.parts(question, self.spm.config.cue_tokens)
                on = self._adapted(generation=False) or self  # the adapted copy, when the SPM was trained with one
                steered = score_virtual(on.llm.model, on.heads, cut, self.spm_mode, self._virtual(persona))[0]
        return (np.exp(plain.double().cpu().numpy()), np.exp(steered.double().cpu().numpy()))
