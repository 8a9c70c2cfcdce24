"""Scale: do `dgr distill`, the training commands and `dgr evaluate` stay flat in memory as classes grow?

For each class count it writes a synthetic ImageFolder in a temporary folder (N classes × 20
images, 64×64 RGB PNGs, made on the fly, nothing kept), trains tiny models on it through the CLI
(`dgr train generator --steps 20`, `dgr train detector --epochs 1 --max-steps 5`, `dgr train clip
--steps 5`), runs `dgr distill` on the streamed folder (DGR_STREAM=1, so every count takes the same
path) and `dgr evaluate` on its run (1 repeat, 1 epoch, random real), and reads each process's peak
RSS (getrusage of a fresh parent that waits for it: the process and its DataLoader workers), the
distillation's seconds per class and the size of the report it wrote. Results:
benchmarks/results/scale.md.

    OMP_NUM_THREADS=1 python benchmarks/scale.py --classes 30 300 1000
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "scale.md"
PER_CLASS = 20
SIDE = 64
DISTILL = ("--ipc", "2", "--candidates", "2", "-o", "steps=5", "-q")
# a fresh parent for each measured command: RUSAGE_CHILDREN then holds that command's peak alone
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "rc = subprocess.run(sys.argv[1:]).returncode; "
           "print('MEASURED', rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t)")


def write_folder(root: Path, classes: int, seed: int = 0) -> Path:
    """N class folders of PER_CLASS 64×64 RGB PNGs: a class colour, a gradient and some noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, SIDE, dtype=np.float32)
    for c in range(classes):
        folder = root / f"class{c:04d}"
        folder.mkdir(parents=True)
        colour = rng.uniform(0.2, 0.8, 3).astype(np.float32)
        for k in range(PER_CLASS):
            noise = rng.normal(0, 0.05, (SIDE, SIDE, 3)).astype(np.float32)
            image = colour * 0.7 + 0.3 * ramp[:, None, None] * ramp[None, :, None] + noise
            Image.fromarray(np.uint8(np.clip(image, 0, 1) * 255), "RGB").save(folder / f"{k:03d}.png")
    return root


def dgr(*args: str, env: dict[str, str]) -> tuple[float, float]:
    """Run `python -m dgr ARGS` under a fresh parent; (peak RSS in MiB, seconds)."""
    done = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "dgr", *args],
                          capture_output=True, text=True, env=env)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("MEASURED")), None)
    if line is None or line.split()[1] != "0":
        raise SystemExit(f"dgr {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    _, _, rss_kib, seconds = line.split()
    return int(rss_kib) / 1024, float(seconds)


def measure(classes: int, work: Path, env: dict[str, str]) -> dict[str, float]:
    data = write_folder(work / f"data{classes}", classes)
    gen, det, run = work / f"gen{classes}", work / f"det{classes}", work / f"run{classes}"
    train_rss, train_s = dgr("train", "generator", "--dataset", str(data), "--out", str(gen), "--steps", "20",
                             "--layers", "1", "--heads", "2", "--head-dim", "16", "--batch-size", "16", env=env)
    det_rss, det_s = dgr("train", "detector", "--dataset", str(data), "--out", str(det), "--epochs", "1",
                         "--max-steps", "5", "--batch-size", "64", env=env)
    rss, seconds = dgr("distill", "--dataset", str(data), "--model", str(gen), "--detector-model", str(det),
                       *DISTILL, "--out", str(run), env=env)
    clip_rss, _ = dgr("train", "clip", "--dataset", str(data), "--out", str(work / f"clip{classes}"), "--steps", "5",
                      "--batch-size", "32", env=env)
    eval_rss, eval_s = dgr("evaluate", str(run), "--repeats", "1", "--epochs", "1", "--baselines", "random-real",
                           env=env)
    header = json.loads((run / "run.json").read_text())
    assert header["status"] == "complete", header["status"]
    stages = sum(header.get("timings", {}).values())
    report = [run / "report.html", *sorted((run / "report-classes").glob("*.html"))]
    return {"classes": classes, "rss_mib": rss, "seconds": seconds, "wall_run": header.get("wall_seconds", 0.0),
            "s_per_class": stages / classes, "report_main_kib": report[0].stat().st_size / 1024,
            "report_total_kib": sum(p.stat().st_size for p in report) / 1024, "pages": len(report) - 1,
            "detector_rss_mib": det_rss, "detector_s": det_s, "generator_rss_mib": train_rss,
            "generator_s": train_s, "clip_rss_mib": clip_rss, "evaluate_rss_mib": eval_rss, "evaluate_s": eval_s}


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def write_results(rows: list[dict[str, float]], command: str) -> None:
    base = rows[0]
    lines = [
        "# Scale: memory and time per class as the class count grows", "",
        f"Machine: {machine()}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')}; "
        f"state the load yourself when it was busy.", f"Date: {dt.date.today().isoformat()}", f"Command: `{command}`", "",
        f"Synthetic ImageFolder, {PER_CLASS} images of {SIDE}×{SIDE} RGB per class, streamed (DGR_STREAM=1); "
        f"`dgr distill {' '.join(DISTILL)}` with a 1-layer pixel DiT (20 training steps) and the ConvNet "
        "detector (5 steps). Peak RSS: each command's process and its workers (getrusage of a fresh parent); "
        "evaluate: 1 repeat of 1 epoch with random real. "
        "Seconds per class: the summed stage times of run.json over the classes (no start-up).", "",
        "| classes | distill peak RSS (MiB) | × the first | s/class | process s | report.html (KiB) | "
        "report, all pages (KiB) | train detector RSS (MiB) | train generator RSS (MiB) | train clip RSS (MiB) | "
        "evaluate RSS (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['classes']} | {r['rss_mib']:.0f} | {r['rss_mib'] / base['rss_mib']:.2f} | "
                     f"{r['s_per_class']:.3f} | {r['seconds']:.0f} | {r['report_main_kib']:.0f} | "
                     f"{r['report_total_kib']:.0f} | {r['detector_rss_mib']:.0f} | {r['generator_rss_mib']:.0f} | "
                     f"{r['clip_rss_mib']:.0f} | {r['evaluate_rss_mib']:.0f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[30, 300, 1000])
    parser.add_argument("--no-write", action="store_true", help="print only; leave results/scale.md alone")
    args = parser.parse_args()
    env = {**os.environ, "DGR_STREAM": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    rows = []
    with tempfile.TemporaryDirectory(prefix="dgr-scale-") as tmp:
        for n in args.classes:
            start = time.perf_counter()
            rows.append(measure(n, Path(tmp), env))
            print(json.dumps({**{k: round(v, 3) for k, v in rows[-1].items()},
                              "bench_seconds": round(time.perf_counter() - start, 1)}), flush=True)
            if not args.no_write:  # after each count: a long run that is stopped keeps what it measured
                write_results(rows, "OMP_NUM_THREADS=1 python benchmarks/scale.py --classes "
                              + " ".join(map(str, args.classes)))


if __name__ == "__main__":
    main()
