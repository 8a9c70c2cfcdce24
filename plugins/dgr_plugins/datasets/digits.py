"""scikit-learn's bundled 8×8 digits (1797 images), split 80/20 stratified with a fixed seed.

The pixels are read from the file scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``, what
``load_digits`` reads) and the split from ``digits-test-rows.txt`` beside this module (the rows of
``train_test_split(test_size=0.2, stratify=labels, random_state=0)``; tests check both against
scikit-learn): importing scikit-learn costs about a second and a half, a third of the quick start's
start-up.
"""
from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from dgr.datasets import DataRequest, LabelledImages
from dgr.errors import DgrError

TEST_ROWS_FILE = Path(__file__).with_name("digits-test-rows.txt")
CLASS_NAMES = tuple(str(i) for i in range(10))
# The CLIP paper's MNIST prompt ensemble.
TEMPLATES = ('a photo of the number: "{}".', "a photo of the digit {}.", "a blurry photo of the number {}.",
             "a low resolution photo of the digit {}.")


def digits_file() -> Path:
    """scikit-learn's copy of the UCI digits (64 pixel values 0–16 and the label a row), found without
    importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DgrError("dataset 'digits' is read from scikit-learn's bundled copy; install it "
                       "(pip install scikit-learn)")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"


def test_rows() -> np.ndarray:
    """The rows of the test split (sorted)."""
    text = "\n".join(line for line in TEST_ROWS_FILE.read_text().splitlines() if not line.startswith("#"))
    return np.asarray(text.split(), dtype=np.int64)


def read_digits(request: DataRequest) -> LabelledImages:
    """A split of scikit-learn's 8×8 digits (shipped with dgr), pixels in [0, 1]."""
    with gzip.open(digits_file(), "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    images = (table[:, :-1].reshape(-1, 1, 8, 8).astype(np.float32) / 16.0)
    labels = table[:, -1].astype(np.int64)
    in_test = np.zeros(len(labels), dtype=bool)
    in_test[test_rows()] = True
    idx = np.flatnonzero(in_test if request.split == "test" else ~in_test)
    return LabelledImages(name="digits", images=images[idx], labels=labels[idx], class_names=CLASS_NAMES)
