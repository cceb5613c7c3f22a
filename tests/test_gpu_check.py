"""bench/gpu_check.sh refuses, with a reason, to run where torch sees no GPU (CI never has one;
GPU_CHECK_CPU=1 runs its steps on the CPU, checked by hand: it takes minutes)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_stops_at_once_without_a_gpu(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OUT": str(tmp_path / "out"), "PYTHON": sys.executable}
    env.pop("GPU_CHECK_CPU", None)
    done = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "sees no CUDA device" in done.stderr
    assert "cannot run the GPU path" in done.stderr
    assert not (tmp_path / "out" / "gpu_check.json").exists()  # nothing reported as passed


def test_ray_config_refuses_negative_gpus():
    import pytest

    from persona_core.simulate.config import RayConfig

    with pytest.raises(ValueError, match="gpus_per_worker"):
        RayConfig(gpus_per_worker=-1)
    assert RayConfig(gpus_per_worker=0.5).gpus_per_worker == 0.5
