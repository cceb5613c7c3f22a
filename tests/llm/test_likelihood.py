"""Continuation log-likelihoods, perplexity and the answer-to-option mapper on the real model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from persona_core.llm.likelihood import (NULL_ANSWER, closest_option, closest_options, continuation_logprobs, next_token_logprobs,
                                         perplexity)


def test_continuation_logprobs_match_a_plain_forward_pass_in_any_batch(llm):
    contexts = llm.encode(["The capital of France is", "Question: do you like tea?\nAnswer:"])
    texts = llm.encode([" Paris, a city on the Seine.", " Yes"])
    batched = continuation_logprobs(llm.model, contexts, texts, batch_size=2)
    for ctx, text, got in zip(contexts, texts, batched):
        ids = torch.tensor([ctx + text])
        with torch.inference_mode():
            logp = torch.log_softmax(llm.model(input_ids=ids).logits.float(), -1)[0]
        want = np.array([float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(text)])
        assert got.shape == (len(text),)
        np.testing.assert_allclose(got, want, atol=1e-3)  # right padding of the shorter row changes nothing
    alone = continuation_logprobs(llm.model, contexts[1:], texts[1:], batch_size=1)
    np.testing.assert_allclose(alone[0], batched[1], atol=1e-3)


def test_perplexity_pools_tokens_and_refuses_nothing():
    assert perplexity([np.log([0.5, 0.5]), np.log([0.25])]) == pytest.approx(np.exp(-np.mean(np.log([0.5, 0.5, 0.25]))))
    with pytest.raises(ValueError, match="no tokens"):
        perplexity([np.zeros(0)])


def test_likely_text_has_lower_perplexity_than_shuffled_text(llm):
    ctx = llm.encode(["Question: what do you think about taxes?\nAnswer:"])[0]
    text = llm.encode([" I think taxes are too high for working families."])[0]
    shuffled = list(np.random.default_rng(0).permutation(text))
    fluent, garbled = continuation_logprobs(llm.model, [ctx, ctx], [text, shuffled])
    assert perplexity([fluent]) < 0.5 * perplexity([garbled])


def test_closest_option_is_a_distribution_and_follows_the_answer(llm):
    options = ["Yes, I agree", "No, I disagree"]
    p = closest_option(llm, "Should taxes be lower?", "Yes, I agree completely.", options)
    assert p.shape == (2,) and p.sum() == pytest.approx(1.0) and (p > 0).all()
    q = closest_option(llm, "Should taxes be lower?", "No, I disagree completely.", options)
    assert p[0] > q[0]  # the same options, read after opposite answers, move the same way
    with pytest.raises(ValueError, match="two options"):
        closest_option(llm, "Q?", "A", ["only one"])


def test_calibrated_mapping_reads_a_content_free_answer_as_no_preference(llm):
    options = ["yes", "no"]
    raw = closest_option(llm, "Do you enjoy drinking tea?", NULL_ANSWER, options)
    calibrated = closest_option(llm, "Do you enjoy drinking tea?", NULL_ANSWER, options, calibrate=True)
    np.testing.assert_allclose(calibrated, [0.5, 0.5], atol=1e-9)  # the prior itself is removed
    assert abs(raw[0] - 0.5) > 1e-3  # ... which the raw mapper has
    p = closest_option(llm, "Do you enjoy drinking tea?", "Yes, I do.", options, calibrate=True)
    assert p.shape == (2,) and p.sum() == pytest.approx(1.0)


def test_next_token_logprobs_equal_one_token_continuations(llm):
    contexts = llm.encode(["The capital of France is", "Question: do you like tea?\nAnswer:", "Hi"])
    tokens = [t[0] for t in llm.encode([" Paris", " Yes", " no"])]
    got = next_token_logprobs(llm.model, contexts, tokens, batch_size=2)
    assert got.shape == (3, 3)
    want = continuation_logprobs(llm.model, [c for c in contexts for _ in tokens], [[t] for _ in contexts for t in tokens])
    np.testing.assert_allclose(got, np.array(want).reshape(3, 3), atol=1e-3)


@pytest.mark.parametrize("options", [["yes", "no"], ["Yes, I agree", "No, I disagree", "Not sure"]])
def test_closest_options_of_many_answers_equal_each_alone(llm, options):
    # one-token options are read from one row per answer, longer ones from a row per option
    answers = ["Yes, I agree completely.", "No, never.", "I have not made up my mind."]
    many = closest_options(llm, "Should taxes be lower?", answers, options)
    assert many.shape == (3, len(options))
    for answer, row in zip(answers, many):
        np.testing.assert_allclose(row, closest_option(llm, "Should taxes be lower?", answer, options), atol=1e-4)
    calibrated = closest_options(llm, "Should taxes be lower?", answers, options, calibrate=True)
    np.testing.assert_allclose(calibrated[1], closest_option(llm, "Should taxes be lower?", answers[1], options, calibrate=True),
                               atol=1e-4)
