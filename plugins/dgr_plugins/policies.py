"""Selection policies: ``confidence-uniqueness`` (the paper's), ``informative``, ``confidence``,
``uniqueness`` and ``first-valid``.

Every policy picks among the candidates that pass the anomaly rules (``valid``); when none
does, it picks among all and the pipeline marks the result ``unresolved``.
"""
from __future__ import annotations

import attrs
import numpy as np

import dgr
from dgr.components import Choice
from dgr.selection import best_valid, uniqueness


@attrs.frozen
class ConfidenceUniquenessOptions:
    """Options of ``confidence-uniqueness`` and ``informative``: the weight λ."""

    weight: float = 0.5  # λ

    def __attrs_post_init__(self) -> None:
        if self.weight < 0:
            raise ValueError("weight (λ) must be ≥ 0")


@attrs.frozen
class ConfidenceUniqueness:
    """p(label | x) + λ · (1 − max cosine similarity to the class's accepted images)."""

    weight: float = attrs.field(default=attrs.fields(ConfidenceUniquenessOptions).weight.default)

    def select(self, candidates: dgr.Detection, label: int, accepted: dgr.UniquenessIndexLike,
               valid: np.ndarray) -> Choice:
        """The valid candidate (any, when none is) with the highest p(label) + λ·uniqueness."""
        confidence = candidates.confidence(label)
        unique = uniqueness(accepted, candidates.features)
        scores = confidence + self.weight * unique
        i = best_valid(scores, valid)
        return Choice(i, float(scores[i]), {"confidence": float(confidence[i]), "uniqueness": float(unique[i])})


@attrs.frozen
class Informative:
    """(1 − p(label | x)) + λ · uniqueness among the valid candidates: the least trivial image
    the detector still calls correct (every valid candidate has p ≥ τ and the right argmax), for
    sets where easy, prototypical images teach a student little (higher IPC). Beyond the paper."""

    weight: float = attrs.field(default=attrs.fields(ConfidenceUniquenessOptions).weight.default)

    def select(self, candidates: dgr.Detection, label: int, accepted: dgr.UniquenessIndexLike,
               valid: np.ndarray) -> Choice:
        """The valid candidate with the highest (1 − p(label)) + λ·uniqueness; with none valid, the most confident."""
        confidence = candidates.confidence(label)
        unique = uniqueness(accepted, candidates.features)
        scores = (1.0 - confidence) + self.weight * unique
        if not valid.any():  # nothing passes: the most confident, as the other policies fall back
            scores = confidence
        i = best_valid(scores, valid)
        return Choice(i, float(scores[i]), {"confidence": float(confidence[i]), "uniqueness": float(unique[i])})


class Confidence:
    """The most confident candidate."""

    def select(self, candidates: dgr.Detection, label: int, accepted: dgr.UniquenessIndexLike,
               valid: np.ndarray) -> Choice:
        """The valid candidate (any, when none is) with the highest p(label)."""
        confidence = candidates.confidence(label)
        i = best_valid(confidence, valid)
        unique = uniqueness(accepted, candidates.features[i:i + 1])[0]
        return Choice(i, float(confidence[i]), {"confidence": float(confidence[i]), "uniqueness": float(unique)})


class Uniqueness:
    """The candidate least similar to the accepted images."""

    def select(self, candidates: dgr.Detection, label: int, accepted: dgr.UniquenessIndexLike,
               valid: np.ndarray) -> Choice:
        """The valid candidate (any, when none is) least similar to the accepted images."""
        unique = uniqueness(accepted, candidates.features)
        i = best_valid(unique, valid)
        confidence = float(candidates.confidence(label)[i])
        return Choice(i, float(unique[i]), {"confidence": confidence, "uniqueness": float(unique[i])})


class FirstValid:
    """The first candidate that passes the rules (the cheapest policy)."""

    def select(self, candidates: dgr.Detection, label: int, accepted: dgr.UniquenessIndexLike,
               valid: np.ndarray) -> Choice:
        """The first valid candidate (the first, when none is)."""
        i = best_valid(-np.arange(len(valid), dtype=np.float64), valid)
        confidence = float(candidates.confidence(label)[i])
        unique = uniqueness(accepted, candidates.features[i:i + 1])[0]
        return Choice(i, confidence, {"confidence": confidence, "uniqueness": float(unique)})


@dgr.hookimpl
def dgr_register_selection_policies(register: dgr.Register) -> None:
    """Register the built-in selection policies."""
    register("confidence-uniqueness",
             lambda context: ConfidenceUniqueness(context.config.weight),
             config=ConfidenceUniquenessOptions,
             summary="p(label) + λ·(1 − max similarity to accepted images) (paper default)")
    register("informative", lambda context: Informative(context.config.weight), config=ConfidenceUniquenessOptions,
             summary="(1 − p(label)) + λ·uniqueness among valid candidates: correct but not trivial (beyond the paper)")
    register("confidence", lambda context: Confidence(), summary="highest p(label)")
    register("uniqueness", lambda context: Uniqueness(), summary="least similar to the accepted images")
    register("first-valid", lambda context: FirstValid(), summary="first candidate that passes the rules")
