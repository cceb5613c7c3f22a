"""The SPM trained jointly with one LoRA adapter: learns, saves as safetensors, reloads to the same
answers, steers an adapted copy while the shared base model stays plain."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from persona_core.steer.adapter import ADAPTER_WEIGHTS, AdapterConfig
from persona_core.steer.checkpoint import load_checkpoint
from persona_core.steer.config import SPMConfig, SteerConfig, TrainConfig
from persona_core.steer.engine import HeadCache, model_geometry
from persona_core.steer.scoring import spm_logprobs, text_logprobs
from persona_core.steer.train import SPMTrainer


def _config(steps: int = 12, qps: int = 2) -> SteerConfig:
    return SteerConfig(
        spm=SPMConfig(mode="suffix_kv", n_tokens=1, hidden=(16,)),
        train=TrainConfig(lr=3e-2, adapter_lr=1e-3, weight_decay=0.0, epochs=1, steps_per_epoch=steps, batch_size=16,
                          questions_per_step=qps, schedule="cosine", warmup_steps=2, max_respondents=None,
                          max_questions=None, min_question_answers=1, unseen_fraction=0.0, eval_every=0,
                          eval_respondents=80, eval_questions=None, progress=False),
        adapter=AdapterConfig(r=4),
    )


def _perturbed_adapter(model):
    """A fresh r=2 adapter on a copy of ``model``, perturbed so that it is not the identity (a
    trained adapter is not: LoRA's B is zero at init); returns the PEFT model and its inner model."""
    from persona_core.steer.adapter import adapter_parameters, attach_adapter, inner_model

    torch.manual_seed(0)
    peft_model = attach_adapter(model, AdapterConfig(r=2))
    with torch.no_grad():
        for p in adapter_parameters(peft_model):
            p.normal_(0, 0.05)
    return peft_model, inner_model(peft_model)


@pytest.mark.slow
def test_spm_with_adapter_learns_saves_and_reloads(lm, planted, tmp_path):
    model, tok = lm
    survey, emb, _, mask = planted
    base_before = {k: v.clone() for k, v in model.state_dict().items() if k.endswith("q_proj.weight")}
    questions = np.arange(survey.n_questions)
    from persona_core.steer.prompts import PromptBuilder

    plain_before = text_logprobs(model, PromptBuilder(tok), HeadCache(model), survey, questions)
    trainer = SPMTrainer(model, tok, _config(), checkpoint_dir=tmp_path)
    result = trainer.fit(survey, emb, mask, run_key="planted")
    # 12 steps of 2 questions x 16 answers; planted answers are the group's: chance is 0.5
    assert result.steps == 11  # 22 per-question batches in the epoch, 2 per step
    assert result.learning_curve[-1]["accuracy"] >= 0.8, result.learning_curve
    assert result.lm is not model and any("lora" in n for n, _ in result.lm.named_parameters())
    # the shared base model is untouched: no LoRA layers, same weights
    assert not any("lora" in n for n, _ in model.named_parameters())
    for k, v in base_before.items():
        assert torch.equal(model.state_dict()[k], v)
    assert (tmp_path / ADAPTER_WEIGHTS).is_file() and not list(tmp_path.glob("*.bin")) and not list(tmp_path.glob("*.pt"))

    spm, record = load_checkpoint(tmp_path, run_key="planted", geometry=model_geometry(model), base_model=model)
    assert record["config"]["adapter"]["r"] == 4 and spm.steered_lm is not None
    a = survey.answers.take(mask)
    vec = emb[a.respondent]
    fresh = spm_logprobs(result.lm, trainer.builder, HeadCache(result.lm), survey, result.spm, vec, a.question)
    reloaded = spm_logprobs(spm.steered_lm, trainer.builder, HeadCache(spm.steered_lm), survey, spm, vec, a.question)
    np.testing.assert_allclose(np.stack(fresh), np.stack(reloaded), atol=1e-4)
    # without the persona signal (groups swapped) the adapted model answers the other group's way
    flipped = emb[:, [1, 0, 2, 3]][a.respondent]
    lp = spm_logprobs(spm.steered_lm, trainer.builder, HeadCache(spm.steered_lm), survey, spm, flipped, a.question)
    assert np.mean([np.argmax(p) == y for p, y in zip(lp, a.option)]) <= 0.2
    # the unsteered side, scored on the base model, is what it was before any training
    plain_after = text_logprobs(model, trainer.builder, HeadCache(model), survey, questions)
    np.testing.assert_allclose(np.stack(plain_after), np.stack(plain_before), atol=0)


def test_learning_rate_schedule_warms_up_then_decays():
    t = TrainConfig(lr=1.0, epochs=1, steps_per_epoch=10, schedule="cosine", warmup_steps=2)
    f = [t.lr_factor(s) for s in range(10)]
    assert f[0] == pytest.approx(0.5) and f[1] == pytest.approx(1.0) and f[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[2:], f[3:])) and f[-1] < 0.1
    assert TrainConfig(schedule="constant").lr_factor(123) == 1.0
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="linear")


def test_config_round_trip_with_and_without_adapter():
    cfg = _config()
    assert SteerConfig.from_dict(cfg.to_dict()) == cfg
    frozen = SteerConfig.from_dict({"spm": {}, "train": {}})
    assert frozen.adapter is None
    with pytest.raises(ValueError, match="adapter"):
        SteerConfig.from_dict({"adapter": {"rank": 4}})


def test_row_adapters_mix_plain_and_adapted_rows_in_one_batch_per_thread(lm):
    import threading

    from persona_core.steer.adapter import BASE, enable_row_adapters, row_adapters

    model, tok = lm
    peft_model, adapted = _perturbed_adapter(model)
    name = enable_row_adapters(adapted)
    assert enable_row_adapters(adapted) == name  # idempotent: the layers are already row-adapted
    ids = torch.tensor([tok.encode("Do you trust the news media?")] * 2)
    with torch.inference_mode():
        plain = model(input_ids=ids[:1]).logits[0]
        on = adapted(input_ids=ids[:1]).logits[0]
        assert (plain - on).abs().max() > 1e-2
        seen_elsewhere = []
        with row_adapters([BASE, name]):
            mixed = adapted(input_ids=ids).logits
            # another thread (another app session) on the same model is not touched by this block
            t = threading.Thread(target=lambda: seen_elsewhere.append(adapted(input_ids=ids[:1]).logits[0]))
            t.start()
            t.join()
        after = adapted(input_ids=ids).logits
    torch.testing.assert_close(mixed[0], plain, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(mixed[1], on, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(seen_elsewhere[0], on, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(after[0], on, atol=1e-4, rtol=1e-4)  # outside the block: the adapter again


def test_decoding_steps_of_row_adapted_layers_compute_what_peft_computes(lm):
    from persona_core.llm.cpu_layout import decoding_step
    from persona_core.steer.adapter import BASE, enable_row_adapters, row_adapters

    model, tok = lm
    peft_model, adapted = _perturbed_adapter(model)
    ids = torch.tensor([tok.encode("Do you trust the news media?")] * 2)
    with torch.inference_mode():
        peft_logits = adapted(input_ids=ids).logits
        name = enable_row_adapters(adapted)
        assert all(type(m).__name__ == "RowLoraLinear" for m in adapted.modules() if hasattr(m, "lora_A"))
        assert torch.equal(adapted(input_ids=ids).logits, peft_logits)  # outside a decoding step: PEFT's own forward
        with decoding_step():
            # PEFT's sum in plain operations (the same operations; rounding may differ)
            torch.testing.assert_close(adapted(input_ids=ids).logits, peft_logits, atol=1e-4, rtol=1e-4)
            with row_adapters([name, name]):
                torch.testing.assert_close(adapted(input_ids=ids).logits, peft_logits, atol=1e-4, rtol=1e-4)
        with row_adapters([BASE]), pytest.raises(ValueError, match="rows"):
            adapted(input_ids=ids)
        peft_model.train()
        with row_adapters([BASE, name]), pytest.raises(ValueError, match="eval mode"):
            adapted(input_ids=ids)


def test_merged_copy_computes_the_adapted_model_without_lora_layers(lm):
    from peft.tuners.lora import LoraLayer

    from persona_core.steer.adapter import merged_copy

    model, tok = lm
    peft_model, adapted = _perturbed_adapter(model)
    merged = merged_copy(adapted)
    assert not any(isinstance(m, LoraLayer) for m in merged.modules())
    assert any(isinstance(m, LoraLayer) for m in adapted.modules())  # the adapted model is left as it was
    ids = torch.tensor([tok.encode("Do you trust the news media?")])
    with torch.inference_mode():
        plain, on, got = (m(input_ids=ids).logits[0] for m in (model, adapted, merged))
    assert (plain - on).abs().max() > 1e-2
    torch.testing.assert_close(got, on, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(model(input_ids=ids).logits[0], plain)  # the base model is untouched
