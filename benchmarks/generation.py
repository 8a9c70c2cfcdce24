"""Per-image generation time and peak memory against batch size, for `dit` and `sd`.

By default it builds the random-weight miniatures of both layouts (dgr.testing.tiny_pipelines)
and runs on the CPU in well under a minute: that shows the shape of the curve (batching pays
by amortising per-call overhead), not the numbers of real models. With real weights:

    python benchmarks/generation.py --generator dit --model facebook/DiT-XL-2-256 \\
        --dataset /data/imagenette2 --device cuda --batch-sizes 1,8,32,64 --images 64 --steps 25
    python benchmarks/generation.py --generator sd --model runwayml/stable-diffusion-v1-5 \\
        --dataset /data/cifar10 --device cuda --batch-sizes 1,4,16 --images 32 --steps 50

Prints a table and writes benchmarks/results/generation.md with the machine and the date.
Peak memory: CUDA ``max_memory_allocated`` on a GPU; on the CPU, the peak resident set size
sampled every 20 ms during the run, minus the resident size before it (an estimate).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

RESULTS = Path(__file__).parent / "results" / "generation.md"


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the process's peak so far (monotone)
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def measure(fn: Callable[[], Any], device: str) -> tuple[float, int]:
    """(seconds, peak bytes above the start) of one call."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        return time.perf_counter() - start, torch.cuda.max_memory_allocated() - base
    base = rss_bytes()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return seconds, max(0, max(peak[0], rss_bytes()) - base)


def build(kind: str, model: str, dataset: Any, device: str, batch_size: int, options: dict[str, str]) -> Any:
    """The generator exactly as `dgr distill` builds it (registry, attrs options, factory)."""
    from dgr.components import BuildContext
    from dgr.options import build_config
    from dgr.plugins import build_registry

    entry = build_registry().get("generator", kind)
    config = build_config(entry.config, options, f"generator {kind!r}")
    return entry.factory(BuildContext(dataset=dataset.info, model=model, device=device, batch_size=batch_size,
                                      config=config, train_data=dataset))


def machine(device: str) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    text = f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPU cores, torch {torch.__version__}"
    if device.startswith("cuda"):
        text += f", {torch.cuda.get_device_name(torch.device(device))}"
    return text


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import torch

    from dgr.datasets import load_dataset

    torch.set_grad_enabled(False)
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load_dataset(args.dataset, "train")
    real = torch.from_numpy(dataset.of_class(0)[: max(1, args.images)])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.generator:
            model = args.model
            if model is None:
                from dgr.testing.tiny_pipelines import save_tiny_dit, save_tiny_sd

                model = str(save_tiny_dit(Path(tmp) / "dit", num_classes=len(dataset.class_names)) if kind == "dit"
                            else save_tiny_sd(Path(tmp) / "sd"))
            options = {"steps": str(args.steps), **dict(o.split("=", 1) for o in args.option)}
            gen = build(kind, model, dataset, args.device, max(args.batch_sizes), options)
            prototypes = gen.encode(real)
            prototypes = prototypes[torch.arange(args.images) % len(prototypes)]
            labels = torch.zeros(args.images, dtype=torch.long)
            seeds = list(range(args.images))
            gen.batch_size = min(args.batch_sizes)
            gen.generate(prototypes[:1], labels[:1], seeds[:1])  # warm-up: lazy inits, kernels
            for b in args.batch_sizes:
                gen.batch_size = b
                seconds, peak = measure(partial(gen.generate, prototypes, labels, seeds), args.device)
                rows.append({"generator": kind, "model": args.model or "tiny (random weights)", "batch": b,
                             "images": args.images, "ms_per_image": 1000 * seconds / args.images,
                             "peak_mib": peak / 2**20})
                print(f"{kind:4} batch {b:4d}: {rows[-1]['ms_per_image']:9.1f} ms/image, "
                      f"peak {rows[-1]['peak_mib']:8.1f} MiB", flush=True)
            del gen
    return rows


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def write_markdown(rows: list[dict[str, Any]], args: argparse.Namespace, out: Path) -> str:
    lines = [
        "# Generation: per-image time and peak memory against batch size",
        "",
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='minutes')}",
        f"- machine: {machine(args.device)}",
        f"- device: {args.device}; dataset: {args.dataset}; steps: {args.steps} (× strength 0.7 run); "
        f"images per measurement: {args.images}; torch CPU threads: {torch_threads()}",
        f"- command: `python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:])}`".rstrip(),
        "",
        "| generator | model | batch | ms / image | peak memory (MiB) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['generator']} | {r['model']} | {r['batch']} | {r['ms_per_image']:.1f} | "
                     f"{r['peak_mib']:.1f} |")
    lines += ["", "Peak memory is CUDA max_memory_allocated above the loaded model on a GPU; on the CPU it "
              "is the sampled resident set size above the size before the run (an estimate, noisy for "
              "tiny models). Tiny models have random weights: the numbers show how batching amortises "
              "per-call overhead, not what a real model costs.", ""]
    text = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", default="dit,sd", type=lambda s: s.split(","),
                        help="comma-separated: dit, sd (default both)")
    parser.add_argument("--model", default=None, help="a folder or cached hub id (default: tiny random models)")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-sizes", default=[1, 4, 16], type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--images", default=16, type=int, help="images generated per measurement")
    parser.add_argument("--steps", default=10, type=int)
    parser.add_argument("--threads", default=None, type=int,
                        help="torch CPU threads (default: torch's choice); 1 avoids oversubscription on shared cores")
    parser.add_argument("-o", "--option", action="append", default=[], help="generator option KEY=VALUE")
    parser.add_argument("--out", default=str(RESULTS), type=Path)
    args = parser.parse_args(argv)
    if args.model and len(args.generator) != 1:
        parser.error("--model needs exactly one --generator")
    rows = run(args)
    print(write_markdown(rows, args, args.out))


if __name__ == "__main__":
    main()
