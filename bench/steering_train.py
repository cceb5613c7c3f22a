"""SPM training step beside a PEFT prompt-tuning step (same virtual tokens, same batch).

Section ``train_step`` of ``bench/steering.py`` (also runnable alone; prints one JSON object).
For each SPM mode: median seconds of one optimizer step on a batch of rows answering the same
GSS-style question (question cache already computed, as in steady-state training; the cost of
computing one question's cache is reported separately), and the ratio to a PEFT
``PromptTuningConfig`` step with the same number of virtual tokens and rows.

    python bench/steering_train.py [--soft-tokens 2] [--train-batch 16] [--repeats 3] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from persona_core.data.survey import Question  # noqa: E402
from persona_core.steer.config import SPMConfig  # noqa: E402
from persona_core.steer.engine import HeadCache, compute_kv, model_geometry, score_virtual  # noqa: E402
from persona_core.steer.model import SoftPromptModel, base_tokens  # noqa: E402
from persona_core.steer.prompts import PromptBuilder  # noqa: E402

QUESTION = Question(
    "natenvir", "are we spending too much, too little, or about the right amount on improving and protecting the environment",
    ("too little", "about right", "too much"),
)


def _median(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_training_step(llm, args: argparse.Namespace) -> dict:
    """SPM step time per mode vs a PEFT prompt-tuning step (ratio < 1: the SPM step is cheaper)."""
    from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

    model, tokenizer = llm.model, llm.tokenizer
    T = int(getattr(args, "soft_tokens", 2))
    B = int(getattr(args, "train_batch", 16))
    repeats = int(getattr(args, "repeats", 3))
    builder = PromptBuilder(tokenizer)
    geo = model_geometry(model)
    y = torch.from_numpy(np.arange(B) % QUESTION.n_options)
    z = torch.randn(B, 16, generator=torch.Generator().manual_seed(0))
    out: dict = {"soft_tokens": T, "batch": B, "modes": {}}

    peft_model = get_peft_model(model, PromptTuningConfig(
        task_type=TaskType.CAUSAL_LM, num_virtual_tokens=T, prompt_tuning_init=PromptTuningInit.RANDOM))
    popt = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-3)
    parts = builder.parts(QUESTION)
    ids = torch.cat([parts.head, parts.cue]).unsqueeze(0).expand(B, -1)

    def peft_step() -> None:
        logits = peft_model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[:, -1, parts.labels]
        loss = torch.nn.functional.cross_entropy(logits, y)
        popt.zero_grad(set_to_none=True)
        loss.backward()
        popt.step()

    peft = _median(peft_step, repeats)
    out["peft_prompt_tuning_s"] = round(peft, 4)
    out["prompt_tokens"] = int(ids.shape[1])
    out["question_cache_s"] = round(_median(lambda: compute_kv(model, parts.head), repeats), 4)

    for mode in ("suffix_kv", "suffix", "prefix", "prompt"):
        cfg = SPMConfig(mode=mode, n_tokens=T)
        spm = SoftPromptModel(cfg, 16, geo, base=base_tokens(model, tokenizer, cfg))
        opt = torch.optim.AdamW(spm.parameters(), lr=1e-3)
        heads = HeadCache(model)
        mparts = builder.parts(QUESTION, cfg.cue_tokens)
        heads.get(mparts.head)

        def step() -> None:
            logp = score_virtual(model, heads, mparts, mode, spm(z))
            loss = torch.nn.functional.nll_loss(logp, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        s = _median(step, repeats)
        out["modes"][mode] = {"step_s": round(s, 4), "ratio_to_peft": round(s / peft, 3)}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--soft-tokens", type=int, default=2)
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from persona_core.llm import LLM, LLMConfig

    llm = LLM.from_config(LLMConfig(model=args.model))
    result = {"threads": args.threads, "train_step": bench_training_step(llm, args)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
