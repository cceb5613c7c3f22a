"""The SPM learns, checkpoints, resumes, and refuses checkpoints of other embedding runs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from persona_core.steer.checkpoint import CheckpointMismatchError, load_checkpoint, read_record
from persona_core.steer.config import SPMConfig, SteerConfig, TrainConfig
from persona_core.steer.train import SPMTrainer, persona_shift_loss


def _config(mode="suffix", epochs=1, steps=24, lr=3e-2, eval_respondents=80, eval_every=0) -> SteerConfig:
    return SteerConfig(
        spm=SPMConfig(mode=mode, n_tokens=1, hidden=(16,)),
        train=TrainConfig(
            lr=lr, weight_decay=0.0, epochs=epochs, steps_per_epoch=steps, batch_size=16,
            max_respondents=None, max_questions=None, min_question_answers=1, unseen_fraction=0.0,
            eval_every=eval_every, eval_respondents=eval_respondents, eval_questions=None, progress=False,
        ),
    )


@pytest.mark.slow
def test_spm_learns_planted_mapping(lm, planted):
    model, tok = lm
    survey, emb, groups, mask = planted
    trainer = SPMTrainer(model, tok, _config(steps=30, eval_every=10))
    result = trainer.fit(survey, emb, mask, run_key="planted")
    first, last = result.learning_curve[0], result.learning_curve[-1]
    # Held-out answers are the group's answer; chance is 0.5 and the frozen LLM cannot know the group.
    assert last["accuracy"] >= 0.9, result.learning_curve
    assert last["loglik"] > np.log(0.5)
    # 22 batches of 16 in one epoch of this survey: curve at 10, 20 and the epoch's end
    assert [p["step"] for p in result.learning_curve] == [10, 20, result.steps] and result.steps == 22
    # The persona vector does the work: flipping the group flips the answer.
    from persona_core.steer.scoring import spm_logprobs

    flipped = emb[:, [1, 0, 2, 3]]
    a = survey.answers.take(mask)
    lp = spm_logprobs(model, trainer.builder, trainer.heads, survey, result.spm, flipped[a.respondent], a.question)
    acc_flipped = np.mean([np.argmax(p) == y for p, y in zip(lp, a.option)])
    assert acc_flipped <= 0.1


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "lr"), [("suffix_kv", 3e-2), ("prefix", 3e-2), ("prompt", 1e-2)])
def test_other_modes_learn(lm, planted, mode, lr):
    # Prompt mode's input-embedding tokens diverge at 3e-2 (measured on AMD EPYC, 2 threads:
    # 0.84 after 4 steps, then 0.66); at 1e-2 it holds at ~0.99 from step 8 on. 12 steps leave
    # a wide margin above the 0.8 threshold (chance is 0.5).
    model, tok = lm
    survey, emb, _, mask = planted
    result = SPMTrainer(model, tok, _config(mode=mode, steps=12, lr=lr, eval_every=12)).fit(survey, emb, mask, "planted")
    assert result.learning_curve[-1]["accuracy"] >= 0.8, result.learning_curve


def test_resume_continues_where_it_stopped(lm, planted, tmp_path):
    model, tok = lm
    survey, emb, _, mask = planted
    cfg = _config(mode="suffix_kv", epochs=2, steps=3, eval_respondents=8)
    straight = SPMTrainer(model, tok, cfg, checkpoint_dir=tmp_path / "a").fit(survey, emb, mask, "run-1")

    killed = SPMTrainer(model, tok, cfg, checkpoint_dir=tmp_path / "b").fit(
        survey, emb, mask, "run-1", stop_after_epochs=1
    )
    assert read_record(tmp_path / "b")["epoch"] == 1 and killed.steps == 3
    resumed = SPMTrainer(model, tok, cfg, checkpoint_dir=tmp_path / "b").fit(survey, emb, mask, "run-1")
    assert resumed.resumed_from_epoch == 1
    assert resumed.steps == straight.steps == 6
    for (name, a), b in zip(straight.spm.state_dict().items(), resumed.spm.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    record = read_record(tmp_path / "b")
    assert record["epoch"] == 2 and record["run_key"] == "run-1"
    assert [p["step"] for p in record["learning_curve"]] == [3, 6]
    assert json.loads((tmp_path / "b" / "checkpoint.json").read_text())["config"] == json.loads(json.dumps(cfg.to_dict()))


def test_checkpoint_of_another_embedding_run_is_refused(lm, planted, tmp_path):
    model, tok = lm
    survey, emb, _, mask = planted
    cfg = _config(mode="suffix_kv", epochs=1, steps=1, eval_respondents=4)
    SPMTrainer(model, tok, cfg, checkpoint_dir=tmp_path).fit(survey, emb, mask, "run-A")
    spm, record = load_checkpoint(tmp_path, run_key="run-A")
    assert record["run_key"] == "run-A" and spm.embed_dim == 4
    with pytest.raises(CheckpointMismatchError, match="run-A.*run-B"):
        load_checkpoint(tmp_path, run_key="run-B")
    with pytest.raises(CheckpointMismatchError, match="Retrain"):
        SPMTrainer(model, tok, cfg, checkpoint_dir=tmp_path).fit(survey, emb, mask, "run-B")


def test_row_targets_mix_the_real_answer_with_the_teacher():
    from persona_core.steer.train import row_targets

    teacher = np.array([[0.2, 0.6, 0.2, 0.0], [0.5, 0.5, 0.0, 0.0]], np.float32)  # padded to 4 options
    t = row_targets(np.array([0, 2]), 3, 0.25, teacher).numpy()
    np.testing.assert_allclose(t[0], [0.75 + 0.05, 0.15, 0.05], atol=1e-6)
    np.testing.assert_allclose(t[1], [0.125, 0.125, 0.75], atol=1e-6)
    np.testing.assert_allclose(t.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(row_targets(np.array([1]), 2, 0.0, None).numpy(), [[0.0, 1.0]])


@pytest.mark.parametrize("term, value, bad", [("distill", 0.5, 1.5), ("persona_shift", 1.0, -1.0)])
def test_teacher_terms_without_a_teacher_are_refused(lm, planted, term, value, bad):
    model, tok = lm
    survey, emb, _, mask = planted
    cfg = _config(mode="suffix_kv", steps=2)
    setattr(cfg.train, term, value)
    with pytest.raises(ValueError, match="teacher"):
        SPMTrainer(model, tok, cfg).fit(survey, emb, mask, "planted")
    with pytest.raises(ValueError, match=term):
        TrainConfig(**{term: bad})


def test_persona_shift_loss_ignores_what_the_batch_shares_and_sees_each_personas_shift():
    rng = np.random.default_rng(0)
    teacher = rng.dirichlet(np.ones(3), size=5).astype(np.float32)
    teacher_padded = np.concatenate([teacher, np.zeros((5, 1), np.float32)], axis=1)  # a 4th, absent option
    log_t = torch.from_numpy(np.log(teacher))
    # the teacher's log-probs plus a per-row constant and a shift every row shares: no loss
    same = log_t + torch.randn(5, 1) + torch.tensor([[0.7, -0.2, 1.5]])
    np.testing.assert_allclose(persona_shift_loss(same, teacher_padded).numpy(), 0.0, atol=1e-5)
    # every row the same (no persona at all): the loss is the teacher's own spread of shifts
    flat = persona_shift_loss(torch.zeros(5, 3), teacher_padded)
    centred = np.log(teacher) - np.log(teacher).mean(axis=1, keepdims=True)
    centred -= centred.mean(axis=0, keepdims=True)
    np.testing.assert_allclose(flat.numpy(), (centred ** 2).sum(axis=1), rtol=1e-5)
    assert float(flat.sum()) > 0.1
    # gradient flows to the model's log-probs
    x = torch.zeros(5, 3, requires_grad=True)
    persona_shift_loss(x, teacher_padded).sum().backward()
    assert float(x.grad.abs().sum()) > 0


@pytest.mark.slow
def test_distillation_learns_the_teachers_answers(lm, planted):
    # A teacher that is sure of the *other* option than each respondent's real one: with
    # distill = 1 the SPM must learn the teacher's answers, so it gets the held-out answers wrong
    # (with distill = 0 the same run gets them right: test_other_modes_learn[suffix_kv]).
    model, tok = lm
    survey, emb, groups, mask = planted

    def teacher(respondents, questions):
        proba = np.zeros((len(respondents), 2), np.float32)
        proba[np.arange(len(respondents)), 1 - groups[respondents]] = 1.0
        return proba

    cfg = _config(mode="suffix_kv", steps=12, lr=3e-2, eval_every=12)
    cfg.train.distill = 1.0
    result = SPMTrainer(model, tok, cfg).fit(survey, emb, mask, "planted", teacher=teacher)
    assert result.learning_curve[-1]["accuracy"] <= 0.2, result.learning_curve


def _text_reading_accuracy(trainer, result, survey, emb, mask) -> float:
    """Held-out accuracy of the trained SPM when the question is asked alone and the options are
    read by their text (``Yes`` / ``No``)."""
    from persona_core.steer.scoring import spm_logprobs

    a = survey.answers.take(mask)
    lp = spm_logprobs(result.lm, trainer.text_builder, trainer.heads, survey, result.spm, emb[a.respondent], a.question,
                      readout="text")
    return float(np.mean([np.argmax(p) == y for p, y in zip(lp, a.option)]))


@pytest.mark.slow
def test_text_answer_term_teaches_the_answer_in_words(lm, planted):
    # Trained on letters only, the persona reaches the letter but not the option's words; with
    # the text term the same run also says the group's answer when the question comes alone.
    model, tok = lm
    survey, emb, _, mask = planted
    accuracy = {}
    for weight in (0.0, 1.0):
        cfg = _config(mode="suffix_kv", steps=12, lr=3e-2, eval_every=12)
        cfg.train.text_answer = weight
        trainer = SPMTrainer(model, tok, cfg)
        result = trainer.fit(survey, emb, mask, "planted")
        assert result.learning_curve[-1]["accuracy"] >= 0.8, (weight, result.learning_curve)
        accuracy[weight] = _text_reading_accuracy(trainer, result, survey, emb, mask)
    assert accuracy[1.0] >= 0.8 and accuracy[1.0] - accuracy[0.0] >= 0.3, accuracy  # measured: 1.0 and 0.43


def _planted_free_text_targets(survey, tokenizer):
    """Hand-labelled free-text answers for the planted yes/no questions."""
    from persona_core.steer.free_text import FreeTextTargets

    said = {0: ("Yes, I really do.", "Yes, absolutely, every time."), 1: ("No, not at all.", "No, I really don't.")}
    answers = {q: [(tokenizer.encode(t, add_special_tokens=False), o) for o, texts in said.items() for t in texts]
               for q in range(survey.n_questions)}
    return FreeTextTargets(answers=answers, settings={"n_options": {str(q): 2 for q in range(survey.n_questions)}})


def _free_text_reading_accuracy(trainer, result, survey, emb, mask, targets) -> float:
    """Held-out accuracy of the trained SPM's free text, read by likelihood: asked as Compare asks
    (no options), does the persona's model give its group's answers a higher mean log-likelihood
    per token than the other option's?"""
    from persona_core.steer.engine import continuation_logprobs, virtual_inputs

    a = survey.answers.take(mask)
    mode, hits = trainer.config.spm.mode, []
    for q in np.unique(a.question):
        rows = np.flatnonzero(a.question == q)
        parts = trainer.free_builder.parts(survey.questions[q], trainer.config.spm.cue_tokens)
        with torch.no_grad():
            virtual = result.spm(torch.from_numpy(emb[a.respondent[rows]]))
            score = []
            for option in (0, 1):
                texts = [ids for ids, o in targets.answers[int(q)] if o == option]
                lps = [continuation_logprobs(result.lm, virtual_inputs(result.lm, trainer.heads, parts, mode, virtual),
                                             [torch.tensor(ids)] * rows.size) for ids in texts]
                score.append(torch.stack(lps).mean(dim=0))
        hits.extend((torch.stack(score, dim=1).argmax(dim=1).numpy() == a.option[rows]).tolist())
    return float(np.mean(hits))


@pytest.mark.slow
def test_free_text_term_teaches_the_personas_answer_in_its_own_words(lm, planted):
    # Trained on letters only, the persona does not reach free text; with the free-text term the
    # same run makes each group's model prefer answers that say its option, asked without options.
    model, tok = lm
    survey, emb, _, mask = planted
    targets = _planted_free_text_targets(survey, tok)
    accuracy = {}
    for weight in (0.0, 1.0):
        cfg = _config(mode="suffix_kv", steps=12, lr=3e-2, eval_every=12)
        cfg.train.free_text = weight
        trainer = SPMTrainer(model, tok, cfg)
        result = trainer.fit(survey, emb, mask, "planted", free_text_targets=targets)
        assert result.learning_curve[-1]["accuracy"] >= 0.8, (weight, result.learning_curve)
        accuracy[weight] = _free_text_reading_accuracy(trainer, result, survey, emb, mask, targets)
    assert accuracy[1.0] >= 0.8 and accuracy[1.0] - accuracy[0.0] >= 0.3, accuracy


def test_free_text_term_can_leave_the_adapter_to_the_letters(lm, planted, tmp_path):
    # free_text_params "spm": the term's gradient reaches the SPM but not the shared adapter, so
    # after one step the adapter is exactly what the letters alone make of it; with "all" it is
    # not; "own_adapter" trains a second adapter of its own, saved and served for generation only.
    from persona_core.llm import LLM
    from persona_core.service.compare import Comparer
    from persona_core.steer.adapter import FREE_TEXT_ADAPTER_WEIGHTS, AdapterConfig
    from persona_core.steer.engine import model_geometry
    from persona_core.data.errors import DataError

    model, tok = lm
    survey, emb, _, mask = planted
    targets = _planted_free_text_targets(survey, tok)

    def lora(m):
        return torch.cat([p.detach().flatten() for n, p in m.named_parameters() if "lora_" in n])

    def one_step(weight, params, folder=None):
        cfg = _config(mode="suffix_kv", steps=1, lr=3e-2)
        cfg.adapter = AdapterConfig(r=2)
        cfg.train.free_text, cfg.train.free_text_params = weight, params
        result = SPMTrainer(model, tok, cfg, checkpoint_dir=folder).fit(survey, emb, mask, "planted",
                                                                        free_text_targets=targets)
        return result, lora(result.lm), torch.cat([p.detach().flatten() for p in result.spm.parameters()])

    _, letters_only, spm_letters = one_step(0.0, "all")
    _, spm_only, spm_spm_only = one_step(1.0, "spm")
    _, everything, _ = one_step(1.0, "all")
    own, own_letters, _ = one_step(1.0, "own_adapter", tmp_path / "own")
    alone, alone_letters, alone_spm = one_step(1.0, "own_adapter_only")
    assert letters_only.abs().sum() > 0  # the adapter did move
    assert torch.equal(spm_only, letters_only) and torch.equal(own_letters, letters_only)
    # its own adapter only: the SPM and the letters' adapter are exactly the run without the term
    assert torch.equal(alone_letters, letters_only) and torch.equal(alone_spm, spm_letters)
    assert not torch.equal(lora(alone.spm.generation_lm), letters_only)
    assert not torch.equal(everything, letters_only)
    assert not torch.equal(spm_spm_only, spm_letters)  # the term still trains the SPM
    generation = own.spm.generation_lm
    assert generation is not None and generation is not own.lm and lora(generation).abs().sum() > 0
    assert not torch.equal(lora(generation), letters_only)
    # saved beside the letters' adapter; loading binds both; Compare generates on the free-text one
    loaded, _ = load_checkpoint(tmp_path / "own", "planted", model_geometry(model), base_model=model)
    torch.testing.assert_close(lora(loaded.generation_lm), lora(generation))
    torch.testing.assert_close(lora(loaded.steered_lm), own_letters)
    comparer = Comparer(LLM(model, tok), loaded)
    assert comparer._adapted().llm.model is loaded.generation_lm
    assert comparer._adapted(generation=False).llm.model is loaded.steered_lm
    (tmp_path / "own" / FREE_TEXT_ADAPTER_WEIGHTS).unlink()
    with pytest.raises(DataError, match="free-text adapter"):
        load_checkpoint(tmp_path / "own", "planted", model_geometry(model), base_model=model)


def test_free_text_targets_are_sampled_for_yes_no_questions_and_reused(lm, tmp_path):
    from persona_core.data.survey import Question
    from persona_core.steer.free_text import FreeTextTargets, load_or_sample

    model, tok = lm
    questions = [Question("tea", "Do you enjoy drinking tea?", ("yes", "no"), ordinal=False),
                 Question("size", "How big is your town?", ("small", "medium", "large"), ordinal=True)]
    calls = []
    labeller = lambda question, texts: calls.extend(texts) or [1] * len(texts)
    path = tmp_path / "targets.json"
    got = load_or_sample(path, model, tok, questions, [0, 1], 2, 6, 0, False, labeller=labeller)
    assert list(got.answers) == [0] and 1 <= len(got.answers[0]) <= 2  # the 3-option question is skipped
    assert all(o == 1 and 1 <= len(ids) <= 7 for ids, o in got.answers[0])
    assert got.pick(0, np.array([1, 0]), np.random.default_rng(0))[0][0] == 0  # only row 0's option has answers
    assert FreeTextTargets.load(path).answers == got.answers
    n_calls = len(calls)
    again = load_or_sample(path, model, tok, questions, [0, 1], 2, 6, 0, False, labeller=labeller)
    assert again.answers == got.answers and len(calls) == n_calls  # same settings: read back, not sampled again


@pytest.mark.parametrize("values, bad", [({"free_text": -0.1}, "free_text"), ({"free_text_rows": 0}, "free_text_rows"),
                                         ({"free_text_samples": 0}, "free_text_samples"),
                                         ({"free_text_params": "adapter"}, "free_text_params")])
def test_free_text_settings_are_checked(values, bad):
    with pytest.raises(ValueError, match=bad):
        TrainConfig(**values)


@pytest.mark.parametrize("values, adapter", [({}, False), ({"free_text": 1.0}, False),
                                             ({"free_text": 1.0, "free_text_params": "spm"}, False),
                                             ({"free_text_params": "own_adapter"}, False),
                                             ({"free_text": 1.0, "free_text_params": "own_adapter"}, True),
                                             ({"free_text": 1.0, "free_text_params": "own_adapter_only"}, True)])
def test_free_text_adapter_is_on_only_with_the_term_and_an_own_adapter_setting(values, adapter):
    assert TrainConfig(**values).free_text_adapter is adapter


def test_free_text_targets_sampled_in_one_batch_equal_those_sampled_a_question_at_a_time(lm, monkeypatch):
    from persona_core.data.survey import Question
    from persona_core.steer import free_text

    model, tok = lm
    questions = [Question("tea", "Do you enjoy drinking tea?", ("yes", "no"), ordinal=False),
                 Question("size", "How big is your town?", ("small", "medium", "large"), ordinal=True),
                 Question("dogs", "Should dogs be allowed in parks?", ("Yes", "No"), ordinal=False)]
    together = free_text.sample_targets(model, tok, questions, [0, 1, 2], 3, 8, 5, False)
    monkeypatch.setattr(free_text, "QUESTIONS_PER_BATCH", 1)
    alone = free_text.sample_targets(model, tok, questions, [0, 1, 2], 3, 8, 5, False)
    assert list(together.answers) == [0, 2] and together.answers == alone.answers
    assert all(len(rows) == 3 and {o for _, o in rows} <= {0, 1} for rows in together.answers.values())


def test_free_text_targets_keep_the_end_of_an_answer_that_ended(lm):
    # the steered model must learn to stop where the base model did: an answer that ended within
    # the token limit is taught with its end-of-turn token, one cut at the limit without one
    from persona_core.data.survey import Question
    from persona_core.llm import LLM, GenerationSettings
    from persona_core.steer.free_text import free_text_builder, sample_targets

    model, tok = lm
    llm = LLM(model, tok)
    questions = [Question("tea", "Do you enjoy drinking tea?", ("yes", "no"), ordinal=False)]
    label = lambda question, texts: [0] * len(texts)
    for max_tokens in (4, 64):
        got = sample_targets(model, tok, questions, [0], 4, max_tokens, 0, False, labeller=label).answers[0]
        ends: list = []
        llm.generate([free_text_builder(tok).render(questions[0])] * 4, settings=GenerationSettings(
            temperature=0.7, top_p=0.9, max_new_tokens=max_tokens, seed=0), ends=ends)
        assert len(got) == 4 and len(ends) == 4
        assert [ids[-1] if end is not None else None for (ids, _), end in zip(got, ends)] == ends
        assert all(ids[-1] not in llm.eos_token_ids for (ids, _), end in zip(got, ends) if end is None)
        if max_tokens == 4:
            assert ends == [None] * 4  # no answer fits four tokens
        else:
            assert any(end is not None for end in ends)  # one or two sentences end well within 64


def test_a_recorded_split_reads_back_as_the_same_indices(planted):
    # eval and bench/free_text.py read a checkpoint's split from its record: the same respondents
    # and questions the run chose; a record without a split means every respondent and question
    from persona_core.steer.data import RecordedSplit, make_split

    survey, _, _, mask = planted
    split = make_split(survey, mask, TrainConfig(unseen_fraction=0.2, max_questions=3, min_question_answers=1))
    back = RecordedSplit.from_record(survey, {"split": split.to_record(survey)})
    np.testing.assert_array_equal(back.train_respondents, split.train_respondents)
    np.testing.assert_array_equal(back.unseen_respondents, split.unseen_respondents)
    np.testing.assert_array_equal(back.questions, np.sort(split.questions))
    assert split.unseen_respondents.size > 0 and split.questions.size == 3
    bare = RecordedSplit.from_record(survey, {})
    assert bare.train_respondents.tolist() == list(range(survey.n_respondents)) and bare.unseen_respondents.size == 0
    assert bare.questions.tolist() == list(range(survey.n_questions))
