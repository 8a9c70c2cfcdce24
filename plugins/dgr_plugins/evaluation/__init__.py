"""dgr's evaluation components: the students ``convnet``, ``resnet18``, ``mlp``; the protocols
``dc``, ``dsa``, ``minimax``, ``rded`` (docs/evaluation.md); the baselines ``random-real``,
``unrefined``, ``full``. Light: the networks (torch) load inside the student factories, and the
image sets inside the baseline factories."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import attrs

import dgr
from dgr.evaluation.protocols import TrainSettings

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn


# Students ---------------------------------------------------------------------------------------

@attrs.frozen
class ConvNetStudentOptions:
    """Options of the ``convnet`` student."""

    width: int = 128  # --width


@attrs.frozen
class MLPStudentOptions:
    """Options of the ``mlp`` student."""

    width: int = 256  # --width


def make_convnet(context: dgr.BuildContext) -> "nn.Module":
    """A ConvNet-3 student for the context's dataset."""
    from dgr.models.students import convnet

    options = context.config or ConvNetStudentOptions()
    return convnet(context.dataset, options.width)


def make_resnet18(context: dgr.BuildContext) -> "nn.Module":
    """A ResNet-18 student for the context's dataset."""
    from dgr.models.students import resnet18

    return resnet18(context.dataset)


def make_mlp(context: dgr.BuildContext) -> "nn.Module":
    """An MLP student for the context's dataset."""
    from dgr.models.students import mlp

    return mlp(context.dataset, (context.config or MLPStudentOptions()).width)


@dgr.hookimpl
def dgr_register_students(register: dgr.Register) -> None:
    """Register the students ``convnet``, ``resnet18`` and ``mlp``."""
    register("convnet", make_convnet, config=ConvNetStudentOptions, requires=("torch",),
             summary="ConvNet-3 of DC/DSA/DM/MTT: conv, instance norm, ReLU, avg-pool (width 128)")
    register("resnet18", make_resnet18, requires=("torch", "torchvision"),
             summary="torchvision ResNet-18, 3×3 stem without max-pool under 64 px")
    register("mlp", make_mlp, config=MLPStudentOptions, requires=("torch",),
             summary="two hidden layers of 256 units on the flattened image")


# Protocols --------------------------------------------------------------------------------------

PRESETS = {
    "dc": TrainSettings(protocol="dc"),
    "dsa": TrainSettings(protocol="dsa", augment="dsa", epochs=1000),
    "minimax": TrainSettings(protocol="minimax", student="resnet18", augment="dsa", reference_loop=False),
    "rded": TrainSettings(protocol="rded", labels="soft", optimizer="adamw", learning_rate=1e-3, weight_decay=0.01,
                          schedule="cosine", augment="dsa", cutmix=1.0, reference_loop=False, batch_size=100,
                          temperature=20.0),
}


def _preset(name: str, follow_dataset_flips: bool) -> Callable[[dgr.ProtocolContext], TrainSettings]:
    def factory(context: dgr.ProtocolContext) -> TrainSettings:
        preset = PRESETS[name]
        if follow_dataset_flips:  # a flipped 2 is not a 2
            preset = attrs.evolve(preset, flips=context.flips)
        return preset

    return factory


@dgr.hookimpl
def dgr_register_protocols(register: dgr.Register) -> None:
    """Register the protocols ``dc``, ``dsa``, ``minimax`` and ``rded``."""
    register("dc", _preset("dc", False),
             summary="DC (Zhao et al. 2021): ConvNet-3, SGD 0.01, batch 256, 300 epochs, no augmentation (default)")
    register("dsa", _preset("dsa", False),
             summary="DSA / DM: DC with one DSA op per batch, 1000 epochs")
    register("minimax", _preset("minimax", True),
             summary="hard labels on ResNet-18, DSA augmentation, 300 epochs (Minimax diffusion's spirit)")
    register("rded", _preset("rded", True),
             summary="soft labels from a teacher, CutMix, AdamW cosine, T=20 (RDED / SRe2L's spirit)")


# Baselines --------------------------------------------------------------------------------------

def make_random_real(context: dgr.BaselineContext) -> dgr.Baseline:
    """Random real images, as many per class as the distilled set, a new draw per repeat."""
    from dgr.evaluation.baselines import Baseline, random_real
    from dgr.evaluation.runner import draw_seed

    ipc = context.distilled.ipc()
    return Baseline(sets=lambda r: random_real(context.train, ipc, draw_seed(context.run_seed, context.seed, r),
                                               pixels=True))


def make_kmeans_real(context: dgr.BaselineContext) -> dgr.Baseline:
    """The real images nearest to per-class k-means centroids, the same for every repeat."""
    from dgr.evaluation.baselines import Baseline, kmeans_real

    chosen = kmeans_real(context.train, context.distilled.ipc(), context.run_seed, pixels=True)
    return Baseline(sets=lambda r: chosen)


def make_kmeans_real_polish(context: dgr.BaselineContext) -> dgr.Baseline:
    """kmeans-real through the run's polish (its steps, else the polish recipe's)."""
    from dgr.evaluation.baselines import Baseline, kmeans_real, polish_image_set
    from dgr.recipes import load_recipe

    config = context.source.config
    # the run's polish; for a run without one (or an ImageFolder), the polish recipe's
    steps = int(config.get("polish_steps") or load_recipe("polish").settings["polish_steps"])
    start = kmeans_real(context.train, context.distilled.ipc(), context.run_seed)
    chosen = polish_image_set(start, context.train, context.train.name, steps, context.run_seed).compact()
    return Baseline(sets=lambda r: chosen)


def make_unrefined(context: dgr.BaselineContext) -> dgr.Baseline:
    """The run's initial/ images (a run folder without one is refused)."""
    from dgr.evaluation.baselines import Baseline, read_image_folder

    source = context.source
    if source.initial_dir is None:
        raise dgr.DgrError(f"{source.path} has no initial/ folder, so the unrefined baseline is unknown; "
                           "pass a dgr run folder or drop unrefined from --baselines")
    info = context.train.info
    shape = (info.channels, info.height, info.width)
    unrefined = read_image_folder(source.initial_dir, context.train.class_names, shape).compact()
    return Baseline(sets=lambda r: unrefined)


def make_full(context: dgr.BaselineContext) -> dgr.Baseline:
    """The whole training split, trained for --full-epochs, its score cached."""
    from dgr.evaluation.baselines import Baseline, ImageSet

    def sets(r: int) -> dgr.ImageSet:
        # a streamed split hands its FolderImages: the students read them a batch at a time
        return ImageSet(images=context.train.images, labels=context.train.labels)

    return Baseline(sets=sets, epochs=context.full_epochs, cache=True)


@dgr.hookimpl
def dgr_register_baselines(register: dgr.Register) -> None:
    """Register the baselines ``random-real``, ``kmeans-real``, ``kmeans-real-polish``, ``unrefined`` and ``full``."""
    register("random-real", make_random_real,
             summary="ipc random real training images per class, a new draw per repeat (run seed, --seed, repeat)")
    register("kmeans-real", make_kmeans_real,
             summary="per class the real images nearest to ipc pixel-space k-means centroids (run seed)")
    register("kmeans-real-polish", make_kmeans_real_polish,
             summary="kmeans-real through the run's distribution-matching polish (its steps, else 200; its seeds)")
    register("unrefined", make_unrefined, summary="the run's initial/ images: the synthesis before refinement")
    register("full", make_full, summary="the whole training split, --full-epochs epochs (score cached)")
