"""Generation settings and the choice of the next token (greedy, temperature, top-p)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass(frozen=True)
class GenerationSettings:
    """``temperature`` 0 means greedy; ``top_p`` is nucleus sampling (1 = off); ``seed``
    makes sampling reproducible (row ``i`` of a batch samples with ``seed + i``, so a row's
    text does not depend on the other rows); ``None`` draws fresh randomness. ``ignore_eos``
    keeps decoding past the end-of-turn token (always ``max_new_tokens`` tokens; benchmarks)."""

    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 128
    seed: int | None = None
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"GenerationSettings.temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"GenerationSettings.top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"GenerationSettings.max_new_tokens must be >= 1, got {self.max_new_tokens}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def row_generators(settings: GenerationSettings, n_rows: int, device: torch.device,
                   first_row: int = 0, seeds: Sequence[int] | None = None) -> list[torch.Generator]:
    """One random generator per row (row ``i`` seeded ``seed + first_row + i``, or randomly when
    no seed): a batch's row ``k`` decoded on its own, with ``first_row=k``, draws as it would in
    the batch. ``seeds``: each row's own seed instead (one per row; ``settings.seed`` and
    ``first_row`` are then unused), so rows of unrelated prompts can share a batch and still draw
    as they would alone."""
    if seeds is not None and len(seeds) != n_rows:
        raise ValueError(f"{len(seeds)} seeds for {n_rows} rows")
    gens = []
    for i in range(n_rows):
        gen = torch.Generator(device=device)
        if seeds is not None:
            gen.manual_seed(int(seeds[i]))
        elif settings.seed is None:
            gen.seed()
        else:
            gen.manual_seed(settings.seed + first_row + i)
        gens.append(gen)
    return gens


def next_tokens(
    logits: torch.Tensor, settings: GenerationSettings, generators: list[torch.Generator]
) -> torch.Tensor:
    """Pick one token per row from ``logits`` (rows x vocab)."""
    if settings.greedy:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / settings.temperature, dim=-1)
    if settings.top_p < 1:
        probs = nucleus(probs, settings.top_p)
    return torch.stack(
        [torch.multinomial(probs[i], 1, generator=gen)[0] for i, gen in enumerate(generators)]
    )


NUCLEUS_CANDIDATES = 256  # tokens looked at first for the top-p nucleus (a full sort only where they fall short)


def nucleus(probs: torch.Tensor, top_p: float, candidates: int | None = None) -> torch.Tensor:
    """``probs`` (rows x vocab) with every token outside its row's top-p nucleus set to 0: tokens
    are dropped once the mass before them already reaches ``top_p`` (at least one is kept).

    Sorting the whole vocabulary costs about 1.5 ms a row (49k tokens); the nucleus of a sampled
    row mostly lies in its first few tokens. So the ``candidates`` most likely tokens come first
    (``topk``), and a row is sorted in full only when the mass before its last candidate is still
    under ``top_p``. Prefix sums are summed in the same order either way, so the kept tokens and
    their values are those of the full sort. ``candidates``: default :data:`NUCLEUS_CANDIDATES`."""
    k = min(NUCLEUS_CANDIDATES if candidates is None else candidates, probs.shape[-1])
    kept, last_dropped = _keep_nucleus(*probs.topk(k, dim=-1), top_p, probs)
    short = (~last_dropped).nonzero().flatten()
    if k < probs.shape[-1] and short.numel():  # the nucleus may reach past the candidates: sort those rows in full
        kept[short] = _keep_nucleus(*probs[short].sort(dim=-1, descending=True), top_p, probs[short])[0]
    return kept


def _keep_nucleus(ranked: torch.Tensor, order: torch.Tensor, top_p: float,
                  probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """From each row's tokens in descending order (``ranked`` probabilities, ``order`` their ids):
    a tensor shaped as ``probs`` holding the ranked tokens until the mass before one reaches
    ``top_p`` (at least one is kept), and per row whether its last ranked token was dropped."""
    drop = ranked.cumsum(dim=-1) - ranked >= top_p
    return torch.zeros_like(probs).scatter(-1, order, ranked.masked_fill(drop, 0.0)), drop[:, -1]
