"""Weight layouts that make small-batch decoding faster on CPU.

``nn.Linear`` stores its weight as (out x in) and computes ``x @ W.T``. For the one row of a
decoding step, MKL runs that about 1.5x slower than the same product with ``W.T`` stored
contiguously (measured on 2 cores, all of SmolLM2-135M's projection shapes). Re-striding each
weight in place as ``W.t().contiguous().t()`` keeps the module, its shape and its values, and
gives ``F.linear`` that fast layout; large batches (training, scoring, prefill) are unaffected.

Two to four rows (a comparison's steered and unsteered rows, a few personas) are another case:
with either layout ``F.linear`` then costs about twice one row, while ``W @ x.T`` on a row-major
copy of the weight costs little more than one row (on an AMD EPYC, MKL 2024.2, the 49,152-word
output layer at 2 rows: 10.7 ms with ``F.linear``, 3.8 ms so). A whole decoding step of 2 rows
then costs 1.1-1.35x one row instead of 1.45-1.5x, of 4 rows 1.5x instead of 1.9x; from 5 rows
``F.linear`` is as fast (``bench/decode_batch.py``). :class:`DecodingLinear` does that, but
only inside :func:`decoding_step` (the decoding loop's single-token forwards), so training,
scoring and prefill keep their numbers to the last bit; the row-major copy is made on the first
such step (it costs a second copy of the weights, in the processes that decode small batches).
``bench/decode_batch.py`` measures the step times. No library offers a per-batch-size choice of
layout for ``nn.Linear`` on CPU, hence this module.
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import torch
import torch.nn.functional as F

SMALL_BATCH_ROWS = range(2, 5)  # rows of a decoding step that take the row-major path

_in_decoding_step: ContextVar[bool] = ContextVar("in_decoding_step", default=False)
# Row-major copies by module (not in the module: ``copy.deepcopy`` of a model, e.g. to merge an
# adapter into its weights, must not carry a copy of the old weights along).
_row_major: "weakref.WeakKeyDictionary[torch.nn.Module, tuple[int, torch.Tensor]]" = weakref.WeakKeyDictionary()


@contextmanager
def decoding_step() -> Iterator[None]:
    """Forwards in this block (this thread only) are decoding steps: linears of
    :data:`SMALL_BATCH_ROWS` rows use the row-major product."""
    token = _in_decoding_step.set(True)
    try:
        yield
    finally:
        _in_decoding_step.reset(token)


def in_decoding_step() -> bool:
    """Whether this thread is inside :func:`decoding_step`."""
    return _in_decoding_step.get()


class DecodingLinear(torch.nn.Linear):
    """An ``nn.Linear`` (same parameters, state dict and outputs up to float rounding) whose
    decoding steps of 2-4 rows run ``W @ x.T`` on a row-major copy of the weight. The weights of a
    loaded model are frozen: a weight changed in place keeps a stale copy until the storage moves."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _in_decoding_step.get() and not torch.is_grad_enabled():
            rows = x.numel() // x.shape[-1]
            if rows in SMALL_BATCH_ROWS:
                out = (self._row_major_weight() @ x.reshape(rows, -1).T).T
                if self.bias is not None:
                    out = out + self.bias
                return out.reshape(*x.shape[:-1], self.out_features)
        return F.linear(x, self.weight, self.bias)

    def _row_major_weight(self) -> torch.Tensor:
        weight = self.weight
        cached = _row_major.get(self)
        if cached is None or cached[0] != weight.data_ptr():
            cached = (weight.data_ptr(), weight.detach().contiguous())
            _row_major[self] = cached
        return cached[1]


def transpose_linear_weights(model: torch.nn.Module) -> int:
    """Store every CPU ``nn.Linear`` weight column-major (same values) and make the module a
    :class:`DecodingLinear`; returns how many were changed."""
    changed = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            weight = module.weight
            if weight.device.type == "cpu" and weight.is_contiguous() and weight.ndim == 2:
                weight.data = weight.data.t().contiguous().t()
                if type(module) is torch.nn.Linear:
                    module.__class__ = DecodingLinear
                changed += 1
    return changed


def row_major_bytes(model: torch.nn.Module | None = None) -> int:
    """Bytes held by the row-major copies made so far for ``model``'s modules (``None``: all, in
    this process)."""
    held = list(_row_major.values()) if model is None else [_row_major[m] for m in model.modules() if m in _row_major]
    return sum(t.numel() * t.element_size() for _, t in held)
