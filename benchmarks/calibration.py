"""Calibration of `dgr evaluate` against published figures: random real images at IPC 1/10/50 and
the whole training split, under the dc and dsa protocols; and soft vs hard labels (issue 14).

Every finished student is kept in benchmarks/cache/calibration-<dataset>.json, so an interrupted
run continues where it stopped; --write turns the finished cells into
benchmarks/results/calibration-<dataset>.md (cells not run yet show "not run").

    python benchmarks/calibration.py --dataset digits --protocols dc,dsa --ipc 1,10,50,full --draws 3 --write
    python benchmarks/calibration.py --dataset fashion-mnist --protocols dc --ipc 1,10,50 --draws 3 --write
    python benchmarks/calibration.py --dataset digits --soft --ipc 10 --draws 3 --write
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import CACHE, RESULTS, cached_cell, data_dir_for, header, table, write_result

# DC paper (Zhao et al., ICLR 2021), Table 1, Fashion-MNIST: random real and whole dataset, ConvNet.
PUBLISHED = {
    ("fashion-mnist", "dc", "1"): (51.4, 3.8), ("fashion-mnist", "dc", "10"): (73.8, 0.7),
    ("fashion-mnist", "dc", "50"): (82.5, 0.7), ("fashion-mnist", "dc", "full"): (93.5, 0.1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--protocols", default="dc,dsa")
    parser.add_argument("--ipc", default="1,10,50,full", help="images per class, or 'full' for the whole split")
    parser.add_argument("--draws", type=int, default=3, help="random-real draws, one student each")
    parser.add_argument("--full-epochs", type=int, default=None, help="epochs for 'full' [default: the protocol's]")
    parser.add_argument("--soft", action="store_true", help="soft vs hard labels (teacher: --teacher or embedded)")
    parser.add_argument("--teacher", default=None)
    parser.add_argument("--write", action="store_true", help="write benchmarks/results/calibration-*.md")
    parser.add_argument("--only-write", action="store_true", help="write the table from finished cells, train nothing")
    args = parser.parse_args()

    import numpy as np
    import torch

    from dgr.datasets import load_dataset
    from dgr.evaluation.baselines import random_real
    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.runner import draw_seed
    from dgr.evaluation.student_training import dataset_stats, fit_and_score

    data_dir = data_dir_for(args.dataset, args.data_dir)
    train, test_data = load_dataset(args.dataset, "train", data_dir), load_dataset(args.dataset, "test", data_dir)
    test = (torch.from_numpy(test_data.images), torch.from_numpy(test_data.labels))
    stats = dataset_stats(args.dataset, train.images)
    protocols = args.protocols.split(",")
    ipcs = args.ipc.split(",")
    kind = "soft" if args.soft else "calibration"
    cells = CACHE / f"{kind}-{args.dataset}.json"
    teacher = None
    if args.soft and not args.only_write:
        from dgr.evaluation.runner import load_teacher

        teacher = load_teacher(None, args.dataset, args.teacher)

    def student(protocol: str, ipc: str, draw: int, labels: str = "hard") -> dict:
        settings = resolve_protocol(protocol, args.dataset, labels=labels)
        if ipc == "full":
            chosen_x, chosen_y = train.images, train.labels
            if args.full_epochs:
                import attrs

                settings = attrs.evolve(settings, epochs=args.full_epochs)
        else:
            chosen = random_real(train, int(ipc), draw_seed(0, 0, draw))
            chosen_x, chosen_y = chosen.images, chosen.labels
        x = torch.from_numpy(np.ascontiguousarray(chosen_x, dtype=np.float32))
        cpu = time.process_time()
        score = fit_and_score(x, torch.from_numpy(chosen_y), *test, train.info, settings, seed=draw,
                              teacher=teacher if labels == "soft" else None, stats=stats)
        return {"accuracy": score.accuracy, "seconds": score.seconds, "epochs": settings.epochs,
                "cpu_seconds": round(time.process_time() - cpu, 1),
                "protocol": settings.describe()}

    plan = []
    for protocol in protocols:
        for ipc in ipcs:
            for labels in (("hard", "soft") if args.soft else ("hard",)):
                draws = 1 if ipc == "full" else args.draws
                plan += [(protocol, ipc, labels, d) for d in range(draws)]
    if not args.only_write:
        for protocol, ipc, labels, d in plan:
            key = f"{protocol}|{ipc}|{labels}|{d}|e{args.full_epochs if ipc == 'full' else ''}"
            start = time.perf_counter()
            result = cached_cell(cells, key, lambda: student(protocol, ipc, d, labels))
            print(f"{key}: {100 * result['accuracy']:.2f} % [{result['seconds']:.0f} s]"
                  f"{' (cached)' if time.perf_counter() - start < 1 else ''}", flush=True)
    if args.write or args.only_write:
        write(args, cells, protocols, ipcs)


def cpu_column(values: list) -> str:
    known = [v for v in values if v is not None]
    return f"{sum(known) / len(known):.0f}" if known else "–"


def write(args, cells: Path, protocols: list[str], ipcs: list[str]) -> None:
    import numpy as np

    data = json.loads(cells.read_text()) if cells.exists() else {}
    rows = []
    for protocol in protocols:
        for ipc in ipcs:
            for labels in (("hard", "soft") if args.soft else ("hard",)):
                prefix = f"{protocol}|{ipc}|{labels}|"
                found = [v for k, v in sorted(data.items()) if k.startswith(prefix)]
                if not found:
                    rows.append([protocol, ipc, labels, "not run", "–", "–", "–", "–", "–"])
                    continue
                acc = [100 * v["accuracy"] for v in found]
                published = PUBLISHED.get((args.dataset, protocol, ipc))
                pub = f"{published[0]:.1f} ± {published[1]:.1f}" if published and not args.soft else "–"
                gap = f"{np.mean(acc) - published[0]:+.1f}" if published and not args.soft else "–"
                rows.append([protocol, ipc, labels, f"{np.mean(acc):.1f} ± {np.std(acc):.1f}", str(len(acc)),
                             str(found[0]["epochs"]), pub + (f" ({gap})" if gap != "–" else ""),
                             f"{np.mean([v['seconds'] for v in found]):.0f}",
                             cpu_column([v.get("cpu_seconds") for v in found])])
    head = ["protocol", "IPC", "labels", "dgr evaluate %", "students", "epochs", "published (gap)",
            "wall s / student", "CPU s / student"]
    title = f"{'Soft vs hard labels' if args.soft else 'Calibration'}: {args.dataset}"
    lines = ["Random real images (draw r: `random_real(train, ipc, draw_seed(0, 0, r))`, student seed r), "
             "ConvNet-3 width 128, final-epoch test accuracy, mean ± population std over students. "
             "Protocols as in docs/evaluation.md; 'full' is the whole training split, one student.",
             "", "One torch thread (OMP_NUM_THREADS=1) on a shared 2-core machine whose other core (and part of "
             "this one) trained models meanwhile: wall seconds are inflated; CPU seconds (process time) are "
             "closer to what a free core takes.", ""]
    text = header(title, lines) + table(head, rows)
    out = RESULTS / f"calibration-{'soft-labels-' if args.soft else ''}{args.dataset}.md"
    write_result(out, text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
