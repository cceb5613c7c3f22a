from pathlib import Path

import pytest
import torch

from persona_core.llm.config import DEFAULT_MODEL, LLMConfig


def test_model_resolution_order(monkeypatch):
    monkeypatch.delenv("PERSONA_MODEL", raising=False)
    assert LLMConfig().resolved_model() == DEFAULT_MODEL
    monkeypatch.setenv("PERSONA_MODEL", "/models/x")
    assert LLMConfig().resolved_model() == "/models/x"
    assert LLMConfig(model="/models/y").resolved_model() == "/models/y"


def test_auto_device_and_dtype_follow_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert LLMConfig().resolved_device() == torch.device("cpu")
    assert LLMConfig().resolved_dtype() == torch.float32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert LLMConfig().resolved_device().type == "cuda"
    assert LLMConfig().resolved_dtype() == torch.bfloat16
    assert LLMConfig(device="cpu").resolved_dtype() == torch.float32
    assert LLMConfig(dtype="float16").resolved_dtype() == torch.float16


def test_unknown_dtype_is_named():
    with pytest.raises(ValueError, match="float8"):
        LLMConfig(dtype="float8").resolved_dtype()


def test_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PERSONA_CACHE_DIR", str(tmp_path))
    assert LLMConfig().resolved_cache_dir() == tmp_path
    assert LLMConfig(cache_dir="/elsewhere").resolved_cache_dir() == Path("/elsewhere")
    monkeypatch.delenv("PERSONA_CACHE_DIR")
    assert LLMConfig().resolved_cache_dir() == Path("~/.cache/persona_explorer").expanduser()
