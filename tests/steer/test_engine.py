"""Shared question caches give the same answers as running every row on its own."""
from __future__ import annotations

import torch

from persona_core.data.survey import Question
from persona_core.steer.engine import HeadCache, compute_kv, embed_ids, extend_kv, score_texts, score_virtual
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
