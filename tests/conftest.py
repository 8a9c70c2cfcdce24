from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One torch thread per test process (and the dgr subprocesses they start): on 2 shared cores,
# OpenMP threads spinning against each other made the suite several times slower. Images do not
# depend on the thread count (checked: byte-identical runs with 1 and 2 threads).
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def digits_train():
    from dgr.datasets import load_dataset

    return load_dataset("digits", "train")


@pytest.fixture(scope="session")
def tiny_dit_folder(tmp_path_factory, digits_train) -> Path:
    """A random-weight pixel DiT for digits in the DiTPipeline layout, saved with save_pretrained."""
    import torch
    from diffusers import DDPMScheduler, DiTTransformer2DModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-dit")
    model = DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=1, out_channels=1,
                                  num_layers=1, sample_size=8, patch_size=2, num_embeds_ada_norm=10)
    model.save_pretrained(folder / "transformer")
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(folder / "scheduler")
    (folder / "dgr_model.json").write_text(json.dumps({"class_names": list(digits_train.class_names)}))
    return folder


@pytest.fixture()
def build_context(digits_train):
    from dgr.components import BuildContext

    def make(model=None, config=None, **kw):
        return BuildContext(dataset=digits_train.info, model=model and str(model), config=config,
                            train_data=digits_train, **kw)

    return make
