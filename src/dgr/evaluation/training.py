"""The student training loop: hard labels (cross-entropy) or soft labels (KD from a teacher),
DSA-like augmentation through torchvision transforms, optional CutMix.

Only the final model is scored, once, on the test split: no test accuracy is looked at
during training, so nothing can pick the best epoch over the test set.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Callable

import attrs

from dgr.components import DatasetInfo
from dgr.evaluation.protocols import TrainSettings

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

AUGMENT_GROUP = 8  # images that share one draw of augmentation parameters


@attrs.frozen
class Score:
    accuracy: float
    seconds: float
    final_loss: float


def augmenter(channels: int, flips: bool) -> Callable[["torch.Tensor"], "torch.Tensor"]:
    """DSA's eval-time strategy (colour, crop, cutout, flip, scale, rotate) as torchvision v2
    transforms, with one parameter draw per group of ``AUGMENT_GROUP`` images."""
    import torch
    from torchvision.transforms import v2

    ops: list = [v2.RandomHorizontalFlip()] if flips else []
    ops += [
        v2.RandomAffine(degrees=15, translate=(0.125, 0.125), scale=(0.8, 1.2)),
        v2.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.25 if channels == 3 else None),
        v2.RandomErasing(p=0.5, scale=(0.02, 0.2), value=0.0),
    ]
    compose = v2.Compose(ops)

    def apply(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([compose(chunk) for chunk in x.split(AUGMENT_GROUP)]).clamp_(0.0, 1.0)

    return apply


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


def _student_input(x: "torch.Tensor") -> "torch.Tensor":
    return x * 2 - 1  # students see [-1, 1]; teachers (dgr ConvNets) take [0, 1]


def train_student(model: "nn.Module", images: "torch.Tensor", labels: "torch.Tensor", settings: TrainSettings,
                  *, seed: int = 0, teacher: "nn.Module | None" = None,
                  on_epoch: Callable[[int, float], None] | None = None) -> float:
    """Train ``model`` in place on ``images`` [N, C, H, W] in [0, 1]; returns the last epoch's loss."""
    import torch
    from torch.nn import functional as F

    if settings.labels == "soft" and teacher is None:
        raise ValueError("soft labels need a teacher")
    torch.manual_seed(seed)
    n = len(images)
    batch = min(settings.batch_size, n)
    steps = settings.epochs * math.ceil(n / batch)
    params = model.parameters()
    if settings.optimizer == "adamw":
        opt: torch.optim.Optimizer = torch.optim.AdamW(params, lr=settings.learning_rate,
                                                       weight_decay=settings.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=settings.learning_rate, momentum=settings.momentum,
                              weight_decay=settings.weight_decay)
    if settings.schedule == "cosine":
        sched: torch.optim.lr_scheduler.LRScheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    else:
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[steps // 2], gamma=0.1)
    augment = augmenter(images.shape[1], settings.flips) if settings.augment else None
    T = settings.temperature
    model.train()
    if teacher is not None:
        teacher.eval()
    loss_value = float("nan")
    for epoch in range(1, settings.epochs + 1):
        total = 0.0
        for idx in torch.randperm(n).split(batch):
            x, y = images[idx], labels[idx]
            if augment is not None:
                x = augment(x)
            order, kept = None, 1.0
            if settings.cutmix > 0 and float(torch.rand(())) < settings.cutmix:
                x, order, kept = cutmix(x)
            logits = model(_student_input(x))
            if settings.labels == "soft":
                with torch.no_grad():
                    target = F.softmax(teacher(x) / T, dim=1)
                loss = F.kl_div(F.log_softmax(logits / T, dim=1), target, reduction="batchmean") * T * T
            else:
                loss = kept * F.cross_entropy(logits, y)
                if order is not None:
                    loss = loss + (1 - kept) * F.cross_entropy(logits, y[order])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        loss_value = total / n
        if on_epoch is not None:
            on_epoch(epoch, loss_value)
    model.eval()
    return loss_value


def accuracy(model: "nn.Module", images: "torch.Tensor", labels: "torch.Tensor", batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) on ``images``."""
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in zip(images.split(batch_size), labels.split(batch_size)):
            correct += int((model(_student_input(x)).argmax(1) == y).sum())
    return correct / max(len(labels), 1)


def fit_and_score(train_images: "torch.Tensor", train_labels: "torch.Tensor", test_images: "torch.Tensor",
                  test_labels: "torch.Tensor", info: DatasetInfo, settings: TrainSettings, *, seed: int = 0,
                  teacher: "nn.Module | None" = None,
                  on_epoch: Callable[[int, float], None] | None = None) -> Score:
    """A fresh student trained on the train tensors, scored once after its final epoch."""
    import torch

    from dgr.evaluation.students import build_student

    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_student(settings.student, info, settings.width)
    loss = train_student(model, train_images, train_labels, settings, seed=seed, teacher=teacher, on_epoch=on_epoch)
    acc = accuracy(model, test_images, test_labels)
    return Score(accuracy=acc, seconds=round(time.perf_counter() - start, 2), final_loss=loss)
