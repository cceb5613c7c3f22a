"""Generation and scoring with the real default model (short outputs to stay fast)."""
import numpy as np
import pytest
import torch

from persona_core.llm import GenerationSettings

GREEDY = GenerationSettings(temperature=0.0, max_new_tokens=8)
QUESTIONS = [
    ("How many legs does a dog have?", ["Four", "Two", "Ten"]),
    ("Is fire hot or cold?", ["Cold", "Hot"]),
    ("Which season is the coldest?", ["Summer", "Winter", "Spring", "Autumn"]),
]


def _soft(llm, t, seed):
    gen = torch.Generator().manual_seed(seed)
    # scale of real token embeddings, so the soft prompt visibly changes the output
    scale = llm.model.get_input_embeddings().weight.std().item()
    return torch.randn(t, llm.hidden_size, generator=gen) * scale * 3


@pytest.fixture(scope="module")
def mc(llm):
    prompts = [llm.mc_prompt(q, o) for q, o in QUESTIONS]
    return prompts, [o for _, o in QUESTIONS]


def test_chat_and_mc_prompts(llm):
    head, cue = llm.mc_prompt_parts(*QUESTIONS[0])
    assert head + cue == llm.mc_prompt(*QUESTIONS[0])
    assert head.endswith("Answer with the letter of one option.")
    assert cue.endswith("assistant\n")
    with_persona = llm.mc_prompt(*QUESTIONS[0], persona_text="You are a 70-year-old farmer.")
    assert "You are a 70-year-old farmer." in with_persona
    assert llm.chat_prompt("hello").endswith("assistant\n")


def test_scores_are_distributions_and_labels_carry_the_answer(llm, mc):
    prompts, options = mc
    probs = llm.score_options(prompts, options)
    assert [p.shape for p in probs] == [(3,), (2,), (4,)]
    for p in probs:
        assert np.all(p > 0) and p.sum() == pytest.approx(1.0, abs=1e-9)
    # the prompt makes the model answer with a letter: the label tokens hold most of the
    # next-token probability over the whole vocabulary
    inputs = llm.build_inputs(prompts)
    with torch.inference_mode():
        logits = llm.model(
            inputs_embeds=inputs.embeds,
            attention_mask=inputs.attention_mask,
            position_ids=inputs.position_ids,
            logits_to_keep=1,
        ).logits[:, -1].log_softmax(-1)
    for row, opts in enumerate(options):
        mass = logits[row, llm.option_token_ids(len(opts))].exp().sum().item()
        assert mass > 0.5, (row, mass)


def test_soft_prompts_batched_equal_one_row_at_a_time(llm, mc):
    prompts, options = mc
    rows = [prompts[0], prompts[1], prompts[2], prompts[0]]
    opts = [options[0], options[1], options[2], options[0]]
    soft = [_soft(llm, 2, 0), None, _soft(llm, 3, 1), torch.zeros(0, llm.hidden_size)]
    batched = llm.score_options(rows, opts, soft)
    alone = [llm.score_options([r], [o], [s])[0] for r, o, s in zip(rows, opts, soft)]
    for b, a in zip(batched, alone):
        np.testing.assert_allclose(b, a, atol=1e-4)
    # the soft prompt is really used: steered and plain rows of the same prompt differ
    assert np.abs(batched[0] - batched[3]).max() > 1e-3

    chat = [llm.chat_prompt("Name a color."), llm.chat_prompt("Say hello to Ann in one short sentence.")]
    gen_soft = [_soft(llm, 2, 2), None]
    batched_text = llm.generate(chat, gen_soft, GREEDY)
    alone_text = [llm.generate([c], [s], GREEDY)[0] for c, s in zip(chat, gen_soft)]
    assert batched_text == alone_text
    assert all(t.strip() for t in batched_text)


def test_empty_or_missing_soft_prompt_is_plain_generation(llm):
    chat = [llm.chat_prompt("What is the capital of France?")]
    plain = llm.generate(chat, settings=GREEDY)
    assert llm.generate(chat, [None], GREEDY) == plain
    assert llm.generate(chat, [torch.zeros(0, llm.hidden_size)], GREEDY) == plain
    assert "Paris" in plain[0]


def test_streaming_joins_to_generate(llm):
    chat = [llm.chat_prompt("Count from one to ten."), llm.chat_prompt("Hi")]
    settings = GenerationSettings(temperature=0.0, max_new_tokens=10)
    steps = list(llm.generate_stream(chat, None, settings))
    assert 1 <= len(steps) <= settings.max_new_tokens + 1
    assert all(isinstance(s, list) and len(s) == 2 for s in steps)
    joined = ["".join(step[i] for step in steps) for i in range(2)]
    assert joined == llm.generate(chat, None, settings)
    assert sum(1 for s in steps if s[0]) > 1  # text really arrives piece by piece


def test_ends_say_which_rows_finished_and_which_were_cut(llm):
    chat = [llm.chat_prompt("What is the capital of France?"), llm.chat_prompt("Count from one to a hundred.")]
    settings = GenerationSettings(temperature=0.0, max_new_tokens=24)
    ends: list = []
    texts = llm.generate(chat, None, settings, ends=ends)
    assert "Paris" in texts[0]
    assert ends[0] in llm.eos_token_ids  # the answer ended with an end-of-turn token
    assert ends[1] is None  # counting to a hundred does not fit 24 tokens: cut, not ended
    assert texts == llm.generate(chat, None, settings)  # asking for the ends changes nothing


def test_forced_tokens_start_a_row_and_the_model_continues_them(llm):
    chat = [llm.chat_prompt("What is the capital of France?"), llm.chat_prompt("Hi")]
    start = "The capital of France is"
    settings = GenerationSettings(temperature=0.0, max_new_tokens=6, ignore_eos=True)
    forced = [llm.encode([start])[0], []]
    texts = ["".join(step[i] for step in llm.stream_prefill(llm.prefill(chat), settings, forced=forced)) for i in range(2)]
    # the forced row says the start, then what the model says after it (six tokens of its own)
    assert texts[0].startswith(start)
    assert texts[0] == start + llm.generate([chat[0] + start], settings=settings)[0]
    assert texts[1] == llm.generate([chat[1]], settings=settings)[0]  # a row with nothing forced is unchanged
    with pytest.raises(ValueError, match="forced tokens for 1 rows"):
        list(llm.stream_prefill(llm.prefill(chat), settings, forced=forced[:1]))


def test_seed_reproduces_sampling(llm):
    chat = [llm.chat_prompt("Write one sentence about the sea.")]
    hot = GenerationSettings(temperature=1.2, top_p=0.95, max_new_tokens=8, seed=7)
    first = llm.generate(chat, settings=hot)
    assert llm.generate(chat, settings=hot) == first
    others = {llm.generate(chat, settings=GenerationSettings(1.2, 0.95, 8, seed=s))[0] for s in (1, 2, 3)}
    assert len(others | {first[0]}) > 1


def test_row_seeds_let_unrelated_prompts_share_a_batch(llm):
    # each row draws with its own seed: in a batch of mixed prompts it says what it says alone
    sea, tea = llm.chat_prompt("Write one sentence about the sea."), llm.chat_prompt("Do you like tea?")
    hot = GenerationSettings(temperature=1.2, top_p=0.95, max_new_tokens=8)
    batch = llm.generate([sea, tea, sea], settings=hot, seeds=[11, 5, 3])
    for prompt, seed, got in zip([sea, tea, sea], [11, 5, 3], batch):
        assert llm.generate([prompt], settings=GenerationSettings(1.2, 0.95, 8, seed=seed)) == [got]
    assert batch[0] != batch[2]  # the same prompt with two seeds
    with pytest.raises(ValueError, match="2 seeds for 3 rows"):
        llm.generate([sea, tea, sea], settings=hot, seeds=[1, 2])


def test_option_logits_carry_gradients_to_the_soft_prompt(llm, mc):
    prompts, options = mc
    soft = _soft(llm, 1, 3).requires_grad_(True)
    logits = llm.option_logits(prompts[:1], [len(options[0])], [soft])
    torch.nn.functional.cross_entropy(logits[0][None], torch.tensor([0])).backward()
    assert soft.grad is not None and soft.grad.abs().sum() > 0


def test_bad_inputs_name_the_row(llm):
    chat = [llm.chat_prompt("Hi"), llm.chat_prompt("Hello")]
    with pytest.raises(ValueError, match="row 1"):
        llm.generate(chat, [None, torch.zeros(2, llm.hidden_size + 1)], GREEDY)
    with pytest.raises(ValueError, match="1 soft prompts for 2 prompts"):
        llm.score_options(chat, [["a", "b"]] * 2, [None])
    with pytest.raises(ValueError, match="temperature"):
        GenerationSettings(temperature=-1)


def test_a_prompt_run_once_and_repeated_samples_as_the_repeated_prompts(llm):
    # the free-text targets run each question's prompt once for all its samples (Prefill.repeat_rows)
    sea, tea = llm.chat_prompt("Write one sentence about the sea."), llm.chat_prompt("Do you like tea?")
    hot = GenerationSettings(temperature=1.2, top_p=0.95, max_new_tokens=8)
    seeds = [11, 5, 3, 8]
    once = llm.prefill([sea, tea])
    repeated = once.repeat_rows(2)
    assert repeated.n_rows == 4 and torch.equal(repeated.mask[2], once.mask[1])
    ends_once, ends_each = [], []
    texts = llm.generate_from(repeated, settings=hot, ends=ends_once, seeds=seeds)
    assert texts == llm.generate([sea, sea, tea, tea], settings=hot, ends=ends_each, seeds=seeds)
    assert ends_once == ends_each
    assert texts[0] != texts[1]  # the same prompt with two seeds
