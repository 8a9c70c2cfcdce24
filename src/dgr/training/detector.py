"""Train a detector on a dataset's training split: dgr's small ConvNet (``--arch convnet``,
the embedded digits model) or any torchvision classification architecture (``--arch resnet18``).

Every run holds out a slice of the training split, fits a softmax temperature on it
(τ of the low-confidence rule relies on calibrated confidence) and reports held-out accuracy
and expected calibration error (ECE) before and after the temperature.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, cast

import attrs

from dgr.datasets import LabelledImages
from dgr.datasets.description import Data

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from torch import nn

    from dgr.datasets import ImageFolderIndex

Callback = Callable[[int, float], None]
Augment = Callable[["torch.Tensor", "torch.Generator"], "torch.Tensor"]
"""A training batch and the generator → the augmented batch."""
CONVNET_EPOCHS = 60  # passes over the training split for dgr's ConvNet …
TORCHVISION_EPOCHS = 30  # … and for a torchvision architecture
LEARNING_RATE = 2e-3  # peak of the one-cycle schedule, from scratch …
FINE_TUNE_LEARNING_RATE = 5e-4  # … and fine-tuning from --weights


@attrs.frozen
class DetectorTraining:
    """How a detector trains: ``dgr train detector``'s options, and their defaults for Python callers
    of :func:`train_detector` too. ``epochs``, ``batch_size`` and ``learning_rate`` left None take the
    default for the architecture, the images and the weights (:meth:`resolved`)."""

    epochs: int | None = None  # None: CONVNET_EPOCHS for convnet, TORCHVISION_EPOCHS otherwise
    batch_size: int | None = None  # None: from the image side (training.sizing.detector_batch_size)
    learning_rate: float | None = None  # None: LEARNING_RATE, FINE_TUNE_LEARNING_RATE with weights
    width: int = 32  # convnet only
    pooling: str = "per-block"  # convnet only: one of dgr.models.CONVNET_POOLINGS
    holdout: float = 0.1
    seed: int = 0
    arch: str = "convnet"
    weights: str | None = None  # torchvision archs: start from these weights (name or file)
    cifar_stem: bool | None = None  # torchvision archs: None = on ResNets for images ≤ 64 px
    input_size: int | None = None  # torchvision archs: resize images to this side
    hflip: bool = False  # random horizontal flips (not for digits or text)
    max_steps: int | None = None  # stop early (smoke tests)
    calibrate: bool = True  # fit a temperature on the held-out slice
    device: str = "cpu"

    def resolved(self, side: int) -> "DetectorTraining":
        """These settings with every None default decided, for images of ``side`` px (the long side)."""
        from dgr.training.sizing import detector_batch_size

        epochs = self.epochs if self.epochs is not None else (
            CONVNET_EPOCHS if self.arch == "convnet" else TORCHVISION_EPOCHS)
        learning_rate = self.learning_rate if self.learning_rate is not None else (
            FINE_TUNE_LEARNING_RATE if self.weights else LEARNING_RATE)
        return attrs.evolve(self, epochs=epochs, learning_rate=learning_rate,
                            batch_size=self.batch_size or detector_batch_size(side))


def train_detector(data: Data, out: str | Path, settings: DetectorTraining = DetectorTraining(),
                   on_epoch: Callback | None = None, *, resume: bool = False) -> dict[str, Any]:
    """Train ``settings.arch`` on ``data``, calibrate, save to ``out``; return the report. Settings
    left None take their defaults (:meth:`DetectorTraining.resolved`), as ``dgr train detector``'s do."""
    settings = settings.resolved(max(data.info.height, data.info.width))
    if settings.arch == "convnet":
        return train_convnet(data, out, settings, on_epoch, resume=resume)
    return train_torchvision(data, out, settings, on_epoch, resume=resume)


def train_convnet(data: Data, out: str | Path, settings: DetectorTraining = DetectorTraining(),
                  on_epoch: Callback | None = None, *, resume: bool = False) -> dict[str, Any]:
    """dgr's small ConvNet (the embedded digits detector is ``train_convnet(digits, DIR)``)."""
    import torch

    from dgr.models.convnet import ConvNetClassifier

    settings = settings.resolved(max(data.info.height, data.info.width))
    torch.manual_seed(settings.seed)
    info = data.info
    model = ConvNetClassifier(info.channels, info.num_classes, width=settings.width,
                              pooling=settings.pooling, class_names=list(info.class_names),
                              image_size=[info.height, info.width])
    return _train(model, data, out, settings, _roll, on_epoch, resume=resume)


def train_torchvision(data: Data, out: str | Path, settings: DetectorTraining,
                      on_epoch: Callback | None = None, *, resume: bool = False) -> dict[str, Any]:
    """A torchvision architecture, from scratch or fine-tuned from ``settings.weights``."""
    import torch

    from dgr.models.torchvision_classifier import (IMAGENET_MEAN, IMAGENET_STD, TorchvisionClassifier,
                                                   check_architecture, pretrained_state)

    check_architecture(settings.arch)
    settings = settings.resolved(max(data.info.height, data.info.width))
    torch.manual_seed(settings.seed)
    info = data.info
    pretrained = settings.weights is not None
    channels = 3 if pretrained else info.channels
    model = TorchvisionClassifier(settings.arch, channels, info.num_classes, class_names=list(info.class_names),
                                  image_size=[info.height, info.width], cifar_stem=settings.cifar_stem,
                                  input_size=settings.input_size,
                                  mean=IMAGENET_MEAN if pretrained else None, std=IMAGENET_STD if pretrained else None)
    fresh: list[str] = []
    if pretrained:
        fresh = model.load_backbone(pretrained_state(settings.arch, str(settings.weights)))
    report = _train(model, data, out, settings, _crop_flip(settings.hflip), on_epoch, resume=resume)
    report["arch"] = settings.arch
    report["cifar_stem"] = model.config["cifar_stem"]
    if pretrained:
        report["weights"] = settings.weights
        report["reinitialised"] = fresh
    return report


def _split(n: int, holdout: float, seed: int) -> tuple["np.ndarray", "np.ndarray"]:
    import numpy as np

    order = np.random.default_rng(seed).permutation(n)
    n_hold = max(1, int(n * holdout))
    return order[:n_hold], order[n_hold:]


def _train(model: "nn.Module", data: Data, out: str | Path, settings: DetectorTraining, augment: Augment,
           on_epoch: Callback | None, *, resume: bool = False) -> dict[str, Any]:
    """AdamW + one-cycle, then temperature and report on the held-out slice, then save (``settings``
    resolved: :meth:`DetectorTraining.resolved`).

    Ctrl-C is honoured after the current step: ``OUT/checkpoint.pt`` then holds the state (also
    written after every epoch), and ``resume=True`` continues to the same weights as a run that
    was never interrupted."""
    import attrs

    from dgr.errors import DgrError
    from dgr.training.checkpoints import CHECKPOINT_FILE, StopAtStepBoundary, refuse_divergence, save_checkpoint as save
    import numpy as np
    import torch
    from torch.nn import functional as F

    epochs, batch_size, learning_rate = settings.epochs, settings.batch_size, settings.learning_rate
    assert epochs is not None and batch_size is not None and learning_rate is not None  # resolved
    model = model.to(settings.device)
    hold, train = _split(len(data), settings.holdout, settings.seed)
    # in memory one tensor; an ImageFolderIndex (None here) is read batch by batch as they come
    x = torch.from_numpy(np.ascontiguousarray(data.images)) if isinstance(data, LabelledImages) else None
    y = torch.from_numpy(data.labels)
    steps = epochs * int(np.ceil(len(train) / batch_size))
    if settings.max_steps is not None:
        steps = max(1, min(steps, settings.max_steps))
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=learning_rate, total_steps=steps)
    g = torch.Generator().manual_seed(settings.seed)
    start = time.perf_counter()
    train_t = torch.from_numpy(train)
    done, first_epoch, position, perm, total, seen = 0, 1, 0, None, 0.0, 0.0
    checkpoint = Path(out) / CHECKPOINT_FILE
    if resume and checkpoint.exists():
        from dgr.loading import reading

        with reading(checkpoint, "delete it to start fresh (without --resume)"):
            state = torch.load(checkpoint, weights_only=True)
        if state["settings"] != attrs.asdict(settings):
            raise DgrError(f"{checkpoint} was written with other settings; use the same options to resume, "
                           "or another --out")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        g.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        done, first_epoch, position = state["done"], state["epoch"], state["position"]
        perm, total, seen = state["perm"], state["total"], state["seen"]

    def save_checkpoint(epoch: int, position: int, perm: "torch.Tensor", total: float, seen: float) -> None:
        save({"settings": attrs.asdict(settings), "model": model.state_dict(), "optimiser": optimiser.state_dict(),
              "schedule": schedule.state_dict(), "rng": g.get_state(), "torch_rng": torch.get_rng_state(),
              "done": done, "epoch": epoch, "position": position, "perm": perm, "total": total, "seen": seen},
             checkpoint)

    with StopAtStepBoundary() as stop:
        for epoch in range(first_epoch, epochs + 1):
            model.train()
            if perm is None:
                perm = train_t[torch.randperm(len(train_t), generator=g)]
            groups = [perm[i:i + batch_size] for i in range(0, len(perm), batch_size)]
            for n, (idx, xb) in enumerate(_batches(data, x, groups[position:]), start=position + 1):
                if done == steps:
                    break
                xb = augment(xb, g).to(settings.device)
                loss = F.cross_entropy(model(xb), y[idx].to(settings.device))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                done += 1
                total += loss.item() * len(idx)
                seen += len(idx)
                if stop.requested:
                    save_checkpoint(epoch, n, perm, total, seen)
                    raise KeyboardInterrupt
            if on_epoch is not None:
                on_epoch(epoch, total / max(seen, 1.0))
            perm, position, total, seen = None, 0, 0.0, 0.0
            if done == steps:
                break
            save_checkpoint(epoch + 1, 0, None, 0.0, 0.0)
    checkpoint.unlink(missing_ok=True)
    model.eval()
    hold_t = torch.from_numpy(hold)
    # a batch at a time, in memory or streamed: the held-out images are never read whole
    scored = [(idx, predict_logits(model, xb, settings.device)) for idx, xb in _batches(data, x, hold_t.split(256))]
    logits = torch.cat([part for _, part in scored])
    labels = y[torch.cat([idx for idx, _ in scored])]
    refuse_divergence(bool(torch.isfinite(logits).all()), "the held-out logits are not finite", "--lr",
                      learning_rate)
    temperature = fit_temperature(logits, labels) if settings.calibrate else 1.0
    model.config["temperature"] = temperature
    model.save_pretrained(out)
    return {"holdout_accuracy": float((logits.argmax(1) == labels).float().mean()),
            "ece": expected_calibration_error(torch.softmax(logits, 1), labels),
            "ece_calibrated": expected_calibration_error(torch.softmax(logits / temperature, 1), labels),
            "temperature": temperature, "seconds": round(time.perf_counter() - start, 1),
            "train_images": int(len(train)), "holdout_images": int(len(hold)), "steps": done}


def _batches(data: Data, x: "torch.Tensor | None",
             groups: "Iterable[torch.Tensor]") -> "Iterator[tuple[torch.Tensor, torch.Tensor]]":
    """``(rows, images)`` for each group of row indices: from the tensor ``x`` in memory, or read
    through the streamed dataset's DataLoader (workers prefetch; unreadable files drop out)."""
    import torch

    if x is not None:
        yield from ((idx, x[idx]) for idx in groups)
        return
    for images, kept in cast("ImageFolderIndex", data).batches([idx.numpy() for idx in groups]):  # x is None: streamed
        yield torch.from_numpy(kept), torch.from_numpy(images)


def predict_logits(model: "nn.Module", images: "torch.Tensor", device: str = "cpu",
                   batch_size: int = 256) -> "torch.Tensor":
    """Logits of ``model`` for ``images`` in batches, on the CPU."""
    import torch

    with torch.no_grad():
        return torch.cat([model(chunk.to(device)).cpu() for chunk in images.split(batch_size)])


def _roll(xb: "torch.Tensor", g: "torch.Generator") -> "torch.Tensor":
    import torch

    shift = torch.randint(-1, 2, (2,), generator=g).tolist()  # small random translation
    return torch.roll(xb, shifts=shift, dims=(2, 3))


def _crop_flip(hflip: bool) -> Augment:
    """Standard augmentation: a random crop after zero padding by 1/8 of the side; optional flips."""
    import torch
    from torch.nn import functional as F

    def augment(xb: "torch.Tensor", g: "torch.Generator") -> "torch.Tensor":
        b, _, h, w = xb.shape
        pad = max(1, min(h, w) // 8)
        padded = F.pad(xb, (pad, pad, pad, pad))
        dy, dx = torch.randint(0, 2 * pad + 1, (2, b), generator=g).tolist()
        out = torch.stack([padded[i, :, y:y + h, x:x + w] for i, (y, x) in enumerate(zip(dy, dx))])
        if hflip:
            flip = torch.rand(b, generator=g) < 0.5
            out = torch.where(flip[:, None, None, None], out.flip(3), out)
        return out

    return augment


def fit_temperature(logits: "torch.Tensor", labels: "torch.Tensor") -> float:
    """The softmax temperature that minimises held-out negative log-likelihood (grid search).

    The scaled logits and their log-softmax are written into two buffers reused for every grid point
    (the same losses, bit for bit, as ``cross_entropy(logits / t)``): 89 fresh ``[N, K]`` pairs left
    glibc's heap holding 700 MiB after the CLIP's fit on 2000 held-out images × 1000 classes."""
    import torch
    from torch.nn import functional as F

    grid = torch.logspace(-1.5, 0.7, 89)
    scaled, log_probs = torch.empty_like(logits), torch.empty_like(logits)
    losses = []
    for t in grid:
        torch.div(logits, t, out=scaled)
        torch.log_softmax(scaled, 1, out=log_probs)
        losses.append(F.nll_loss(log_probs, labels))
    return round(float(grid[int(torch.stack(losses).argmin())]), 3)


def expected_calibration_error(probs: "torch.Tensor", labels: "torch.Tensor", bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins."""
    confidence, predicted = probs.max(1)
    return calibration_error(confidence, predicted == labels, bins)


def calibration_error(confidence: "torch.Tensor", correct: "torch.Tensor", bins: int = 15) -> float:
    """:func:`expected_calibration_error` from each prediction's confidence (its top probability) and
    whether it was right: what a split scored a chunk at a time keeps instead of ``[N, K]`` probabilities."""
    import torch

    correct = correct.float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += float(inside.float().mean() * (confidence[inside].mean() - correct[inside].mean()).abs())
    return round(ece, 4)
