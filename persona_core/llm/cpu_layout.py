"""Weight layout that makes small-batch decoding faster on CPU.

``nn.Linear`` stores its weight as (out x in) and computes ``x @ W.T``. For the one or
two rows of a decoding step, MKL runs that about 1.5x (batch 1) to 1.8x (batch 2) slower
than the same product with ``W.T`` stored contiguously (measured on 2 cores, all of
SmolLM2-135M's projection shapes). Re-striding each weight in place as
``W.t().contiguous().t()`` keeps the module, its shape and its values, and gives
``F.linear`` that fast layout; large batches (training, scoring prefill) are unaffected.
From 4 rows at a time, decoding is about 20 % slower with it.
"""
from __future__ import annotations

import torch


def transpose_linear_weights(model: torch.nn.Module) -> int:
    """Store every CPU ``nn.Linear`` weight column-major (same values); returns how many."""
    changed = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            weight = module.weight
            if weight.device.type == "cpu" and weight.is_contiguous() and weight.ndim == 2:
                weight.data = weight.data.t().contiguous().t()
                changed += 1
    return changed
