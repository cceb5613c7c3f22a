import copy

import pytest
import torch

from persona_core.llm import cpu_layout
from persona_core.llm.cpu_layout import DecodingLinear, decoding_step, row_major_bytes, transpose_linear_weights


def small_model() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8, bias=False))


def test_transposed_layout_keeps_values_and_outputs():
    model = small_model()
    x = torch.randn(3, 16)
    before = model(x)
    weights = [m.weight.detach().clone() for m in (model[0], model[2])]
    assert transpose_linear_weights(model) == 2
    for m, w in zip((model[0], model[2]), weights):
        assert not m.weight.is_contiguous() and m.weight.t().is_contiguous()
        assert torch.equal(m.weight, w)
        assert isinstance(m, DecodingLinear) and isinstance(m, torch.nn.Linear)
        assert set(m.state_dict()) == ({"weight", "bias"} if m.bias is not None else {"weight"})
    torch.testing.assert_close(model(x), before)
    assert transpose_linear_weights(model) == 0  # idempotent


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 8])
def test_decoding_steps_of_two_to_four_rows_use_a_row_major_copy_with_the_same_outputs(rows):
    model = small_model()
    transpose_linear_weights(model)
    x = torch.randn(rows, 1, 16)  # a decoding step: one token per row
    with torch.inference_mode():
        plain = model(x)
        assert row_major_bytes(model) == 0
        with decoding_step():
            stepped = model(x)
        made = row_major_bytes(model)
    torch.testing.assert_close(stepped, plain, rtol=1e-5, atol=1e-6)
    assert stepped.shape == plain.shape == (rows, 1, 8)
    # 2-4 rows take the row-major product (a copy of each weight, made once); others F.linear
    assert made == (4 * (16 * 32 + 32 * 8) if rows in cpu_layout.SMALL_BATCH_ROWS else 0)


def test_row_major_path_only_inside_the_decoding_step_and_without_gradient():
    model = small_model()
    transpose_linear_weights(model)
    model[0].weight.requires_grad_(True)
    x = torch.randn(2, 16)
    with decoding_step():
        y = model(x)  # gradient enabled: training's path, F.linear
    y.sum().backward()
    assert model[0].weight.grad is not None
    assert row_major_bytes(model) == 0
    with torch.no_grad():
        model(x)  # outside the decoding step
    assert row_major_bytes(model) == 0


def test_a_deep_copy_with_weights_changed_in_place_does_not_use_the_old_copy():
    # adapter.merged_copy deep-copies a model, then adds the adapter into its weights in place
    model = small_model()
    transpose_linear_weights(model)
    x = torch.randn(2, 1, 16)
    with torch.inference_mode(), decoding_step():
        model(x)  # the original's row-major copies are made
        clone = copy.deepcopy(model)
        for m in (clone[0], clone[2]):
            m.weight.data += 1.0
        expected = torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(x, clone[0].weight, clone[0].bias)),
                                              clone[2].weight)
        torch.testing.assert_close(clone(x), expected, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(clone(x), model(x))
