"""Compose dgr from Python with component *instances* instead of registered names.

Runs offline on the bundled digits data with the embedded generator and detector:

    python examples/compose.py --out runs/compose --ipc 5

Every component is a plain object with the right method (see dgr.components); nothing
here is registered as a plugin. To make one of them available by name to the CLI, register
a factory for it (docs/plugins.md).
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import dgr
from dgr.components import BuildContext, Choice, Detection
from dgr.selection import best_valid, uniqueness


class MarginRule:
    """An anomaly rule: flags images whose label wins by less than ``min_margin``."""

    threshold = 0.0  # tests no p(label) floor (the AnomalyRule protocol; --early-stop reads it)

    def __init__(self, min_margin: float = 0.3) -> None:
        self.min_margin = min_margin

    def flag(self, detection: Detection, labels: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        probs = detection.probs
        rows = np.arange(len(probs))
        own = probs[rows, labels]
        others = probs.copy()
        others[rows, labels] = -1.0
        margin = own - others.max(1)
        mask = margin < self.min_margin
        return mask, [f"margin: {m:.3f} < {self.min_margin}" if f else None for f, m in zip(mask, margin)]


class MostDiverseConfident:
    """A selection policy: among candidates with p(label) ≥ ``floor``, the most unique one."""

    def __init__(self, floor: float = 0.9) -> None:
        self.floor = floor

    def select(self, candidates: Detection, label: int, accepted: Any, valid: np.ndarray) -> Choice:
        confidence = candidates.confidence(label)
        unique = uniqueness(accepted, candidates.features)
        scores = np.where(confidence >= self.floor, 1.0 + unique, confidence)  # confident ones first
        i = best_valid(scores, valid)
        return Choice(i, float(scores[i]), {"confidence": float(confidence[i]), "uniqueness": float(unique[i])})


def build_components(steps: int) -> dict[str, Any]:
    """The embedded digits generator and detector, built as instances; rules and policy as above."""
    from dgr.assets import embedded_model
    from dgr.datasets import load_dataset
    from dgr.models.convnet import ConvNetClassifier
    from dgr_plugins.detectors.convnet.detector import ConvNetDetector
    from dgr_plugins.generators.dit import DiTOptions
    from dgr_plugins.generators.dit.generator import DiTGenerator
    from dgr_plugins.detectors.ensemble.detector import EnsembleDetector
    from dgr_plugins.rules import LowConfidenceRule, MismatchRule

    info = load_dataset("digits", "train").info
    generator = DiTGenerator.from_context(BuildContext(dataset=info, config=DiTOptions(steps=steps)))
    classifier = ConvNetClassifier.from_pretrained(embedded_model("detector", "digits"))
    sharp = ConvNetDetector(classifier, temperature=classifier.temperature)
    soft = ConvNetDetector(classifier, temperature=2 * classifier.temperature)
    # Any detector instances combine; two temperatures of one model stand in for two models here.
    detector = EnsembleDetector([sharp, soft], weights=[2, 1], features=0, names=["sharp", "soft"])
    return {"generator": generator, "detector": detector,
            "rules": [MismatchRule(), LowConfidenceRule(0.8), MarginRule(0.3)],
            "policy": MostDiverseConfident(floor=0.9)}


def main(argv: list[str] | None = None) -> dgr.api.DistillResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/compose")
    parser.add_argument("--ipc", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--steps", type=int, default=25, help="denoising steps of the generator")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)

    components = build_components(args.steps)
    result = dgr.distill(dataset="digits", recipe="paper", ipc=args.ipc, candidates=args.candidates, out=args.out,
                         overwrite=args.overwrite, **components)
    c = result.counts
    print(f"{c.get('images', 0)} images in {result.images_dir} (initial anomalies {c.get('initial_anomalies', 0)}, "
          f"refined {c.get('refined', 0)}, unresolved {c.get('unresolved', 0)})")
    return result


if __name__ == "__main__":
    main()
