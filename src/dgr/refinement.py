"""Stages 4–5: refinement and selection. Each flagged image gets N candidates from the same
prototype and label with new seeds; the policy picks one, which joins the accepted set
(the class's uniqueness index) before the next pick."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import attrs
import numpy as np

from dgr.components import AnomalyRule, Choice, Detector, Generator, SelectionPolicy
from dgr.detection import apply_rules, blank_or_broken
from dgr.seeds import REFINEMENT_ROUND, derive_seed
from dgr.synthesis import synthesize
from dgr.uniqueness import UniquenessIndex

if TYPE_CHECKING:  # pragma: no cover
    import torch


@attrs.frozen(eq=False)
class Refinement:
    """The outcome for one flagged image."""

    prototype: int
    image: "torch.Tensor"
    seed: int
    choice: Choice
    resolved: bool
    valid_candidates: int
    candidates_generated: int
    reasons: list[str]


def refine(generator: Generator, detector: Detector, rules: Sequence[AnomalyRule], policy: SelectionPolicy,
           *, prototypes: "torch.Tensor", flagged: Sequence[int], class_index: int, run_seed: int,
           candidates: int, batch_size: int, accepted: UniquenessIndex,
           on_batch: Callable[[int], None] | None = None) -> list[Refinement]:
    """Refine every flagged prototype of one class.

    Candidates of all flagged images are generated together in batches (generation does not
    depend on earlier picks); selection is sequential because each winner joins ``accepted``.
    """
    import torch

    if not flagged:
        return []
    protos = torch.cat([prototypes[j:j + 1].expand(candidates, *prototypes.shape[1:]) for j in flagged])
    labels = torch.full((len(protos),), class_index, dtype=torch.long)
    seeds = [derive_seed(run_seed, class_index, j, REFINEMENT_ROUND, i) for j in flagged for i in range(candidates)]
    images = synthesize(generator, protos, labels, seeds, batch_size, on_batch)
    detection = detector.score(images)
    label_array = np.full(len(images), class_index)
    anomalous, reasons = apply_rules(rules, detection, label_array, blank_or_broken(images))
    results = []
    for n, j in enumerate(flagged):
        sl = slice(n * candidates, (n + 1) * candidates)
        cand = detection.take(np.arange(len(images))[sl])
        valid = ~anomalous[sl]
        choice = policy.select(cand, class_index, accepted, valid)
        if not 0 <= choice.index < candidates:
            raise ValueError(f"selection policy {type(policy).__name__} returned index {choice.index} "
                             f"outside 0..{candidates - 1}")
        accepted.add(cand.features[choice.index:choice.index + 1])
        k = n * candidates + choice.index
        results.append(Refinement(prototype=j, image=images[k], seed=seeds[k], choice=choice,
                                  resolved=bool(valid[choice.index]), valid_candidates=int(valid.sum()),
                                  candidates_generated=candidates, reasons=reasons[k]))
    return results
