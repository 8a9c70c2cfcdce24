"""What the full-size rehearsal (benchmarks/fullsize.py) found, each at toy size: an ImageNette
folder (ImageNet wnids as class names) and models in the hub's folder layouts."""
from __future__ import annotations

import json

import pytest

from dgr.errors import MissingWeightsError

WNIDS = ("n01440764", "n03394916", "n03888257")
TINY_OPEN_CLIP = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
                  "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


@pytest.fixture(scope="module")
def hub_clip(tmp_path_factory):
    """A tiny open_clip model in the hub's layout (open_clip_config.json + open_clip_model.safetensors),
    as benchmarks/fullsize.py writes ViT-B-32."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("hub-clip")
    config = folder / "tiny.json"
    config.write_text(json.dumps(TINY_OPEN_CLIP))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model("tiny")
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_OPEN_CLIP}))
    config.unlink()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    return folder


@pytest.fixture(scope="module")
def wnid_folder(tmp_path_factory):
    """An ImageNette-shaped ImageFolder: ImageNet wnids as folder names, two 48 × 60 JPEGs each."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("imagenette")
    rng = np.random.default_rng(0)
    for wnid in WNIDS:
        (root / wnid).mkdir()
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (48, 60, 3), dtype=np.uint8)).save(root / wnid / f"{i}.JPEG")
    return root


def wnid_context(model, folder):
    from dgr.components import BuildContext
    from dgr.datasets import load_dataset
    from dgr_plugins.detectors.clip import ClipOptions

    return BuildContext(dataset=load_dataset(str(folder), "train").info, model=str(model), config=ClipOptions())


def test_clip_prompts_say_the_imagenet_names_of_wnid_folders(hub_clip, wnid_folder):
    """ImageNette's classes are folders named by wnid: zero-shot prompts of "a photo of a n01440764."
    mean nothing to CLIP; they must say "tench"."""
    import numpy as np
    import torch

    from dgr_plugins.detectors.clip import make_clip

    detector = make_clip(wnid_context(hub_clip, wnid_folder))
    assert detector.class_names == ["tench", "French horn", "parachute"]
    detection = detector.score(torch.rand(2, 3, 48, 48))  # 48 px images reach the model at its 32 px
    assert detection.probs.shape == (2, 3) and np.allclose(detection.probs.sum(1), 1, atol=1e-5)


def test_hub_layout_clip_folder_without_weights_is_refused(hub_clip, wnid_folder, tmp_path):
    """open_clip only warns when a local-dir folder lacks weights and goes on with random ones."""
    from dgr_plugins.detectors.clip import make_clip

    empty = tmp_path / "no-weights"
    empty.mkdir()
    (empty / "open_clip_config.json").write_text((hub_clip / "open_clip_config.json").read_text())
    with pytest.raises(MissingWeightsError, match="no weights"):
        make_clip(wnid_context(empty, wnid_folder))


def test_the_rehearsal_builds_the_published_architectures():
    """benchmarks/fullsize.py's configurations give the published sizes (counted on the meta device:
    nothing is computed): DiT-XL/2 118.6 G multiply-adds at 256 px, SD 1.5's 860 M-parameter UNet,
    CLIP ViT-B/32's 151 M parameters, ResNet-18's 1.8 G multiply-adds at 224 px."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from fullsize import model_costs
    finally:
        sys.path.pop(0)
    costs = model_costs({"dit", "sd", "clip", "resnet"}, sd_resolution=512)
    params = {name.split(",")[0]: p for name, (p, _) in costs.items()}
    flops = {name: f for name, (_, f) in costs.items()}
    assert flops["DiT-XL/2 transformer, 32×32×4 latents"] / 2 == pytest.approx(118.6e9, rel=0.01)
    assert params["SD 1.5 UNet"] == pytest.approx(859.5e6, rel=0.001)
    assert params["CLIP ViT-B/32 image tower"] + params["CLIP ViT-B/32 text tower"] == pytest.approx(151.3e6, rel=0.001)
    assert flops["ResNet-18, 224 px"] / 2 == pytest.approx(1.82e9, rel=0.01)
    assert params["VAE (whole) encode"] == pytest.approx(83.65e6, rel=0.001)
