"""Comparisons on the real default model: one batch, streamed, steered by text or by an SPM."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from persona_core.llm import GenerationSettings
from persona_core.service.checkpoints import find_checkpoints, load_spm
from persona_core.service.compare import Comparer, SteeringUnavailable, answer_start, question_text
from persona_core.service.personas import cohort_persona, describe_persona
from persona_core.steer.checkpoint import CheckpointMismatchError, save_checkpoint
from persona_core.steer.config import SPMConfig, SteerConfig
from persona_core.steer.engine import model_geometry
from persona_core.steer.model import SoftPromptModel
from persona_core.steer.prompts import chat_split

pytestmark = pytest.mark.slow  # the real model on 2 CPU cores
GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=12)


def _save_spm(llm, view, folder, mode="suffix", run_key=None):
    """An untrained (random) SPM saved as a checkpoint: steering mechanics without training."""
    torch.manual_seed(0)
    config = SteerConfig(spm=SPMConfig(mode=mode, n_tokens=2, hidden=(8,), init_scale=20.0))
    spm = SoftPromptModel(config.spm, view.embeddings.shape[1], model_geometry(llm.model))
    save_checkpoint(folder, spm, {"run_key": run_key or view.run_key, "config": config.to_dict(), "epoch": 1, "step": 1,
                                  "learning_curve": [{"step": 1, "accuracy": 0.4}]})
    return folder


def test_text_steering_streams_both_rows_from_one_batch(llm, view):
    comparer = Comparer(llm)
    persona = cohort_persona(view, view.cohorts[0])
    description = describe_persona(view, persona)
    question = view.survey.questions[0]
    steps = list(comparer.stream(question, "text", persona, description, GREEDY))
    assert steps and all(len(s) == 2 for s in steps)
    plain = "".join(a for a, _ in steps).strip()
    steered = "".join(b for _, b in steps).strip()
    assert plain and steered and plain != steered
    # the unsteered row of the batch is exactly the model's answer to the plain prompt alone
    head, cue = chat_split(llm.tokenizer, comparer.system_prompt, question_text(question))
    alone = llm.generate([head + cue], settings=GREEDY)[0].strip()
    assert plain == alone
    result = comparer.compare(question, "text", persona, description, GREEDY)
    assert (result.unsteered, result.steered) == (plain, steered)
    assert all(t is not None and t >= 0 for t in result.first_token_s)


def test_prepare_computes_the_prompt_ahead_and_generation_is_unchanged(llm, view):
    persona = cohort_persona(view, view.cohorts[0])
    description = describe_persona(view, persona)
    question = view.survey.questions[1]
    reference = Comparer(llm).compare(question, "text", persona, description, GREEDY)
    comparer = Comparer(llm)
    comparer.prepare(question, "text", persona, description)
    forwards = []
    hook = llm.model.register_forward_pre_hook(lambda module, args, kwargs: forwards.append(
        (kwargs.get("input_ids") if kwargs.get("input_ids") is not None else kwargs["inputs_embeds"]).shape[1]),
        with_kwargs=True)
    try:
        result = comparer.compare(question, "text", persona, description, GREEDY)
    finally:
        hook.remove()
    assert (result.unsteered, result.steered) == (reference.unsteered, reference.steered)
    # after prepare, the click runs one token per row and step after the first: nothing of the
    # prompt (the question, and the persona text of about 200 tokens) runs again
    assert set(forwards) == {1} and len(forwards) < 2 * GREEDY.max_new_tokens
    # the prompt run ahead is not used up: another generation from it, sampled, is the same as
    # one without it
    sampled = GenerationSettings(temperature=0.9, max_new_tokens=6, seed=3, ignore_eos=True)
    again = comparer.compare(question, "text", persona, description, sampled)
    comparer.forget_prepared()
    fresh = comparer.compare(question, "text", persona, description, sampled)
    assert (again.unsteered, again.steered) == (fresh.unsteered, fresh.steered)
    with pytest.raises(SteeringUnavailable, match="description"):
        comparer.prepare(question, "text", persona, " ")


def test_rows_decoded_side_by_side_say_what_the_one_batch_says(llm, view):
    # parallel_rows decodes the two rows as two batch-1 streams in two threads; each row keeps its
    # sampling seed (seed + row), so greedy and seeded answers are those of the batch of two
    persona = cohort_persona(view, view.cohorts[0])
    description = describe_persona(view, persona)
    question = view.survey.questions[2]
    sampled = GenerationSettings(temperature=0.9, max_new_tokens=8, seed=5, ignore_eos=True)
    for settings in (GREEDY, sampled):
        side = Comparer(llm, parallel_rows=True).compare(question, "text", persona, description, settings)
        batch = Comparer(llm, parallel_rows=False).compare(question, "text", persona, description, settings)
        assert (side.unsteered, side.steered) == (batch.unsteered, batch.steered)
        assert side.unsteered != side.steered


def test_option_probabilities_sum_to_one_and_move_with_the_persona(llm, view):
    comparer = Comparer(llm)
    persona = cohort_persona(view, view.cohorts[0])
    q = view.survey.questions[0]
    plain, steered = comparer.option_probabilities(q, "text", persona, describe_persona(view, persona))
    assert plain.shape == steered.shape == (q.n_options,)
    assert np.isclose(plain.sum(), 1) and np.isclose(steered.sum(), 1)
    assert not np.allclose(plain, steered)
    with pytest.raises(ValueError, match="bank question"):
        comparer.option_probabilities("free text?", "text", persona, "I am someone.")


def test_answer_first_starts_each_side_with_the_option_it_picks(llm, view):
    comparer = Comparer(llm)
    persona = cohort_persona(view, view.cohorts[0])
    description = describe_persona(view, persona)
    q = view.survey.questions[0]
    plain, steered = comparer.option_probabilities(q, "text", persona, description)
    # greedy: each side names its likeliest option, then goes on in its own words
    result = comparer.compare(q, "text", persona, description, GREEDY, answer_first=True)
    picks = [int(np.argmax(plain)), int(np.argmax(steered))]
    assert result.extra["picked_options"] == picks
    for text, k in zip((result.unsteered, result.steered), picks):
        start = answer_start(k, q.options[k])
        assert start == f"{chr(65 + k)}. {q.options[k].rstrip('.')}, because"
        assert text.startswith(start) and len(text) > len(start)
    # sampled: seeded draws from each side's own probabilities, sharpened by the temperature
    hot = GenerationSettings(temperature=0.5, max_new_tokens=4, seed=0)
    assert comparer.answer_starts(q, "text", persona, description, hot) == \
        comparer.answer_starts(q, "text", persona, description, hot)
    draws = np.array([[k for _, k in comparer.answer_starts(q, "text", persona, description,
                                                             GenerationSettings(temperature=0.5, seed=s))]
                      for s in range(400)])
    for side, p in enumerate((plain, steered)):
        expected = p ** 2 / (p ** 2).sum()
        shares = np.bincount(draws[:, side], minlength=q.n_options) / len(draws)
        assert np.abs(shares - expected).max() < 0.08  # 400 draws: about 3 standard errors
    # a free-text question has no options: answered as without answer_first
    free = "Is tea better than coffee?"
    assert comparer.compare(free, "text", persona, description, GREEDY, answer_first=True).steered == \
        comparer.compare(free, "text", persona, description, GREEDY).steered


def test_without_an_spm_only_text_steering_is_offered(llm, view):
    comparer = Comparer(llm)
    assert comparer.methods == ["text"]
    persona = cohort_persona(view, view.cohorts[0])
    with pytest.raises(SteeringUnavailable, match="no SPM"):
        comparer.generation_rows("Why?", "spm", persona)
    with pytest.raises(SteeringUnavailable, match="description"):
        comparer.generation_rows("Why?", "text", persona, "  ")
    with pytest.raises(ValueError, match="empty"):
        comparer.generation_rows("   ", "text", persona, "I am x.")


@pytest.mark.parametrize("mode", ["suffix", "prompt"])
def test_spm_checkpoint_is_found_loaded_and_steers(llm, view, tmp_path, mode):
    folder = _save_spm(llm, view, tmp_path / "spm" / view.run_key / mode, mode=mode)
    found = find_checkpoints(view.run_key, root=tmp_path)
    assert [c.path for c in found] == [str(folder)] and found[0].mode == mode and found[0].accuracy == 0.4
    assert find_checkpoints("another-run", root=tmp_path) == []
    spm, record = load_spm(folder, view.run_key, llm)
    comparer = Comparer(llm, spm, folder)
    assert comparer.methods == ["spm", "text"]
    persona = cohort_persona(view, view.cohorts[0])
    q = view.survey.questions[1]
    rows = comparer.generation_rows(q, "spm", persona)
    assert rows[1].shape[0] == rows[0].shape[0] + 2  # two virtual tokens more
    result = comparer.compare(q, "spm", persona, settings=GREEDY)
    # each side of the batch is what the model says to that row's embeddings alone
    alone = llm.generate([""], soft_prompts=[rows[1]], settings=GREEDY)[0].strip()
    assert result.unsteered and result.steered == alone
    plain, steered = comparer.option_probabilities(q, "spm", persona)
    assert np.isclose(steered.sum(), 1) and not np.allclose(plain, steered)


def test_checkpoint_of_another_run_is_refused(llm, view, tmp_path):
    folder = _save_spm(llm, view, tmp_path / "other", run_key="not-this-run")
    with pytest.raises(CheckpointMismatchError, match="not-this-run"):
        load_spm(folder, view.run_key, llm)


@pytest.mark.parametrize("mode", ["suffix_kv", "prefix"])
def test_kv_mode_spm_generates_in_one_batch(llm, view, tmp_path, mode):
    from persona_core.service.decoding import stream_from_past

    folder = _save_spm(llm, view, tmp_path / mode, mode=mode)
    spm, _ = load_spm(folder, view.run_key, llm)
    comparer = Comparer(llm, spm, folder)
    persona = cohort_persona(view, view.cohorts[0])
    q = view.survey.questions[0]
    plain, steered = comparer.option_probabilities(q, "spm", persona)
    assert np.isclose(steered.sum(), 1) and not np.allclose(plain, steered)
    result = comparer.compare(q, "spm", persona, settings=GREEDY)
    # the unsteered row, whose virtual slots are masked out, says what the plain prompt says
    head, cue = chat_split(llm.tokenizer, comparer.system_prompt, question_text(q))
    assert result.unsteered == llm.generate([head + cue], settings=GREEDY)[0].strip()
    # the steered row says the same alone as in the batch
    past, mask, embeds = comparer.kv_inputs(q, persona)
    alone = "".join(p[0] for p in stream_from_past(llm, [(k[1:], v[1:]) for k, v in past], mask[1:], embeds[1:], GREEDY))
    assert result.steered == alone.strip() and result.steered
    with pytest.raises(SteeringUnavailable, match=mode):
        comparer.generation_rows("Why?", "spm", persona)


def test_spm_with_adapter_steers_the_adapted_copy_and_leaves_the_unsteered_side_plain(llm, view, tmp_path):
    from persona_core.service.decoding import stream_from_past
    from persona_core.steer.adapter import AdapterConfig, adapter_parameters, attach_adapter, save_adapter

    torch.manual_seed(0)
    config = SteerConfig(spm=SPMConfig(mode="suffix_kv", n_tokens=1, hidden=(8,), init_scale=20.0),
                         adapter=AdapterConfig(r=2))
    spm = SoftPromptModel(config.spm, view.embeddings.shape[1], model_geometry(llm.model))
    peft_model = attach_adapter(llm.model, config.adapter)
    with torch.no_grad():  # a trained adapter is not the identity: perturb LoRA's B (zero at init)
        for p in adapter_parameters(peft_model):
            p.normal_(0, 0.05)
    folder = tmp_path / "adapted"
    save_checkpoint(folder, spm, {"run_key": view.run_key, "config": config.to_dict(), "epoch": 1, "step": 1})
    save_adapter(peft_model, folder)

    loaded, _ = load_spm(folder, view.run_key, llm)
    assert loaded.steered_lm is not None and loaded.steered_lm is not llm.model
    assert not any("lora" in n for n, _ in llm.model.named_parameters())
    comparer = Comparer(llm, loaded, folder)
    persona = cohort_persona(view, view.cohorts[0])
    q = view.survey.questions[0]
    result = comparer.compare(q, "spm", persona, settings=GREEDY)
    # unsteered: the plain base model's answer to the plain prompt
    head, cue = chat_split(llm.tokenizer, comparer.system_prompt, question_text(q))
    assert result.unsteered == llm.generate([head + cue], settings=GREEDY)[0].strip()
    # steered: the adapted copy with the persona's virtual key/values
    adapted = comparer._adapted()
    past, mask, embeds = adapted.kv_inputs(q, persona)
    alone = "".join(p[0] for p in stream_from_past(adapted.llm, [(k[1:], v[1:]) for k, v in past], mask[1:], embeds[1:],
                                                   GREEDY))
    assert result.steered == alone.strip() and result.steered
    plain, steered = comparer.option_probabilities(q, "spm", persona)
    plain_text, _ = Comparer(llm).option_probabilities(q, "text", persona, "I am x.")
    # the unsteered side never sees the adapter: it matches the plain model (batch padding aside) ...
    np.testing.assert_allclose(plain, plain_text, atol=1e-4)
    # ... and not the adapted copy's own unsteered answer, which the perturbed adapter moves
    from persona_core.steer.engine import HeadCache, score_texts

    on_adapter = score_texts(adapted.llm.model, HeadCache(adapted.llm.model), comparer.builder.parts(q),
                             [torch.zeros(0, dtype=torch.long)])[0].exp().double().numpy()
    assert np.abs(on_adapter - plain).max() > 1e-2
    assert np.isclose(steered.sum(), 1) and not np.allclose(plain, steered)
    # answer first: the same start and continuation whether the rows decode side by side (the
    # steered row on the merged copy) or as the one batch that skips the adapter on the unsteered row
    firsts = [Comparer(llm, loaded, folder, parallel_rows=rows).compare(q, "spm", persona, settings=GREEDY,
                                                                        answer_first=True) for rows in (True, False)]
    assert (firsts[0].unsteered, firsts[0].steered) == (firsts[1].unsteered, firsts[1].steered)
    k = int(np.argmax(steered))
    assert firsts[0].extra["picked_options"] == [int(np.argmax(plain)), k]
    forced = [llm.encode([answer_start(k, q.options[k])])[0]]
    alone = "".join(p[0] for p in stream_from_past(adapted.llm, [(k_[1:], v[1:]) for k_, v in past], mask[1:], embeds[1:],
                                                   GREEDY, forced=forced))
    assert firsts[0].steered == alone.strip()
