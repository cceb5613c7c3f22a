"""Batched option scoring on a frozen causal LM, with shared question caches.

Every function here scores one question for a batch of rows. Rows differ only in their
"row part" (virtual tokens, a persona text, or nothing) or, in prefix mode, in per-layer
key/values placed before the input. The question's head is run once per question
(``HeadCache``) and its key/values are shared by all rows (suffix layout).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Sequence

import torch
from transformers import DynamicCache

from persona_core.memo import LockedLRU
from persona_core.steer.prompts import PromptParts

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values), (B, kv_heads, T, head_dim)


def model_geometry(model) -> dict[str, int]:
    """Hidden size, number of layers, key/value heads and head dimension of a decoder LM."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    n_heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_heads
    return {
        "hidden_size": int(cfg.hidden_size),
        "n_layers": int(cfg.num_hidden_layers),
        "n_kv_heads": int(getattr(cfg, "num_key_value_heads", None) or n_heads),
        "head_dim": int(head_dim),
    }


def _cache_arg(model) -> str:
    """transformers >= 5.2x calls the cache argument ``cache``; older versions ``past_key_values``."""
    name = getattr(model, "_persona_cache_arg", None)
    if name is None:
        name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        model._persona_cache_arg = name
    return name


def embed_ids(model, ids: torch.Tensor) -> torch.Tensor:
    """Input embeddings of token ids (any shape)."""
    emb = model.get_input_embeddings()
    return emb(ids.to(emb.weight.device))


def _cache_from(kv: KV, batch: int) -> DynamicCache:
    """A fresh cache holding ``kv`` expanded to ``batch`` rows (fresh: forward appends to it)."""
    return DynamicCache(ddp_cache_data=[(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in kv])


def _kv(model, ids: torch.Tensor) -> KV:
    device = model.get_input_embeddings().weight.device
    out = model(input_ids=ids.view(1, -1).to(device), use_cache=True, logits_to_keep=1)
    return [(layer.keys, layer.values) for layer in out.past_key_values.layers]


@torch.no_grad()
def compute_kv(model, ids: torch.Tensor) -> KV:
    """Key/values of one token sequence (batch 1), without gradient."""
    return [(k.detach(), v.detach()) for k, v in _kv(model, ids)]


@torch.no_grad()
def extend_kv(model, past: KV, ids: Sequence[int] | torch.Tensor) -> KV:
    """Key/values of ``past`` (batch 1) followed by the tokens ``ids``, without gradient: only the
    new tokens run through the model (a cached question head extended by one row's text)."""
    device = model.get_input_embeddings().weight.device
    ids = torch.as_tensor(ids, dtype=torch.long).view(1, -1).to(device)
    start = past[0][0].shape[2]
    positions = torch.arange(start, start + ids.shape[1], device=device).unsqueeze(0)
    mask = torch.ones(1, start + ids.shape[1], dtype=torch.long, device=device)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1,
                **{_cache_arg(model): _cache_from(past, 1)})
    return [(layer.keys.detach(), layer.values.detach()) for layer in out.past_key_values.layers]


class HeadCache:
    """LRU memo of question heads' key/values (batch 1), keyed by token ids. Threads may share it."""

    def __init__(self, model, max_items: int = 256) -> None:
        self.model = model
        self.max_items = max_items
        self._memo: LockedLRU[KV] = LockedLRU(max_items)

    def get(self, head: torch.Tensor) -> KV:
        return self._memo.get_or_compute(tuple(head.tolist()), lambda: compute_kv(self.model, head))


class LiveHeads:
    """Question heads computed *with* gradient (for training a LoRA adapter, whose weights change
    the head's key/values); memoized only until :meth:`clear` (call it after every step)."""

    def __init__(self, model) -> None:
        self.model = model
        self._memo: dict[tuple, KV] = {}

    def get(self, head: torch.Tensor) -> KV:
        key = tuple(head.tolist())
        if key not in self._memo:
            self._memo[key] = _kv(self.model, head)
        return self._memo[key]

    def clear(self) -> None:
        self._memo.clear()


def _forward_rows(model, embeds: torch.Tensor, mask: torch.Tensor, past: KV | None, past_is_shared: bool,
                  use_cache: bool, keep: int = 1):
    """One forward of rows after ``past`` (left-padded, or followed by right padding that no
    real position sees), keeping the last ``keep`` positions' logits:
    ``(output, positions, full attention mask)``."""
    B = embeds.shape[0]
    device = embeds.device
    mask = mask.to(device)
    past_len = 0 if past is None else past[0][0].shape[2]
    positions = (past_len + mask.long().cumsum(dim=1) - 1).clamp(min=past_len)
    full_mask = torch.cat([torch.ones(B, past_len, dtype=mask.dtype, device=device), mask], dim=1)
    kwargs = {}
    if past is not None:
        kwargs[_cache_arg(model)] = _cache_from(past, B) if past_is_shared else DynamicCache(ddp_cache_data=list(past))
    out = model(inputs_embeds=embeds, attention_mask=full_mask, position_ids=positions, use_cache=use_cache,
                logits_to_keep=keep, **kwargs)
    return out, positions, full_mask


def label_logprobs(
    model,
    embeds: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor,
    past: KV | None = None,
    past_is_shared: bool = True,
) -> torch.Tensor:
    """Log-probabilities (B x n_options) of the option labels as the next token after ``embeds``.

    ``embeds``: (B, S, hidden) input embeddings (left-padded; ``mask`` (B, S) marks real positions).
    ``past``: key/values before the input -- a shared question head (batch 1, expanded) or
    per-row prefix key/values (batch B, ``past_is_shared=False``).
    """
    out, _, _ = _forward_rows(model, embeds, mask, past, past_is_shared, use_cache=past is not None)
    logits = out.logits[:, -1, :]
    return torch.log_softmax(logits[:, labels.to(logits.device)].float(), dim=-1)


def rotate_keys(model, keys: list[torch.Tensor], start: int) -> list[torch.Tensor]:
    """Apply the model's rotary position embedding to virtual keys (B, kv_heads, T, head_dim) as
    if they sat at positions ``start .. start+T-1`` (so every question sees them at the same
    distance from the answer cue). Models without ``model.rotary_emb`` get the keys unchanged."""
    rotary = getattr(getattr(model, "model", None), "rotary_emb", None)
    if rotary is None or not keys:
        return keys
    B, _, T, _ = keys[0].shape
    pos = torch.arange(start, start + T, device=keys[0].device).unsqueeze(0).expand(B, -1)
    cos, sin = rotary(keys[0], pos)
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)

    def rot_half(x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
        return torch.cat((-x2, x1), dim=-1)

    return [k * cos.to(k.dtype) + rot_half(k) * sin.to(k.dtype) for k in keys]


def pad_left(seqs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad 1-D id tensors with 0: (ids (B, S), mask (B, S))."""
    S = max((len(s) for s in seqs), default=0)
    ids = torch.zeros(len(seqs), S, dtype=torch.long)
    mask = torch.zeros(len(seqs), S, dtype=torch.long)
    for i, s in enumerate(seqs):
        if len(s):
            ids[i, S - len(s):] = s
            mask[i, S - len(s):] = 1
    return ids, mask


@dataclass(frozen=True)
class RowInputs:
    """What one forward pass of a batch of rows takes: input embeddings (B, S, hidden),
    their mask (B, S), and the key/values before them (shared by every row or one per row)."""

    embeds: torch.Tensor
    mask: torch.Tensor
    past: KV | None = None
    past_is_shared: bool = True


READOUTS = ("letter", "text")


def read_options(model, inputs: RowInputs, parts: PromptParts, readout: str = "letter") -> torch.Tensor:
    """Option log-probs (B x n_options) of the rows in ``inputs``: ``"letter"`` reads the next
    token's logits of the options' labels; ``"text"`` scores each option's own text as the
    continuation (see :func:`option_text_logprobs`)."""
    if readout == "letter":
        return label_logprobs(model, inputs.embeds, inputs.mask, parts.labels, inputs.past, inputs.past_is_shared)
    if readout == "text":
        return option_text_logprobs(model, inputs, parts.option_texts)
    raise ValueError(f"unknown readout {readout!r}; expected one of {READOUTS}")


def option_text_logprobs(model, inputs: RowInputs, options: Sequence[torch.Tensor]) -> torch.Tensor:
    """Option log-probs (B x n_options) from each option's text as the continuation of the rows:
    the mean log-probability of its tokens (length-normalised: the "cloze" form that OLMES
    recommends for small models, which cannot answer by letter), softmaxed over the options.

    The rows run once; each option's tokens then run on a fresh cache of their key/values."""
    if any(len(o) == 0 for o in options):
        raise ValueError("every option needs a text of at least one token to be read by its text")
    B = inputs.embeds.shape[0]
    device = inputs.embeds.device
    arg = _cache_arg(model)
    out, positions, full_mask = _forward_rows(model, inputs.embeds, inputs.mask, inputs.past, inputs.past_is_shared,
                                              use_cache=True)
    first = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)
    kv = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
    scores = []
    for option in options:
        option = option.to(device)
        total = first[:, option[0]]
        if len(option) > 1:
            rest = option[:-1].unsqueeze(0).expand(B, -1)
            L = rest.shape[1]
            step = model(input_ids=rest, attention_mask=torch.cat([full_mask, torch.ones(B, L, dtype=full_mask.dtype, device=device)], 1),
                         position_ids=positions[:, -1:] + 1 + torch.arange(L, device=device), use_cache=True,
                         **{arg: DynamicCache(ddp_cache_data=kv)})
            logp = torch.log_softmax(step.logits.float(), dim=-1)
            total = total + logp.gather(-1, option[1:].view(1, -1, 1).expand(B, -1, 1)).squeeze(-1).sum(dim=1)
        scores.append(total / len(option))
    return torch.log_softmax(torch.stack(scores, dim=1), dim=-1)


def continuation_logprobs(model, inputs: RowInputs, texts: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean log-probability per token (B,) of each row's own continuation ``texts[i]`` (token ids,
    at least one) after the row, teacher-forced in one forward pass; gradient flows into the
    rows' inputs. (:func:`persona_core.llm.likelihood.continuation_logprobs` is its no-gradient
    twin for plain token-id contexts without a past.)"""
    if len(texts) != inputs.embeds.shape[0]:
        raise ValueError(f"{len(texts)} continuations for {inputs.embeds.shape[0]} rows")
    if any(len(t) == 0 for t in texts):
        raise ValueError("every continuation needs at least one token")
    B, S = inputs.mask.shape
    L = max(len(t) for t in texts)
    ids = torch.zeros(B, L, dtype=torch.long)
    text_mask = torch.zeros(B, L, dtype=inputs.mask.dtype)
    for i, t in enumerate(texts):
        ids[i, : len(t)] = t
        text_mask[i, : len(t)] = 1
    embeds = torch.cat([inputs.embeds, embed_ids(model, ids).to(inputs.embeds.dtype)], dim=1)
    mask = torch.cat([inputs.mask, text_mask], dim=1)  # right padding after the texts: no real position sees it
    out, _, _ = _forward_rows(model, embeds, mask, inputs.past, inputs.past_is_shared, use_cache=False, keep=L + 1)
    logp = torch.log_softmax(out.logits[:, :-1, :].float(), dim=-1)  # position S-1+j predicts text token j
    token_lp = logp.gather(-1, ids.to(logp.device).unsqueeze(-1)).squeeze(-1) * text_mask.to(logp.device)
    return token_lp.sum(dim=1) / text_mask.sum(dim=1).to(logp.device)


def text_inputs(model, heads: HeadCache, parts: PromptParts, row_texts: Sequence[torch.Tensor]) -> RowInputs:
    """Rows whose row part is text (token ids; empty = unsteered) after the cached head."""
    ids, mask = pad_left([torch.cat([t, parts.cue]) for t in row_texts])
    return RowInputs(embed_ids(model, ids), mask, heads.get(parts.head))


def score_texts(model, heads: HeadCache, parts: PromptParts, row_texts: Sequence[torch.Tensor],
                readout: str = "letter") -> torch.Tensor:
    """Option log-probs for rows whose row part is text (token ids; empty = unsteered)."""
    with torch.no_grad():
        return read_options(model, text_inputs(model, heads, parts, row_texts), parts, readout)


def virtual_inputs(model, heads: HeadCache | None, parts: PromptParts, mode: str, virtual: torch.Tensor | KV) -> RowInputs:
    """Rows steered by virtual tokens, laid out as ``mode`` puts them.

    ``suffix``: ``virtual`` (B, T, hidden) after the cached head, before the cue.
    ``prompt``: ``virtual`` (B, T, hidden) before the head (full forward per row).
    ``suffix_kv``: ``virtual`` per-layer key/values (B, kv_heads, T, head_dim) after the head.
    ``prefix``: ``virtual`` per-layer key/values (B, kv_heads, T, head_dim) before the head.
    """
    if mode == "suffix":
        if heads is None:
            raise ValueError("suffix mode needs a HeadCache")
        B, T, _ = virtual.shape
        cue = embed_ids(model, parts.cue).unsqueeze(0).expand(B, -1, -1)
        embeds = torch.cat([virtual.to(cue.dtype), cue], dim=1)
        return RowInputs(embeds, torch.ones(B, embeds.shape[1], dtype=torch.long), heads.get(parts.head))
    seq = embed_ids(model, torch.cat([parts.head, parts.cue]))
    if mode == "prompt":
        B = virtual.shape[0]
        embeds = torch.cat([virtual.to(seq.dtype), seq.unsqueeze(0).expand(B, -1, -1)], dim=1)
        return RowInputs(embeds, torch.ones(B, embeds.shape[1], dtype=torch.long))
    if mode == "suffix_kv":
        if heads is None:
            raise ValueError("suffix_kv mode needs a HeadCache")
        head = heads.get(parts.head)
        B, T = virtual[0][0].shape[0], virtual[0][0].shape[2]
        H = head[0][0].shape[2]
        keys = rotate_keys(model, [k for k, _ in virtual], H)
        past = [
            (torch.cat([hk.expand(B, -1, -1, -1), k.to(hk.dtype)], dim=2),
             torch.cat([hv.expand(B, -1, -1, -1), v.to(hv.dtype)], dim=2))
            for (hk, hv), k, (_, v) in zip(head, keys, virtual)
        ]
        cue = embed_ids(model, parts.cue).unsqueeze(0).expand(B, -1, -1)
        return RowInputs(cue, torch.ones(B, cue.shape[1], dtype=torch.long), past, past_is_shared=False)
    if mode == "prefix":
        B = virtual[0][0].shape[0]
        embeds = seq.unsqueeze(0).expand(B, -1, -1)
        past = [(k.to(seq.dtype), v.to(seq.dtype)) for k, v in virtual]
        return RowInputs(embeds, torch.ones(B, embeds.shape[1], dtype=torch.long), past, past_is_shared=False)
    raise ValueError(f"unknown mode {mode!r}")


def score_virtual(
    model,
    heads: HeadCache | None,
    parts: PromptParts,
    mode: str,
    virtual: torch.Tensor | KV,
    readout: str = "letter",
) -> torch.Tensor:
    """Option log-probs for rows steered by virtual tokens (gradient flows into ``virtual``);
    the layouts are :func:`virtual_inputs`'s."""
    return read_options(model, virtual_inputs(model, heads, parts, mode, virtual), parts, readout)
