"""Generate and score with a frozen causal LM, each row optionally steered by a soft prompt.

A soft prompt is a tensor (T x hidden_size) of input embeddings prepended to its row's
prompt. Rows are left-padded, so the last position of every row is its next-token
position; the attention mask hides the padding and position ids count only real
positions, so a row gives the same result alone or in a batch (steered and unsteered rows
run in one batch).

Decoding is our own loop over ``model(...)`` with ``past_key_values`` rather than
``model.generate``: ``generate`` takes ``inputs_embeds`` but its streamers handle one row
only, and the app needs both sides of a steered/unsteered comparison streamed as they
come from one batch. The loop is a prefill over the padded embeddings, then one
single-token forward per step with the key/value cache (bench/steering.py measures it
against ``model.generate``).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Iterator, Sequence

import numpy as np
import torch
from transformers import DynamicCache

from persona_core.llm.config import LLMConfig
from persona_core.llm.cpu_layout import decoding_step
from persona_core.llm.detok import IncrementalDecoder
from persona_core.llm.loading import load_model
from persona_core.llm.prompts import DEFAULT_MC_FORMAT, MCFormat, mc_user_text, option_labels
from persona_core.llm.sampling import GenerationSettings, next_tokens, row_generators

SoftPrompts = Sequence[torch.Tensor | None] | None


@dataclass
class BatchInputs:
    """Left-padded model inputs: ``embeds`` (B x L x H), ``attention_mask`` and
    ``position_ids`` (B x L)."""

    embeds: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor


@dataclass
class Prefill:
    """A batch's prompt run through the model: the logits at each row's last position
    (B x 1 x vocab), the keys/values (per layer, (B, kv_heads, length, head_dim)), the attention
    mask (B x length) and each row's last position (B x 1). Decoding continues from it
    (:meth:`LLM.stream_prefill`) without changing it, so one prefill serves many generations."""

    logits: torch.Tensor
    kv: list[tuple[torch.Tensor, torch.Tensor]]
    mask: torch.Tensor
    positions: torch.Tensor

    @classmethod
    def from_output(cls, out, cache_arg: str, mask: torch.Tensor, positions: torch.Tensor) -> "Prefill":
        """From a forward pass's output (``logits_to_keep=1``, ``use_cache=True``)."""
        layers = getattr(out, cache_arg).layers
        return cls(out.logits[:, -1:, :], [(layer.keys, layer.values) for layer in layers], mask, positions)

    @property
    def n_rows(self) -> int:
        return int(self.mask.shape[0])

    def row(self, i: int) -> "Prefill":
        """Row ``i`` alone (views, nothing copied), to decode on its own."""
        s = slice(i, i + 1)
        return Prefill(self.logits[s], [(k[s], v[s]) for k, v in self.kv], self.mask[s], self.positions[s])

    def repeat_rows(self, times: int) -> "Prefill":
        """Every row ``times`` times in a row (row ``i`` becomes rows ``i * times`` to
        ``i * times + times - 1``): a prompt sampled several times is run through the model once."""
        rep = lambda t: t.repeat_interleave(times, dim=0)
        return Prefill(rep(self.logits), [(rep(k), rep(v)) for k, v in self.kv], rep(self.mask), rep(self.positions))


class LLM:
    """A frozen causal LM with its tokenizer: chat prompts, generation, option scoring."""

    def __init__(self, model, tokenizer, mc_format: MCFormat = DEFAULT_MC_FORMAT) -> None:
        self.model = model
        self.mc_format = mc_format
        self.tokenizer = tokenizer
        first = next(model.parameters())
        self.device: torch.device = first.device
        self.dtype: torch.dtype = first.dtype
        self.hidden_size: int = model.get_input_embeddings().embedding_dim
        eos = {tokenizer.eos_token_id}
        gen_eos = getattr(model.generation_config, "eos_token_id", None)
        eos.update(gen_eos if isinstance(gen_eos, (list, tuple)) else [gen_eos])
        self.eos_token_ids: frozenset[int] = frozenset(i for i in eos if i is not None)
        self._label_ids: dict[int, list[int]] = {}
        # transformers 5.2x renamed ``past_key_values`` to ``cache``; accept both
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    @classmethod
    def from_config(cls, config: LLMConfig | None = None) -> "LLM":
        return cls(*load_model(config))

    # ----------------------------------------------------------------- prompts
    def chat_prompt(self, user: str, system: str | None = None) -> str:
        """``user`` (and ``system``) through the chat template, ending in the assistant
        header. Without a chat template: the system text, a blank line, the user text."""
        return self.chat_turns_prompt([{"role": "user", "content": user}], system)

    def chat_turns_prompt(self, turns: Sequence[dict[str, str]], system: str | None = None) -> str:
        """A conversation (``{"role": "user" | "assistant", "content": ...}`` turns, e.g. few-shot
        examples, ending with a user turn) through the chat template, ending in the assistant
        header. Without a chat template: the system text, then each turn on its own line."""
        if getattr(self.tokenizer, "chat_template", None) is None:
            return (f"{system}\n\n" if system else "") + "".join(f"{t['content']}\n" for t in turns)
        messages = ([{"role": "system", "content": system}] if system else []) + [dict(t) for t in turns]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def mc_prompt(self, question: str, options: list[str], persona_text: str | None = None) -> str:
        """A multiple-choice prompt (format in :mod:`persona_core.llm.prompts`) ending
        where the answer label comes; ``persona_text`` becomes the system message."""
        return "".join(self.mc_prompt_parts(question, options, persona_text))

    def mc_prompt_parts(
        self, question: str, options: list[str], persona_text: str | None = None
    ) -> tuple[str, str]:
        """:meth:`mc_prompt` split after the user's text: ``(head, cue)`` where ``cue`` is
        the end of turn, the assistant header and the answer cue (a place for soft tokens
        between the question and the answer; ``head + cue == mc_prompt(...)``)."""
        user = mc_user_text(question, options, self.mc_format)
        full = self.chat_prompt(user, system=persona_text) + self.mc_format.answer_cue
        cut = full.rfind(user) + len(user)
        return full[:cut], full[cut:]

    def option_token_ids(self, n: int) -> list[int]:
        """Token ids of the labels of ``n`` options (first token of each label)."""
        if n not in self._label_ids:
            labels = option_labels(n, self.mc_format)
            ids = [self.tokenizer.encode(lab, add_special_tokens=False)[0] for lab in labels]
            if len(set(ids)) != n:
                raise ValueError(f"option labels {labels} do not map to distinct first tokens")
            self._label_ids[n] = ids
        return self._label_ids[n]

    # ------------------------------------------------------------------ inputs
    def encode(self, prompts: Sequence[str]) -> list[list[int]]:
        """Token ids of each prompt. No special tokens are added: chat prompts carry theirs."""
        return [self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]

    def input_embeddings(self, token_ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Input embeddings of ``token_ids`` (any shape -> shape + (hidden_size,))."""
        ids = torch.as_tensor(token_ids, dtype=torch.long, device=self.device)
        return self.model.get_input_embeddings()(ids)

    def pad_embeddings(self, rows: Sequence[torch.Tensor]) -> BatchInputs:
        """Left-pad per-row embedding sequences (each n_i x H) into one batch. Works with
        gradients, so it also serves training of soft prompts placed anywhere in a row."""
        if not rows:
            raise ValueError("empty batch")
        for i, row in enumerate(rows):
            if row.ndim != 2 or row.shape[1] != self.hidden_size or row.shape[0] == 0:
                raise ValueError(
                    f"row {i}: embeddings must be (n > 0) x {self.hidden_size}, got {tuple(row.shape)}"
                )
        width = max(row.shape[0] for row in rows)
        pad = self.input_embeddings([self.tokenizer.pad_token_id])[0]
        embeds, mask = [], torch.zeros(len(rows), width, dtype=torch.long, device=self.device)
        for i, row in enumerate(rows):
            row = row.to(device=self.device, dtype=self.dtype)
            n = row.shape[0]
            embeds.append(torch.cat([pad.expand(width - n, -1), row]) if n < width else row)
            mask[i, width - n :] = 1
        position_ids = (mask.cumsum(dim=1) - 1).clamp(min=0)
        return BatchInputs(torch.stack(embeds), mask, position_ids)

    def build_inputs(self, prompts: Sequence[str], soft_prompts: SoftPrompts = None) -> BatchInputs:
        """Embed ``prompts``, prepend each row's soft prompt (``None`` or 0 x H: none), pad."""
        soft = self._check_soft(soft_prompts, len(prompts))
        rows = []
        for i, ids in enumerate(self.encode(prompts)):
            emb = self.input_embeddings(ids)
            if soft[i] is not None and soft[i].shape[0] > 0:
                emb = torch.cat([soft[i].to(device=self.device, dtype=self.dtype), emb])
            rows.append(emb)
        return self.pad_embeddings(rows)

    def _check_soft(self, soft_prompts: SoftPrompts, n: int) -> list[torch.Tensor | None]:
        if soft_prompts is None:
            return [None] * n
        if len(soft_prompts) != n:
            raise ValueError(f"{len(soft_prompts)} soft prompts for {n} prompts")
        for i, sp in enumerate(soft_prompts):
            if sp is not None and (sp.ndim != 2 or sp.shape[1] != self.hidden_size):
                raise ValueError(
                    f"row {i}: soft prompt must be T x {self.hidden_size}, got {tuple(sp.shape)}"
                )
        return list(soft_prompts)

    # ----------------------------------------------------------------- scoring
    def option_logits(
        self, prompts: Sequence[str], n_options: Sequence[int], soft_prompts: SoftPrompts = None
    ) -> list[torch.Tensor]:
        """Next-token logits of the option labels per row (differentiable w.r.t. the soft
        prompts; wrap in ``torch.inference_mode()`` when no gradient is needed)."""
        if len(n_options) != len(prompts):
            raise ValueError(f"{len(n_options)} option counts for {len(prompts)} prompts")
        inputs = self.build_inputs(prompts, soft_prompts)
        out = self.model(
            inputs_embeds=inputs.embeds,
            attention_mask=inputs.attention_mask,
            position_ids=inputs.position_ids,
            use_cache=False,
            logits_to_keep=1,
        )
        last = out.logits[:, -1, :]
        return [last[i, self.option_token_ids(n)] for i, n in enumerate(n_options)]

    def score_options(
        self, prompts: Sequence[str], options: Sequence[Sequence[str]], soft_prompts: SoftPrompts = None
    ) -> list[np.ndarray]:
        """Probability of each option per row (sums to 1): softmax over the log-probs of
        the label tokens at the answer position. Prompts come from :meth:`mc_prompt`;
        ``options`` gives each row's options (only their number is used here)."""
        with torch.inference_mode():
            logits = self.option_logits(prompts, [len(o) for o in options], soft_prompts)
            return [torch.softmax(l.double(), dim=-1).cpu().numpy() for l in logits]

    # -------------------------------------------------------------- generation
    def generate_stream(
        self,
        prompts: Sequence[str],
        soft_prompts: SoftPrompts = None,
        settings: GenerationSettings | None = None,
        ends: list | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Iterator[list[str]]:
        """Yield, per decoding step, the new text of every row ("" for a finished row or
        one waiting for the rest of a multi-byte character). ``ends``, ``seeds``: see :meth:`continue_stream`."""
        yield from self.stream_prefill(self.prefill(prompts, soft_prompts), settings, ends=ends, seeds=seeds)

    def prefill(self, prompts: Sequence[str], soft_prompts: SoftPrompts = None) -> Prefill:
        """Run the padded prompts (each row with its soft prompt) through the model."""
        with torch.inference_mode():
            inputs = self.build_inputs(prompts, soft_prompts)
            out = self.model(
                inputs_embeds=inputs.embeds,
                attention_mask=inputs.attention_mask,
                position_ids=inputs.position_ids,
                use_cache=True,
                logits_to_keep=1,
            )
        return Prefill.from_output(out, self._cache_arg, inputs.attention_mask, inputs.position_ids[:, -1:])

    def stream_prefill(self, prefill: Prefill, settings: GenerationSettings | None = None,
                       first_row: int = 0, ends: list | None = None,
                       forced: Sequence[Sequence[int]] | None = None,
                       seeds: Sequence[int] | None = None) -> Iterator[list[str]]:
        """Decode on from ``prefill`` (left unchanged: the cache decoding appends to is a new one).
        ``first_row``: which row of a larger batch ``prefill`` starts at (its sampling seeds);
        ``ends``, ``forced``, ``seeds``: see :meth:`continue_stream`."""
        cache = DynamicCache(ddp_cache_data=list(prefill.kv))
        out = SimpleNamespace(logits=prefill.logits, **{self._cache_arg: cache})
        yield from self.continue_stream(out, prefill.mask, prefill.positions, settings, first_row=first_row, ends=ends,
                                        forced=forced, seeds=seeds)

    @property
    def cache_arg(self) -> str:
        """The model's keyword for the key/value cache (transformers renamed ``past_key_values``
        to ``cache`` in the 5.2x series)."""
        return self._cache_arg

    def continue_stream(
        self,
        out,
        mask: torch.Tensor,
        positions: torch.Tensor,
        settings: GenerationSettings | None = None,
        first_row: int = 0,
        ends: list | None = None,
        forced: Sequence[Sequence[int]] | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Iterator[list[str]]:
        """Decode on from a first forward pass (shared by every way of building the input, e.g.
        per-row key/value caches in :mod:`persona_core.service.decoding`).

        ``out``: that pass's output (logits of the last position and the cache); ``mask``: the
        attention mask so far (B x length); ``positions``: (B x 1) position of each row's last token;
        ``first_row``: see :func:`persona_core.llm.sampling.row_generators`; ``ends``: a list
        that, once decoding is over, holds per row the end-of-turn token that ended it, or
        ``None`` where the row ran to ``max_new_tokens`` (its text was cut, not finished);
        ``forced``: per row, token ids that row says first, whatever the model would draw (a
        given start of the answer that the model then continues, with ``max_new_tokens`` of its
        own after them; the row's sampling draws go on as if it had drawn them, so what follows
        does not depend on the other rows); ``seeds``: per row, its own sampling seed (see
        :func:`persona_core.llm.sampling.row_generators`).
        """
        settings = settings or GenerationSettings()
        n = mask.shape[0]
        if forced is not None and len(forced) != n:
            raise ValueError(f"forced tokens for {len(forced)} rows, but the batch has {n}")
        decoders = [IncrementalDecoder(self.tokenizer) for _ in range(n)]
        done = [False] * n
        ended_by: list[int | None] = [None] * n
        # a row's forced tokens do not count against max_new_tokens: the model says that many of its own
        budget = [settings.max_new_tokens + (0 if forced is None else len(forced[i])) for i in range(n)]
        gens = row_generators(settings, n, self.device, first_row, seeds)
        for step in range(max(budget)):
            with torch.inference_mode():
                tokens = next_tokens(out.logits[:, -1, :], settings, gens)
                if forced is not None:
                    tokens = torch.tensor([row[step] if step < len(row) else tok
                                           for row, tok in zip(forced, tokens.tolist())], device=tokens.device)
            pieces = []
            for i, tok in enumerate(tokens.tolist()):
                if done[i]:
                    pieces.append("")
                elif tok in self.eos_token_ids and not settings.ignore_eos:
                    done[i] = True
                    ended_by[i] = tok
                    pieces.append(decoders[i].flush())
                elif step == budget[i] - 1:  # the row's last token: cut there, not ended
                    done[i] = True
                    pieces.append(decoders[i].push(tok) + decoders[i].flush())
                else:
                    pieces.append(decoders[i].push(tok))
            last = all(done)
            if last and ends is not None:
                ends[:] = ended_by
            yield pieces  # each token goes out as soon as it is drawn, before the next step runs
            if last:
                break
            with torch.inference_mode(), decoding_step():
                mask = torch.cat([mask, mask.new_ones(n, 1)], dim=1)
                positions = positions + 1
                out = self.model(
                    input_ids=tokens[:, None],
                    attention_mask=mask,
                    position_ids=positions,
                    use_cache=True,
                    **{self._cache_arg: getattr(out, self._cache_arg)},
                    logits_to_keep=1,
                )

    def generate(
        self,
        prompts: Sequence[str],
        soft_prompts: SoftPrompts = None,
        settings: GenerationSettings | None = None,
        ends: list | None = None,
        seeds: Sequence[int] | None = None,
    ) -> list[str]:
        """The full new text of every row (what :meth:`generate_stream` yields, joined);
        ``ends``, ``seeds``: see :meth:`continue_stream`."""
        return self.generate_from(self.prefill(prompts, soft_prompts), settings, ends=ends, seeds=seeds)

    def generate_from(self, prefill: Prefill, settings: GenerationSettings | None = None,
                      ends: list | None = None, seeds: Sequence[int] | None = None) -> list[str]:
        """The full new text of every row decoded on from ``prefill`` (e.g. one prompt's prefill
        repeated for several samples: :meth:`Prefill.repeat_rows`)."""
        texts = [""] * prefill.n_rows
        for pieces in self.stream_prefill(prefill, settings, ends=ends, seeds=seeds):
            texts = [t + p for t, p in zip(texts, pieces)]
        return texts
