"""Label consistency: the share of a run's images that an independent classifier (logistic
regression on real training pixels, not the detector) assigns to their label, before
refinement (initial/), after refinement and selection (the paper: selected/, or images/ in runs without
the polish stage) and after the polish stage (images/ of runs with --polish-steps).

    python benchmarks/label_consistency.py --dataset digits
Reads the DGR runs quality.py left in benchmarks/cache/runs/.
"""
from __future__ import annotations

import argparse
import re

from common import CACHE, RESULTS, data_dir_for, header, mean_std, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--train-limit", type=int, default=20000, help="Real images the classifier learns from.")
    args = parser.parse_args()

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from dgr.datasets import load_dataset
    from dgr.evaluation.baselines import random_real, read_image_folder

    data_dir = data_dir_for(args.dataset, args.data_dir)
    train, test = load_dataset(args.dataset, "train", data_dir), load_dataset(args.dataset, "test", data_dir)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(train))[: args.train_limit]
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    clf = LogisticRegression(max_iter=300, C=0.5).fit(flat(train.images[idx]), train.labels[idx])
    test_acc = float((clf.predict(flat(test.images)) == test.labels).mean())
    shape = (train.info.channels, train.info.height, train.info.width)
    found: dict[tuple[str, int], dict[str, list[float]]] = {}
    pattern = re.compile(rf"{re.escape(args.dataset)}-ipc(\d+)-s(\d+)-n(\d+)(-es)?-p(\d+)$")
    for run in sorted((CACHE / "runs").glob(f"{args.dataset}-ipc*")):
        m = pattern.match(run.name)
        if not m or not (run / "manifest.jsonl").exists():
            continue
        polished = (run / "selected").is_dir()
        key = (f"N={m.group(3)}{', early stop' if m.group(4) else ''}", int(m.group(1)))
        entry = found.setdefault(key, {"random": [], "initial": [], "selected": [], "polished": []})
        real = random_real(train, int(m.group(1)), int(m.group(2)))  # quality.py's random-real draw of this seed
        entry["random"].append(float((clf.predict(flat(real.images)) == real.labels).mean()))
        parts = [("initial", "initial"), ("selected", "selected" if polished else "images")]
        parts += [("polished", "images")] if polished else []
        for part, sub in parts:
            s = read_image_folder(run / sub, train.class_names, shape)
            entry[part].append(float((clf.predict(flat(s.images)) == s.labels).mean()))
    rows = [[setting, str(ipc), mean_std(v["random"]), mean_std(v["initial"]), mean_std(v["selected"]),
             f"{100 * (np.mean(v['selected']) - np.mean(v['initial'])):+.1f}", mean_std(v["polished"]),
             str(len(v["selected"]))]
            for (setting, ipc), v in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1]))]
    lines = [f"Independent classifier: logistic regression on {len(idx)} real training images "
             f"(pixels), test accuracy {100 * test_acc:.1f}%. Mean ± std over the runs' seeds; the random-real column is the same classifier on quality.py's random real draw of each seed (same IPC), the reference a distilled set is held against (those real images may be among the classifier's own training images, which flatters them).", ""]
    text = header(f"Label consistency: {args.dataset}", lines) + table(
        ["refinement", "IPC", "random real % (same IPC, seeds)", "before refinement %", "after refinement %", "change (points)", "after polish %",
         "runs"], rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"label-consistency-{args.dataset}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
