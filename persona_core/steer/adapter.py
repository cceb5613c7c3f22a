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
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from persona_core.llm.cpu_layout import in_decoding_step

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
# PEFT mixes adapters within one batch through LoRA layers' ``adapter_names`` argument, which splits
# every LoRA layer's input into per-adapter sub-batches in Python, after per-call checks: at
# decoding that cost ~20 ms a step of the 135M model's 210 LoRA layers (bench/app.py --only batch),
# about half a step. With one adapter that a row uses or skips, its update can be computed for every
# row and zeroed where skipped, in four tensor operations a layer (:class:`RowLoraLinear`). The row
# mask is per thread, so one app session's batch never changes another's forward on the shared model.
BASE = "__base__"
_ROW_ADAPTERS = threading.local()
T = TypeVar("T")
_ROW_LORA = None


def _row_lora_class():
    """:class:`RowLoraLinear`, made on first use (PEFT is imported only where adapters are)."""
    global _ROW_LORA
    if _ROW_LORA is None:
        from peft.tuners.lora import Linear

        class RowLoraLinear(Linear):
            """PEFT's LoRA ``Linear`` that, with one plain LoRA adapter active, in eval mode, where
            :func:`row_adapters` set a row mask or in a decoding step without gradient
            (:func:`~persona_core.llm.cpu_layout.decoding_step`), computes PEFT's own sum
            ``base(x) + lora_B(lora_A(x)) * scaling`` in plain operations, each row's update
            multiplied by its mask (1: the adapter, 0: none); elsewhere PEFT's forward."""

            def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
                mask = getattr(_ROW_ADAPTERS, "mask", None)
                active = self.active_adapters
                plain = (not args and not kwargs and not self.merged and not self.disable_adapters
                         and len(active) == 1 and active[0] in self.lora_A and active[0] not in self.lora_variant)
                if mask is not None and (not plain or self.training):
                    raise ValueError("row adapters need one plain LoRA adapter, in eval mode")
                if mask is None and not (plain and not self.training and in_decoding_step()
                                         and not torch.is_grad_enabled()):
                    return super().forward(x, *args, **kwargs)
                name = active[0]
                update = F.linear(F.linear(x, self.lora_A[name].weight), self.lora_B[name].weight) * self.scaling[name]
                if mask is not None:
                    if x.shape[0] != mask.shape[0]:
                        raise ValueError(f"row_adapters names {mask.shape[0]} rows, but the batch has {x.shape[0]}")
                    update = update * mask.to(update.device, update.dtype).view(-1, *([1] * (update.ndim - 1)))
                return self.base_layer(x) + update

        _ROW_LORA = RowLoraLinear
    return _ROW_LORA


def enable_row_adapters(lm) -> str:
    """Let :func:`row_adapters` choose, row by row, whether ``lm``'s LoRA layers apply their one
    adapter, and let its decoding steps skip PEFT's per-call work (idempotent); returns the
    adapter's name."""
    from peft.tuners.lora import Linear, LoraLayer

    layers = [m for m in lm.modules() if isinstance(m, LoraLayer)]
    if not layers:
        raise ValueError("this model has no LoRA layers")
    names = {name for layer in layers for name in layer.lora_A.keys()}
    if len(names) != 1 or any(type(layer) is not Linear and not isinstance(layer, _row_lora_class()) for layer in layers):
        raise ValueError(f"row adapters need one LoRA adapter on linear layers, this model has {sorted(names)}")
    for layer in layers:
        layer.__class__ = _row_lora_class()
    return names.pop()


@contextmanager
def row_adapters(names: Sequence[str]) -> Iterator[None]:
    """Within this block (this thread), row ``i`` of every forward of a model prepared by
    :func:`enable_row_adapters` uses its adapter, or none where ``names[i]`` is :data:`BASE`."""
    before = getattr(_ROW_ADAPTERS, "mask", None)
    _ROW_ADAPTERS.mask = torch.tensor([name != BASE for name in names], dtype=torch.float32)
    try:
        yield
    finally:
        _ROW_ADAPTERS.mask = before


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

