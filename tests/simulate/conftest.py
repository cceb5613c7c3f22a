"""One small persona space with a tiny trained SPM (+ LoRA adapter), built once per session
through the command line (``build`` on a planted CSV survey, then ``train --tiny``)."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.test_cli import SMALL_CONFIG, write_csv_survey


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """``SimpleNamespace(tmp, url, space, run_id, checkpoint, config)``: a built space in the
    database at ``url`` and the checkpoint ``train --tiny`` left at its default folder."""
    from persona_core.cli import main
    from persona_core.cli_steer import resolve_space, default_checkpoint_dir
    from persona_core.steer.config import tiny_config

    tmp = tmp_path_factory.mktemp("simulate")
    mp = pytest.MonkeyPatch()
    mp.setenv("PERSONA_ARTIFACTS_DIR", str(tmp / "artifacts"))
    url = f"sqlite:///{tmp / 'p.db'}"
    config = tmp / "small.json"
    config.write_text(json.dumps(SMALL_CONFIG))
    write_csv_survey(tmp / "survey", n_respondents=120)
    assert main(["build", "--dataset", "csv", "--path", str(tmp / "survey"), "--db", url, "--config", str(config)]) == 0
    assert main(["train", "--tiny", "--db", url]) == 0
    space, run_id = resolve_space(SimpleNamespace(db=url, dataset=None, space=None))
    ckpt = default_checkpoint_dir(space.run_key, tiny_config())
    assert (Path(ckpt) / "adapter.safetensors").is_file()
    yield SimpleNamespace(tmp=tmp, url=url, space=space, run_id=run_id, checkpoint=ckpt, config=tiny_config())
    mp.undo()


@pytest.fixture(scope="session")
def loaded(trained):
    """``(model, tokenizer, spm)``: the base model and the trained SPM bound to its adapted copy."""
    from persona_core.llm.loading import load_model
    from persona_core.steer.checkpoint import load_checkpoint
    from persona_core.steer.engine import model_geometry

    model, tokenizer = load_model()
    spm, _ = load_checkpoint(trained.checkpoint, run_key=trained.space.run_key, geometry=model_geometry(model),
                             base_model=model)
    assert spm.steered_lm is not None
    return model, tokenizer, spm


@pytest.fixture
def fresh_db(tmp_path):
    """A new, migrated SQLite database for one test's simulation runs."""
    from db.session import dispose_engine, upgrade_database

    url = f"sqlite:///{tmp_path / 'sim.db'}"
    upgrade_database(url)
    yield url
    dispose_engine(url)
