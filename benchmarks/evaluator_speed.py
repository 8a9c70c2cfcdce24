"""dgr's student loop beside a loop written the way the DC authors' evaluator trains a student
(VICO-UoE/DatasetCondensation, ``utils.evaluate_synset``: a ``TensorDataset`` in a shuffled
``DataLoader`` of 256, cross-entropy, SGD 0.01 / momentum 0.9 / wd 5e-4, epochs + 1 passes with the
lr ×0.1 after pass epochs // 2 + 1 by a new optimiser, a ``loss.item()`` and a NumPy accuracy per
batch, then the test split in batches of 256), on the same set, network, seed and threads.

    python benchmarks/evaluator_speed.py RUN_DIR [--repeats 3] [--write]

Both loops are timed per student (training and scoring) in one process, alternating, after one
untimed warm-up student (the first optimiser step imports torch._dynamo, seconds), so the machine's
load falls on both alike. Results are appended to ``benchmarks/results/evaluator-speed.md``.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from common import RESULTS, header, mean_std

RESULT = RESULTS / "evaluator-speed.md"


def reference_style_student(model, images, labels, test_images, test_labels, epochs: int, seed: int) -> float:
    """A student trained and scored as the DC evaluator's loop does; returns test accuracy."""
    import torch
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    lr = 0.01
    optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    train = DataLoader(TensorDataset(images, labels), batch_size=256, shuffle=True, num_workers=0)
    for epoch in range(epochs + 1):
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in train:
            out = model(x)
            loss = F.cross_entropy(out, y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            loss_sum += loss.item() * len(y)
            correct += int(np.sum(np.equal(np.argmax(out.cpu().data.numpy(), axis=-1), y.cpu().data.numpy())))
            seen += len(y)
        if epoch == epochs // 2 + 1:
            lr *= 0.1
            optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in DataLoader(TensorDataset(test_images, test_labels), batch_size=256, shuffle=False):
            correct += int((model(x).argmax(1) == y).sum())
    return correct / len(test_labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    import torch

    from dgr.datasets import load_dataset
    from dgr.evaluation.baselines import read_image_folder
    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.source import Source
    from dgr.evaluation.students import build_student
    from dgr.evaluation.student_training import dataset_stats, fit_and_score
    from dgr.threads import use_cpu_threads

    threads = use_cpu_threads(None) or torch.get_num_threads()
    source = Source.open(args.run)
    dataset = source.dataset()[0] or "digits"
    train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    info = train.info
    chosen = read_image_folder(source.images_dir, train.class_names, (info.channels, info.height, info.width))
    stats = dataset_stats(dataset, train.images)
    mean, std = (torch.tensor(s, dtype=torch.float32).view(1, -1, 1, 1) for s in stats)
    x, y = torch.from_numpy(chosen.images), torch.from_numpy(chosen.labels)
    tx, ty = torch.from_numpy(test.images), torch.from_numpy(test.labels)
    settings = resolve_protocol("dc", dataset, epochs=args.epochs)
    times: dict[str, list[float]] = {"dgr": [], "reference-style": []}
    scores: dict[str, list[float]] = {"dgr": [], "reference-style": []}
    fit_and_score(x, y, tx, ty, info, resolve_protocol("dc", dataset, epochs=1), stats=stats)  # warm-up, untimed
    for seed in range(args.repeats):
        start = time.perf_counter()
        scores["dgr"].append(fit_and_score(x, y, tx, ty, info, settings, seed=seed, stats=stats).accuracy)
        times["dgr"].append(time.perf_counter() - start)
        start = time.perf_counter()
        torch.manual_seed(seed)
        model = build_student("convnet", info)
        scores["reference-style"].append(reference_style_student(model, (x - mean) / std, y, (tx - mean) / std, ty,
                                                                 args.epochs, seed))
        times["reference-style"].append(time.perf_counter() - start)
        print({k: round(v[-1], 1) for k, v in times.items()}, flush=True)
    rows = [f"| {name} | {args.run} | {len(x)} | {args.epochs} | {threads} | {np.mean(times[name]):.1f} | "
            f"{mean_std(scores[name])} | {args.repeats} | {os.getloadavg()[0]:.2f} |" for name in times]
    print("\n".join(rows))
    if args.write:
        if not RESULT.exists():
            RESULT.write_text(header("dgr's student loop beside the DC evaluator's way of training one", [
                "Protocol dc (ConvNet-3 width 128, 300 epochs, batch 256, no augmentation), the same set, seeds "
                "and torch threads for both; seconds per student: training and scoring the test split. The "
                "accuracies differ by seed handling (the reference-style loop shuffles with a DataLoader), not "
                "by protocol.", "",
                "| loop | set | images | epochs | threads | s per student | accuracy | students | load after |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|"]))
        with RESULT.open("a") as f:
            f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
