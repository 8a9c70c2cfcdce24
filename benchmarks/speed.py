"""Speed of what a newcomer runs first: the quick start (`dgr distill`), the paper's recipe, the
default `dgr evaluate` of the quick start's run, the Fashion-MNIST default, and the polish alone
(one digits class, 200 steps, 1 and 2 threads) — each in a fresh process, as a user runs it.

    python benchmarks/speed.py --label "after" [--evaluate] [--fashion] [--write]

Every row records the machine's load (the run queue and the 1-minute average) just before it ran.
Rows are appended to ``benchmarks/results/speed.md`` with ``--write``, so the rows of two trees
(``--label before --tree OLD``: the commands run from a checkout of the older commit) sit side by side.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, SHARED_FASHION, header

RESULT = RESULTS / "speed.md"
HEAD = ["tree", "what", "wall s", "stage seconds (run.json)", "threads", "load before (queue / 1-min)"]


def load_now() -> str:
    from dgr.threads import busy_cores

    return f"{busy_cores():g} / {os.getloadavg()[0]:.2f}"


ENV = dict(os.environ)  # the commands' environment (--tree points PYTHONPATH at another checkout)


def timed(command: list[str]) -> float:
    """Wall seconds of ``python -m dgr COMMAND`` in a fresh process (its output discarded)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dgr", *command], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def stage_seconds(run: Path) -> str:
    timings = json.loads((run / "run.json").read_text()).get("timings", {})
    return ", ".join(f"{k} {v:.1f}" for k, v in timings.items() if v >= 0.05)


def polish_row(threads: int) -> tuple[float, str]:
    """Seconds of the polish of one digits class (IPC 10, 200 steps) with ``threads`` torch threads."""
    code = ("import time, torch; from dgr.datasets import load_dataset; "
            "from dgr.polishing import PolishSettings, polish_class; "
            f"torch.set_num_threads({threads}); d = load_dataset('digits', 'train'); "
            "real = torch.from_numpy(d.of_class(3)); images = real[:10].clone(); "
            "polish_class(images, real, PolishSettings(steps=5, flips=False), 1); t = time.perf_counter(); "
            "polish_class(images, real, PolishSettings(steps=200, flips=False), 1); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=ENV).stdout
    return float(out.strip().splitlines()[-1]), str(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="names the tree measured (a column of the table)")
    parser.add_argument("--evaluate", action="store_true", help="also time the default `dgr evaluate` of the run")
    parser.add_argument("--fashion", action="store_true", help="also time the Fashion-MNIST default distill")
    parser.add_argument("--tree", type=Path, help="run the commands from this checkout (src/ and plugins/)")
    parser.add_argument("--write", action="store_true", help=f"append the rows to {RESULT}")
    args = parser.parse_args()
    if args.tree:
        ENV["PYTHONPATH"] = os.pathsep.join(str(args.tree.resolve() / part) for part in ("src", "plugins"))
    rows: list[list[str]] = []

    def add(what: str, wall: float, stages: str, threads: str, load: str) -> None:
        rows.append([args.label, what, f"{wall:.1f}", stages, threads, load])
        print(" | ".join(rows[-1]), flush=True)

    for threads in (1, 2):
        load = load_now()
        seconds, used = polish_row(threads)
        add("polish of one digits class (10 images, 200 steps)", seconds, "", used, load)
    with tempfile.TemporaryDirectory() as tmp:
        quick = Path(tmp) / "digits"
        load = load_now()
        add("quick start: `dgr distill`", timed(["distill", "--out", str(quick), "-q"]), stage_seconds(quick),
            "default", load)
        paper = Path(tmp) / "paper"
        load = load_now()
        add("`dgr distill --recipe paper`", timed(["distill", "--recipe", "paper", "--out", str(paper), "-q"]),
            stage_seconds(paper), "default", load)
        if args.evaluate:
            load = load_now()
            add("`dgr evaluate` of the quick start's run (20 students)",
                timed(["evaluate", str(quick), "--no-cache"]), "", "default", load)
        if args.fashion:
            fashion = Path(tmp) / "fashion"
            load = load_now()
            add("`dgr distill --dataset fashion-mnist` (default recipe)",
                timed(["distill", "--dataset", "fashion-mnist", "--data-dir", str(SHARED_FASHION), "--out",
                       str(fashion), "-q"]), stage_seconds(fashion), "default", load)
    if args.write:
        table = "\n".join("| " + " | ".join(r) + " |" for r in rows)
        if not RESULT.exists():
            intro = header("Speed of the first commands", [
                "Each row: a fresh process, wall seconds as a user waits for them; `threads` default means dgr "
                "chose (the cores other processes leave free). The load column is the run queue (other "
                "runnable processes) and the 1-minute load average just before the row ran."])
            RESULT.write_text(intro + "\n| " + " | ".join(HEAD) + " |\n|" + "---|" * len(HEAD) + "\n")
        with RESULT.open("a") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
