"""Quality: test accuracy of students trained on distilled sets against real-data baselines, under
a published evaluation protocol (``dc`` by default: ConvNet-3 width 128, no augmentation, 300
epochs, final epoch; see docs/evaluation.md).

Methods (every one at the same IPC, scored by the same protocol and the same student seeds):
  random-real   IPC random training images per class (drawn per seed)
  kmeans-real   per class, the real images nearest to IPC pixel-space k-means centroids
  unrefined     the run's first images (initial/), before detection and refinement
  dgr-paper     the paper's method: confidence-uniqueness selection, τ 0.7, λ 0.5
  dgr-polish    dgr-paper + the polish stage beyond the paper (--polish-steps distribution matching)
  unrefined-polish  the first images polished the same way (same steps and seeds), no detection or
                refinement: what refinement adds under the polish is dgr-polish minus this
  kmeans-polish  kmeans-real polished the same way: distribution matching from real images, no
                generator or detector; what the generated start adds is dgr-polish minus this
Labels: ``hard`` (cross-entropy) and/or ``soft`` (the run's detector as the KD teacher, the same
teacher for every method).

Cells are cached by what they depend on: random-real and kmeans-real by no run setting
(quality-<dataset>-<protocol>…), unrefined(-polish) by the sampling options and polish steps only,
the DGR methods by every run setting (the tag); hard-label cells of the first two groups depend on
no detector (…-s<seed>.json), DGR cells and every soft-label cell are cached per detector
(…-det<hash>-s<seed>.json, the hash of the detector's weights), so a new detector or setting
re-runs exactly the cells it changes.

    python benchmarks/quality.py --dataset fashion-mnist --ipc 10 --seeds 3
    python benchmarks/quality.py --dataset digits --ipc 1,10,50 --seeds 3 --labels hard,soft

Finished cells are cached in benchmarks/cache/, so an interrupted benchmark continues.
"""
from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

from common import (CACHE, RESULTS, ROOT, cached_cell, data_dir_for, default_candidates, distill, header, mean_std,
                    real_image_cells, table, write_result)

METHODS = ("random-real", "dgr-polish", "dgr-paper", "unrefined", "kmeans-real", "unrefined-polish", "kmeans-polish")
DEFAULT_METHODS = METHODS[:5]
DETECTOR_FREE = ("random-real", "kmeans-real", "unrefined", "unrefined-polish", "kmeans-polish")  # hard labels: no detector
REAL = ("random-real", "kmeans-real")  # real images: the same whatever the DGR runs' settings
FIRST = ("unrefined", "unrefined-polish")  # the first images: whatever the refinement's settings
POLISHED_REAL = ("kmeans-polish",)  # real images through the polish: they depend on its steps only


@functools.cache
def weights_hash(folder: Path) -> str:
    """The first 8 hex digits of the SHA-256 over a model folder's weight files (a detector's one
    ``model.safetensors``, a generator's ``transformer/…``), read once per folder and process."""
    import hashlib

    digest = hashlib.sha256()
    for weights in sorted(folder.rglob("*.safetensors")):
        digest.update(weights.read_bytes())
    return digest.hexdigest()[:8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--ipc", default="10")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--protocol", default="dc")
    parser.add_argument("--labels", default="hard", help="hard, soft or hard,soft")
    parser.add_argument("--detector-model", default=None,
                        help="the detector (and soft-label teacher) folder [default: the dataset's shipped one]")
    parser.add_argument("--generator-model", default=None,
                        help="the generator folder of the runs [default: the dataset's shipped one]")
    parser.add_argument("--candidates", type=int, default=default_candidates(),
                        help="candidates per flagged image [default: dgr.distill's, the paper's N]")
    parser.add_argument("--polish-steps", type=int, default=200)
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a component option of the DGR runs (dgr distill -o), e.g. strength=0.5; repeatable")
    parser.add_argument("--refine-from", default="prototype",
                        help="where the DGR runs' candidates start: prototype (the paper) or members")
    parser.add_argument("--prototypes", default="centroids",
                        help="what the runs' synthesis starts from: centroids (the paper) or medoids")
    parser.add_argument("--early-stop", action="store_true",
                        help="refinement stops an image's search at a confident valid candidate (cheaper)")
    parser.add_argument("--only-seeds", default=None,
                        help="compute only these seeds (e.g. 0,2), for one process per core; the table "
                             "reads every seed finished so far")
    parser.add_argument("--only-write", action="store_true", help="write the table from the cached cells only")
    parser.add_argument("--table", default=None,
                        help="result file name in benchmarks/results/ [default: quality-DATASET-PROTOCOL.md]")
    args = parser.parse_args()

    import numpy as np
    import torch

    from dgr.assets import embedded_model
    from dgr.datasets import load_dataset
    from dgr.evaluation.baselines import kmeans_real, random_real, read_image_folder
    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.runner import load_teacher
    from dgr.evaluation.student_training import dataset_stats, fit_and_score

    data_dir = data_dir_for(args.dataset, args.data_dir)
    train, test_data = load_dataset(args.dataset, "train", data_dir), load_dataset(args.dataset, "test", data_dir)
    test = (torch.from_numpy(test_data.images), torch.from_numpy(test_data.labels))
    stats = dataset_stats(args.dataset, train.images)
    info = train.info
    shape = (info.channels, info.height, info.width)
    ipcs = [int(i) for i in args.ipc.split(",")]
    methods = args.methods.split(",")
    label_modes = args.labels.split(",")
    detector = Path(args.detector_model) if args.detector_model else embedded_model("detector", args.dataset)
    if detector is None:
        raise SystemExit(f"no shipped {args.dataset} detector: pass --detector-model DIR")
    det = f"det{weights_hash(detector)}"
    teacher = (load_teacher(None, args.dataset, str(detector)) if "soft" in label_modes and not args.only_write
               else None)
    options = dict(option.split("=", 1) for option in args.option)
    sampling = "".join(f"-{key}{value}" for key, value in sorted(options.items()))  # "" for the paper's settings
    start = (sampling + ("" if args.prototypes == "centroids" else f"-{args.prototypes}")  # what first images need
             + (f"-gen{weights_hash(Path(args.generator_model))}" if args.generator_model else ""))
    variant = start + ("" if args.refine_from == "prototype" else f"-from{args.refine_from}")
    run_settings = f"n{args.candidates}{'-es' if args.early_stop else ''}-p{args.polish_steps}{variant}"
    tag = f"{args.dataset}-{args.protocol}-{run_settings}"
    cache_tags = {**{m: f"{args.dataset}-{args.protocol}" for m in REAL},
                  **{m: f"{args.dataset}-{args.protocol}-p{args.polish_steps}{start}" for m in FIRST},
                  **{m: f"{args.dataset}-{args.protocol}-p{args.polish_steps}" for m in POLISHED_REAL}}

    def cells(seed: int, method: str, labels: str) -> Path:
        free = method in DETECTOR_FREE and labels == "hard"
        if free and method in REAL:
            return real_image_cells(args.dataset, args.protocol, seed)
        return CACHE / f"quality-{cache_tags.get(method, tag)}{'' if free else '-' + det}-s{seed}.json"

    def run_dir(ipc: int, seed: int) -> Path:
        return CACHE / "runs" / f"{args.dataset}-ipc{ipc}-s{seed}-{run_settings}-{det}"

    def run_for(ipc: int, seed: int):
        """One run gives three sets: initial/ (unrefined), selected/ (the paper), images/ (polished)."""
        return distill(run_dir(ipc, seed), dataset=args.dataset, data_dir=data_dir, ipc=ipc, seed=seed,
                       candidates=args.candidates, polish_steps=args.polish_steps, early_stop=args.early_stop,
                       detector_model=str(detector), model=args.generator_model, options=options,
                       refine_from=args.refine_from, prototypes=args.prototypes)

    def images_for(method: str, ipc: int, seed: int):
        if method == "random-real":
            s = random_real(train, ipc, seed)
        elif method == "kmeans-real":
            s = kmeans_real(train, ipc, seed)
        elif method == "unrefined":
            s = read_image_folder(run_for(ipc, seed) / "initial", train.class_names, shape)
        elif method == "dgr-paper":
            s = read_image_folder(run_for(ipc, seed) / "selected", train.class_names, shape)
        elif method == "dgr-polish":
            s = read_image_folder(run_for(ipc, seed) / "images", train.class_names, shape)
        elif method == "unrefined-polish":
            s = polish_folder(read_image_folder(run_for(ipc, seed) / "initial", train.class_names, shape), seed)
        elif method == "kmeans-polish":
            s = polish_folder(kmeans_real(train, ipc, seed), seed)
        else:
            raise SystemExit(f"unknown method {method!r}; use {', '.join(METHODS)}")
        return s.images, s.labels

    def polish_folder(images, seed: int):
        """The pipeline's polish applied to a set's images with the run's seeds (as dgr evaluate's
        kmeans-real-polish baseline does)."""
        from dgr.evaluation.baselines import polish_image_set

        return polish_image_set(images, train, args.dataset, args.polish_steps, seed)

    import json

    mine = [int(x) for x in args.only_seeds.split(",")] if args.only_seeds else list(range(args.seeds))

    def finished() -> dict[tuple[str, str, int], dict[int, float]]:
        """(method, labels, IPC) → {seed: accuracy} of every cached cell."""
        results: dict[tuple[str, str, int], dict[int, float]] = {}
        for seed in range(args.seeds):
            for method in methods:
                for labels in label_modes:
                    path = cells(seed, method, labels)
                    done = json.loads(path.read_text()) if path.exists() else {}
                    for ipc in ipcs:
                        if f"{method}|{labels}|{ipc}|{seed}" in done:
                            cell = done[f"{method}|{labels}|{ipc}|{seed}"]
                            results.setdefault((method, labels, ipc), {})[seed] = cell["accuracy"]
        return results

    def stage_seconds() -> dict[int, dict[str, float]]:
        """IPC → the runs' mean seconds per stage and share of first images flagged (finished runs only)."""
        out: dict[int, dict[str, float]] = {}
        for ipc in ipcs:
            runs = [run_dir(ipc, seed) / "run.json" for seed in range(args.seeds)]
            facts = [json.loads(r.read_text()) for r in runs if r.exists()]
            facts = [f for f in facts if f.get("status") == "complete"]
            if facts:
                stages = {k: float(np.mean([f["timings"].get(k, 0.0) for f in facts])) for k in facts[0]["timings"]}
                stages["flagged %"] = 100 * float(np.mean([f["counts"]["initial_anomalies"] / f["counts"]["images"]
                                                           for f in facts]))
                stages["runs"] = len(facts)
                out[ipc] = stages
        return out

    if args.only_write:
        write(args, ipcs, methods, label_modes, finished(), stage_seconds(), len(test_data), detector, options)
        return
    for ipc in ipcs:
        for labels in label_modes:
            settings = resolve_protocol(args.protocol, args.dataset, labels=labels)
            for method in methods:  # method-major: every seed's baseline first, then every seed's DGR
                for seed in mine:
                    def compute() -> dict:
                        start = time.perf_counter()
                        images, targets = images_for(method, ipc, seed)
                        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
                        score = fit_and_score(x, torch.from_numpy(targets), test[0], test[1], info, settings,
                                              seed=seed, teacher=teacher if labels == "soft" else None, stats=stats)
                        return {"accuracy": score.accuracy, "seconds": round(time.perf_counter() - start, 1)}

                    cell = cached_cell(cells(seed, method, labels), f"{method}|{labels}|{ipc}|{seed}", compute)
                    print(f"{args.dataset} ipc {ipc} seed {seed} {labels} {method}: "
                          f"{100 * cell['accuracy']:.1f}% ({cell['seconds']} s)", flush=True)
                    write(args, ipcs, methods, label_modes, finished(), stage_seconds(), len(test_data), detector, options)


def write(args, ipcs, methods, label_modes, results, stages, test_images: int, detector: Path,
          options: dict[str, str]) -> None:
    import numpy as np

    rows = []
    for labels in label_modes:
        for m in methods:
            cells = [mean_std(list(results.get((m, labels, ipc), {}).values())) for ipc in ipcs]
            gaps = []
            for ipc in ipcs:
                mine, base = results.get((m, labels, ipc), {}), results.get(("random-real", labels, ipc), {})
                paired = sorted(set(mine) & set(base))  # the same seeds: same draw, same student seed
                gaps.append(f"{100 * np.mean([mine[s] - base[s] for s in paired]):+.1f}"
                            if paired and m != "random-real" else "–")
            rows.append([m, labels] + [f"{c} ({g})" if g != "–" else c for c, g in zip(cells, gaps)])
    settings = ", ".join(f"{k} {v}" for k, v in sorted(options.items())) or "the paper's sampling settings"
    generator_text = (f"`{args.generator_model}` ({weights_hash(Path(args.generator_model))})"
                      if args.generator_model else "the shipped one")
    lines = [f"Protocol: **{args.protocol}** (docs/evaluation.md), final-epoch accuracy on the {test_images} test "
             f"images, mean ± std over seeds 0–{args.seeds - 1} (n given when fewer finished); in brackets the "
             f"paired difference to random real over the seeds both have (same seed: distillation seed = real "
             f"draw = student seed). Detector (and soft-label KD teacher): "
             f"`{detector.relative_to(ROOT) if detector.is_relative_to(ROOT) else detector}` "
             f"({weights_hash(detector)}). Generator: {generator_text}. "
             f"DGR: {args.candidates} candidates{', early stop' if args.early_stop else ''}, "
             f"τ 0.7, λ 0.5, {settings}"
             f"{'' if args.prototypes == 'centroids' else f', prototypes: the k-means {args.prototypes}'}"
             f"{'' if args.refine_from == 'prototype' else f', candidates from the {args.refine_from}'}; dgr-polish adds "
             f"{args.polish_steps} distribution-matching steps per class (beyond the paper).", ""]
    head = ["method", "labels"] + [f"IPC {i}" for i in ipcs]
    seeds = range(args.seeds)

    def per_seed(accuracies: dict[int, float]) -> str:
        return " / ".join(f"{100 * accuracies[s]:.1f}" if s in accuracies else "–" for s in seeds)

    text = header(f"Quality: {args.dataset}", lines)
    text += table(head, rows)
    text += f"\nPer seed ({' / '.join(f'seed {s}' for s in seeds)}; – not finished):\n\n"
    text += table(head, [[m, labels] + [per_seed(results.get((m, labels, ipc), {})) for ipc in ipcs]
                         for labels in label_modes for m in methods])
    if stages:
        names = [k for k in next(iter(stages.values())) if k not in ("runs", "flagged %")]  # the pipeline's order
        text += ("\nSeconds per stage of the distillation runs (mean over the finished runs; one torch thread) and "
                 "the share of first images flagged:\n\n")
        text += table(["IPC", "runs", *names, "flagged %"],
                      [[str(ipc), str(v["runs"]), *(f"{v.get(k, 0.0):.1f}" for k in names), f"{v['flagged %']:.0f}"]
                       for ipc, v in stages.items()])
    write_result(RESULTS / (args.table or f"quality-{args.dataset}-{args.protocol}.md"), text)


if __name__ == "__main__":
    main()
