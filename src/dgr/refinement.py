"""Stages 4–5: refinement and selection. Each flagged image gets N candidates from the same
prototype and label with new seeds; the policy picks one, which joins the accepted set
(the class's uniqueness index) before the next pick.

With ``early_stop`` the candidates come in rounds of ``EARLY_STOP_BATCH`` per flagged image
(one generator batch for all images still searching); an image stops searching once a round
holds a candidate that passes every rule with margin: p(label) ≥ τ + ``EARLY_STOP_MARGIN``,
τ being the largest ``threshold`` among the rules (0 without one). Its candidates are then a
prefix of the ones the full search would generate (same seeds), and the policy picks among them.

Candidates start from the flagged image's prototype (the paper), or, with ``anchors`` (``--refine-from
members``, beyond the paper), from the real images of the prototype's k-means cluster: candidate i
starts from the cluster's i-th nearest member (cycling when the cluster is smaller than N).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import attrs
import numpy as np

from dgr.components import AnomalyRule, Choice, Detection, Detector, Generator, SelectionPolicy
from dgr.detection import apply_rules, blank_or_broken
from dgr.seeds import REFINEMENT_ROUND, derive_seed
from dgr.synthesis import synthesize
from dgr.uniqueness import UniquenessIndex

EARLY_STOP_BATCH = 4
EARLY_STOP_MARGIN = 0.1

if TYPE_CHECKING:  # pragma: no cover
    import torch


@attrs.frozen(eq=False)
class Refinement:
    """The outcome for one flagged image."""

    prototype: int
    image: "torch.Tensor"
    detection: Detection  # the chosen candidate's row: probabilities and features
    seed: int
    choice: Choice
    resolved: bool
    valid_candidates: int
    candidates_generated: int
    reasons: list[str]
    kept_original: bool = False  # no candidate passed and none beat the original's p(label)
    original_confidence: float | None = None  # the flagged original's p(label), when unresolved
    anchor: int | None = None  # the class's real image the chosen candidate started from (anchors only)


@attrs.frozen(eq=False)
class Anchors:
    """Where candidates start: for prototype j, candidate i starts from the real latent
    ``latents[members[j][i % len(members[j])]]`` (members: indices into the class's real images)."""

    latents: "torch.Tensor"
    members: Sequence[np.ndarray]

    def member(self, j: int, i: int) -> int:
        """The index of the real image candidate i of prototype j starts from."""
        own = self.members[j]
        return int(own[i % len(own)])

    def starts(self, j: int, start: int, stop: int) -> "torch.Tensor":
        """The real latents candidates ``start`` to ``stop`` of prototype j start from."""
        return self.latents[[self.member(j, i) for i in range(start, stop)]]


def _starts(prototypes: "torch.Tensor", anchors: Anchors | None, j: int, start: int, stop: int) -> "torch.Tensor":
    """The starting latents of candidates start..stop-1 of prototype j."""
    if anchors is None:
        return prototypes[j:j + 1].expand(stop - start, *prototypes.shape[1:])
    return anchors.starts(j, start, stop)


def refine(generator: Generator, detector: Detector, rules: Sequence[AnomalyRule], policy: SelectionPolicy,
           *, prototypes: "torch.Tensor", flagged: Sequence[int], class_index: int, run_seed: int,
           candidates: int, batch_size: int, accepted: UniquenessIndex,
           originals: "torch.Tensor | None" = None, original_detection: Detection | None = None,
           anchors: Anchors | None = None, on_batch: Callable[[int], None] | None = None, early_stop: bool = False,
           early_stop_batch: int = EARLY_STOP_BATCH, early_stop_margin: float = EARLY_STOP_MARGIN) -> list[Refinement]:
    """Refine every flagged prototype of one class.

    Candidates of all flagged images are generated together in batches (generation does not
    depend on earlier picks); selection is sequential because each winner joins ``accepted``.
    ``early_stop`` generates them in rounds instead and stops an image's search early (see the
    module docstring); ``on_batch`` then reports fewer images than ``len(flagged) * candidates``.

    When no candidate passes the rules, the fallback never makes an image worse on the rules' own
    measure: the candidate with the highest p(label) replaces the original only if it beats the
    original's p(label) (``originals``/``original_detection``: the class's first images and scores).
    ``anchors``: candidates start from the prototypes' cluster members instead of the prototypes.
    """
    if not flagged:
        return []
    if early_stop:
        pools = _early_stop_pools(generator, detector, rules, prototypes=prototypes, anchors=anchors, flagged=flagged,
                                  class_index=class_index, run_seed=run_seed, candidates=candidates,
                                  batch_size=batch_size, on_batch=on_batch, round_size=early_stop_batch,
                                  margin=early_stop_margin)
    else:
        pools = _full_pools(generator, detector, rules, prototypes=prototypes, anchors=anchors, flagged=flagged,
                            class_index=class_index, run_seed=run_seed, candidates=candidates,
                            batch_size=batch_size, on_batch=on_batch)
    results = []
    for j, pool in zip(flagged, pools):
        if pool.valid.any():
            result = _pick(policy, pool, j, class_index, accepted)
        else:
            if originals is not None and original_detection is not None:
                result = _fallback(pool, j, class_index, accepted, originals[j], original_detection.take([j]))
            else:
                result = _fallback(pool, j, class_index, accepted, None, None)
        if anchors is not None and not result.kept_original:
            result = attrs.evolve(result, anchor=anchors.member(j, result.choice.index))  # index = candidate i
        results.append(result)
    return results


def _pick(policy: SelectionPolicy, pool: "_Pool", j: int, class_index: int,
          accepted: UniquenessIndex) -> Refinement:
    """The policy's choice among the candidates (some pass the rules)."""
    count = len(pool.seeds)
    choice = policy.select(pool.detection, class_index, accepted, pool.valid)
    if not 0 <= choice.index < count:
        raise ValueError(f"selection policy {type(policy).__name__} returned index {choice.index} "
                         f"outside 0..{count - 1}")
    k = choice.index
    accepted.add(pool.detection.features[k:k + 1])
    return Refinement(prototype=j, image=pool.images[k], detection=pool.detection.take([k]), seed=pool.seeds[k],
                      choice=choice, resolved=bool(pool.valid[k]), valid_candidates=int(pool.valid.sum()),
                      candidates_generated=count, reasons=pool.reasons[k])


def _fallback(pool: "_Pool", j: int, class_index: int, accepted: UniquenessIndex,
              original: "torch.Tensor | None", original_detection: Detection | None) -> Refinement:
    """No candidate passes: keep the best of the candidates and the original by p(label)."""
    count = len(pool.seeds)
    confidence = pool.detection.confidence(class_index)
    k = int(np.argmax(confidence))
    choice = Choice(index=k, score=float(confidence[k]), parts={"confidence": float(confidence[k])})
    original_confidence = None
    keep_original = False
    if original is not None and original_detection is not None:
        original_confidence = float(original_detection.confidence(class_index)[0])
        keep_original = original_confidence > float(confidence[k])
    detection = original_detection if keep_original and original_detection is not None else pool.detection.take([k])
    accepted.add(detection.features)
    image = original if keep_original and original is not None else pool.images[k]
    return Refinement(prototype=j, image=image, detection=detection,
                      seed=pool.seeds[k], choice=choice, resolved=False, valid_candidates=0,
                      candidates_generated=count, reasons=pool.reasons[k], kept_original=keep_original,
                      original_confidence=original_confidence)


@attrs.frozen(eq=False)
class _Pool:
    """The candidates generated for one flagged image."""

    images: "torch.Tensor"
    seeds: list[int]
    detection: Detection
    valid: np.ndarray
    reasons: list[list[str]]


def _full_pools(generator: Generator, detector: Detector, rules: Sequence[AnomalyRule], *,
                prototypes: "torch.Tensor", anchors: Anchors | None, flagged: Sequence[int], class_index: int,
                run_seed: int,
                candidates: int, batch_size: int, on_batch: Callable[[int], None] | None) -> list[_Pool]:
    import torch

    protos = torch.cat([_starts(prototypes, anchors, j, 0, candidates) for j in flagged])
    labels = torch.full((len(protos),), class_index, dtype=torch.long)
    seeds = [derive_seed(run_seed, class_index, j, REFINEMENT_ROUND, i) for j in flagged for i in range(candidates)]
    images = synthesize(generator, protos, labels, seeds, batch_size, on_batch)
    detection = detector.score(images)
    anomalous, reasons = apply_rules(rules, detection, np.full(len(images), class_index), blank_or_broken(images))
    pools = []
    for n in range(len(flagged)):
        sl = slice(n * candidates, (n + 1) * candidates)
        pools.append(_Pool(images=images[sl], seeds=seeds[sl], detection=detection.take(np.arange(len(images))[sl]),
                           valid=~anomalous[sl], reasons=reasons[sl]))
    return pools


def stop_threshold(rules: Sequence[AnomalyRule], margin: float) -> float:
    """The p(label) a valid candidate needs to end an early-stopped search: τ + margin, τ being
    the largest ``AnomalyRule.threshold`` of the rules."""
    tau = max((float(rule.threshold) for rule in rules), default=0.0)
    return min(tau + margin, 1.0)


def _early_stop_pools(generator: Generator, detector: Detector, rules: Sequence[AnomalyRule], *,
                      prototypes: "torch.Tensor", anchors: Anchors | None, flagged: Sequence[int], class_index: int,
                run_seed: int,
                      candidates: int, batch_size: int, on_batch: Callable[[int], None] | None,
                      round_size: int, margin: float) -> list[_Pool]:
    import torch

    if round_size < 1:
        raise ValueError(f"early-stop batch must be at least 1, got {round_size}")
    needed = stop_threshold(rules, margin)
    parts: dict[int, list[tuple["torch.Tensor", list[int], Detection, np.ndarray, list[list[str]]]]] = \
        {j: [] for j in flagged}
    searching = list(flagged)
    for start in range(0, candidates, round_size):
        stop = min(start + round_size, candidates)
        if not searching:
            break
        width = stop - start
        protos = torch.cat([_starts(prototypes, anchors, j, start, stop) for j in searching])
        labels = torch.full((len(protos),), class_index, dtype=torch.long)
        seeds = [derive_seed(run_seed, class_index, j, REFINEMENT_ROUND, i) for j in searching
                 for i in range(start, stop)]
        images = synthesize(generator, protos, labels, seeds, batch_size, on_batch)
        detection = detector.score(images)
        anomalous, reasons = apply_rules(rules, detection, np.full(len(images), class_index),
                                         blank_or_broken(images))
        confident = detection.confidence(class_index) >= needed
        still = []
        for n, j in enumerate(searching):
            sl = slice(n * width, (n + 1) * width)
            parts[j].append((images[sl], seeds[sl], detection.take(np.arange(len(images))[sl]), ~anomalous[sl],
                             reasons[sl]))
            if not (~anomalous[sl] & confident[sl]).any():
                still.append(j)
        searching = still
    return [_Pool(images=torch.cat([p[0] for p in parts[j]]), seeds=[s for p in parts[j] for s in p[1]],
                  detection=Detection.concat([p[2] for p in parts[j]]),
                  valid=np.concatenate([p[3] for p in parts[j]]), reasons=[r for p in parts[j] for r in p[4]])
            for j in flagged]
