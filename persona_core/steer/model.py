"""The soft-prompting model: an MLP from a persona embedding to virtual tokens."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from persona_core.steer.config import SPMConfig

_ACT = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


class SoftPromptModel(nn.Module):
    """Maps persona embeddings (B x d) to T virtual tokens for a frozen LLM.

    ``prompt`` / ``suffix`` modes: output (B, T, hidden) input embeddings.
    ``prefix`` / ``suffix_kv`` modes: output a list over layers of (keys, values), each
    (B, kv_heads, T, head_dim).

    The last layer's bias is initialised to ``base`` (real token embeddings or their key/values,
    so the untrained SPM starts at ordinary tokens) and its weights to small values, so training
    learns persona-specific offsets from a sensible starting point.
    """

    def __init__(
        self,
        config: SPMConfig,
        embed_dim: int,
        geometry: dict[str, int],
        embedding_mean: np.ndarray | None = None,
        embedding_std: np.ndarray | None = None,
        base: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = int(embed_dim)
        self.geometry = dict(geometry)
        T = config.n_tokens
        if config.mode in ("prefix", "suffix_kv"):
            self.token_shape = (geometry["n_layers"], 2, geometry["n_kv_heads"], T, geometry["head_dim"])
        else:
            self.token_shape = (T, geometry["hidden_size"])
        out_dim = int(np.prod(self.token_shape))
        mean = np.zeros(embed_dim, np.float32) if embedding_mean is None else np.asarray(embedding_mean, np.float32)
        std = np.ones(embed_dim, np.float32) if embedding_std is None else np.asarray(embedding_std, np.float32)
        self.register_buffer("embedding_mean", torch.from_numpy(mean.copy()))
        self.register_buffer("embedding_std", torch.from_numpy(np.maximum(std, 1e-6).copy()))
        layers: list[nn.Module] = []
        width = embed_dim
        for h in config.hidden:
            layers += [nn.Linear(width, h), _ACT[config.activation]()]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_dim)
        with torch.no_grad():
            self.head.weight.mul_(config.init_scale)
            if base is not None:
                self.head.bias.copy_(base.reshape(-1).float())
            else:
                self.head.bias.zero_()

    @property
    def steered_lm(self):
        """The LLM this SPM steers when it was trained with a LoRA adapter (an adapted copy of the
        base model), else ``None`` (it steers the frozen base model). Kept out of the module tree
        so the SPM's state dict holds only its own weights."""
        return self.__dict__.get("_steered_lm")

    def bind_lm(self, lm) -> "SoftPromptModel":
        self.__dict__["_steered_lm"] = lm
        return self

    @property
    def generation_lm(self):
        """The LLM this SPM steers when it *generates* text: an adapted copy of its own when it was
        trained with a free-text adapter (``train.free_text_params = "own_adapter"``), else
        :attr:`steered_lm`."""
        return self.__dict__.get("_generation_lm") or self.steered_lm

    def bind_generation_lm(self, lm) -> "SoftPromptModel":
        self.__dict__["_generation_lm"] = lm
        return self

    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        if self.config.standardize:
            return (z - self.embedding_mean) / self.embedding_std
        return z

    def forward(self, z: torch.Tensor | np.ndarray):
        z = torch.as_tensor(np.asarray(z, np.float32) if isinstance(z, np.ndarray) else z).float()
        z = z.to(self.head.weight.device)
        if z.dim() == 1:
            z = z.unsqueeze(0)
        out = self.head(self.body(self.normalize(z)))
        B = out.shape[0]
        out = out.view(B, *self.token_shape)
        if self.config.mode not in ("prefix", "suffix_kv"):
            return out
        # (B, L, 2, kvh, T, hd) -> per layer (keys, values)
        return [(out[:, l, 0], out[:, l, 1]) for l in range(out.shape[1])]


def base_tokens(model, tokenizer, config: SPMConfig, text: str = " persona") -> torch.Tensor:
    """A starting point for the virtual tokens: embeddings (or key/values) of real tokens.

    The text's tokens are repeated/cut to T tokens. Returns (T, hidden) for prompt/suffix modes,
    (L, 2, kv_heads, T, head_dim) for prefix mode.
    """
    from persona_core.steer.engine import compute_kv, embed_ids

    ids = torch.tensor(tokenizer.encode(text, add_special_tokens=False) or [0], dtype=torch.long)
    T = config.n_tokens
    ids = ids.repeat((T + len(ids) - 1) // len(ids))[:T]
    if config.mode not in ("prefix", "suffix_kv"):
        with torch.no_grad():
            return embed_ids(model, ids).detach().float().cpu()
    kv = compute_kv(model, ids)
    return torch.stack([torch.stack([k[0], v[0]]) for k, v in kv]).float().cpu()
