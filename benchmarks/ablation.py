"""Ablations of the pipeline's knobs: each variant is one change to the paper's run (sampling
strength, guidance or steps; the selection policy; the threshold), scored on its first images
(initial/: what sampling alone gives) and on its refined set (selected/ or images/: what detection,
refinement and selection add), under a protocol (dc by default), hard labels.

    python benchmarks/ablation.py --dataset fashion-mnist --seeds 0 --variants paper,strength=0.5,guidance=4
    python benchmarks/ablation.py --dataset fashion-mnist --seeds 0 --variants paper,policy=confidence --write

A variant is ``paper`` or ``key=value`` of: strength, guidance, steps, scheduler (generator options),
policy (a selection policy name), threshold (τ), weight (the policy's λ: the pull towards
images unlike the class's accepted ones, i.e. diversity within a class), rules (the anomaly
rules joined by ``+``: ``rules=mismatch`` flags only images the detector calls another class),
refine (``refine=members``: candidates start from the prototype's cluster members, beyond the paper),
prototypes (``prototypes=medoids``: each prototype is its cluster's real medoid, beyond the paper),
early_stop (``early_stop=off``: every candidate is generated and scored, as in the paper, instead of
stopping at the first confident valid one), candidates (N, the candidates per flagged image; 20 unless told).
Changes join with ``/`` into one variant: ``strength=0.5/refine=members``.
Runs use the shipped models, 20 candidates (unless ``candidates=N``) and early stop (unless ``early_stop=off``), as quality.py's
DGR rows do; finished cells are cached in benchmarks/cache/ablation-<dataset>-ipc<IPC>-<detector hash>.json
and the table goes to benchmarks/results/ablation-<dataset>-ipc<IPC>.md.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from common import CACHE, RESULTS, StudentBench, default_candidates, header, mean_std, table, write_result

GENERATOR_KEYS = ("strength", "guidance", "steps", "scheduler")


def run_arguments(variant: str) -> dict[str, Any]:
    """``dgr.distill`` keyword arguments that make ``variant`` (``paper`` makes none)."""
    if variant == "paper":
        return {}
    merged: dict[str, Any] = {}
    for change in variant.split("/"):
        arguments = change_arguments(change)
        options = {**merged.get("options", {}), **arguments.pop("options", {})}
        merged.update(arguments)
        if options:
            merged["options"] = options
    return merged


def change_arguments(variant: str) -> dict[str, Any]:
    """The keyword arguments of one ``key=value`` change."""
    key, _, value = variant.partition("=")
    if key in GENERATOR_KEYS:
        return {"options": {key: value}}
    if key == "policy":
        return {"policy": value}
    if key == "threshold":
        return {"threshold": float(value)}
    if key == "weight":
        return {"uniqueness_weight": float(value)}
    if key == "rules":
        return {"rules": value.split("+")}
    if key == "refine":
        return {"refine_from": value}
    if key == "prototypes":
        return {"prototypes": value}
    if key == "candidates":
        return {"candidates": int(value)}
    if key == "early_stop" and value in ("on", "off"):
        return {"early_stop": value == "on"}
    raise SystemExit(f"unknown variant {variant!r}: use paper or one of {', '.join(GENERATOR_KEYS)}, policy, "
                     "threshold, weight, rules, refine, prototypes, candidates, early_stop (on/off) as key=value, joined by /")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--variants", default="paper")
    parser.add_argument("--protocol", default="dc")
    parser.add_argument("--write", action="store_true", help="also write the table of every cached cell")
    parser.add_argument("--table", default=None, help="result file name in benchmarks/results/ "
                                                       "[default: ablation-DATASET-ipcIPC.md]")
    args = parser.parse_args()

    from dgr.assets import embedded_model
    from quality import weights_hash

    bench = StudentBench(args.dataset, args.data_dir, args.protocol)
    det = weights_hash(embedded_model("detector", args.dataset))
    cells = CACHE / f"ablation-{args.dataset}-ipc{args.ipc}-det{det}.json"
    seeds = [int(s) for s in args.seeds.split(",")]
    bench.random_real_cells(cells, args.ipc, seeds)
    for variant in args.variants.split(","):
        extra = run_arguments(variant)
        for seed in seeds:
            out = CACHE / "runs" / f"ablation-{args.dataset}-ipc{args.ipc}-s{seed}-{variant.replace('/', '-')}-det{det}"
            bench.run_cells(cells, variant, seed, out, args.ipc, **extra)
    if args.write:
        write(args, cells, det)


def write(args, cells, det: str) -> None:
    import numpy as np

    data = json.loads(cells.read_text())
    variants = sorted({key.split("|")[0] for key in data} - {"random-real"}, key=lambda v: (v != "paper", v))
    real = [v["accuracy"] for k, v in sorted(data.items()) if k.startswith("random-real|")
            and k.endswith(f"|{args.protocol}")]
    rows = [["random real (same draw and student seed)", mean_std(real), "–", "–", "–", str(len(real))]]
    for variant in variants:
        def values(part: str) -> list[float]:
            return [v["accuracy"] for k, v in sorted(data.items())
                    if k.startswith(f"{variant}|") and k.endswith(f"|{args.protocol}|{part}")]

        first, refined = values("initial"), values("images")
        n = min(len(first), len(refined))
        flagged = [v["flagged"] for k, v in data.items() if k.startswith(f"{variant}|") and k.endswith("|run")]
        rows.append([variant, mean_std(first), mean_std(refined),
                     f"{100 * np.mean(np.subtract(refined[:n], first[:n])):+.1f}" if n else "–",
                     f"{100 * np.mean(flagged):.0f}", str(n)])
    lines = [f"{args.dataset}, IPC {args.ipc}, protocol **{args.protocol}**, hard labels, final-epoch accuracy on "
             f"the test split; seeds: distillation seed = student seed. Shipped models (detector {det}), {default_candidates()} "
             "candidates (unless the variant sets `candidates`), early stop (unless the variant is `early_stop=off`), "
             "no polish. `paper`: strength 0.7, "
             "25 steps, guidance 2, ddim, "
             "confidence-uniqueness (λ 0.5), τ 0.7; every other row changes one of these.", ""]
    text = header(f"Ablation: sampling and selection, {args.dataset}", lines)
    text += table(["variant", "first images %", "after refinement %", "refinement (points)", "flagged %", "seeds"],
                  rows)
    write_result(RESULTS / (args.table or f"ablation-{args.dataset}-ipc{args.ipc}.md"), text)
    print(text)


if __name__ == "__main__":
    main()
