"""Bounded memory (issue 32): peak memory of `dgr train detector`, `dgr train generator --steps 50`,
`dgr distill` and `dgr evaluate --repeats 1` on an ImageFolder of 128 px JPEGs as the classes grow.

For each class count it writes `train/` (50 JPEGs a class, 128×128 RGB, quality 90) and `test/`
(5 a class) in a temporary folder and runs the commands through the CLI, each under a poller that
sums the proportional set size (PSS: shared pages split between the processes sharing them) of
the command's process and all its descendants (DataLoader workers) every 0.25 s. The largest single
process's peak RSS is recorded beside it. The detector trains 20 steps of one epoch and the student
1 epoch (`--epochs 1`): memory does not depend on how many steps follow the first.

    OMP_NUM_THREADS=1 python benchmarks/bounded_memory.py --classes 30 200 --write
    OMP_NUM_THREADS=1 python benchmarks/bounded_memory.py --classes 30 1000 --image-size 32 --write

Results: benchmarks/results/bounded-memory.md (rows appended).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import RESULTS, header

RESULT = RESULTS / "bounded-memory.md"
TRAIN_PER_CLASS, TEST_PER_CLASS, SIDE = 50, 5, 128
COMMANDS = ("train detector", "train generator", "distill", "evaluate")


def write_folder(root: Path, classes: int, seed: int = 0) -> Path:
    """``root/train`` and ``root/test``: per class a colour, a gradient and noise, as 128 px JPEGs."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, SIDE, dtype=np.float32)
    for c in range(classes):
        colour = rng.uniform(0.2, 0.8, 3).astype(np.float32)
        for split, count in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
            folder = root / split / f"c{c:04d}"
            folder.mkdir(parents=True)
            for k in range(count):
                noise = rng.normal(0, 0.08, (SIDE, SIDE, 3)).astype(np.float32)
                image = colour * 0.7 + 0.3 * ramp[:, None, None] * ramp[None, ::-1, None] + noise
                Image.fromarray(np.uint8(np.clip(image, 0, 1) * 255), "RGB").save(folder / f"{k:03d}.jpg", quality=90)
    return root


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(parent, []).append(int(entry))
    return tree


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kib(root: int) -> int:
    """PSS of ``root`` and all its descendants, in KiB."""
    tree, todo, total = _children(), [root], 0
    while todo:
        pid = todo.pop()
        total += _pss_kib(pid)
        todo.extend(tree.get(pid, []))
    return total


# a fresh parent for each command: its RUSAGE_CHILDREN then holds that command's largest process alone
FRESH_PARENT = ("import resource, subprocess, sys; "
                "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
                "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def run_one(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Run ``python -m dgr ARGS`` under a fresh parent: (peak PSS of the process tree in MiB, peak RSS of
    its largest process in MiB, seconds)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:  # a file, not a pipe: a chatty command cannot block on it
        process = subprocess.Popen([sys.executable, "-c", FRESH_PARENT, sys.executable, "-m", "dgr", *args],
                                   env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_pss_kib(process.pid))
            time.sleep(0.25)
        seconds = time.perf_counter() - start
        out = process.stdout.read() if process.stdout else ""
        if process.returncode != 0:
            err.seek(0)
            raise SystemExit(f"dgr {' '.join(args)} failed:\n{err.read()[-3000:]}")
    largest = next(int(line.split()[1]) for line in out.splitlines() if line.startswith("MAXRSS"))
    return peak / 1024, largest / 1024, seconds


def measure(classes: int, work: Path, env: dict[str, str], size: list[str]) -> dict[str, tuple[float, float, float]]:
    data = write_folder(work / f"data{classes}", classes)
    gen, det, run = work / f"gen{classes}", work / f"det{classes}", work / f"run{classes}"
    out = {
        "train detector": run_one(["train", "detector", "--dataset", str(data), "--out", str(det), "--epochs", "1",
                                   "--max-steps", "20", *size], env),
        "train generator": run_one(["train", "generator", "--dataset", str(data), "--out", str(gen), "--steps", "50",
                                    *size], env),
        "distill": run_one(["distill", "--dataset", str(data), "--model", str(gen), "--detector-model", str(det),
                            "--ipc", "10", "--candidates", "2", "-o", "steps=5", "--out", str(run), "-q", *size], env),
    }
    out["evaluate"] = run_one(["evaluate", str(run), "--repeats", "1", "--epochs", "1", "--no-cache"], env)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[30, 200])
    parser.add_argument("--image-size", type=int, help="passed to every command [default: theirs, 64 here]")
    parser.add_argument("--label", default="", help="names the tree measured (a column of the table)")
    parser.add_argument("--write", action="store_true", help=f"append the rows to {RESULT}")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    size = ["--image-size", str(args.image_size)] if args.image_size else []
    side = args.image_size or 64
    rows, first = [], None
    with tempfile.TemporaryDirectory(prefix="dgr-memory-") as tmp:
        for n in args.classes:
            start = time.perf_counter()
            result = measure(n, Path(tmp), env, size)
            first = first or result
            for command in COMMANDS:
                pss, rss, seconds = result[command]
                growth = pss / first[command][0]
                rows.append(f"| {args.label} | {n} | {side} | {command} | {pss:.0f} | {growth:.2f} | {rss:.0f} | {seconds:.0f} |")
                print(rows[-1], flush=True)
            print(f"# {n} classes: {time.perf_counter() - start:.0f} s", flush=True)
    if args.write:
        if not RESULT.exists():
            intro = header("Bounded memory: the commands on an ImageFolder of 128 px JPEGs", [
                f"{TRAIN_PER_CLASS} train and {TEST_PER_CLASS} test JPEGs a class (128×128 RGB), loaded at the side "
                "given (64: the ImageFolder default). `train detector --epochs 1 --max-steps 20`, `train generator "
                "--steps 50`, `distill --ipc 10 --candidates 2 -o steps=5`, `evaluate --repeats 1 --epochs 1` "
                "(default baselines: random-real, kmeans-real, unrefined). Peak PSS: the command's process and "
                "all its descendants, sampled every 0.25 s; largest RSS: the peak of the largest single process "
                "(getrusage). Growth: PSS over the first class count's in the same invocation.", "",
                "| tree | classes | side | command | peak PSS, process tree (MiB) | growth | largest process RSS (MiB) "
                "| seconds |", "|---|---:|---:|---|---:|---:|---:|---:|"])
            RESULT.write_text(intro)
        with RESULT.open("a") as f:
            f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
