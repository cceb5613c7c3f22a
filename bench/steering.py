"""Steering benchmarks; prints one JSON object.

Generation half (LLM backend): model load time (cold from the GGUF file into an empty
cache, warm from the cache), generation time of a steered + an unsteered row as one batch
beside the unsteered row alone (ratio; target <= 1.2), tokens per second at batch 1, time
to first token, and our decoding loop beside ``model.generate`` at batch 1.

Each section is a function ``(llm, args) -> dict`` listed in :data:`SECTIONS`; add the
SPM-vs-PEFT training-step section there.

    python bench/steering.py [--new-tokens 32] [--repeats 3] [--threads N] [--skip-cold]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from persona_core.llm import LLM, GenerationSettings, LLMConfig  # noqa: E402
from persona_core.llm.loading import clear_model_memo, load_model  # noqa: E402

PROMPT = "Describe an ideal weekend in a few sentences."


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _timed(fn: Callable[[], object]) -> float:
    _sync()
    start = time.perf_counter()
    fn()
    _sync()
    return time.perf_counter() - start


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(_timed(fn) for _ in range(repeats))


def _median_wall_and_cpu(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and process CPU seconds (CPU time is less disturbed by other
    processes sharing the cores, though with several threads it includes their spinning)."""
    walls, cpus = [], []
    for _ in range(repeats):
        cpu = time.process_time()
        walls.append(_timed(fn))
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def bench_load(args: argparse.Namespace) -> dict:
    """Cold load (GGUF -> plain model into an empty cache) and warm load (from the cache)."""
    out: dict = {}
    with tempfile.TemporaryDirectory() as cache:
        config = LLMConfig(model=args.model, device=args.device, cache_dir=cache)
        if not args.skip_cold:
            clear_model_memo()
            out["load_cold_s"] = round(_timed(lambda: load_model(config)), 2)
        else:
            load_model(config)
        clear_model_memo()
        out["load_warm_s"] = round(_timed(lambda: load_model(config)), 2)
        clear_model_memo()
    return out


def soft_prompt(llm: LLM, tokens: int, seed: int = 0) -> torch.Tensor:
    """A random soft prompt at the scale of real token embeddings."""
    gen = torch.Generator().manual_seed(seed)
    scale = llm.model.get_input_embeddings().weight.float().std().item()
    return torch.randn(tokens, llm.hidden_size, generator=gen) * scale


def time_to_first_token(llm: LLM, prompts: list[str], soft, settings: GenerationSettings) -> float:
    _sync()
    start = time.perf_counter()
    stream = llm.generate_stream(prompts, soft, settings)
    next(stream)
    _sync()
    elapsed = time.perf_counter() - start
    stream.close()
    return elapsed


def bench_generation(llm: LLM, args: argparse.Namespace) -> dict:
    """Steered + unsteered in one batch beside unsteered alone; speed at batch 1."""
    n = args.new_tokens
    settings = GenerationSettings(temperature=0.0, max_new_tokens=n, ignore_eos=True)
    prompt = llm.chat_prompt(PROMPT)
    soft = soft_prompt(llm, args.soft_tokens)
    llm.generate([prompt], None, GenerationSettings(temperature=0.0, max_new_tokens=4))  # warm-up

    alone, alone_cpu = _median_wall_and_cpu(lambda: llm.generate([prompt], None, settings), args.repeats)
    pair, pair_cpu = _median_wall_and_cpu(
        lambda: llm.generate([prompt, prompt], [soft, None], settings), args.repeats
    )
    ttft = statistics.median(time_to_first_token(llm, [prompt], None, settings) for _ in range(args.repeats))
    ttft_pair = statistics.median(
        time_to_first_token(llm, [prompt, prompt], [soft, None], settings) for _ in range(args.repeats)
    )

    inputs = llm.build_inputs([prompt])
    with torch.inference_mode():

        def hf_generate():
            llm.model.generate(
                inputs_embeds=inputs.embeds,
                attention_mask=inputs.attention_mask,
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                pad_token_id=llm.tokenizer.pad_token_id,
            )

        hf_generate()
        hf = _median_time(hf_generate, args.repeats)

    return {
        "new_tokens": n,
        "prompt_tokens": len(llm.encode([prompt])[0]),
        "soft_tokens": args.soft_tokens,
        "unsteered_alone_s": round(alone, 3),
        "steered_plus_unsteered_batch_s": round(pair, 3),
        "batch_ratio": round(pair / alone, 3),
        "unsteered_alone_cpu_s": round(alone_cpu, 3),
        "steered_plus_unsteered_batch_cpu_s": round(pair_cpu, 3),
        "batch_ratio_cpu_time": round(pair_cpu / alone_cpu, 3),
        "tokens_per_s_batch1": round(n / alone, 1),
        "decode_tokens_per_s_batch1": round((n - 1) / (alone - ttft), 1),
        "time_to_first_token_s": round(ttft, 4),
        "time_to_first_token_batch2_s": round(ttft_pair, 4),
        "hf_generate_batch1_s": round(hf, 3),
        "own_loop_vs_hf_generate": round(alone / hf, 3),
    }


# name -> function(llm, args) -> dict; the training-step benchmark goes here too
SECTIONS: dict[str, Callable[[LLM, argparse.Namespace], dict]] = {
    "generation": bench_generation,
}

# SPM vs PEFT prompt-tuning training step (steering engineer; uses --soft-tokens, --repeats and
# the batch size --train-batch, default 16)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from steering_train import bench_training_step  # noqa: E402

SECTIONS["train_step"] = bench_training_step


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model (default: PERSONA_MODEL or SmolLM2-135M)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--soft-tokens", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold (GGUF) load")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated sections")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    config = LLMConfig(model=args.model, device=args.device)
    result: dict = {
        "model": config.resolved_model(),
        "device": str(config.resolved_device()),
        "dtype": str(config.resolved_dtype()).removeprefix("torch."),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }
    if torch.cuda.is_available() and config.resolved_device().type == "cuda":
        result["gpu"] = torch.cuda.get_device_name()
    result.update(bench_load(args))
    llm = LLM.from_config(config)
    for name in args.sections.split(","):
        result[name] = SECTIONS[name](llm, args)
    result["load_average_1m"] = round(os.getloadavg()[0], 2)  # other work sharing the cores
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
