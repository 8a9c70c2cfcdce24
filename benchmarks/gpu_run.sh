#!/usr/bin/env bash
# The full-size rehearsal on a CUDA GPU: the same random-weight DiT-XL/2, SD 1.5, CLIP ViT-B/32 and
# ResNet-18 folders as benchmarks/fullsize.py writes for the CPU, the same pairs, in bfloat16 and at
# batch sizes that fill the card; writes benchmarks/results/fullsize-gpu.md. Nothing is downloaded.
#
#   benchmarks/gpu_run.sh /scratch/fullsize            # every pair, 10 classes
#   QUICK=1 benchmarks/gpu_run.sh /scratch/fullsize    # the headline pair, 5 classes
#
# Not run yet: no GPU was lent to this work. Expected (docs/scaling.md, cost model): about a minute for
# the whole script on one H100 after the models are written.
set -euo pipefail

OUT=$(realpath -m "${1:?usage: benchmarks/gpu_run.sh OUT_DIR}")
DTYPE=${DTYPE:-bfloat16}
BATCH=${BATCH:-64}          # images per generator call; CFG doubles the transformer's batch
IPC=${IPC:-10}
CANDIDATES=${CANDIDATES:-20}
STEPS=${STEPS:-50}          # -o generator.steps; strength 0.7 runs 35 of them
cd "$(dirname "$0")"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
export HF_HUB_OFFLINE=1
args=(--out "$OUT" --device cuda --dtype "$DTYPE" --batch-size "$BATCH" --ipc "$IPC" --images-per-class "$IPC"
      --candidates "$CANDIDATES" --steps "$STEPS" --result results/fullsize-gpu.md)
if [ -n "${QUICK:-}" ]; then
  args+=(--quick)
fi
python fullsize.py "${args[@]}"
# peak GPU memory of each pair is in run.json (speed.cuda_peak_bytes) when dgr records it; else watch
# nvidia-smi --query-gpu=memory.used --format=csv -l 1 while it runs.
