"""Ablation of the generator recipe (size, training steps, EMA): each variant retrains the pixel DiT
with one change to the shipped recipe (the ``training`` block of the dataset's shipped
``dgr_model.json``), distils with the paper's settings (or the sampling options given with ``-o``)
and scores the first images (initial/) and the refined set (images/) under a protocol (dc by
default), hard labels, beside random real images with the same draw and student seed.

    python benchmarks/generator_ablation.py --dataset digits --seeds 0,1,2 \\
        --variants shipped,steps=500,steps=3000,ema_decay=0.999,layers=2,layers=6 --write
    python benchmarks/generator_ablation.py --dataset fashion-mnist -o strength=0.5 \\
        --variants shipped,steps=4500 --write

A variant is ``shipped`` (the packaged model, not retrained) or ``key=value`` changes to the recipe
joined by ``+`` (``steps=3000+ema_decay=0.999``); keys are the fields of
``dgr.training.generator.GeneratorTraining``. Trained generators go to
benchmarks/cache/generators/<dataset>-<variant>/ (training checkpoints there, so a stopped
ablation resumes; a finished folder with the same recipe, e.g. one ``dgr train generator`` wrote,
is used as it is), finished cells to benchmarks/cache/generator-ablation-<dataset>-ipc<IPC><options>.json
and the table to benchmarks/results/ablation-generator-<dataset>-ipc<IPC><options>.md.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import CACHE, RESULTS, StudentBench, cached_cell, default_candidates, header, mean_std, table, write_result


def recipe(shipped: dict, variant: str) -> dict:
    """The shipped recipe with the variant's ``key=value`` changes, each cast to the field's type."""
    import attrs

    from dgr.training.generator import GeneratorTraining

    fields = {f.name: f for f in attrs.fields(GeneratorTraining)}
    settings = {**{name: f.default for name, f in fields.items()}, **shipped}
    for change in variant.split("+"):
        key, _, value = change.partition("=")
        if key not in fields:
            raise SystemExit(f"unknown recipe field {key!r}; use one of {', '.join(fields)}")
        default = fields[key].default
        settings[key] = type(default)(value) if default is not None else int(value)  # None: a size
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variants", default="shipped")
    parser.add_argument("--protocol", default="dc")
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a sampling option of every run (strength, guidance, steps, scheduler)")
    parser.add_argument("--write", action="store_true", help="also write the table of every cached cell")
    args = parser.parse_args()

    from dgr.assets import embedded_model
    from dgr.training.generator import GeneratorTraining, train_pixel_dit

    shipped_model = embedded_model("generator", args.dataset)
    if shipped_model is None:
        raise SystemExit(f"no shipped {args.dataset} generator to ablate")
    shipped_meta = json.loads((shipped_model / "dgr_model.json").read_text())
    shipped = shipped_meta["training"]
    bench = StudentBench(args.dataset, args.data_dir, args.protocol)
    options = dict(option.split("=", 1) for option in args.option)
    name = f"{args.dataset}-ipc{args.ipc}" + "".join(f"-{key}{value}" for key, value in sorted(options.items()))
    cells = CACHE / f"generator-ablation-{name}.json"
    seeds = [int(s) for s in args.seeds.split(",")]
    bench.random_real_cells(cells, args.ipc, seeds)
    for variant in args.variants.split(","):
        model = shipped_model if variant == "shipped" else CACHE / "generators" / f"{args.dataset}-{variant}"

        def trained() -> dict:
            if variant == "shipped":
                meta = shipped_meta
            else:
                meta = finished_generator(model, recipe(shipped, variant)) or train_pixel_dit(
                    bench.train, model, GeneratorTraining(**recipe(shipped, variant)), resume=True)
            return {"final_loss": meta["final_loss"], "seconds": meta["seconds"]}

        training = cached_cell(cells, f"{variant}|train", trained)
        print(f"{variant}: final loss {training['final_loss']:.4f}, {training['seconds']} s", flush=True)
        for seed in seeds:
            out = CACHE / "runs" / f"generator-ablation-{name}-s{seed}-{variant}"
            bench.run_cells(cells, variant, seed, out, args.ipc, model=str(model), options=options)
    if args.write:
        write(args, cells, shipped, name, options)


def finished_generator(model: Path, settings: dict) -> dict | None:
    """The metadata of a generator already trained into ``model`` with exactly ``settings``, else None."""
    from dgr.training.generator import GENERATOR_META_FILE

    meta_file = model / GENERATOR_META_FILE
    if not meta_file.exists():
        return None
    meta = json.loads(meta_file.read_text())
    return meta if meta.get("training") == settings else None


def write(args, cells: Path, shipped: dict, name: str, options: dict[str, str]) -> None:
    import numpy as np

    data = json.loads(cells.read_text())
    real = {k.split("|")[1]: v["accuracy"] for k, v in data.items()
            if k.startswith("random-real|") and k.endswith(f"|{args.protocol}")}
    rows = [["random real (same draw and student seed)", "–", "–", mean_std(list(real.values())), "–", "–", "–",
             "–"]]
    variants = sorted({k.split("|")[0] for k in data if k.endswith("|train")}, key=lambda v: (v != "shipped", v))
    for variant in variants:
        def values(part: str) -> dict[str, float]:
            return {k.split("|")[1]: v["accuracy"] for k, v in data.items()
                    if k.startswith(f"{variant}|") and k.endswith(f"|{args.protocol}|{part}")}

        first, refined = values("initial"), values("images")
        paired = sorted(set(first) & set(refined) & set(real))
        flagged = [v["flagged"] for k, v in data.items() if k.startswith(f"{variant}|") and k.endswith("|run")]
        training = data[f"{variant}|train"]
        rows.append([variant, f"{training['final_loss']:.4f}", f"{training['seconds']:.0f}",
                     mean_std(list(first.values())), mean_std(list(refined.values())),
                     f"{100 * np.mean([refined[s] - first[s] for s in paired]):+.1f}" if paired else "–",
                     f"{100 * np.mean([refined[s] - real[s] for s in paired]):+.1f}" if paired else "–",
                     f"{100 * np.mean(flagged):.0f}" if flagged else "–"])
    recipe_text = ", ".join(f"{k} {v}" for k, v in shipped.items())
    sampling = ", ".join(f"{k} {v}" for k, v in sorted(options.items()))
    settings = (f"the paper's settings changed to {sampling}" if sampling
                else "the paper's settings (strength 0.7, 25 steps, guidance 2, ddim, τ 0.7, λ 0.5)")
    lines = [f"{args.dataset}, IPC {args.ipc}, protocol **{args.protocol}**, hard labels, final-epoch accuracy on "
             f"the test split; seeds: distillation seed = real draw = student seed. The shipped detector; "
             f"{settings}, {default_candidates()} candidates, early stop, no polish. `shipped`: the packaged generator ({recipe_text}); every other row retrains it "
             "with the named change. Training seconds are one torch thread's wall.", ""]
    text = header(f"Ablation: the generator recipe, {args.dataset}", lines)
    text += table(["generator", "final loss", "train s", "first images %", "after refinement %",
                   "refinement (points)", "DGR − random real", "flagged %"], rows)
    write_result(RESULTS / f"ablation-generator-{name}.md", text)
    print(text)


if __name__ == "__main__":
    main()
