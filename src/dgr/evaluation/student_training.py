"""The student training loop: hard labels (cross-entropy) or soft labels (a teacher relabels
every augmented batch, KL divergence), DSA augmentation on whole batches, optional CutMix.

Only the final model is scored, once, on the test split: no test accuracy is looked at
during training, so nothing can pick the best epoch over the test set.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import attrs

from dgr.augmentation import dsa_augment, dsa_ops
from dgr.components import DatasetInfo
from dgr.evaluation.protocols import TrainSettings

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from torch import nn

    from typing import TypeAlias

    from dgr.datasets import ImageFolderIndex
    from dgr.datasets.folders import FolderImages

    TestImages: TypeAlias = "torch.Tensor | ImageFolderIndex"  # a streamed test split stays on disk
    TrainImages: TypeAlias = "torch.Tensor | FolderImages"  # a streamed training split (the full baseline)

SCORE_BATCH = 100  # test images per forward pass when scoring, at most (see scoring_batch)
SCORE_BYTES = 160 * 2 ** 20  # ... fewer where a batch's activations would pass this (scoring_batch)
# Saved activations of a training step (see micro_batches): a batch over WHOLE_BATCH_BYTES goes in pieces of
# at most PIECE_BYTES. The first is just above a 28–32 px ConvNet-3 batch of 256 (382 MiB), so the protocols'
# published settings at those sizes train whole batches as they always have; the second holds a 64 px step
# to 346 MiB over the process (474 MiB with pieces of 192 MiB, at about the same speed), so dgr evaluate
# (torch and torch.optim's dynamo: a 670 MiB process before any data) stays well under 1.5 GB.
WHOLE_BATCH_BYTES = 400 * 2 ** 20
PIECE_BYTES = 96 * 2 ** 20


Stats = tuple[Sequence[float], Sequence[float]]


@attrs.frozen
class Score:
    """A trained student: test accuracy, seconds taken, the final training loss, balanced accuracy."""

    accuracy: float
    seconds: float
    final_loss: float
    balanced_accuracy: float = float("nan")  # mean per-class recall on the test split


def dataset_stats(name: str, train_images: "np.ndarray | FolderImages") -> Stats:
    """The input normalisation of a dataset: its description's mean/std (the constants DC/DSA
    publish, for the datasets they name), else the per-channel mean/std of the (whole) training
    split ``train_images`` [N, C, H, W]: exactly, in float64, when that copy is small; else summed a
    class (streamed) or :data:`STATS_CHUNK` images at a time, so memory does not follow the split."""
    import numpy as np

    from dgr.datasets import known_description

    description = known_description(name)
    if description is not None and description.stats is not None:
        return description.stats
    if not isinstance(train_images, np.ndarray) and hasattr(train_images, "index"):  # a streamed ImageFolder
        index = train_images.index
        return _summed_stats(index.of_class(c) for c in range(len(index.class_names)))
    images = np.asarray(train_images)
    if images.size * 8 > EXACT_STATS_BYTES:
        return _summed_stats(images[i:i + STATS_CHUNK] for i in range(0, len(images), STATS_CHUNK))
    x = images.astype(np.float64)
    return tuple(float(v) for v in x.mean(axis=(0, 2, 3))), tuple(float(v) for v in x.std(axis=(0, 2, 3)))


EXACT_STATS_BYTES = 128 * 2 ** 20  # the float64 copy dataset_stats makes of a split at most (digits: 0.7 MB)
STATS_CHUNK = 1024


def _summed_stats(chunks: Iterable[np.ndarray]) -> Stats:
    """Per-channel mean and std from running float64 sums over ``chunks`` [n, C, H, W] (memory: a chunk)."""
    import numpy as np

    total, squares, count = 0.0, 0.0, 0
    for chunk in chunks:
        x = chunk.astype(np.float64)
        total = total + x.sum(axis=(0, 2, 3))
        squares = squares + (x ** 2).sum(axis=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = np.asarray(total) / count
    std = np.sqrt(np.maximum(np.asarray(squares) / count - mean ** 2, 0.0))
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def unit_float(images: "torch.Tensor") -> "torch.Tensor":
    """Images as float32 in [0, 1]: 8-bit pixels (uint8, as :func:`dgr.datasets.compact_pixels` keeps
    them) divided by 255, exactly the floats they were read as; float images as they are."""
    import torch

    return images.float() / 255.0 if images.dtype == torch.uint8 else images


def _stat_tensors(stats: Stats, channels: int) -> tuple["torch.Tensor", "torch.Tensor"]:
    import torch

    mean, std = (torch.tensor([float(v) for v in s], dtype=torch.float32) for s in stats)
    if len(mean) == 1 and channels > 1:
        mean, std = mean.expand(channels), std.expand(channels)
    return mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)


def cutmix(x: "torch.Tensor", alpha: float = 1.0) -> tuple["torch.Tensor", "torch.Tensor", float]:
    """Paste a random box of a shuffled batch into each image: (mixed, partner order, λ kept)."""
    import torch

    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    h, w = x.shape[-2:]
    cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
    cy, cx = int(torch.randint(h, ())), int(torch.randint(w, ()))
    y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
    x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
    order = torch.randperm(len(x))
    mixed = x.clone()
    mixed[..., y0:y1, x0:x1] = x[order][..., y0:y1, x0:x1]
    kept = 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
    return mixed, order, kept


def saved_activation_bytes(model: "nn.Module", images: "torch.Tensor") -> int:
    """The bytes autograd keeps from a training forward of ``images`` (the model's own weights not
    counted): what a batch of them holds until its backward pass."""
    import torch

    weights = {p.data_ptr() for p in model.parameters()}
    seen: set[tuple[int, int]] = set()
    total = 0

    def pack(t: "torch.Tensor") -> "torch.Tensor":
        nonlocal total
        key = (t.data_ptr(), t.numel())
        if key not in seen and t.data_ptr() not in weights:
            seen.add(key)
            total += t.numel() * t.element_size()
        return t.detach()  # the tensor itself would make a cycle (an output saved by its own node) that never frees

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(images)
    return total


def scoring_batch(model: "nn.Module", shape: tuple[int, ...]) -> int:
    """Test images a forward pass when scoring images of ``shape`` (C, H, W): :data:`SCORE_BATCH`,
    fewer where their activations (as :func:`saved_activation_bytes` counts them for one image) would
    pass :data:`SCORE_BYTES` — 100 up to 32 px with a ConvNet-3 (the published protocols' batches),
    26 at 64 px, where a batch of 100 held 415 MiB, more than a training step."""
    import torch

    with torch.enable_grad():
        per_image = saved_activation_bytes(model, torch.zeros((1, *shape)))
    return max(1, min(SCORE_BATCH, SCORE_BYTES // max(per_image, 1)))


def micro_batches(model: "nn.Module", batch_images: "torch.Tensor", batch: int) -> int:
    """In how many equal pieces a training batch of ``batch`` images goes through forward and backward
    (their gradients summed before the step): 1 when its saved activations stay under
    :data:`WHOLE_BATCH_BYTES` or when the model has batch norm (pieces would change its batch
    statistics), else enough pieces of at most :data:`PIECE_BYTES`. The ConvNet's instance norm and the
    MLP see each image alone, so the step is the same one, up to float rounding. A ConvNet-3 keeps
    1.5 MiB an image at 28–32 px (a batch of 256 stays whole), 6 MiB at 64 px (16 pieces of 16: the
    step's peak memory 2.8 GB → 0.9 GB for the whole process) and 24 MiB at 128 px (64 pieces)."""
    import math

    from torch import nn

    if batch <= 1 or any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return 1
    needed = batch * saved_activation_bytes(model, batch_images[:1])
    return 1 if needed <= WHOLE_BATCH_BYTES else math.ceil(needed / PIECE_BYTES)


def _optimizer(model: "nn.Module", settings: TrainSettings, lr: float) -> "torch.optim.Optimizer":
    import torch

    if settings.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=settings.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=settings.momentum, weight_decay=settings.weight_decay)


def soft_loss(student_logits: "torch.Tensor", teacher_logits: "torch.Tensor", temperature: float) -> "torch.Tensor":
    """KL(softmax(teacher/T) ‖ softmax(student/T)) · T², batch mean (Hinton et al.; SRe2L/RDED)."""
    from torch.nn import functional as F

    T = temperature
    target = F.softmax(teacher_logits / T, dim=1)
    return F.kl_div(F.log_softmax(student_logits / T, dim=1), target, reduction="batchmean") * (T * T)


def train_student(model: "nn.Module", images: "TrainImages", labels: "torch.Tensor", settings: TrainSettings,
                  *, seed: int = 0, teacher: "nn.Module | None" = None, stats: Stats | None = None,
                  on_epoch: Callable[[int, float], None] | None = None) -> float:
    """Train ``model`` in place on ``images`` [N, C, H, W] (float in [0, 1], or 8-bit pixels, or a
    streamed ImageFolder's images, read a batch at a time); returns the last epoch's loss.

    Students see ``(x - mean) / std`` (``stats``, see :func:`dataset_stats`), computed a batch at a
    time, so the set stays in memory as it came (a quarter of the float size for 8-bit pixels);
    augmentation acts on the normalised batch; a soft-label teacher (a dgr ConvNet, which takes
    [0, 1]) sees the same augmented batch mapped back to [0, 1].
    """
    import torch
    from torch.nn import functional as F

    if settings.labels == "soft" and teacher is None:
        raise ValueError("soft labels need a teacher")
    torch.manual_seed(seed)
    mean, std = _stat_tensors(stats or ((0.5,), (0.5,)), images.shape[1])
    rows = _row_reader(images)
    n = len(images)
    batch = min(settings.batch_size, n)
    steps_per_epoch = math.ceil(n / batch)
    # The DC/DSA reference loop (utils.evaluate_synset) runs epochs + 1 passes (ep = 0 … epochs) and
    # divides the lr by 10 after pass ep = epochs // 2 + 1 by building a new optimiser (momentum restarts).
    passes = settings.epochs + 1 if settings.reference_loop else settings.epochs
    lr = settings.learning_rate
    opt = _optimizer(model, settings, lr)
    sched = None
    if settings.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=passes * steps_per_epoch)
    ops = dsa_ops(settings.flips) if settings.augment == "dsa" else ()
    soft = settings.labels == "soft"
    if teacher is not None:
        teacher.eval()
    model.train()
    loss_value = float("nan")
    pieces: int | None = None
    for epoch in range(1, passes + 1):
        total = torch.zeros(())
        for idx in torch.randperm(n).split(batch):
            x, y = (unit_float(rows(idx)) - mean) / std, labels[idx]
            if ops:
                x = dsa_augment(x, ops)
            order, kept = None, 1.0
            if settings.cutmix > 0 and float(torch.rand(())) < settings.cutmix:
                x, order, kept = cutmix(x)
            if pieces is None:  # the first batch decides, at the largest batch size
                pieces = micro_batches(model, x, batch)
            opt.zero_grad(set_to_none=True)
            loss = torch.zeros(())
            k = min(pieces, len(x))
            partners = y[order] if order is not None else y
            for xp, yp, yo in zip(x.tensor_split(k), y.tensor_split(k), partners.tensor_split(k)):
                logits = model(xp)
                if soft:
                    assert teacher is not None  # refused above
                    with torch.inference_mode():
                        target = teacher((xp * std + mean).clamp_(0.0, 1.0))
                    part_loss = soft_loss(logits, target.clone(), settings.temperature)
                else:
                    part_loss = kept * F.cross_entropy(logits, yp)
                    if order is not None:
                        part_loss = part_loss + (1 - kept) * F.cross_entropy(logits, yo)
                if k == 1:  # the whole batch at once
                    part_loss.backward()
                    loss = part_loss.detach()
                else:  # the batch's mean loss is the pieces' means weighted by their sizes
                    (part_loss * (len(xp) / len(x))).backward()
                    loss = loss + part_loss.detach() * (len(xp) / len(x))
            opt.step()
            if sched is not None:
                sched.step()
            total += loss * len(idx)
        loss_value = float(total) / n
        if settings.schedule == "step":
            milestone = settings.epochs // 2 + 2 if settings.reference_loop else settings.epochs // 2
            if epoch == milestone:
                lr *= 0.1
                opt = _optimizer(model, settings, lr)
        if on_epoch is not None:
            on_epoch(epoch, loss_value)
    model.eval()
    return loss_value


def _row_reader(images: "TrainImages") -> Callable[["torch.Tensor"], "torch.Tensor"]:
    """``rows(idx)``: the images of the rows ``idx``, from a tensor, or read from disk for a streamed
    ImageFolder (an unreadable file reads as zeros, as :class:`~dgr.datasets.folders.FolderImages`)."""
    import torch

    if isinstance(images, torch.Tensor):
        data = images.contiguous()
        return lambda idx: data[idx]
    return lambda idx: torch.from_numpy(images[idx.numpy()])


def accuracy(model: "nn.Module", images: "torch.Tensor", labels: "torch.Tensor", batch_size: int | None = None,
             stats: Stats | None = None) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) on ``images`` (float in [0, 1] or 8-bit pixels),
    normalised by ``stats``, ``batch_size`` images a forward pass (default: :func:`scoring_batch`)."""
    if not len(labels):
        return 0.0
    return int((predictions(model, images, batch_size, stats) == labels).sum()) / len(labels)


def predictions(model: "nn.Module", images: "torch.Tensor", batch_size: int | None = None,
                stats: Stats | None = None) -> "torch.Tensor":
    """Predicted classes of ``model`` on ``images`` (float in [0, 1] or 8-bit pixels), ``batch_size``
    images a forward pass (default: :func:`scoring_batch`)."""
    import torch

    mean, std = _stat_tensors(stats or ((0.5,), (0.5,)), images.shape[1])
    model.eval()
    batch_size = batch_size or scoring_batch(model, tuple(images.shape[1:]))
    with torch.inference_mode():
        return torch.cat([model((unit_float(x) - mean) / std).argmax(1) for x in images.split(batch_size)])


def labelled_predictions(model: "nn.Module", images: "TestImages", labels: "torch.Tensor",
                         batch_size: int | None = None, stats: Stats | None = None
                         ) -> tuple["torch.Tensor", "torch.Tensor"]:
    """``(predicted, labels)`` over a test split: tensors, or an ImageFolder read from disk
    ``batch_size`` images at a time (default: :func:`scoring_batch`; a file that cannot be read drops
    out, with its label)."""
    import torch

    if isinstance(images, torch.Tensor):
        return predictions(model, images, batch_size, stats), labels
    info = images.info
    model.eval()
    batch_size = batch_size or scoring_batch(model, (info.channels, info.height, info.width))
    out, kept = [], []
    for x, y in images.labelled_batches(batch_size):
        out.append(predictions(model, torch.from_numpy(x), batch_size, stats))
        kept.append(torch.from_numpy(y))
    if not out:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    return torch.cat(out), torch.cat(kept)


def fit_and_score(train_images: "TrainImages", train_labels: "torch.Tensor", test_images: "TestImages",
                  test_labels: "torch.Tensor", info: DatasetInfo, settings: TrainSettings, *, seed: int = 0,
                  teacher: "nn.Module | None" = None, stats: Stats | None = None,
                  on_epoch: Callable[[int, float], None] | None = None) -> Score:
    """A fresh student trained on the train tensors (or a streamed split's images), scored once after
    its final epoch on the test split (tensors, or a streamed ImageFolder: see :func:`labelled_predictions`).

    ``stats`` is the dataset's normalisation (:func:`dataset_stats` of the whole training split);
    without it the reference constants of ``info.name`` are used, else the train tensors' own.
    """
    import torch

    from dgr.evaluation.students import build_student

    if stats is None:
        stats = dataset_stats(info.name, unit_float(train_images).numpy() if isinstance(train_images, torch.Tensor)
                              else train_images)
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_student(settings.student, info, settings.width)
    loss = train_student(model, train_images, train_labels, settings, seed=seed, teacher=teacher, stats=stats,
                         on_epoch=on_epoch)
    predicted, truth = labelled_predictions(model, test_images, test_labels, stats=stats)
    acc, balanced = scores(predicted, truth)
    return Score(accuracy=acc, seconds=round(time.perf_counter() - start, 2), final_loss=loss,
                 balanced_accuracy=balanced)


def scores(predicted: "torch.Tensor", labels: "torch.Tensor") -> tuple[float, float]:
    """(top-1 accuracy, balanced accuracy = mean recall over the classes present in ``labels``)."""
    import torch

    hit = (predicted == labels).to(torch.float64)
    classes = torch.unique(labels)
    recall = torch.stack([hit[labels == c].mean() for c in classes])
    return float(hit.mean()), float(recall.mean())
