"""Streamed vs in-memory (issue 32): the seconds of each training command on a small ImageFolder read
whole into memory (how a small folder loads by default) and streamed from disk (``DGR_STREAM=1``, how a
folder over 256 MiB loads), and whether both give the same weights.

The folder is bounded_memory.py's (128 px JPEGs, 50 train and 5 test a class), loaded at 64 px. Each
command runs in this process on one torch thread, in-memory then streamed, ``--rounds`` times, and the
fastest of each is kept; "load" is the time to open the split (the in-memory path decodes every file
there, the streamed one lists them and decodes a batch at a time while it trains). Rows: `train
detector` (2 epochs), `train generator` (100 steps), `train clip` (20 steps), and the scoring of a
student on the test split (evaluate's part that streams).

    OMP_NUM_THREADS=1 python benchmarks/stream_speed.py --classes 30 --write

Results: benchmarks/results/stream-speed.md.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from bounded_memory import write_folder
from common import RESULTS, header, table

RESULT = RESULTS / "stream-speed.md"


def load(folder: Path, split: str, streamed: bool) -> tuple[Any, float]:
    """The split in memory or streamed, and the seconds it took to open."""
    from dgr.datasets import load_dataset

    os.environ["DGR_STREAM"] = "1" if streamed else "0"
    start = time.perf_counter()
    data = load_dataset(str(folder), split)
    return data, time.perf_counter() - start


def digest(folder: Path) -> str:
    """One hash of a model folder's weight files."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.safetensors")):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def detector(data: Any, out: Path) -> str:
    from dgr.training.detector import DetectorTraining, train_detector

    train_detector(data, out, DetectorTraining(epochs=2))
    return digest(out)


def generator(data: Any, out: Path) -> str:
    from dgr.training.generator import GeneratorTraining, train_pixel_dit

    train_pixel_dit(data, out, GeneratorTraining(steps=100))
    return digest(out)


def clip(data: Any, out: Path) -> str:
    from dgr.training.clip import ClipTraining, train_clip

    train_clip(data, out, ClipTraining(steps=20))
    return digest(out)


def scoring(test: Any, out: Path) -> str:
    """Scores a fresh dc-protocol student on the test split ``test`` (its predictions' hash)."""
    import numpy as np
    import torch

    from dgr.datasets import ImageFolderIndex
    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.student_training import labelled_predictions
    from dgr.evaluation.students import build_student

    settings = resolve_protocol("dc", test.info.name)
    torch.manual_seed(0)
    student = build_student(settings.student, test.info, settings.width)
    labels = torch.from_numpy(np.asarray(test.labels)).long()
    images = test if isinstance(test, ImageFolderIndex) else torch.from_numpy(test.images)
    predicted, kept = labelled_predictions(student, images, labels)
    return hashlib.sha256(predicted.numpy().tobytes() + kept.numpy().tobytes()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true", help=f"write {RESULT}")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="dgr-stream-speed-") as tmp:
        root = write_folder(Path(tmp) / "data", args.classes)
        commands: list[tuple[str, str, Callable[[Any, Path], str]]] = [
            ("train detector (2 epochs)", "train", detector), ("train generator (100 steps)", "train", generator),
            ("train clip (20 steps)", "train", clip), ("scoring a student on the test split", "test", scoring)]
        for name, split, command in commands:
            best: dict[bool, tuple[float, float]] = {}
            hashes: dict[bool, str] = {}
            for r in range(args.rounds):
                for streamed in (False, True):
                    data, load_s = load(root, split, streamed)
                    start = time.perf_counter()
                    hashes[streamed] = command(data, Path(tmp) / f"out-{r}-{int(streamed)}-{len(rows)}")
                    run_s = time.perf_counter() - start
                    kind = type(data).__name__
                    if streamed not in best or load_s + run_s < sum(best[streamed]):
                        best[streamed] = (load_s, run_s)
                    print(f"{name}: {kind} load {load_s:.1f} s, run {run_s:.1f} s", flush=True)
            (ml, mr), (sl, sr) = best[False], best[True]
            rows.append([name, f"{ml:.1f} + {mr:.1f} = {ml + mr:.1f}", f"{sl:.1f} + {sr:.1f} = {sl + sr:.1f}",
                         f"{(sl + sr) / (ml + mr):.2f}", "yes" if hashes[False] == hashes[True] else "**no**"])
    text = table(["command", "in memory: load + run (s)", "streamed: load + run (s)", "streamed / in memory",
                  "same weights / predictions"], rows)
    print(text)
    if args.write:
        RESULT.write_text(header("Streamed vs in memory: seconds on a small ImageFolder", [
            f"{args.classes} classes × 50 train / 5 test JPEGs of 128 px, loaded at 64 px; one torch thread; the "
            f"fastest of {args.rounds} rounds; load: opening the split (in memory: decoding every file), run: "
            "the command (streamed: decoding each batch in DataLoader workers).", ""]) + text + "\n")


if __name__ == "__main__":
    main()
