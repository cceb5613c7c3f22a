import json
import threading
import time

import pytest
import torch

from persona_core.llm import LLMConfig, ModelError, load_model
from persona_core.llm.loading import (
    clear_model_memo,
    default_gguf_path,
    gguf_cache_dir,
    gguf_cache_key,
    publish_atomically,
)


def _fake_model_dir(path, config_extra=None, tokenizer_extra=None):
    path.mkdir()
    config = {"model_type": "llama", "hidden_size": 8, "num_hidden_layers": 1, **(config_extra or {})}
    (path / "config.json").write_text(json.dumps(config))
    if tokenizer_extra is not None:
        (path / "tokenizer_config.json").write_text(json.dumps(tokenizer_extra))
    return path


def test_model_asking_for_remote_code_is_refused(tmp_path):
    remote = {"auto_map": {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}}
    model_dir = _fake_model_dir(tmp_path / "evil", config_extra=remote)
    (model_dir / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(ModelError, match="remote code") as info:
        load_model(LLMConfig(model=str(model_dir)))
    assert str(model_dir / "config.json") in str(info.value)


def test_tokenizer_asking_for_remote_code_is_refused(tmp_path):
    remote = {"auto_map": {"AutoTokenizer": ["tok_evil.EvilTokenizer", None]}}
    model_dir = _fake_model_dir(tmp_path / "evil_tok", tokenizer_extra=remote)
    with pytest.raises(ModelError, match="tokenizer_config.json"):
        load_model(LLMConfig(model=str(model_dir)))


def test_missing_sources_are_named(tmp_path):
    with pytest.raises(ModelError, match="GGUF file not found"):
        load_model(LLMConfig(model=str(tmp_path / "nope.gguf")))
    with pytest.raises(ModelError, match="no config.json"):
        load_model(LLMConfig(model=str(tmp_path)))
    with pytest.raises(ModelError, match="not a model directory"):
        load_model(LLMConfig(model=str(tmp_path / "missing_dir")))


def test_gguf_cache_key_changes_with_content(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"x" * 5000)
    key = gguf_cache_key(f)
    assert gguf_cache_key(f) == key
    f.write_bytes(b"x" * 4999 + b"y")
    assert gguf_cache_key(f) != key
    assert gguf_cache_dir(f, tmp_path).name.startswith("m-")


def test_concurrent_publish_keeps_one_complete_copy(tmp_path):
    final = tmp_path / "models" / "m-123"
    inside = threading.Barrier(2)
    errors = []

    def writer(tag):
        def write(tmp):
            (tmp / "a.txt").write_text(tag)
            inside.wait(timeout=10)  # both writers are mid-write at the same time
            time.sleep(0.05)
            (tmp / "b.txt").write_text(tag)

        try:
            publish_atomically(final, write)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    a, b = (final / "a.txt").read_text(), (final / "b.txt").read_text()
    assert a == b and a in {"one", "two"}  # one writer's complete copy, never a mix
    assert sorted(p.name for p in final.parent.iterdir()) == ["m-123"]  # no temp dirs left


@pytest.mark.slow
def test_gguf_is_cached_and_the_cache_is_reused(tmp_path, monkeypatch):
    import persona_core.llm.loading as loading

    config = LLMConfig(cache_dir=str(tmp_path), device="cpu")
    try:
        model, tokenizer = load_model(config)
        entry = gguf_cache_dir(default_gguf_path(), tmp_path)
        assert (entry / "model.safetensors").is_file() and (entry / "tokenizer.json").is_file()
        assert "quantization_config" not in json.loads((entry / "config.json").read_text())
        assert load_model(config)[0] is model  # memoized in-process

        clear_model_memo()

        def no_conversion(*_args, **_kwargs):
            raise AssertionError("the GGUF file was converted again although its cache exists")

        monkeypatch.setattr(loading, "_convert_gguf", no_conversion)
        warm_model, warm_tokenizer = load_model(config)
        assert warm_model is not model

        assert not warm_model.training
        assert not any(p.requires_grad for p in warm_model.parameters())
        assert warm_model.dtype == torch.float32
        assert warm_tokenizer.padding_side == "left" and warm_tokenizer.pad_token is not None
        ids = warm_tokenizer("The sky is", return_tensors="pt").input_ids
        with torch.inference_mode():
            assert torch.equal(model(ids).logits, warm_model(ids).logits)
    finally:
        clear_model_memo()
