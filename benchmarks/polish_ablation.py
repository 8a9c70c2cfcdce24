"""Ablation of the polish stage on its own: polish N steps starting from real images (random real
or k-means real) instead of generated ones, scored under a protocol (dc by default).

    python benchmarks/polish_ablation.py --dataset fashion-mnist --init random --seed 0 --steps 0,100,300

Prints one JSON line per setting (accuracy, seconds of polish and of the student).
"""
from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--init", default="random", choices=("random", "kmeans"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--steps", default="0,100,300")
    parser.add_argument("--protocol", default="dc")
    args = parser.parse_args()

    import torch

    from common import data_dir_for
    from dgr.datasets import load_dataset
    from dgr.evaluation.baselines import kmeans_real, random_real
    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.training import dataset_stats, fit_and_score
    from dgr.polishing import PolishSettings, polish_class

    data_dir = data_dir_for(args.dataset, args.data_dir)
    train, test = load_dataset(args.dataset, "train", data_dir), load_dataset(args.dataset, "test", data_dir)
    stats = dataset_stats(args.dataset, train.images)
    start_set = (random_real if args.init == "random" else kmeans_real)(train, args.ipc, args.seed)
    for steps in (int(s) for s in args.steps.split(",")):
        x, y = torch.from_numpy(start_set.images).float(), torch.from_numpy(start_set.labels).long()
        clock = time.perf_counter()
        settings = PolishSettings.for_dataset(args.dataset, steps)
        x = torch.cat([polish_class(x[y == c], torch.from_numpy(train.of_class(c)), settings, args.seed * 100 + c)
                       for c in range(len(train.class_names))])
        y = torch.arange(len(train.class_names)).repeat_interleave(args.ipc)
        polish_seconds = time.perf_counter() - clock
        x = (x * 255).round() / 255  # as a PNG would hold it
        score = fit_and_score(x, y, torch.from_numpy(test.images), torch.from_numpy(test.labels), train.info,
                              resolve_protocol(args.protocol, args.dataset), seed=args.seed, stats=stats)
        print(json.dumps({"init": args.init, "seed": args.seed, "steps": steps, "accuracy": score.accuracy,
                          "polish_seconds": round(polish_seconds, 1), "student_seconds": score.seconds}), flush=True)


if __name__ == "__main__":
    main()
