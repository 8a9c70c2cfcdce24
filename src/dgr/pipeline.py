"""The orchestrator: prototypes → synthesis → detection → refinement → selection, one class
at a time (the unit of progress, resume and sharding)."""
from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import attrs
import numpy as np

from dgr.build import Components
from dgr.components import Detection, Generator
from dgr.config import DistillConfig
from dgr.datasets import LabelledImages
from dgr.detection import apply_rules, blank_or_broken
from dgr.polishing import PolishSettings, polish_class
from dgr.progress import Progress
from dgr.prototypes import cluster_members, kmeans_prototypes
from dgr.refinement import Anchors, Refinement, refine
from dgr.rundir import RunFolder, safe_name
from dgr.seeds import INITIAL_ROUND, derive_seed, polish_seed, prototype_seed
from dgr.synthesis import synthesize
from dgr.uniqueness import UniquenessIndex

if TYPE_CHECKING:  # pragma: no cover
    import torch

@attrs.frozen(eq=False)
class ClassResult:
    """One finished class: its manifest records, stage timings and counts."""

    records: list[dict[str, Any]]
    timings: dict[str, float]
    counts: dict[str, int]


def leave_one_out_uniqueness(features: np.ndarray) -> np.ndarray:
    """1 − max cosine similarity of each image to the other final images of its class."""
    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    if len(x) < 2:
        return np.ones(len(x), dtype=np.float32)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    uniqueness: np.ndarray = (1.0 - sims.max(1)).astype(np.float32)
    return uniqueness


class FiniteImages:
    """A generator whose images hold only finite pixels.

    An image with any NaN or infinite pixel comes back as one flat colour, which
    :func:`dgr.detection.blank_or_broken` flags as anomalous; so detectors, selection and the
    saved files never see a non-finite value, however the generator failed.
    """

    def __init__(self, generator: Generator) -> None:
        self.generator = generator

    def encode(self, images: "torch.Tensor") -> "torch.Tensor":
        """The wrapped generator's latents."""
        return self.generator.encode(images)

    def model_class(self, class_index: int) -> int | str:
        """What the model is given for ``class_index`` (the generator's ``model_class``, else the index)."""
        describe = getattr(self.generator, "model_class", None)
        return describe(class_index) if callable(describe) else class_index

    def generate(self, prototypes: "torch.Tensor", labels: "torch.Tensor", seeds: Sequence[int]) -> "torch.Tensor":
        """The wrapped generator's images; one with a non-finite pixel comes back all zeros."""
        import torch

        images = self.generator.generate(prototypes, labels, seeds)
        broken = ~torch.isfinite(images.reshape(len(images), -1)).all(1)
        if bool(broken.any()):
            images = images.clone()
            images[broken] = 0.0
        return images


def manifest_record(class_name: str, class_index: int, prototype: int, file_name: str, folder_name: str,
                    refinement: Refinement | None, initial_seed: int, confidence: float, uniqueness: float,
                    predicted: int, reasons: list[str], medoid: int | None = None,
                    model_class: int | str | None = None) -> dict[str, Any]:
    """The manifest.jsonl line of one final image (key order is part of the output bytes); ``medoid``:
    the class's real image (training order) the prototype is, under ``--prototypes medoids``;
    ``model_class``: what the generator was given for the class (its class id or prompt)."""
    r = refinement
    record: dict[str, Any] = {
        "class": class_name, "class_index": class_index,
        "model_class": class_index if model_class is None else model_class, "prototype": prototype,
        "file": f"images/{folder_name}/{file_name}",
        "seed": r.seed if r and not r.kept_original else initial_seed,
        "round": 1 if r and not r.kept_original else 0,
        "confidence": round(confidence, 6), "uniqueness": round(uniqueness, 6),
        "predicted": predicted,
        "anomaly_reasons": reasons,
        "status": ("refined" if r.resolved else "unresolved") if r else "accepted",
        "replaced": f"initial/{folder_name}/{file_name}" if r and not r.kept_original else None,
    }
    if medoid is not None:
        record["medoid"] = medoid
    if r:
        record["selection"] = {"score": round(r.choice.score, 6),
                               **{k: round(float(v), 6) for k, v in r.choice.parts.items()},
                               "valid_candidates": r.valid_candidates, "candidates": r.candidates_generated}
        if r.anchor is not None:
            record["selection"]["anchor"] = r.anchor  # the class's real image (training order) it started from
        if not r.resolved:
            record["remaining_reasons"] = r.reasons
            record["fallback"] = {"kept": "original" if r.kept_original else "candidate",
                                  "original_confidence": None if r.original_confidence is None
                                  else round(r.original_confidence, 6),
                                  "best_candidate_confidence": round(r.choice.score, 6)}
    return record


@attrs.frozen(eq=False)
class ClassDraft:
    """A class up to selection: what the polish and the writing of the class start from."""

    class_index: int
    class_name: str
    real: "torch.Tensor"  # the class's real images (the polish's target)
    initial: "torch.Tensor"
    selected: "torch.Tensor"  # the images after refinement and selection
    detection: Detection  # the detector's scores of ``selected``
    refinements: list[Refinement]
    seeds: list[int]
    reasons: list[list[str]]
    medoids: list[int] | None
    flagged: list[int]
    timings: dict[str, float]


def prepare_class(class_index: int, train: LabelledImages, components: Components, config: DistillConfig,
                  progress: Progress) -> ClassDraft:
    """Prototypes, synthesis, detection, refinement and selection of one class (nothing written)."""
    import torch

    class_name = train.class_names[class_index]
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    gen, det = FiniteImages(components.generator), components.detector
    rules = [rule for _, rule in components.rules]
    real = torch.from_numpy(np.ascontiguousarray(train.of_class(class_index)))
    latents = gen.encode(real)
    centroids = kmeans_prototypes(latents, config.ipc, prototype_seed(config.seed, class_index), class_name)
    members = cluster_members(latents, centroids)
    medoids = [int(m[0]) for m in members] if config.prototypes == "medoids" else None
    prototypes = latents[medoids] if medoids else centroids
    lap("prototypes")

    labels = torch.full((config.ipc,), class_index, dtype=torch.long)
    seeds = [derive_seed(config.seed, class_index, j, INITIAL_ROUND, 0) for j in range(config.ipc)]
    initial = synthesize(gen, prototypes, labels, seeds, config.batch_size,
                         lambda n: progress.advance("synthesis", n))
    lap("synthesis")

    detection = det.score(initial)
    label_array = np.full(config.ipc, class_index)
    flagged, reasons = apply_rules(rules, detection, label_array, blank_or_broken(initial))
    lap("detection")

    accepted = UniquenessIndex(detection.features.shape[1])
    if (~flagged).any():
        accepted.add(detection.features[~flagged])
    flagged_idx = [int(j) for j in np.flatnonzero(flagged)]
    anchors = Anchors(latents=latents, members=members) if config.refine_from == "members" and flagged_idx else None
    refinements = refine(gen, det, rules, components.policy, prototypes=prototypes, anchors=anchors,
                         flagged=flagged_idx,
                         class_index=class_index, run_seed=config.seed, candidates=config.candidates,
                         batch_size=config.batch_size, accepted=accepted, originals=initial,
                         original_detection=detection, early_stop=config.early_stop)
    progress.advance("refinement", config.ipc)  # every image of the class has been checked (and replaced)

    selected = initial.clone()
    probs, features = detection.probs.copy(), detection.features.copy()
    for r in refinements:  # the detector already scored every chosen candidate: no second pass
        selected[r.prototype] = r.image
        probs[r.prototype] = r.detection.probs[0]
        features[r.prototype] = r.detection.features[0]
    lap("refinement")  # assembling the selected images belongs to refinement
    return ClassDraft(class_index=class_index, class_name=class_name, real=real, initial=initial, selected=selected,
                      detection=Detection(probs=probs, features=features), refinements=refinements, seeds=seeds,
                      reasons=reasons, medoids=medoids, flagged=flagged_idx, timings=timings)


def polish_draft(draft: ClassDraft, config: DistillConfig, on_step: Callable[[], None]) -> tuple["torch.Tensor", float]:
    """The polished images of a class and the seconds it took (thread-safe: the polish draws from
    its own generators only)."""
    start = time.perf_counter()
    polished = polish_class(draft.selected, draft.real, PolishSettings.for_dataset(config.dataset, config.polish_steps),
                            polish_seed(config.seed, draft.class_index), on_step=on_step)
    return polished, time.perf_counter() - start


def finish_class(draft: ClassDraft, polished: "torch.Tensor | None", components: Components, config: DistillConfig,
                 folder: RunFolder, rank: int = 0) -> ClassResult:
    """Score the final images (the polished ones, when the polish ran), build the manifest records and
    write the class to the run folder atomically (``rank``: the process that did it)."""
    timings = dict(draft.timings)
    clock = time.perf_counter()
    final, final_det = draft.selected, draft.detection
    if polished is not None:
        final = polished
        final_det = components.detector.score(final)  # the manifest describes the images as saved
        timings["polish"] = timings.get("polish", 0.0) + time.perf_counter() - clock
        clock = time.perf_counter()
    class_index, ipc = draft.class_index, config.ipc
    unique = leave_one_out_uniqueness(final_det.features)
    confidence = final_det.confidence(class_index)
    predicted = final_det.probs.argmax(1)
    folder_name = safe_name(draft.class_name)
    by_proto = {r.prototype: r for r in draft.refinements}
    model_class = FiniteImages(components.generator).model_class(class_index)
    records, final_files, initial_files, selected_files = [], [], [], []
    for j in range(ipc):
        file_name = f"{folder_name}_{j:03d}.png"
        final_files.append((file_name, final[j]))
        initial_files.append((file_name, draft.initial[j]))
        selected_files.append((file_name, draft.selected[j]))
        records.append(manifest_record(draft.class_name, class_index, j, file_name, folder_name, by_proto.get(j),
                                       draft.seeds[j], float(confidence[j]), float(unique[j]), int(predicted[j]),
                                       draft.reasons[j], draft.medoids[j] if draft.medoids else None, model_class))
    counts = {
        "images": ipc,
        "initial_anomalies": len(draft.flagged),
        "refined": sum(r.resolved for r in draft.refinements),
        "unresolved": sum(not r.resolved for r in draft.refinements),
        "generated_images": ipc + sum(r.candidates_generated for r in draft.refinements),
    }
    folder.write_class(draft.class_name, final_files, initial_files,
                       {"class": draft.class_name, "records": records, "timings": timings, "counts": counts,
                        "rank": rank},
                       selected=selected_files if polished is not None else None)
    timings["writing"] = timings.get("writing", 0.0) + time.perf_counter() - clock
    return ClassResult(records=records, timings=timings, counts=counts)


def distill_class(class_index: int, train: LabelledImages, components: Components, config: DistillConfig,
                  folder: RunFolder, progress: Progress, rank: int = 0) -> ClassResult:
    """Distil one class and write it to the run folder atomically (``rank``: the process that did it)."""
    draft = prepare_class(class_index, train, components, config, progress)
    polished = None
    if config.polish_steps:
        polished, seconds = polish_draft(draft, config, lambda: progress.advance("polish"))
        draft.timings["polish"] = seconds
    return finish_class(draft, polished, components, config, folder, rank)


MAX_POLISH_THREADS = 4  # polishes at once at most (each holds its class's real images and a batch's activations)


def distill_classes(indices: Sequence[int], train: LabelledImages, components: Components, config: DistillConfig,
                    folder: RunFolder, progress: Progress, rank: int = 0) -> Iterator[tuple[int, ClassResult]]:
    """Distil ``indices`` in order, yielding each class as it is written. With the polish on and more
    than one CPU thread, the polishes of up to that many classes run at once, one thread each (a
    polish step's tensors are too small to use two threads well: one digits class takes 3.5 s on
    one thread, 2.2 s on two, and two classes at once about 1.8 s each), while the main thread
    prepares the next class and writes the finished ones, in order. The images are the same bytes."""
    import torch

    workers = min(torch.get_num_threads(), len(indices), MAX_POLISH_THREADS) if config.polish_steps else 1
    if workers <= 1:
        for c in indices:
            yield c, distill_class(c, train, components, config, folder, progress, rank)
        return
    steps = threading.Lock()

    def step() -> None:
        with steps:
            progress.advance("polish")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pending: collections.deque[tuple[ClassDraft, Future[tuple[torch.Tensor, float]]]] = collections.deque()
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dgr-polish") as pool:
            for c in indices:
                draft = prepare_class(c, train, components, config, progress)
                pending.append((draft, pool.submit(polish_draft, draft, config, step)))
                while len(pending) >= workers:
                    yield finished(pending.popleft(), components, config, folder, rank)
            while pending:
                yield finished(pending.popleft(), components, config, folder, rank)
    finally:
        torch.set_num_threads(threads)


def finished(job: "tuple[ClassDraft, Future[tuple[torch.Tensor, float]]]", components: Components,
             config: DistillConfig, folder: RunFolder, rank: int) -> tuple[int, ClassResult]:
    """Wait for a class's polish, then finish the class; return its index and result."""
    draft, future = job
    polished, seconds = future.result()
    draft.timings["polish"] = seconds
    return draft.class_index, finish_class(draft, polished, components, config, folder, rank)
