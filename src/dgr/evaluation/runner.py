"""What ``dgr evaluate`` does: load the distilled set and the baselines, train a student on
each ``repeats`` times, and report final-epoch test accuracy as mean ± std, with the paired
difference (distilled − baseline, same student seed) for every baseline."""
from __future__ import annotations

import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import attrs
import numpy as np

from dgr.errors import DgrError
from dgr.evaluation.baselines import Baseline, BaselineContext, ImageSet, full_cache_file, read_image_folder
from dgr.evaluation.protocols import TrainSettings
from dgr.evaluation.source import Source
from dgr.evaluation.student_training import dataset_stats

if TYPE_CHECKING:  # pragma: no cover
    from dgr.datasets.folders import FolderImages


@attrs.frozen
class Row:
    """One image set's scores: one accuracy per repeat."""

    name: str
    images: int
    accuracies: tuple[float, ...]
    seconds: float
    cached: bool = False
    balanced: tuple[float, ...] = ()  # balanced accuracy per repeat

    @property
    def mean(self) -> float:
        """The mean accuracy over the seeds."""
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        """The standard deviation of the accuracy over the seeds."""
        return float(np.std(self.accuracies))

    def as_dict(self) -> dict[str, Any]:
        """The row as the results and the cache store it, rounded."""
        return {"name": self.name, "images": self.images, "accuracies": [round(a, 5) for a in self.accuracies],
                "mean": round(self.mean, 5), "std": round(self.std, 5), "seconds": round(self.seconds, 2),
                "cached": self.cached, "balanced_accuracies": [round(a, 5) for a in self.balanced],
                "balanced_mean": round(float(np.mean(self.balanced)), 5) if self.balanced else None}


def parse_baselines(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Registered baseline names from ``--baselines``; an unknown one lists the registered ones."""
    from dgr.plugins import build_registry

    if text is None:
        return ()
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    registry = build_registry()
    for name in names:
        registry.get("baseline", name)
    return tuple(dict.fromkeys(names))


def _run_detector_teaches(name: Any) -> bool:
    """Whether the run's detector is registered as one whose model folder can be the KD teacher."""
    from dgr.errors import UnknownNameError
    from dgr.plugins import build_registry

    if not isinstance(name, str):
        return False
    try:
        return build_registry().get("detector", name).teacher
    except UnknownNameError:  # a run made with a plugin that is not installed here
        return False


def load_teacher(source: Source | None, dataset: str, teacher: str | None, info: Any = None) -> Any:
    """The KD teacher: ``teacher`` (a dgr ConvNet folder), else the run's detector model when its
    detector is registered with ``teacher=True`` (dgr's convnet), else the embedded detector of
    ``dataset``. With ``info`` (the dataset's :class:`DatasetInfo`) a teacher trained on other
    classes or at another size is refused before its weights load."""
    from dgr.assets import embedded_model
    from dgr.models.convnet import ConvNetClassifier

    folder: str | Path | None = teacher
    config = source.config if source else {}
    if folder is None and config.get("detector_model") and _run_detector_teaches(config.get("detector")):
        folder = config["detector_model"]
    if folder is None:
        folder = embedded_model("detector", dataset)
    if folder is None:
        raise DgrError(f"soft labels need a teacher and dataset {dataset!r} ships none; train one with "
                       f"`dgr train detector --dataset {dataset} --out DIR` and pass --teacher DIR")
    if not Path(folder).is_dir():
        raise DgrError(f"teacher folder {folder} does not exist; pass --teacher a folder made by "
                       f"`dgr train detector --dataset {dataset} --out DIR`")
    if info is not None:
        check_teacher(folder, info)
    return ConvNetClassifier.from_pretrained(folder)


def check_teacher(folder: str | Path, info: Any) -> None:
    """Refuse a teacher folder whose ``config.json`` records other class names or another image size
    than the dataset's (a folder that cannot be read is left to the loader's one-line error)."""
    from dgr.models.convnet import CONVNET_FOLDER
    from dgr.models.folders import CONFIG_FILE
    from dgr.sizes import read_trained_shape

    fix = f"pass --teacher a detector trained on this dataset (`dgr train detector --dataset {info.name} --out DIR`)"
    try:
        names = [str(n) for n in json.loads((Path(folder) / CONFIG_FILE).read_text()).get("class_names", [])]
    except (OSError, ValueError, AttributeError):
        return
    if names and names != [str(n) for n in info.class_names]:
        listed = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
        raise DgrError(f"the teacher in {folder} was trained on classes {listed}, not the dataset's "
                       f"{', '.join(map(str, info.class_names[:10]))}{', …' if len(info.class_names) > 10 else ''}; "
                       f"{fix}")
    shape = read_trained_shape(folder, "detector", CONVNET_FOLDER)
    if shape is not None and (shape.height, shape.width) != (info.height, info.width):
        raise DgrError(f"the teacher in {folder} was trained at {shape.height}×{shape.width} px, but the images are "
                       f"{info.height}×{info.width}; {fix} at that size")


def _tensors(images: "np.typing.ArrayLike | FolderImages", labels: np.ndarray) -> tuple[Any, Any]:
    """Tensors of a set: 8-bit pixels stay uint8 (the students divide by 255 a batch at a time); a
    streamed split's images stay on disk (the students read them a batch at a time)."""
    import torch

    from dgr.datasets.folders import FolderImages

    if isinstance(images, FolderImages):
        return images, torch.from_numpy(labels)
    pixels = np.asarray(images)
    dtype = np.uint8 if pixels.dtype == np.uint8 else np.float32
    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=dtype)), torch.from_numpy(labels)


def test_split(data: Any) -> tuple[Any, Any]:
    """The test split the students are scored on: a streamed ImageFolder stays on disk (each student
    reads it a batch at a time); a split in memory becomes tensors, 8-bit pixels when its images are."""
    import torch

    from dgr.datasets import ImageFolderIndex, compact_pixels

    if isinstance(data, ImageFolderIndex):
        return data, torch.from_numpy(data.labels)
    return _tensors(compact_pixels(np.asarray(data.images, dtype=np.float32)), data.labels)


StudentDone = Callable[[str, int, float, float], None]
"""``on_student(set name, repeat, accuracy, seconds)``: called as each student finishes."""


def score_set(name: str, sets: Callable[[int], ImageSet], test: Any, info: Any, settings: TrainSettings,
              repeats: int, seed: int, teacher: Any = None, stats: Any = None,
              on_student: StudentDone | None = None) -> Row:
    """Train ``repeats`` students; repeat r trains on ``sets(r)`` with seed ``seed + r``, so repeat r of
    every set shares its student seed (the pairing of :func:`paired_differences`)."""
    from dgr.evaluation.student_training import fit_and_score

    start = time.perf_counter()
    accuracies, balanced, size = [], [], 0
    for r in range(repeats):
        chosen = sets(r).compact()
        size = len(chosen)
        x, y = _tensors(chosen.images, chosen.labels)
        score = fit_and_score(x, y, test[0], test[1], info, settings, seed=seed + r, teacher=teacher, stats=stats)
        accuracies.append(score.accuracy)
        balanced.append(score.balanced_accuracy)
        if on_student is not None:
            on_student(name, r, score.accuracy, score.seconds)
    return Row(name=name, images=size, accuracies=tuple(accuracies), seconds=time.perf_counter() - start,
               balanced=tuple(balanced))


def draw_seed(run_seed: int, seed: int, repeat: int) -> int:
    """The random-real draw of ``repeat``: a function of the run's seed, ``--seed`` and the repeat."""
    return int(np.random.SeedSequence([RANDOM_REAL_STREAM, run_seed, seed, repeat]).generate_state(1)[0])


RANDOM_REAL_STREAM = 7201  # keeps random-real draws apart from other uses of the same seeds


def paired_differences(rows: Sequence[Row]) -> dict[str, dict[str, Any]]:
    """distilled − baseline per repeat (same student seed), for every baseline row."""
    base = next((row for row in rows if row.name == "distilled"), None)
    out: dict[str, dict[str, Any]] = {}
    if base is None:
        return out
    for row in rows:
        if row.name == "distilled" or len(row.accuracies) != len(base.accuracies):
            continue
        diffs = [a - b for a, b in zip(base.accuracies, row.accuracies)]
        out[row.name] = {"differences": [round(d, 5) for d in diffs], "mean": round(float(np.mean(diffs)), 5),
                         "std": round(float(np.std(diffs)), 5), "wins": int(sum(d > 0 for d in diffs)),
                         "repeats": len(diffs)}
    return out


def dd_ranking(rows: Sequence[Row]) -> dict[str, dict[str, float]]:
    """DD-Ranking's two numbers for every set (Li et al., arXiv 2505.13300): ``IOR``, improvement over
    random, the set's accuracy − random real's, paired repeat by repeat (same student seed); ``HLR``,
    hard label recovery, the full training split's accuracy − the set's (each only when that row
    was measured)."""
    by_name = {row.name: row for row in rows}
    random, full = by_name.get("random-real"), by_name.get("full")
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        metrics: dict[str, float] = {}
        if random is not None and row is not random and len(random.accuracies) == len(row.accuracies):
            metrics["IOR"] = round(float(np.mean(np.subtract(row.accuracies, random.accuracies))), 5)
        if full is not None and row is not full:
            metrics["HLR"] = round(float(np.mean(full.accuracies)) - float(np.mean(row.accuracies)), 5)
        if metrics:
            out[row.name] = metrics
    return out


def test_balance(labels: np.ndarray) -> dict[str, Any]:
    """The majority-class rate of the test split; ``imbalanced`` when classes differ by over 10 %."""
    counts = np.bincount(labels)
    present = counts[counts > 0]
    return {"majority_rate": round(float(counts.max() / counts.sum()), 5),
            "imbalanced": bool(present.max() > 1.1 * present.min())}


def evaluate_source(path: str | Path, *, dataset: str | None, data_dir: str | None, settings: TrainSettings,
                    repeats: int = 5, baselines: Sequence[str] = (), seed: int = 0, teacher: str | None = None,
                    full_epochs: int = 50, use_cache: bool = True,
                    on_row: Callable[[Row], None] | None = None, allow_incomplete: bool = False,
                    on_start: Callable[[], None] | None = None,
                    on_student: StudentDone | None = None) -> dict[str, Any]:
    """Score a distilled set and the asked baselines; the JSON-able report ``dgr evaluate`` prints.
    ``on_start`` is called once every input is loaded and checked, before the first student trains."""
    from dgr.datasets import load_dataset

    if repeats < 1:
        raise DgrError(f"--repeats must be at least 1, got {repeats}")
    source = Source.open(path, allow_incomplete)
    run_dataset, run_data_dir = source.dataset()
    dataset = dataset or run_dataset
    if dataset is None:
        raise DgrError(f"{path} is not a dgr run folder, so the dataset is unknown; pass --dataset NAME")
    data_dir = data_dir or (run_data_dir if dataset == run_dataset else None)
    options = source.dataset_options() if dataset == run_dataset else {}
    train = load_dataset(dataset, "train", data_dir, options=options)
    test_data = load_dataset(dataset, "test", data_dir, options=options)
    info = train.info
    shape = (info.channels, info.height, info.width)
    distilled = read_image_folder(source.images_dir, train.class_names, shape).compact()
    test, test_count, balance = test_split(test_data), len(test_data), test_balance(test_data.labels)
    del test_data  # a split read into memory is kept once, as the tensors of ``test``
    stats = dataset_stats(dataset, train.images)
    run_seed = int(source.config.get("seed") or 0)
    teacher_model = load_teacher(source, dataset, teacher, info) if settings.labels == "soft" else None
    made: list[tuple[str, Baseline]] = []
    if baselines:  # every baseline is made before the first student: one that cannot be is refused first
        from dgr.plugins import build_registry

        registry = build_registry()
        context = BaselineContext(source=source, train=train, distilled=distilled, run_seed=run_seed, seed=seed,
                                  full_epochs=full_epochs)
        made = [(name, registry.get("baseline", name).factory(context)) for name in baselines]
    if on_start is not None:
        on_start()
    rows: list[Row] = []

    def add(row: Row) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    add(score_set("distilled", lambda r: distilled, test, info, settings, repeats, seed, teacher_model, stats,
                  on_student))
    for name, baseline in made:
        add(_baseline_row(name, baseline, train, test, info, settings, repeats, seed, teacher_model, use_cache,
                          stats, data_dir, on_student))
    return {
        "source": str(source.path), "dataset": dataset, "data_dir": data_dir, "classes": list(train.class_names),
        "test_images": test_count, "repeats": repeats, "seed": seed, "settings": settings.as_dict(),
        "full_epochs": full_epochs, "metric": "final-epoch top-1 accuracy on the real test split",
        "protocol": settings.describe(), "run_seed": run_seed, "normalisation": [list(stats[0]), list(stats[1])],
        "rows": [row.as_dict() for row in rows], "paired": paired_differences(rows),
        "dd_ranking": dd_ranking(rows),
        "test_balance": balance,
        "machine": machine(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _baseline_row(name: str, baseline: Baseline, train: Any, test: Any, info: Any, settings: TrainSettings,
                  repeats: int, seed: int, teacher: Any, use_cache: bool, stats: Any = None,
                  data_dir: str | None = None, on_student: StudentDone | None = None) -> Row:
    """Score a registered baseline: its own epochs if it asks for them, its cached score if it is cached
    (keyed by the dataset, its data dir when it has one, its size and the settings)."""
    if baseline.epochs is not None:
        settings = attrs.evolve(settings, epochs=baseline.epochs)
    if not baseline.cache:
        return score_set(name, baseline.sets, test, info, settings, repeats, seed, teacher, stats, on_student)
    key = {"dataset": train.name, **({"data_dir": str(data_dir)} if data_dir else {}), "train_images": len(train),
           "settings": settings.as_dict(), "repeats": repeats, "seed": seed}
    cache = full_cache_file(key, name)
    from dgr.rundir import dumps

    if use_cache and cache.exists():
        data = json.loads(cache.read_text())
        return Row(name=name, images=data["images"], accuracies=tuple(data["accuracies"]),
                   seconds=data["seconds"], cached=True, balanced=tuple(data.get("balanced_accuracies") or ()))
    row = score_set(name, baseline.sets, test, info, settings, repeats, seed, teacher, stats, on_student)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(dumps({**row.as_dict(), "key": key}, indent=2) + "\n")
    except OSError:
        pass  # a read-only home only costs the next run the training
    return row


def machine() -> str:
    """One line about the hardware the numbers come from."""
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    # the vector unit torch dispatches to (AVX2, AVX512): the same seeds can train to slightly different
    # accuracies on CPUs with different ones
    return (f"{cpu} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} CPUs, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, torch {torch.__version__}")
