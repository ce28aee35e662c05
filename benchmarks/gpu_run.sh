#!/usr/bin/env bash
# GPU figures on a lent GPU machine, in one call (see ../shared/DEVICE.md and docs/benchmarks.md, "GPU").
# If the onnxruntime-gpu wheel parts were carried to /tmp/ort (DEVICE.md steps 1-2), join and install them
# into /tmp/site first (shadowing the CPU package), then run benchmarks.gpu_run, which writes JSON to $OUT
# (or ./gpu-results). Without a GPU it says so and exits 3.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-gpu-results}"
PY="${PYTHON:-python3}"
if compgen -G "/tmp/ort/part-*" > /dev/null; then
  cat /tmp/ort/part-* > /tmp/ort/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl
  "$PY" -m pip install -q --no-index --no-deps --target /tmp/site /tmp/ort/onnxruntime_gpu-*.whl
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
# import torch first so onnxruntime-gpu finds the CUDA libraries torch brings
"$PY" -c "import torch, onnxruntime as o; print('providers', o.get_available_providers(), 'cuda', torch.cuda.is_available())" || true
exec "$PY" -m benchmarks.gpu_run --out-dir "$OUT_DIR" "$@"
