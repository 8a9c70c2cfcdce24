"""Ablation of the polish stage on its own: polish N steps starting from real images (random real
or k-means real) instead of generated ones, scored under a protocol (dc by default).

    python benchmarks/polish_ablation.py --dataset fashion-mnist --init random --seed 0 --steps 0,100,300
    python benchmarks/polish_ablation.py --init kmeans --steps 200 --matching dm,pool,pool-ce,layers

``--matching`` picks what the polish matches (each a probe for the stretch target; only ``dm`` ships):
  dm       the shipped polish (dgr.polishing.polish_class): the class's mean embedding under a fresh
           random ConvNet-3 at every step (DM, Zhao & Bilen)
  pool     the same loss under a pool of ``--pool`` ConvNet-3s trained 1/P … P/P × ``--pool-steps``
           SGD steps on the whole training split (IDM's "enriched model sampling", Zhao et al. 2023)
  pool-ce  pool + ``--ce`` × the pool network's cross-entropy of the images towards their class
           (IDM's class-aware regularisation)
  layers   random networks as dm, matching the batch mean of every block's output, not only the last
The variants normalise with the whole split's statistics; one pool serves every class.

Prints one JSON line per setting (accuracy, seconds of polish and of the student).
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

MATCHINGS = ("dm", "pool", "pool-ce", "layers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--init", default="random", choices=("random", "kmeans"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--steps", default="0,100,300")
    parser.add_argument("--protocol", default="dc")
    parser.add_argument("--matching", default="dm", help=f"comma-separated, of {', '.join(MATCHINGS)}")
    parser.add_argument("--pool", type=int, default=8, help="networks in the pool (pool, pool-ce)")
    parser.add_argument("--pool-steps", type=int, default=300, help="training steps of the pool's last network")
    parser.add_argument("--ce", type=float, default=0.1, help="weight of the class-aware term (pool-ce)")
    args = parser.parse_args()
    unknown = set(args.matching.split(",")) - set(MATCHINGS)
    if unknown:
        parser.error(f"unknown --matching {', '.join(sorted(unknown))}; use {', '.join(MATCHINGS)}")

    import torch

    from common import data_dir_for
    from dgr.datasets import load_dataset
    from dgr.evaluation.baselines import kmeans_real, random_real
    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.student_training import dataset_stats, fit_and_score
    from dgr.polishing import PolishSettings, polish_class

    data_dir = data_dir_for(args.dataset, args.data_dir)
    train, test = load_dataset(args.dataset, "train", data_dir), load_dataset(args.dataset, "test", data_dir)
    stats = dataset_stats(args.dataset, train.images)
    start_set = (random_real if args.init == "random" else kmeans_real)(train, args.ipc, args.seed)
    classes = range(len(train.class_names))
    variants = Variants(train, args.seed, args.pool, args.pool_steps)
    for matching in args.matching.split(","):
        for steps in (int(s) for s in args.steps.split(",")):
            x, y = torch.from_numpy(start_set.images).float(), torch.from_numpy(start_set.labels).long()
            clock = time.perf_counter()
            settings = PolishSettings.for_dataset(args.dataset, steps)
            if matching == "dm":
                x = torch.cat([polish_class(x[y == c], torch.from_numpy(train.of_class(c)), settings,
                                            args.seed * 100 + c) for c in classes])
            else:
                x = torch.cat([variants.polish(matching, x[y == c], c, steps, args.seed * 100 + c,
                                               args.ce if matching == "pool-ce" else 0.0) for c in classes])
            y = torch.arange(len(train.class_names)).repeat_interleave(args.ipc)
            polish_seconds = time.perf_counter() - clock
            x = (x * 255).round() / 255  # as a PNG would hold it
            score = fit_and_score(x, y, torch.from_numpy(test.images), torch.from_numpy(test.labels), train.info,
                                  resolve_protocol(args.protocol, args.dataset), seed=args.seed, stats=stats)
            print(json.dumps({"init": args.init, "seed": args.seed, "matching": matching, "steps": steps,
                              "accuracy": score.accuracy, "polish_seconds": round(polish_seconds, 1),
                              "student_seconds": score.seconds}), flush=True)


class Variants:
    """The probed polish variants (SGD lr 1, momentum 0.5 on normalised pixels, 64 real images a
    step, Siamese augmentation, flips where the data set allows them, as the shipped polish)."""

    def __init__(self, train: Any, seed: int, pool_size: int, pool_steps: int) -> None:
        import torch

        from dgr.polishing import PolishSettings

        self.ops = PolishSettings.for_dataset(train.info.name, 0).augment_ops  # the shipped polish's
        self.images = torch.from_numpy(train.images).float()
        self.labels = torch.from_numpy(train.labels).long()
        self.mean = self.images.mean(dim=(0, 2, 3), keepdim=True)
        self.std = self.images.std(dim=(0, 2, 3), keepdim=True)
        self.train, self.seed, self.pool_size, self.pool_steps = train, seed, pool_size, pool_steps
        self._pool: list | None = None

    def pool(self) -> list:
        """``pool_size`` ConvNet-3s (width 64), network i trained (i + 1) / P × ``pool_steps`` SGD steps
        (batch 128, lr 0.01, momentum 0.9) on the whole split; built once."""
        if self._pool is None:
            import torch
            from torch.nn import functional as F

            from dgr.models.students import convnet

            g = torch.Generator().manual_seed(self.seed)
            self._pool = []
            for i in range(self.pool_size):
                torch.manual_seed(int(torch.randint(2**62, (), generator=g)))
                net = convnet(self.train.info, 64)
                optimiser = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
                for _ in range(int(round(self.pool_steps * (i + 1) / self.pool_size))):
                    pick = torch.randint(len(self.images), (128,), generator=g)
                    loss = F.cross_entropy(net(self.normalise(self.images[pick])), self.labels[pick])
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                self._pool.append(net.requires_grad_(False).eval())
        return self._pool

    def normalise(self, x: Any) -> Any:
        return (x - self.mean) / self.std

    def polish(self, matching: str, images: Any, class_index: int, steps: int, seed: int, ce: float) -> Any:
        import torch
        from torch.nn import functional as F

        from dgr.models.students import convnet
        from dgr.polishing import siamese_augment

        pool = self.pool() if matching.startswith("pool") else None
        g = torch.Generator().manual_seed(seed)
        synthetic = self.normalise(images).clone().requires_grad_(True)
        real = self.normalise(torch.from_numpy(self.train.of_class(class_index)).float())
        optimiser = torch.optim.SGD([synthetic], lr=1.0, momentum=0.5)
        with torch.random.fork_rng(devices=[]):
            for _ in range(steps):
                if pool is not None:
                    net = pool[int(torch.randint(len(pool), (), generator=g))]
                else:
                    torch.manual_seed(int(torch.randint(2**62, (), generator=g)))
                    net = convnet(self.train.info, 64).requires_grad_(False)
                pick = torch.randint(len(real), (64,), generator=g)
                draw = int(torch.randint(2**62, (), generator=g))
                real_x = siamese_augment(real[pick], self.ops, draw)
                synthetic_x = siamese_augment(synthetic, self.ops, draw)
                if matching == "layers":  # every block's output: the maps after each average pool
                    loss = torch.zeros(())
                    for layer in net[:-1]:
                        with torch.no_grad():
                            real_x = layer(real_x)
                        synthetic_x = layer(synthetic_x)
                        if isinstance(layer, torch.nn.AvgPool2d):
                            loss = loss + ((real_x.mean(0) - synthetic_x.mean(0)) ** 2).sum()
                else:
                    with torch.no_grad():
                        target = net[:-1](real_x).mean(0)
                    features = net[:-1](synthetic_x)
                    loss = ((target - features.mean(0)) ** 2).sum()
                    if ce:
                        loss = loss + ce * F.cross_entropy(net[-1](features),
                                                           torch.full((len(synthetic),), class_index))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        return (synthetic.detach() * self.std + self.mean).clamp(0, 1)


if __name__ == "__main__":
    main()
