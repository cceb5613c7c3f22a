"""The floor under Compare's one-batch ratio: one decoding step of the default model at batch 1
against batch 2 (with and without masked slots in the second row's past), on this CPU.

A comparison decodes both sides in one batch of 2, so its wall time against the unsteered side
alone cannot fall below this step ratio when both run the same number of tokens. Every step runs
as the decoding loop runs it (``cpu_layout.decoding_step``: 2-4 rows take the row-major product);
``batch2_plain_linear`` is batch 2 with ``F.linear`` on the column-major weights, as until then,
side by side, with the largest logit difference between the two. Prints one JSON object; never
asserts on time.

    .venv/bin/python bench/decode_batch.py [--past 300] [--steps 40] [--repeats 3]
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


def step_ms(model, cache_arg: str, batch: int, past: int, steps: int, holes: bool,
            as_decoding: bool = True) -> tuple[float, "torch.Tensor"]:
    """Milliseconds per decoding step after a past of ``past`` tokens, ``batch`` rows, and the
    last step's logits (``as_decoding``: inside ``decoding_step``, as the decoding loop runs)."""
    import contextlib

    import torch
    from transformers import DynamicCache

    from persona_core.llm.cpu_layout import decoding_step

    ids = torch.randint(100, 1000, (1, past), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out = model(input_ids=ids, use_cache=True)
        kv = [(layer.keys.expand(batch, -1, -1, -1).contiguous(), layer.values.expand(batch, -1, -1, -1).contiguous())
              for layer in out.past_key_values.layers]
        cache = DynamicCache(ddp_cache_data=kv)
        mask = torch.ones(batch, past, dtype=torch.long)
        if holes:  # the unsteered row's masked slots, as in Compare's batches
            mask[0, past // 3: past - past // 6] = 0
        token = torch.full((batch, 1), 500)
        t = time.perf_counter()
        for s in range(steps):
            mask = torch.cat([mask, mask.new_ones(batch, 1)], 1)
            with decoding_step() if as_decoding else contextlib.nullcontext():
                out = model(input_ids=token, attention_mask=mask, position_ids=torch.full((batch, 1), past + s),
                            use_cache=True, logits_to_keep=1, **{cache_arg: cache})
            cache = getattr(out, cache_arg) if hasattr(out, cache_arg) else out.past_key_values
        return (time.perf_counter() - t) / steps * 1000, out.logits


def main() -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--past", type=int, default=300, help="tokens before the first decoding step")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats; medians reported")
    args = p.parse_args()
    import torch

    from persona_core.llm import LLM
    from persona_core.llm.cpu_layout import row_major_bytes
    from persona_core.steer.engine import _cache_arg

    load_before = os.getloadavg()
    llm = LLM.from_config()
    model, cache_arg = llm.model, _cache_arg(llm.model)
    cases = {"batch1": (1, False, True), "batch2": (2, False, True), "batch2_masked": (2, True, True),
             "batch2_plain_linear": (2, False, False)}
    step_ms(model, cache_arg, 2, args.past, 4, False)  # warm-up (and the row-major copies made)
    runs: dict[str, list[float]] = {name: [] for name in cases}
    logits: dict[str, torch.Tensor] = {}
    for _ in range(args.repeats):
        for name, (batch, holes, as_decoding) in cases.items():
            ms, logits[name] = step_ms(model, cache_arg, batch, args.past, args.steps, holes, as_decoding)
            runs[name].append(round(ms, 2))
    med = {name: statistics.median(v) for name, v in runs.items()}
    return {"model": str(getattr(model.config, "_name_or_path", "")), "dtype": str(model.dtype),
            "threads": torch.get_num_threads(), "past": args.past, "steps": args.steps,
            "ms_per_step": med, "runs_ms": runs,
            "ratio_batch2": round(med["batch2"] / med["batch1"], 3),
            "ratio_batch2_masked": round(med["batch2_masked"] / med["batch1"], 3),
            "ratio_batch2_plain_linear": round(med["batch2_plain_linear"] / med["batch1"], 3),
            "batch2_over_plain_linear": round(med["batch2"] / med["batch2_plain_linear"], 3),
            "max_logit_difference_batch2_vs_plain_linear": float((logits["batch2"] - logits["batch2_plain_linear"]).abs().max()),
            "row_major_copies_mb": round(row_major_bytes(model) / 2**20, 1),
            "load_average": {"before": list(load_before), "after": list(os.getloadavg())}}


if __name__ == "__main__":
    print(json.dumps(main()))
