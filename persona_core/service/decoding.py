"""Streamed decoding of a batch whose rows start from different key/value caches.

:meth:`persona_core.llm.LLM.generate_stream` takes per-row *input embeddings*; SPMs in the
``prefix`` and ``suffix_kv`` modes produce per-layer *keys and values* instead. Here each row
gets a past cache (rows padded to one length, the padding masked out), the same input
embeddings after it, and its own position ids; then decoding proceeds as in the backend, with
the same sampling (:mod:`persona_core.llm.sampling`) and detokenization.
"""
from __future__ import annotations

from typing import Iterator

import torch
from transformers import DynamicCache

from persona_core.llm import LLM, GenerationSettings, Prefill

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values), (B, kv_heads, P, head_dim)


def stream_from_past(
    llm: LLM,
    past: KV,
    past_mask: torch.Tensor,
    embeds: torch.Tensor | list[torch.Tensor],
    settings: GenerationSettings | None = None,
    forced: list[list[int]] | None = None,
) -> Iterator[list[str]]:
    """Yield the new text of every row per decoding step: :func:`prefill_from_past`, then
    :meth:`LLM.stream_prefill` (``forced``: each row's first tokens), as for every other input."""
    yield from llm.stream_prefill(prefill_from_past(llm, past, past_mask, embeds), settings, forced=forced)


def prefill_from_past(
    llm: LLM,
    past: KV,
    past_mask: torch.Tensor,
    embeds: torch.Tensor | list[torch.Tensor],
) -> Prefill:
    """Run each row's ``embeds`` after its own past.

    ``past``: per-layer keys/values (B, kv_heads, P, head_dim), keys already rotated to their
    positions; ``past_mask`` (B, P): 1 where a row's past is real, 0 for padding; ``embeds``:
    what each row continues with, (B, S, hidden) or a list of (S_i, hidden) (left-padded here,
    the padding masked). Row ``i``'s input starts at position ``past_mask[i].sum()``.
    """
    model, device = llm.model, llm.device
    if isinstance(embeds, torch.Tensor):
        embeds = list(embeds)
    padded = llm.pad_embeddings(embeds)
    embeds, input_mask = padded.embeds, padded.attention_mask
    B, S, _ = embeds.shape
    past_mask = past_mask.to(device=device, dtype=torch.long)
    if past_mask.shape[0] != B or past_mask.shape[1] != past[0][0].shape[2]:
        raise ValueError(f"past mask {tuple(past_mask.shape)} does not fit {B} rows of {past[0][0].shape[2]} past slots")
    cache_arg = llm.cache_arg
    with torch.inference_mode():
        mask = torch.cat([past_mask, input_mask.to(device)], dim=1)
        start = past_mask.sum(dim=1, keepdim=True)
        positions = start + (input_mask.to(device).cumsum(dim=1) - 1).clamp(min=0)
        cache = DynamicCache(ddp_cache_data=[(k.to(device, llm.dtype), v.to(device, llm.dtype)) for k, v in past])
        out = model(inputs_embeds=embeds.to(device, llm.dtype), attention_mask=mask, position_ids=positions,
                    use_cache=True, logits_to_keep=1, **{cache_arg: cache})
    return Prefill.from_output(out, cache_arg, mask, positions[:, -1:])
