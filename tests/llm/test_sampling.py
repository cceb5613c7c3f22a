"""The top-p nucleus: the candidates' shortcut keeps exactly what a sort of the whole vocabulary keeps."""
import pytest
import torch

from persona_core.llm.sampling import nucleus


def full_sort_nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """The nucleus as every sampler computes it: the whole row sorted."""
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    drop = sorted_probs.cumsum(dim=-1) - sorted_probs >= top_p
    return torch.zeros_like(probs).scatter(-1, order, sorted_probs.masked_fill(drop, 0.0))


@pytest.mark.parametrize("top_p", [0.3, 0.9, 0.95])
def test_nucleus_matches_the_full_sort_for_peaked_and_flat_rows(top_p):
    gen = torch.Generator().manual_seed(0)
    # scale 0.1 gives rows so flat that their nucleus reaches far past 8 candidates (the full sort's path);
    # scale 8 gives rows whose nucleus is a handful of tokens (the candidates' path)
    rows = [torch.randn(6, 5000, generator=gen) * scale for scale in (0.1, 1.0, 3.0, 8.0)]
    probs = torch.softmax(torch.cat(rows), dim=-1)
    kept = nucleus(probs, top_p, candidates=8)
    assert torch.equal(kept, full_sort_nucleus(probs, top_p))
    assert (kept > 0).sum(dim=-1).min() >= 1  # every row keeps at least its most likely token
    widths = (kept > 0).sum(dim=-1)
    assert widths.max() > 8 and widths.min() <= 8  # both paths were taken


def test_nucleus_keeps_one_token_when_it_alone_reaches_top_p():
    probs = torch.tensor([[0.95, 0.03, 0.02], [0.2, 0.5, 0.3]])
    kept = nucleus(probs, 0.9, candidates=2)
    assert torch.equal(kept, torch.tensor([[0.95, 0.0, 0.0], [0.2, 0.5, 0.3]]))
