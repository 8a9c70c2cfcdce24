"""Label consistency: the share of a run's images that an independent classifier assigns to their
label, before refinement (initial/), after refinement and selection (the paper: selected/, or
images/ in runs without the polish stage) and after the polish stage (images/ of runs with
--polish-steps).

The judge is not the detector: it is the evaluation's ConvNet (instance norm, width 32, another
architecture and normalisation than the detector's) trained on the whole training split with the dc
optimiser for --judge-epochs. Its reference row is random real images of the *test* split (IPC
per class, per seed), which the judge never saw, so that row is its plain accuracy on unseen real
images, the bar a distilled set is held against.

    python benchmarks/label_consistency.py --dataset digits
Reads the DGR runs quality.py left in benchmarks/cache/runs/; the judge is cached in
benchmarks/cache/judge-<dataset>-e<epochs>.pt.
"""
from __future__ import annotations

import argparse
import re

from common import CACHE, RESULTS, data_dir_for, header, mean_std, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--judge-epochs", type=int, default=4, help="Passes of the judge over the training split.")
    parser.add_argument("--table", default=None, help="result file name in benchmarks/results/ "
                                                       "[default: label-consistency-DATASET.md]")
    args = parser.parse_args()

    import numpy as np

    from dgr.datasets import load_dataset
    from dgr.evaluation.baselines import random_real, read_image_folder

    data_dir = data_dir_for(args.dataset, args.data_dir)
    train, test = load_dataset(args.dataset, "train", data_dir), load_dataset(args.dataset, "test", data_dir)
    judge, stats = train_judge(args.dataset, train, args.judge_epochs)
    test_acc = agreement(judge, stats, test.images, test.labels)
    shape = (train.info.channels, train.info.height, train.info.width)
    found: dict[tuple[str, int], dict[str, list[float]]] = {}
    # quality.py's run folders: …-p<polish steps>[-<option><value>…][-from<anchor>]-det<hash>
    pattern = re.compile(rf"{re.escape(args.dataset)}-ipc(\d+)-s(\d+)-n(\d+)(-es)?-p(\d+)((?:-[a-z]+[\w.]*?)*?)"
                         rf"(?:-(det\w+))?$")
    for run in sorted((CACHE / "runs").glob(f"{args.dataset}-ipc*")):
        m = pattern.match(run.name)
        if not m or not (run / "manifest.jsonl").exists():
            continue
        polished = (run / "selected").is_dir()
        settings = m.group(6).strip("-").replace("-", ", ")
        key = (f"N={m.group(3)}{', early stop' if m.group(4) else ''}{', ' + settings if settings else ''}, "
               f"{m.group(7) or 'detector ?'}", int(m.group(1)))
        entry = found.setdefault(key, {"random": [], "initial": [], "selected": [], "polished": []})
        real = random_real(test, int(m.group(1)), int(m.group(2)))  # unseen real images, IPC per class
        entry["random"].append(agreement(judge, stats, real.images, real.labels))
        parts = [("initial", "initial"), ("selected", "selected" if polished else "images")]
        parts += [("polished", "images")] if polished else []
        for part, sub in parts:
            s = read_image_folder(run / sub, train.class_names, shape)
            entry[part].append(agreement(judge, stats, s.images, s.labels))
    rows = [[setting, str(ipc), mean_std(v["random"]), mean_std(v["initial"]), mean_std(v["selected"]),
             f"{100 * (np.mean(v['selected']) - np.mean(v['initial'])):+.1f}", mean_std(v["polished"]),
             str(len(v["selected"]))]
            for (setting, ipc), v in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1]))]
    lines = [f"Judge: the evaluation ConvNet (instance norm, width 32) trained {args.judge_epochs} epochs on all "
             f"{len(train)} training images with the dc optimiser; its accuracy on the {len(test)} test images is "
             f"**{100 * test_acc:.1f} %**. Mean ± std over the runs' seeds. The random-real column is the judge on "
             "random *test* images (same IPC, the run's seed), images it never saw: the bar for a distilled set.", ""]
    text = header(f"Label consistency: {args.dataset}", lines) + table(
        ["refinement", "IPC", "random real (test split) %", "before refinement %", "after refinement %", "change (points)", "after polish %",
         "runs"], rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / (args.table or f"label-consistency-{args.dataset}.md")).write_text(text)
    print(text)


def train_judge(dataset: str, train, epochs: int):
    """The judge ConvNet and its input statistics, trained once and cached."""
    import attrs
    import torch

    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.students import build_student
    from dgr.evaluation.student_training import dataset_stats, train_student

    stats = dataset_stats(dataset, train.images)
    model = build_student("convnet", train.info, width=32)
    cached = CACHE / f"judge-{dataset}-e{epochs}.pt"
    if cached.exists():
        model.load_state_dict(torch.load(cached, weights_only=True))
        return model.eval(), stats
    settings = attrs.evolve(resolve_protocol("dc", dataset), epochs=epochs, reference_loop=False)
    train_student(model, torch.from_numpy(train.images), torch.from_numpy(train.labels), settings, seed=0,
                  stats=stats, on_epoch=lambda e, loss: print(f"judge epoch {e}: loss {loss:.3f}", flush=True))
    torch.save(model.state_dict(), cached)
    return model.eval(), stats


def agreement(judge, stats, images, labels) -> float:
    """The share of ``images`` the judge assigns to their ``labels``."""
    import numpy as np
    import torch

    from dgr.evaluation.student_training import predictions

    predicted = predictions(judge, torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)), stats=stats)
    return float((predicted.numpy() == labels).mean())


if __name__ == "__main__":
    main()
