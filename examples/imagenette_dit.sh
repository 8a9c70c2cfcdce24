#!/usr/bin/env bash
# ImageNette / ImageWoof with DiT-XL-2-256 (the setting of D4M and the detector-guided refinement
# paper): prototypes in the VAE latent space, SDEdit at strength 0.7, refinement with 20 candidates.
#
# Needs a CUDA GPU. Memory and time: NOT MEASURED HERE (this repository's CI has no GPU). Expect the
# DiT-XL-2 transformer (675 M parameters, ~1.4 GB in fp16) plus the VAE; measure your own card with
#   python benchmarks/generation.py --generator dit --model facebook/DiT-XL-2-256 \
#       --dataset "$DATA" --device cuda --batch-sizes 8,32,64 --images 64 --steps 25
# and write the numbers into docs/generators.md.
#
# dgr loads the training split into memory as float32 at the first image's size: imagenette2-320
# is ~15 GB that way, imagenette2-160 ~4 GB (DiT-XL-2-256 resizes to 256 px either way).
#
# Usage: DATA=/data/imagenette2-320 OUT=runs/imagenette-ipc10 IPC=10 examples/imagenette_dit.sh
set -euo pipefail

DATA=${DATA:?set DATA to the ImageNette/ImageWoof folder (train/ with wnid sub-folders such as n03394916)}
OUT=${OUT:-runs/imagenette-ipc${IPC:-10}}
IPC=${IPC:-10}
DEVICE=${DEVICE:-cuda}
DETECTOR_DIR=${DETECTOR_DIR:-runs/imagenette-resnet18}

# 1. Weights, once, on a machine with a network (they land in the Hugging Face cache):
#      hf download facebook/DiT-XL-2-256
#    Afterwards everything runs offline; dgr never calls the network itself.
export HF_HUB_OFFLINE=1

# 2. The detector: a ResNet-18 trained on the original training split.
if [ ! -d "$DETECTOR_DIR" ]; then
  dgr train detector --arch resnet18 --dataset "$DATA" --out "$DETECTOR_DIR"
fi

# 3. Distil. The wnid folders map to DiT's ImageNet classes by themselves (n03394916 → 566
#    "French horn"); other folder names map through the model's id2label names, or -o class_map=FILE.json.
dgr distill --dataset "$DATA" --ipc "$IPC" \
  --generator dit --model facebook/DiT-XL-2-256 \
  -o strength=0.7 -o steps=50 -o guidance=4.0 -o scheduler=ddim \
  --detector resnet --detector-model "$DETECTOR_DIR" \
  --candidates 20 --threshold 0.7 --uniqueness-weight 0.5 \
  --device "$DEVICE" --batch-size 64 --out "$OUT" --resume

# 4. How good is the distilled set? dgr evaluate trains a student on it and tests on test/;
#    fast.ai's release calls that split val/, so link it once:
#      ln -s val "$DATA/test" && dgr evaluate "$OUT" --dataset "$DATA" --student resnet18
