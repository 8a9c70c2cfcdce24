"""Cost: generator calls per final image, wall time per stage (run.json), pipeline wall over
pure generation wall, and the early stop's quality against generator calls for N = 5, 10, 20.

    python benchmarks/cost.py --dataset digits --ipc 10 --seeds 2
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import (CACHE, RESULTS, cached_cell, data_dir_for, distill, generated_images, header, mean_std,
                    models_for, score, table)


def pure_generation_seconds(dataset: str, data_dir: str | None, model: str | None, count: int,
                            batch_size: int = 64) -> float:
    """Wall time of the generator alone painting ``count`` images from real-image prototypes; the
    generator is built as `dgr distill` builds it (registry, default options, factory)."""
    import torch

    from dgr.components import BuildContext
    from dgr.datasets import load_dataset
    from dgr.options import build_config
    from dgr.plugins import build_registry

    train = load_dataset(dataset, "train", data_dir)
    entry = build_registry().get("generator", "dit")
    gen = entry.factory(BuildContext(dataset=train.info, model=model, batch_size=batch_size,
                                     config=build_config(entry.config, {}, "generator 'dit'")))
    base = torch.from_numpy(train.images[:min(count, 256)])
    reps = -(-count // len(base))
    protos = gen.encode(base)
    protos = protos.repeat(reps, *[1] * (protos.dim() - 1))[:count]
    labels = torch.from_numpy(train.labels[:len(base)]).repeat(reps)[:count]
    start = time.perf_counter()
    for i in range(0, count, batch_size):
        gen.generate(protos[i:i + batch_size], labels[i:i + batch_size], list(range(i, min(i + batch_size, count))))
    return time.perf_counter() - start


def ratio(dataset: str, data_dir: str | None, models: dict, ipc: int, repeats: int) -> list[str]:
    """Fresh runs (N = 20, no early stop) each followed at once by pure generation of the same
    image count; the minimum of each over ``repeats`` (robust to other load on the machine)."""
    import tempfile

    walls, stages, pures = [], [], []
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            out = distill(Path(tmp) / "run", dataset=dataset, data_dir=data_dir, ipc=ipc, seed=100 + r,
                          candidates=20, **models)
            run = json.loads((out / "run.json").read_text())
            generated = generated_images(out)
        pures.append(pure_generation_seconds(dataset, data_dir, models["model"], generated))
        walls.append(run["wall_seconds"])
        stages.append(sum(run["timings"].values()))
    return [str(repeats), f"{min(walls):.2f}", f"{min(stages):.2f}", f"{min(pures):.2f}",
            f"{min(walls) / min(pures):.2f}", f"{min(stages) / min(pures):.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--ns", default="5,10,20")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--ratio-repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import torch

    from dgr.datasets import load_dataset
    from dgr.evaluation.baselines import read_image_folder
    from dgr.evaluation.protocols import resolve_protocol

    data_dir = data_dir_for(args.dataset, args.data_dir)
    models = models_for(args.dataset)
    train, test_data = load_dataset(args.dataset, "train", data_dir), load_dataset(args.dataset, "test", data_dir)
    test = (torch.from_numpy(test_data.images), torch.from_numpy(test_data.labels))
    shape = (train.info.channels, train.info.height, train.info.width)
    settings = resolve_protocol("dc", args.dataset, epochs=args.epochs, width=args.width)
    cells = CACHE / f"cost-{args.dataset}-ipc{args.ipc}-e{args.epochs}-w{args.width}.json"
    from dgr.evaluation.baselines import random_real

    real_accuracy = []
    for seed in range(args.seeds):  # the reference under the same protocol and student seeds
        def baseline() -> float:
            real = random_real(train, args.ipc, seed)
            return score(real.images, real.labels, test, train.info, settings, seed)

        real_accuracy.append(cached_cell(cells, f"random-real|{seed}", baseline))
    rows, stage_rows = [], []
    for n in [int(v) for v in args.ns.split(",")]:
        for early in (False, True):
            stats: dict[str, list[float]] = {"calls": [], "acc": [], "refine": [], "wall": [], "ratio": [],
                                             "stage_ratio": []}
            for seed in range(args.seeds):
                def compute() -> dict:
                    out = CACHE / "runs" / f"{args.dataset}-ipc{args.ipc}-s{seed}-confidence-uniqueness-n{n}" \
                        f"{'-early' if early else ''}"
                    distill(out, dataset=args.dataset, data_dir=data_dir, ipc=args.ipc, seed=seed,
                            candidates=n, early_stop=early, **models)
                    run = json.loads((out / "run.json").read_text())
                    generated = generated_images(out)
                    pure = pure_generation_seconds(args.dataset, data_dir, models["model"], generated)
                    final = read_image_folder(out / "images", train.class_names, shape)
                    return {"generated": generated, "images": len(final), "timings": run["timings"],
                            "wall": run["wall_seconds"], "pure_generation": round(pure, 3),
                            "accuracy": score(final.images, final.labels, test, train.info, settings, seed)}

                cell = cached_cell(cells, f"{n}|{early}|{seed}", compute)
                stats["calls"].append(cell["generated"] / cell["images"])
                stats["acc"].append(cell["accuracy"])
                stats["refine"].append(cell["timings"].get("refinement", 0.0))
                stats["wall"].append(cell["wall"])
                stats["ratio"].append(cell["wall"] / cell["pure_generation"])
                stats["stage_ratio"].append(sum(cell["timings"].values()) / cell["pure_generation"])
                print(f"N={n} early={early} seed={seed}: {cell['generated']} generated, "
                      f"{100 * cell['accuracy']:.1f}%, wall {cell['wall']:.1f} s, "
                      f"pure generation {cell['pure_generation']:.1f} s", flush=True)
                if n == 20 and not early:
                    stage_rows.append([str(seed)] + [f"{cell['timings'].get(k, 0.0):.2f}" for k in
                                                     ("prototypes", "synthesis", "detection", "refinement",
                                                      "writing")] + [f"{cell['wall']:.2f}"])
            rows.append([str(n), "on" if early else "off", f"{np.mean(stats['calls']):.2f}",
                         mean_std(stats["acc"]), f"{np.mean(stats['refine']):.2f}", f"{np.mean(stats['wall']):.2f}",
                         f"{np.mean(stats['ratio']):.2f}", f"{np.mean(stats['stage_ratio']):.2f}"])
    lines = [f"Dataset {args.dataset}, IPC {args.ipc}, paper policy (confidence-uniqueness, τ 0.7, λ 0.5), "
             f"{args.seeds} seeds. Accuracy: ConvNet-3 width {args.width}, hard labels, DC protocol, "
             f"{args.epochs} epochs, final epoch. Generator calls = images painted (initial + candidates) "
             f"per final image. Pure generation = the same generator painting the same number of images "
             f"alone (batch 64, models loaded); wall includes loading data and models, stages do not. Early stop: rounds of 4 candidates, stop at a valid candidate with p ≥ τ + 0.1.",
             ""]
    text = header(f"Cost: {args.dataset}", lines)
    text += table(["N", "early stop", "generator calls / image", "accuracy %", "refinement s", "pipeline wall s",
                   "wall / pure generation", "stages / pure generation"],
                  [["random real", "–", "–", mean_std(real_accuracy), "–", "–", "–", "–"]] + rows)
    text += "\nWall time per stage (s), N = 20 without early stop:\n\n"
    text += table(["seed", "prototypes", "synthesis", "detection", "refinement", "writing", "total wall"], stage_rows)
    text += ("\nPipeline wall over pure generation wall, measured back to back (N = 20, no early stop, "
             "minimum over repeats):\n\n")
    text += table(["repeats", "pipeline wall s", "stages s", "pure generation s", "wall / pure", "stages / pure"],
                  [ratio(args.dataset, data_dir, models, args.ipc, args.ratio_repeats)])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"cost-{args.dataset}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
