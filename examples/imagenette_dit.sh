#!/usr/bin/env bash
# ImageNette / ImageWoof with DiT-XL-2-256 and CLIP ViT-B/32 zero-shot: `--generator dit --detector clip`,
# the setting the detector-guided refinement paper is known by. Prototypes in the VAE latent space,
# SDEdit at strength 0.7, refinement with N candidates per flagged image.
#
# The dgr distill line below is the one benchmarks/fullsize.py ran at full size with random weights
# (same flags; only the values differ), on 2 shared CPU cores (benchmarks/results/fullsize-cpu*.md):
#
#   DATA=/work/fullsize/imagenette-5 MODEL=/work/fullsize/models/dit-xl-2-256 \
#   CLIP=/work/fullsize/models/clip-vit-b-32 IPC=1 CANDIDATES=2 STEPS=3 DEVICE=cpu BATCH=4 \
#   OUT=/work/fullsize/runs/dit-clip examples/imagenette_dit.sh
#
# took 391 s for 5 classes (22 s per generator call at 2 denoising steps, 3 calls per final image,
# every image flagged by the random CLIP), peak RSS 5.2 GiB. With the defaults below (IPC 10, N = 20,
# 50 steps) the CPU would need days; docs/scaling.md's cost model puts ImageNette IPC 10 at about
# 40 s of GPU work on one H100 in bfloat16 (13 s at the card's peak), plus loading. Not yet measured
# on a GPU: benchmarks/gpu_run.sh does that.
#
# Usage: DATA=/data/imagenette2-320/train OUT=runs/imagenette-ipc10 examples/imagenette_dit.sh
set -euo pipefail

DATA=${DATA:?set DATA to a folder of ImageNette/ImageWoof wnid sub-folders, such as n03394916}
MODEL=${MODEL:-facebook/DiT-XL-2-256}
CLIP=${CLIP:-ViT-B-32:openai}
IPC=${IPC:-10}
CANDIDATES=${CANDIDATES:-20}
STEPS=${STEPS:-50}      # strength 0.7 runs 35 of them
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-64}      # images per generator call (classifier-free guidance doubles the transformer's batch)
OUT=${OUT:-runs/imagenette-ipc$IPC}

# 1. Weights, once, on a machine with a network (they land in the Hugging Face / open_clip caches):
#      hf download facebook/DiT-XL-2-256
#      python -c "import open_clip; open_clip.create_model('ViT-B-32', pretrained='openai')"
#    Afterwards everything runs offline; dgr never calls the network itself.
export HF_HUB_OFFLINE=1

# 2. Distil. The wnid folders are ImageNet classes: DiT gets their ImageNet ids (n01440764 → 0,
#    n03888257 → 701, recorded as model_class in the manifest) and CLIP prompts their names ("tench").
#    --image-size 256: DiT-XL-2-256's resolution (an ImageFolder loads at most 64 px otherwise).
dgr distill --dataset "$DATA" --image-size 256 --ipc "$IPC" \
  --generator dit --model "$MODEL" \
  --detector clip --detector-model "$CLIP" \
  --candidates "$CANDIDATES" -o generator.steps="$STEPS" \
  --device "$DEVICE" --batch-size "$BATCH" --out "$OUT" --overwrite -q

# 3. How good is the distilled set? dgr evaluate trains a student on it and tests on the real
#    validation images, e.g. dgr evaluate "$OUT" --student resnet18 (docs/evaluation.md).
