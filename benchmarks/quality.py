"""Quality: ConvNet hard-label test accuracy of distilled sets against real-data baselines.

Methods: random real, k-means real prototypes (nearest real image to each pixel-space
centroid), unrefined synthesis (the run's initial/ images), DGR with the paper policy
(confidence-uniqueness) and DGR confidence-only. One distillation and one student per seed;
the table shows mean ± std over seeds of the final-epoch accuracy.

    python benchmarks/quality.py --dataset digits --ipc 1,10,50 --seeds 3
    python benchmarks/quality.py --dataset fashion-mnist --ipc 10 --seeds 3 --width 64
"""
from __future__ import annotations

import argparse
import time

from common import CACHE, RESULTS, cached_cell, data_dir_for, distill, header, mean_std, models_for, score, table

METHODS = ("random-real", "kmeans-real", "unrefined", "dgr-paper", "dgr-confidence")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--ipc", default="1,10,50")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()

    import numpy as np
    import torch

    from dgr.datasets import load_dataset
    from dgr.evaluation.baselines import kmeans_real, random_real, read_image_folder
    from dgr.evaluation.protocols import resolve_protocol

    data_dir = data_dir_for(args.dataset, args.data_dir)
    train, test_data = load_dataset(args.dataset, "train", data_dir), load_dataset(args.dataset, "test", data_dir)
    test = (torch.from_numpy(test_data.images), torch.from_numpy(test_data.labels))
    info = train.info
    shape = (info.channels, info.height, info.width)
    settings = resolve_protocol("dc", args.dataset, epochs=args.epochs, width=args.width)
    ipcs = [int(i) for i in args.ipc.split(",")]
    methods = args.methods.split(",")
    cells = CACHE / f"quality-{args.dataset}-e{args.epochs}-w{args.width}-n{args.candidates}.json"

    def run_for(ipc: int, seed: int, policy: str):
        out = CACHE / "runs" / f"{args.dataset}-ipc{ipc}-s{seed}-{policy}-n{args.candidates}"
        return distill(out, dataset=args.dataset, data_dir=data_dir, ipc=ipc, seed=seed, policy=policy,
                       candidates=args.candidates, **models_for(args.dataset))

    def images_for(method: str, ipc: int, seed: int):
        if method == "random-real":
            s = random_real(train, ipc, seed)
        elif method == "kmeans-real":
            s = kmeans_real(train, ipc, seed)
        elif method == "unrefined":
            s = read_image_folder(run_for(ipc, seed, "confidence-uniqueness") / "initial", train.class_names, shape)
        elif method == "dgr-paper":
            s = read_image_folder(run_for(ipc, seed, "confidence-uniqueness") / "images", train.class_names, shape)
        else:
            s = read_image_folder(run_for(ipc, seed, "confidence") / "images", train.class_names, shape)
        return s.images, s.labels

    results: dict[tuple[str, int], list[float]] = {}
    for ipc in ipcs:
        for seed in range(args.seeds):
            for method in methods:
                def compute() -> dict:
                    start = time.perf_counter()
                    images, labels = images_for(method, ipc, seed)
                    acc = score(images, labels, test, info, settings, seed)
                    return {"accuracy": acc, "seconds": round(time.perf_counter() - start, 1)}

                cell = cached_cell(cells, f"{method}|{ipc}|{seed}", compute)
                results.setdefault((method, ipc), []).append(cell["accuracy"])
                print(f"{args.dataset} ipc {ipc} seed {seed} {method}: {100 * cell['accuracy']:.1f}% "
                      f"({cell['seconds']} s)", flush=True)
                write(args, settings, ipcs, methods, results, len(test_data))
    gaps = {ipc: np.mean(results.get(("dgr-paper", ipc), [np.nan])) - np.mean(results.get(("unrefined", ipc), [np.nan]))
            for ipc in ipcs}
    print("DGR − unrefined (points):", {k: round(100 * v, 1) for k, v in gaps.items()})


def write(args, settings, ipcs, methods, results, test_images: int) -> None:
    rows = [[m] + [mean_std(results.get((m, ipc), [])) for ipc in ipcs] for m in methods]
    lines = [f"Dataset: {args.dataset} ({test_images} test images). Student: ConvNet-3 width {settings.width}, "
             f"instance norm, hard labels, DC protocol (SGD lr 0.01, momentum 0.9, wd 5e-4, ×0.1 at half, "
             f"DSA-like augmentation{'' if settings.flips else ', no flips'}), {settings.epochs} epochs, "
             f"final-epoch accuracy. DGR: {args.candidates} candidates, τ 0.7, λ 0.5. "
             f"Mean ± std over {args.seeds} seeds (seed = distillation seed = student seed = real draw).", ""]
    text = header(f"Quality: {args.dataset}", lines) + table(["method"] + [f"IPC {i}" for i in ipcs], rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"quality-{args.dataset}.md").write_text(text)


if __name__ == "__main__":
    main()
