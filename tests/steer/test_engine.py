"""Shared question caches give the same answers as running every row on its own."""
from __future__ import annotations

import torch

from persona_core.data.survey import Question
from persona_core.steer.engine import (
    HeadCache,
    compute_kv,
    continuation_logprobs,
    embed_ids,
    extend_kv,
    score_texts,
    score_virtual,
    text_inputs,
)
from persona_core.steer.prompts import PromptBuilder

Q = Question("abany", "Should abortion be legal if the woman wants it for any reason?", ("yes", "no", "it depends"))


def _full(model, ids_or_embeds, labels):
    with torch.no_grad():
        if ids_or_embeds.dtype == torch.long:
            logits = model(input_ids=ids_or_embeds[None]).logits[0, -1]
        else:
            logits = model(inputs_embeds=ids_or_embeds[None]).logits[0, -1]
    return torch.log_softmax(logits[labels], dim=-1)


def test_text_rows_with_shared_cache_match_one_row_at_a_time(lm):
    model, tok = lm
    pb = PromptBuilder(tok)
    parts = pb.parts(Q)
    texts = ["", "\nAnswer as a 70-year-old conservative would.", "\nI am young."]
    batch = score_texts(model, HeadCache(model), parts, [pb.encode_row_text(t) for t in texts])
    assert batch.shape == (3, 3)
    torch.testing.assert_close(batch.exp().sum(1), torch.ones(3))
    for i, t in enumerate(texts):
        ids = torch.tensor(tok.encode(pb.render(Q, t), add_special_tokens=False))
        torch.testing.assert_close(batch[i], _full(model, ids, parts.labels), atol=2e-4, rtol=1e-4)
    assert not torch.allclose(batch[0], batch[1])  # the persona text changes the answer


def test_extending_a_cached_head_gives_the_key_values_of_the_whole_sequence(lm):
    model, tok = lm
    head = tok.encode("Question: Should abortion be legal?", add_special_tokens=False)
    row = tok.encode("\nAnswer as a 70-year-old conservative would.", add_special_tokens=False)
    extended = extend_kv(model, compute_kv(model, torch.tensor(head)), row)
    whole = compute_kv(model, torch.tensor(head + row))
    assert len(extended) == len(whole) and extended[0][0].shape[2] == len(head) + len(row)
    for (k, v), (wk, wv) in zip(extended, whole):
        torch.testing.assert_close(k, wk, atol=2e-4, rtol=1e-4)
        torch.testing.assert_close(v, wv, atol=2e-4, rtol=1e-4)


def test_suffix_virtual_tokens_match_a_full_forward(lm):
    model, tok = lm
    pb = PromptBuilder(tok)
    parts = pb.parts(Q, cue_tokens=1)
    virtual = 0.05 * torch.randn(2, 2, model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        batch = score_virtual(model, HeadCache(model), parts, "suffix", virtual)
    for i in range(2):
        seq = torch.cat([embed_ids(model, parts.head), virtual[i], embed_ids(model, parts.cue)])
        torch.testing.assert_close(batch[i], _full(model, seq, parts.labels), atol=2e-4, rtol=1e-4)
    # and the 1-token cue is the last token of the ordinary prompt
    full = torch.tensor(tok.encode(pb.render(Q), add_special_tokens=False))
    assert torch.equal(torch.cat([parts.head, parts.cue]), full)


def _continuation_mean(model, prefix: torch.Tensor, option: torch.Tensor) -> torch.Tensor:
    """Mean log-prob of ``option``'s tokens after ``prefix`` (embeddings), one full forward."""
    with torch.no_grad():
        seq = torch.cat([prefix, embed_ids(model, option)])
        logp = torch.log_softmax(model(inputs_embeds=seq[None]).logits[0].float(), dim=-1)
    n = len(prefix)
    return logp[torch.arange(n - 1, n - 1 + len(option)), option].mean()


def test_reading_options_by_their_text_matches_a_full_forward_per_option(lm):
    model, tok = lm
    pb = PromptBuilder(tok)
    parts = pb.parts(Q, cue_tokens=1)
    assert [tok.decode(t) for t in parts.option_texts] == list(Q.options)
    assert len(parts.option_texts[2]) > 1  # "it depends": more than the first token is read
    texts = ["", "\nI am young."]
    batch = score_texts(model, HeadCache(model), pb.parts(Q), [pb.encode_row_text(t) for t in texts], readout="text")
    for i, t in enumerate(texts):
        ids = torch.tensor(tok.encode(pb.render(Q, t), add_special_tokens=False))
        want = torch.log_softmax(torch.stack([_continuation_mean(model, embed_ids(model, ids), o) for o in parts.option_texts]), 0)
        torch.testing.assert_close(batch[i], want, atol=2e-4, rtol=1e-4)
    # virtual key/values after the head (the default suffix_kv layout) read by text
    g = torch.Generator().manual_seed(1)
    n_layers, kv_heads = model.config.num_hidden_layers, model.config.num_key_value_heads
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    virtual = [(0.5 * torch.randn(2, kv_heads, 3, head_dim, generator=g), 0.5 * torch.randn(2, kv_heads, 3, head_dim, generator=g))
               for _ in range(n_layers)]
    with torch.no_grad():
        by_text = score_virtual(model, HeadCache(model), parts, "suffix_kv", virtual, readout="text")
        by_letter = score_virtual(model, HeadCache(model), parts, "suffix_kv", virtual)
    assert by_text.shape == by_letter.shape == (2, 3)
    torch.testing.assert_close(by_text.exp().sum(1), torch.ones(2))
    assert not torch.allclose(by_text, by_letter, atol=1e-2)
    assert not torch.allclose(by_text[0], by_text[1], atol=1e-3)  # the virtual tokens move it


def test_each_rows_own_continuation_matches_a_full_forward_per_row(lm):
    # left-padded rows of different lengths after a shared head, each with a continuation of its
    # own length (right-padded): the same mean log-prob per token as one full forward per row
    model, tok = lm
    pb = PromptBuilder(tok, list_options=False)
    parts = pb.parts(Q)
    rows = [pb.encode_row_text(t) for t in ("", "\nI am young and live in a city.")]
    texts = [torch.tensor(tok.encode(t, add_special_tokens=False)) for t in ("Yes, it should be legal.", "No.")]
    with torch.no_grad():
        got = continuation_logprobs(model, text_inputs(model, HeadCache(model), parts, rows), texts)
    for i, (row, text) in enumerate(zip(rows, texts)):
        prompt = torch.cat([parts.head, row, parts.cue])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.cat([prompt, text])[None]).logits[0].float(), -1)
        want = torch.stack([logp[len(prompt) - 1 + j, t] for j, t in enumerate(text.tolist())]).mean()
        torch.testing.assert_close(got[i], want, atol=2e-4, rtol=1e-4)
