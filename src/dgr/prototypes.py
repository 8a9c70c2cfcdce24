"""Stage 1: prototypes. Encode a class's real images into the generator's space and
cluster them with k-means (k = IPC, FAISS); each centroid is a prototype, and the real images
nearest to it are its cluster's members (the starting points of ``--refine-from members``; the
nearest one, the cluster's medoid, is the prototype of ``--prototypes medoids``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dgr.errors import DgrError

if TYPE_CHECKING:  # pragma: no cover
    import torch

KMEANS_ITERATIONS = 25


def kmeans_prototypes(latents: "torch.Tensor", k: int, seed: int, class_name: str = "?") -> "torch.Tensor":
    """k centroids of the latents (same trailing shape), deterministic for a seed.

    A class with exactly k images uses the images themselves; fewer is an error.
    """
    import faiss
    import torch

    n = len(latents)
    if n < k:
        raise DgrError(f"class {class_name!r} has {n} training images, fewer than --ipc {k}; "
                       f"lower --ipc to at most {n} or add images to the class")
    if n == k:
        return latents.clone()
    flat = np.ascontiguousarray(latents.reshape(n, -1).numpy(), dtype=np.float32)
    kmeans = faiss.Kmeans(flat.shape[1], k, niter=KMEANS_ITERATIONS, seed=int(seed % (2**31 - 1)),
                          min_points_per_centroid=1, max_points_per_centroid=1_000_000, verbose=False)
    kmeans.train(flat)
    # Order prototypes by cluster size (largest first), ties by position, so indices are stable.
    _, assignment = kmeans.index.search(flat, 1)
    sizes = np.bincount(assignment[:, 0], minlength=k)
    order = sorted(range(k), key=lambda i: (-sizes[i], i))
    assert kmeans.centroids is not None  # set by train()
    centroids = kmeans.centroids[order]
    return torch.from_numpy(np.ascontiguousarray(centroids)).reshape(k, *latents.shape[1:])


def cluster_members(latents: "torch.Tensor", prototypes: "torch.Tensor") -> list[np.ndarray]:
    """For each prototype, the indices of the latents nearest to it (its cluster), closest first.

    A prototype whose cluster is empty gets the one latent nearest to it, so every list holds at
    least one index.
    """
    import torch

    distances = torch.cdist(latents.reshape(len(latents), -1).double(),
                            prototypes.reshape(len(prototypes), -1).double())
    nearest = distances.argmin(1).numpy()
    members = []
    for j in range(len(prototypes)):
        own = np.flatnonzero(nearest == j)
        if len(own) == 0:
            own = np.array([int(distances[:, j].argmin())])
        order = np.argsort(distances[own, j].numpy(), kind="stable")
        members.append(own[order])
    return members
