"""One LoRA adapter shared by every persona, trained jointly with the SPM (PEFT).

The frozen 135M model cannot carry what each question's answers look like (FINDINGS.md), so the
steering model may adapt the LLM: one adapter for the whole population, the persona entering
only through the SPM's virtual tokens. The adapter lives on a *copy* of the base model, so the
memoized base model every other part of the app uses (the unsteered side above all) stays plain.
Weights are saved and loaded as safetensors only.
"""
from __future__ import annotations

import copy
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence, TypeVar

import torch
from safetensors.torch import load_file, save_file

ADAPTER_WEIGHTS = "adapter.safetensors"
FREE_TEXT_ADAPTER_WEIGHTS = "adapter_free_text.safetensors"  # train.free_text_params = "own_adapter"
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class AdapterConfig:
    """LoRA settings. ``layers``: indices of the decoder layers adapted (``None``: all)."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ALL_LINEAR
    layers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        self.target_modules = tuple(self.target_modules)
        self.layers = None if self.layers is None else tuple(int(i) for i in self.layers)
        if self.r < 1:
            raise ValueError(f"adapter r must be >= 1, got {self.r}")

    def lora_config(self):
        from peft import LoraConfig

        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules=list(self.target_modules), bias="none",
                          layers_to_transform=None if self.layers is None else list(self.layers))


def attach_adapter(base_model, config: AdapterConfig):
    """A copy of ``base_model`` with a fresh LoRA adapter (only its weights train).

    Returns the PEFT model; :func:`inner_model` gives the plain transformers model with the
    LoRA layers inside, which the scoring engine calls like any causal LM.
    """
    from peft import get_peft_model

    clone = copy.deepcopy(base_model)
    for p in clone.parameters():
        p.requires_grad_(False)
    peft_model = get_peft_model(clone, config.lora_config())
    peft_model.eval()
    return peft_model


def inner_model(peft_model):
    """The transformers model inside a PEFT wrapper (LoRA layers active in it)."""
    return peft_model.base_model.model


def adapter_parameters(peft_model) -> list[torch.nn.Parameter]:
    return [p for p in peft_model.parameters() if p.requires_grad]


def save_adapter(peft_model, directory: str | Path, filename: str = ADAPTER_WEIGHTS) -> Path:
    """Write the adapter's weights to ``directory/filename`` (temp name, then rename)."""
    from peft import get_peft_model_state_dict

    path = Path(directory) / filename
    tensors = {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(path)
    return path


def restore_adapter(peft_model, directory: str | Path, filename: str = ADAPTER_WEIGHTS) -> None:
    """Put the adapter weights saved in ``directory/filename`` (safetensors only) into ``peft_model``."""
    from peft import set_peft_model_state_dict

    result = set_peft_model_state_dict(peft_model, load_file(str(Path(directory) / filename)))
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise ValueError(f"{directory}: adapter weights do not fit the model (unexpected {unexpected[:3]})")


def load_adapter(base_model, config: AdapterConfig, directory: str | Path, filename: str = ADAPTER_WEIGHTS):
    """A frozen copy of ``base_model`` with the adapter saved in ``directory/filename``."""
    peft_model = attach_adapter(base_model, config)
    restore_adapter(peft_model, directory, filename)
    for p in peft_model.parameters():
        p.requires_grad_(False)
    peft_model.eval()
    return peft_model


def merged_copy(lm):
    """A copy of ``lm`` (a model with LoRA layers inside) with each adapter added into its base
    weights and the LoRA layers gone: the adapted model's function, at the base model's cost per
    step. For decoding a row that always uses the adapter; it costs a second copy of the weights."""
    from peft.tuners.lora import LoraLayer

    clone = copy.deepcopy(lm)
    for name, module in list(clone.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, attr = name.rpartition(".")
            setattr(clone.get_submodule(parent_name) if parent_name else clone, attr, module.get_base_layer())
    for p in clone.parameters():
        p.requires_grad_(False)
    return clone.eval()


# ------------------------------------------------------- one batch, rows on and off the adapter
# PEFT mixes adapters within one batch through LoRA layers' ``adapter_names`` argument ("__base__":
# the row skips every adapter), which it passes only from ``PeftModel.forward``/``generate``. The
# decoding loop calls the inner model with its own cache, so a pre-hook on each LoRA layer hands
# the layers the names set for the current thread (none set: the layer runs as usual). Per thread,
# so one app session's batch never changes another's forward on the shared model.
BASE = "__base__"
_ROW_ADAPTERS = threading.local()
T = TypeVar("T")


def _inject_row_adapters(module, args, kwargs):
    names = getattr(_ROW_ADAPTERS, "names", None)
    if names is not None:
        kwargs = {**kwargs, "adapter_names": names}
    return args, kwargs


def enable_row_adapters(lm) -> str:
    """Let :func:`row_adapters` choose, row by row, whether ``lm``'s LoRA layers apply their
    adapter (idempotent); returns the adapter's name."""
    from peft.tuners.lora import LoraLayer

    layers = [m for m in lm.modules() if isinstance(m, LoraLayer)]
    if not layers:
        raise ValueError("this model has no LoRA layers")
    if not getattr(lm, "_persona_row_adapters", False):
        for layer in layers:
            layer.register_forward_pre_hook(_inject_row_adapters, with_kwargs=True)
        lm._persona_row_adapters = True
    return layers[0].active_adapters[0]


@contextmanager
def row_adapters(names: Sequence[str]) -> Iterator[None]:
    """Within this block (this thread), row ``i`` of every forward of a model prepared by
    :func:`enable_row_adapters` uses adapter ``names[i]`` (:data:`BASE`: none)."""
    before = getattr(_ROW_ADAPTERS, "names", None)
    _ROW_ADAPTERS.names = list(names)
    try:
        yield
    finally:
        _ROW_ADAPTERS.names = before


def with_row_adapters(steps: Iterator[T], names: Sequence[str]) -> Iterator[T]:
    """``steps`` (a generator that runs the model) with :func:`row_adapters` active only while it
    runs, not while its consumer holds a step."""
    while True:
        with row_adapters(names):
            try:
                item = next(steps)
            except StopIteration:
                return
        yield item

