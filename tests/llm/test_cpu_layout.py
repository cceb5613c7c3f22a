import torch

from persona_core.llm.cpu_layout import transpose_linear_weights


def test_transposed_layout_keeps_values_and_outputs():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8, bias=False))
    x = torch.randn(3, 16)
    before = model(x)
    weights = [m.weight.detach().clone() for m in (model[0], model[2])]
    assert transpose_linear_weights(model) == 2
    for m, w in zip((model[0], model[2]), weights):
        assert not m.weight.is_contiguous() and m.weight.t().is_contiguous()
        assert torch.equal(m.weight, w)
    torch.testing.assert_close(model(x), before)
    assert transpose_linear_weights(model) == 0  # idempotent
