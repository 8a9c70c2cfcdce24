"""Shared helpers of the benchmark scripts: runs, scoring, result files.

The scripts are plain Python (``python benchmarks/quality.py --help``); each writes a
markdown table with the machine and the date to ``benchmarks/results/`` and keeps every
finished cell in ``benchmarks/cache/`` so an interrupted benchmark continues where it stopped.
"""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / "cache"
RESULTS = HERE / "results"
SHARED_FASHION = (ROOT / "../shared/data/fashion-mnist").resolve()


def default_candidates() -> int:
    """``dgr.distill``'s candidates per flagged image (the paper's N): the benchmarks' one source for it."""
    from dgr.config import DEFAULTS

    return DEFAULTS.candidates


def data_dir_for(dataset: str, data_dir: str | None) -> str | None:
    if data_dir or dataset != "fashion-mnist":
        return data_dir
    return str(SHARED_FASHION) if SHARED_FASHION.is_dir() else None


def models_for(dataset: str) -> dict[str, str | None]:
    """The generator/detector folders a dataset needs: none for a dataset dgr ships models for
    (digits, fashion-mnist: the pipeline loads them), else ones trained into benchmarks/cache/."""
    from dgr.assets import embedded_model

    if embedded_model("generator", dataset) and embedded_model("detector", dataset):
        return {"model": None, "detector_model": None}
    gen, det = CACHE / f"{dataset}-generator", CACHE / f"{dataset}-detector"
    missing = [str(p) for p in (gen, det) if not p.is_dir()]
    if missing:
        raise SystemExit(f"train the {dataset} models first (see docs/benchmarks.md): missing {', '.join(missing)}")
    return {"model": str(gen), "detector_model": str(det)}


def distill(out: Path, *, early_stop: bool = False, **kwargs: Any):
    """``dgr.distill`` into ``out`` (reused when finished). The benchmarks name every setting they
    vary on top of the paper's recipe (``recipe="paper"``), so a dataset's default recipe never
    changes what a table measured."""
    import dgr

    if (out / "run.json").exists() and json.loads((out / "run.json").read_text()).get("status") == "complete":
        return out
    kwargs.setdefault("recipe", "paper")
    dgr.distill(out=out, overwrite=True, early_stop=early_stop, **kwargs)
    return out


def generated_images(out: Path) -> int:
    """Images the generator painted for a run: one per prototype plus every candidate."""
    total = 0
    for line in (out / "manifest.jsonl").read_text().splitlines():
        record = json.loads(line)
        total += 1 + int((record.get("selection") or {}).get("candidates", 0))
    return total


def score(images: np.ndarray, labels: np.ndarray, test: tuple, info: Any, settings: Any, seed: int,
          stats: Any = None) -> float:
    """Test accuracy of one student trained on ``images`` (``stats``: the dataset's normalisation,
    see ``dgr.evaluation.student_training.dataset_stats``)."""
    import torch

    from dgr.evaluation.student_training import fit_and_score

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    return fit_and_score(x, torch.from_numpy(labels), test[0], test[1], info, settings, seed=seed,
                         stats=stats).accuracy


class StudentBench:
    """What scoring a set needs: the dataset's splits, its normalisation and a protocol's settings."""

    def __init__(self, dataset: str, data_dir: str | None, protocol: str) -> None:
        import torch

        from dgr.datasets import load_dataset
        from dgr.evaluation.protocols import resolve_protocol
        from dgr.evaluation.student_training import dataset_stats

        self.dataset, self.protocol = dataset, protocol
        self.data_dir = data_dir_for(dataset, data_dir)
        self.train = load_dataset(dataset, "train", self.data_dir)
        test = load_dataset(dataset, "test", self.data_dir)
        self.test = (torch.from_numpy(test.images), torch.from_numpy(test.labels))
        self.stats = dataset_stats(dataset, self.train.images)
        self.settings = resolve_protocol(protocol, dataset)

    def score_folder(self, folder: Path, seed: int) -> dict:
        """Accuracy and seconds of one student trained on an ImageFolder of the dataset's classes."""
        from dgr.evaluation.baselines import read_image_folder

        info = self.train.info
        s = read_image_folder(folder, self.train.class_names, (info.channels, info.height, info.width))
        clock = time.perf_counter()
        accuracy = score(s.images, s.labels, self.test, info, self.settings, seed, self.stats)
        return {"accuracy": accuracy, "seconds": round(time.perf_counter() - clock, 1)}

    def random_real_cells(self, cells: Path, ipc: int, seeds: list[int]) -> None:
        """The reference of an ablation: random real images, the same draw and student seed as quality.py."""
        from dgr.evaluation.baselines import random_real

        for seed in seeds:
            def baseline() -> dict:
                real = random_real(self.train, ipc, seed)
                clock = time.perf_counter()
                accuracy = score(real.images, real.labels, self.test, self.train.info, self.settings, seed, self.stats)
                return {"accuracy": accuracy, "seconds": round(time.perf_counter() - clock, 1)}

            def shared() -> dict:
                return cached_cell(real_image_cells(self.dataset, self.protocol, seed),
                                   f"random-real|hard|{ipc}|{seed}", baseline)

            cell = cached_cell(cells, f"random-real|{seed}|{self.protocol}", shared)
            print(f"random real seed {seed}: {100 * cell['accuracy']:.1f} %", flush=True)

    def run_cells(self, cells: Path, variant: str, seed: int, out: Path, ipc: int, early_stop: bool = True,
                  **kwargs: Any) -> None:
        """One ablation run (``dgr.distill``'s defaults, with early stop unless told) and its first images and
        refined set scored."""
        def run() -> dict:
            clock = time.perf_counter()
            distill(out, dataset=self.dataset, data_dir=self.data_dir, ipc=ipc, seed=seed, early_stop=early_stop,
                    **kwargs)
            records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
            flagged = sum(bool(r.get("anomaly_reasons")) for r in records) / len(records)
            return {"flagged": flagged, "seconds": round(time.perf_counter() - clock, 1)}

        facts = cached_cell(cells, f"{variant}|{seed}|run", run)
        first = cached_cell(cells, f"{variant}|{seed}|{self.protocol}|initial",
                            lambda: self.score_folder(out / "initial", seed))
        # images/: the refined set (these runs have no polish); with nothing flagged it is the first images
        refined = cached_cell(cells, f"{variant}|{seed}|{self.protocol}|images",
                              lambda: first if facts["flagged"] == 0 else self.score_folder(out / "images", seed))
        for part, cell in (("initial", first), ("images", refined)):
            print(f"{variant} seed {seed} {part}: {100 * cell['accuracy']:.1f} % "
                  f"(flagged {100 * facts['flagged']:.0f} %)", flush=True)


def real_image_cells(dataset: str, protocol: str, seed: int) -> Path:
    """The cache of one seed's hard-label real-image cells (random and k-means real): quality.py's,
    which every script's random-real reference reads and adds to, so each is trained once."""
    return CACHE / f"quality-{dataset}-{protocol}-s{seed}.json"


def cached_cell(path: Path, key: str, compute: Callable[[], Any]) -> Any:
    """A JSON dict file of finished cells: compute ``key`` once."""
    data = json.loads(path.read_text()) if path.exists() else {}
    if key not in data:
        value = compute()
        data = json.loads(path.read_text()) if path.exists() else {}  # another process may have added cells
        data[key] = value
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # the benchmark queues share the real-image cells
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)
    return data[key]


def mean_std(values: list[float], scale: float = 100.0) -> str:
    if not values:
        return "–"
    return f"{scale * np.mean(values):.1f} ± {scale * np.std(values):.1f}" + ("" if len(values) > 2 else f" (n={len(values)})")


def header(title: str, lines: list[str]) -> str:
    from dgr.evaluation.runner import machine

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([f"# {title}", "", f"Machine: {machine()}  ", f"Date: {now}  ",
                      f"Command: `python {' '.join(sys.argv)}`", "", *lines, ""])


def write_result(out: Path, text: str) -> None:
    """Write a result table to ``out``, followed by its hand-kept ``<name>.notes.md`` (what a table
    alone cannot say) when there is one."""
    notes = out.with_suffix(".notes.md")
    if notes.exists():
        text += "\n" + notes.read_text()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


def table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"
