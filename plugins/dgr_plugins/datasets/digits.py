"""scikit-learn's bundled 8×8 digits (1797 images), split 80/20 stratified with a fixed seed."""
from __future__ import annotations

import numpy as np

from dgr.datasets import DataRequest, LabelledImages

TEST_FRACTION = 0.2
SPLIT_SEED = 0
CLASS_NAMES = tuple(str(i) for i in range(10))
# The CLIP paper's MNIST prompt ensemble.
TEMPLATES = ('a photo of the number: "{}".', "a photo of the digit {}.", "a blurry photo of the number {}.",
             "a low resolution photo of the digit {}.")


def read_digits(request: DataRequest) -> LabelledImages:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None]
    labels = bunch.target.astype(np.int64)
    train_idx, test_idx = train_test_split(np.arange(len(labels)), test_size=TEST_FRACTION,
                                           stratify=labels, random_state=SPLIT_SEED)
    idx = np.sort(train_idx if request.split == "train" else test_idx)
    return LabelledImages(name="digits", images=images[idx], labels=labels[idx], class_names=CLASS_NAMES)
