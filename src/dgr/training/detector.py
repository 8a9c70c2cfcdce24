"""Train the small ConvNet detector on a dataset's training split."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import attrs

from dgr.datasets import LabelledImages


@attrs.frozen
class DetectorTraining:
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 2e-3
    width: int = 32
    holdout: float = 0.1
    seed: int = 0


def train_convnet(data: LabelledImages, out: str | Path, settings: DetectorTraining = DetectorTraining(),
                  on_epoch: Callable[[int, float], None] | None = None) -> dict:
    """Train, fit a temperature on a held-out slice (calibrated p(label) matters for τ), save."""
    import numpy as np
    import torch
    from torch.nn import functional as F

    from dgr.nets import ConvNetClassifier

    torch.manual_seed(settings.seed)
    info = data.info
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(data))
    n_hold = max(1, int(len(order) * settings.holdout))
    hold, train = order[:n_hold], order[n_hold:]
    x = torch.from_numpy(np.ascontiguousarray(data.images))
    y = torch.from_numpy(data.labels)
    model = ConvNetClassifier(info.channels, info.num_classes, width=settings.width,
                              class_names=list(info.class_names), image_size=[info.height, info.width])
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=1e-4)
    steps = settings.epochs * int(np.ceil(len(train) / settings.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=settings.learning_rate, total_steps=steps)
    g = torch.Generator().manual_seed(settings.seed)
    start = time.perf_counter()
    train_t = torch.from_numpy(train)
    for epoch in range(1, settings.epochs + 1):
        model.train()
        perm = train_t[torch.randperm(len(train_t), generator=g)]
        total = 0.0
        for i in range(0, len(perm), settings.batch_size):
            idx = perm[i:i + settings.batch_size]
            xb = x[idx]
            shift = torch.randint(-1, 2, (2,), generator=g).tolist()  # small random translation
            xb = torch.roll(xb, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(xb), y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(idx)
        if on_epoch is not None:
            on_epoch(epoch, total / len(train))
    model.eval()
    with torch.no_grad():
        logits = model(x[torch.from_numpy(hold)])
    temperature = fit_temperature(logits, y[torch.from_numpy(hold)])
    model.config["temperature"] = temperature
    holdout_acc = float((logits.argmax(1) == y[torch.from_numpy(hold)]).float().mean())
    model.save_pretrained(out)
    return {"holdout_accuracy": holdout_acc, "temperature": temperature,
            "seconds": round(time.perf_counter() - start, 1), "train_images": int(len(train))}


def fit_temperature(logits, labels) -> float:
    """The softmax temperature that minimises held-out negative log-likelihood (grid search)."""
    import torch
    from torch.nn import functional as F

    grid = torch.logspace(-1.5, 0.7, 89)
    losses = torch.stack([F.cross_entropy(logits / t, labels) for t in grid])
    return round(float(grid[int(losses.argmin())]), 3)
