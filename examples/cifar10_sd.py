"""CIFAR-10 with Stable Diffusion 1.5 img2img from prototype latents (D4M's CIFAR setting).

Needs a CUDA GPU. Memory and time: NOT MEASURED HERE (this repository's CI has no GPU). SD 1.5 in
fp16 is ~2 GB of weights; at 512 px each class also VAE-encodes its 5000 training images once
(the prototypes), which dominates at low IPC: ``-o resolution=256`` quarters that. Measure with
    python benchmarks/generation.py --generator sd --model runwayml/stable-diffusion-v1-5 \\
        --dataset DATA/cifar10/train --device cuda --batch-sizes 4,16,32 --images 32 --steps 50

Usage (weights once where a network exists: ``hf download runwayml/stable-diffusion-v1-5``;
CIFAR-10 once: torchvision downloads it to --root):

    python examples/cifar10_sd.py --root data --out runs/cifar10-ipc10 --ipc 10
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def cifar10_image_folder(root: Path) -> Path:
    """CIFAR-10 as an ImageFolder (train/<class>/*.png, test/<class>/*.png), written once."""
    from torchvision.datasets import CIFAR10

    folder = root / "cifar10"
    if (folder / "train" / CLASSES[-1]).is_dir():
        return folder
    for split, train in (("train", True), ("test", False)):
        data = CIFAR10(str(root), train=train, download=not (root / "cifar-10-batches-py").is_dir())
        for i, (image, label) in enumerate(data):
            target = folder / split / data.classes[label]
            target.mkdir(parents=True, exist_ok=True)
            image.save(target / f"{i:05d}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data"))
    parser.add_argument("--out", default="runs/cifar10-ipc10")
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--model", default="runwayml/stable-diffusion-v1-5")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--detector-model", default="runs/cifar10-resnet18")
    args = parser.parse_args()

    import dgr

    data = cifar10_image_folder(args.root)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # dgr only reads the cache; this keeps hub libraries quiet too
    if not Path(args.detector_model).is_dir():
        import subprocess

        subprocess.run(["dgr", "train", "detector", "--arch", "resnet18", "--dataset", str(data),
                        "--out", args.detector_model], check=True)
    result = dgr.distill(
        dataset=str(data), ipc=args.ipc, generator="sd", model=args.model,
        detector="resnet", detector_model=args.detector_model,
        candidates=20, threshold=0.7, uniqueness_weight=0.5,
        options={"strength": "0.7", "guidance": "8.0", "steps": "50",  # D4M's settings (VLCP uses guidance 10)
                 "prompt": "a photo of a {class}", "negative_prompt": "blurry, low quality, text, watermark"},
        device=args.device, batch_size=32, out=args.out, resume=True)
    print(result.counts, result.manifest)


if __name__ == "__main__":
    main()
