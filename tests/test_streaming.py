"""Streamed ImageFolders (dgr.datasets.ImageFolderIndex): the same pixels and the same distilled
bytes as the in-memory reader, and each class's stage opens only that class's files."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from dgr_fakes import digits_image_folder

import dgr
from dgr.datasets import ImageFolderIndex, load_dataset, load_image_folder

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "src" / "dgr" / "assets"
MODELS = {"model": str(EMBEDDED / "digits-generator"), "detector_model": str(EMBEDDED / "digits-detector")}
FAST = {"ipc": 2, "candidates": 2, "options": {"steps": "4"}}

_OPENED: list[str] = []
_WATCH: list[str] = []  # the folder whose opens the audit hook records (empty: none)


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _WATCH and isinstance(args[0], str) and args[0].startswith(_WATCH[0]):
        _OPENED.append(args[0])


sys.addaudithook(_audit)  # real opens of real files, no mock


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return digits_image_folder(tmp_path_factory.mktemp("stream") / "digits", per_class=5)


def png_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


def test_streamed_index_reads_the_same_pixels(folder, monkeypatch):
    monkeypatch.setenv("DGR_STREAM", "1")
    streamed = load_dataset(str(folder))
    whole = load_image_folder(folder)
    assert isinstance(streamed, ImageFolderIndex) and streamed.info == whole.info
    assert streamed.counts().tolist() == whole.counts().tolist() and len(streamed) == len(whole)
    assert np.array_equal(streamed.labels, whole.labels)
    for c in range(10):
        assert np.array_equal(streamed.of_class(c), whole.of_class(c))
    assert np.array_equal(streamed.images[[31, 2, 17]], whole.images[[31, 2, 17]])
    assert np.array_equal(np.asarray(streamed.images), whole.images)


def test_small_folders_stay_in_memory_unless_asked(folder, monkeypatch):
    monkeypatch.delenv("DGR_STREAM", raising=False)
    assert not isinstance(load_dataset(str(folder)), ImageFolderIndex)  # 50 tiny images: faster in memory
    monkeypatch.setattr("dgr.datasets.folders.STREAM_ABOVE_BYTES", 100)
    assert isinstance(load_dataset(str(folder)), ImageFolderIndex)
    monkeypatch.setenv("DGR_STREAM", "0")
    assert not isinstance(load_dataset(str(folder)), ImageFolderIndex)


def test_streamed_distillation_writes_the_same_bytes(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("DGR_STREAM", "0")
    memory = dgr.distill(recipe="paper", dataset=str(folder), out=tmp_path / "memory", **MODELS, **FAST)
    monkeypatch.setenv("DGR_STREAM", "1")
    streamed = dgr.distill(recipe="paper", dataset=str(folder), out=tmp_path / "streamed", **MODELS, **FAST)
    assert memory.complete and streamed.complete
    assert png_bytes(memory.out) == png_bytes(streamed.out)
    assert (memory.out / "manifest.jsonl").read_bytes() == (streamed.out / "manifest.jsonl").read_bytes()


def test_a_class_stage_opens_only_its_own_files(folder, tmp_path, monkeypatch):
    """Indexing opens one file per class (its header: size and mode); distilling class 3 then
    opens class 3's files and no other, so memory follows the class, not the split."""
    monkeypatch.setenv("DGR_STREAM", "1")
    _OPENED.clear()
    _WATCH[:] = [str(folder)]
    try:
        result = dgr.distill(recipe="paper", dataset=str(folder), out=tmp_path / "run", classes=[3], **MODELS, **FAST)
    finally:
        _WATCH.clear()
    assert not result.complete and [r["class"] for r in result.records] == ["3"] * 2
    by_class: dict[str, int] = {}
    for path in _OPENED:
        by_class[Path(path).parent.name] = by_class.get(Path(path).parent.name, 0) + 1
    assert by_class.pop("3") >= 5  # every image of the class distilled
    assert by_class == {str(c): 1 for c in range(10) if c != 3}, by_class  # only the header peeks


def test_detector_training_streams_the_same_batches(folder, tmp_path, monkeypatch):
    """`dgr train detector` on a streamed folder: the same batches, augmentations and held-out
    slice as in memory, so the same weights, byte for byte."""
    from dgr.training.detector import DetectorTraining, train_detector

    settings = DetectorTraining(epochs=2, batch_size=16, max_steps=5)
    whole = load_image_folder(folder)
    monkeypatch.setenv("DGR_STREAM", "1")
    streamed = load_dataset(str(folder))
    assert isinstance(streamed, ImageFolderIndex)
    a = train_detector(whole, tmp_path / "memory", settings)
    b = train_detector(streamed, tmp_path / "streamed", settings)
    assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    assert (tmp_path / "memory" / "model.safetensors").read_bytes() == \
        (tmp_path / "streamed" / "model.safetensors").read_bytes()


def test_generator_training_streams_the_same_batches(folder, tmp_path, monkeypatch):
    """`dgr train generator` on a streamed folder reads each step's batch from the files: the same
    rows and pixels as in memory, so the same weights, byte for byte."""
    from dgr.training.generator import GeneratorTraining, train_pixel_dit

    settings = GeneratorTraining(steps=3, batch_size=8, patch_size=2, layers=1, heads=2, head_dim=8)
    whole = load_image_folder(folder)
    monkeypatch.setenv("DGR_STREAM", "1")
    streamed = load_dataset(str(folder))
    assert isinstance(streamed, ImageFolderIndex)
    train_pixel_dit(whole, tmp_path / "memory", settings)
    read_before = streamed.files_read
    train_pixel_dit(streamed, tmp_path / "streamed", settings)
    assert streamed.files_read - read_before <= 3 * 8  # a step's batch, not the split
    weights = "transformer/diffusion_pytorch_model.safetensors"
    assert (tmp_path / "memory" / weights).read_bytes() == (tmp_path / "streamed" / weights).read_bytes()



def test_clip_training_streams_the_same_batches(folder, tmp_path, monkeypatch):
    """`dgr train clip` on a streamed folder: each step's images read from the files, the same
    weights as in memory."""
    from dgr.training.clip import ClipTraining, train_clip

    settings = ClipTraining(steps=2, batch_size=8, embed_dim=16, vision_width=16, vision_layers=1, text_width=16,
                            text_layers=1, context_length=12, vision_head_width=8, text_heads=2)
    whole = load_image_folder(folder)
    monkeypatch.setenv("DGR_STREAM", "1")
    streamed = load_dataset(str(folder))
    a = train_clip(whole, tmp_path / "memory", settings, test=whole)
    b = train_clip(streamed, tmp_path / "streamed", settings, test=streamed)  # the test split read in chunks
    assert a["split"] == "test" and a["images"] == len(whole)
    assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    assert (tmp_path / "memory" / "open_clip_model.safetensors").read_bytes() == \
        (tmp_path / "streamed" / "open_clip_model.safetensors").read_bytes()


def test_clip_training_encodes_the_captions_a_batch_drew(folder, tmp_path):
    """A training step runs the text tower on the captions its images drew (at most a batch), not on
    every class's every caption: its memory and time follow the batch, not the class count."""
    import torch

    from dgr.models.clip import default_templates
    from dgr.training.clip import ClipTraining, train_clip

    settings = ClipTraining(steps=3, batch_size=4, embed_dim=16, vision_width=16, vision_layers=1, text_width=16,
                            text_layers=1, context_length=12, vision_head_width=8, text_heads=2, holdout=0.1)
    data = load_image_folder(folder)
    captions: list[int] = []

    def count(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
        if isinstance(module, torch.nn.Embedding):  # the text tower's token embedding: one row a caption
            captions.append(len(args[0]))

    with torch.nn.modules.module.register_module_forward_hook(count):
        train_clip(data, tmp_path / "clip", settings)
    every = len(data.class_names) * len(default_templates(data.info.name))
    # 3 steps of at most 4 captions, then the class embeddings once for the held-out slice and once for the report
    assert sum(captions) <= 3 * 4 + 2 * every < 3 * every + 2 * every


def test_normalisation_of_a_streamed_folder_is_read_class_by_class(folder, monkeypatch):
    import numpy as np

    from dgr.evaluation.student_training import dataset_stats

    whole = load_image_folder(folder)
    monkeypatch.setenv("DGR_STREAM", "1")
    streamed = load_dataset(str(folder))
    expected, got = dataset_stats(str(folder), whole.images), dataset_stats(str(folder), streamed.images)
    assert np.allclose(expected, got, atol=1e-9)


def test_eight_bit_sets_are_kept_as_pixels_and_train_the_same_student(folder):
    """dgr evaluate keeps 8-bit sets as uint8 (a quarter of the memory); the student sees the same
    floats, so its weights and scores are the same bytes; images that are not 8-bit stay float."""
    import torch

    from dgr.datasets import compact_pixels
    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.students import build_student
    from dgr.evaluation.student_training import accuracy, dataset_stats, train_student

    whole = load_image_folder(folder)
    pixels = compact_pixels(whole.images)
    assert pixels.dtype == np.uint8 and np.array_equal(pixels.astype(np.float32) / 255.0, whole.images)
    digits = load_dataset("digits", "train").images[:50]  # 17 grey levels, not multiples of 1/255
    assert compact_pixels(digits) is digits
    settings = resolve_protocol("dc", "digits", epochs=3, width=16)
    stats = dataset_stats("digits", whole.images)
    labels = torch.from_numpy(whole.labels)
    models = []
    for images in (torch.from_numpy(whole.images), torch.from_numpy(pixels)):
        torch.manual_seed(0)
        model = build_student(settings.student, whole.info, settings.width)
        train_student(model, images, labels, settings, seed=0, stats=stats)
        models.append(model)
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        assert torch.equal(a, b)
    assert accuracy(models[0], torch.from_numpy(whole.images), labels, stats=stats) == \
        accuracy(models[1], torch.from_numpy(pixels), labels, stats=stats)


def test_a_streamed_test_split_scores_like_the_split_in_memory(folder, monkeypatch):
    """The test split of a large ImageFolder stays on disk and is read a batch at a time for each
    student: the same score as in memory; an unreadable file drops out with its label."""
    import torch

    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.student_training import fit_and_score

    whole = load_image_folder(folder)
    monkeypatch.setenv("DGR_STREAM", "1")
    streamed = load_dataset(str(folder))
    assert isinstance(streamed, ImageFolderIndex)
    settings = resolve_protocol("dc", "digits", epochs=2, width=16)
    x, y = torch.from_numpy(whole.images[::2]), torch.from_numpy(whole.labels[::2])
    in_memory = fit_and_score(x, y, torch.from_numpy(whole.images), torch.from_numpy(whole.labels), whole.info,
                              settings, seed=0)
    on_disk = fit_and_score(x, y, streamed, torch.from_numpy(streamed.labels), whole.info, settings, seed=0)
    assert (in_memory.accuracy, in_memory.balanced_accuracy) == (on_disk.accuracy, on_disk.balanced_accuracy)
    batches = list(streamed.labelled_batches(7))
    assert [len(b[0]) for b in batches] == [7] * 7 + [1]
    assert np.array_equal(np.concatenate([b[1] for b in batches]), whole.labels)


def test_an_unreadable_test_file_drops_out_with_its_label(folder, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "digits"
    shutil.copytree(folder, copy)
    (copy / "3" / "0.png").write_bytes(b"not a png")
    monkeypatch.setenv("DGR_STREAM", "1")
    streamed = load_dataset(str(copy))
    with pytest.warns(UserWarning, match="0.png"):
        labels = np.concatenate([y for _, y in streamed.labelled_batches(16)])
    expected = np.delete(streamed.labels, int(np.flatnonzero(streamed.labels == 3)[0]))
    assert np.array_equal(labels, expected)


def test_real_baselines_read_as_pixels_hold_the_same_images(folder, monkeypatch):
    """dgr evaluate draws random real and k-means real as 8-bit pixels, a chunk at a time (a large
    set never exists as float32); the images are the floats the plain draw gives, and a dataset
    whose images are not 8-bit (digits) keeps float32."""
    from dgr.evaluation import baselines

    monkeypatch.setattr(baselines, "TAKE_CHUNK", 7)
    monkeypatch.setenv("DGR_STREAM", "1")
    streamed = load_dataset(str(folder))
    for draw in (baselines.random_real, baselines.kmeans_real):
        plain, pixels = draw(streamed, 3, 5), draw(streamed, 3, 5, pixels=True)
        assert pixels.images.dtype == np.uint8 and np.array_equal(pixels.unit_images(), plain.images)
        assert np.array_equal(pixels.labels, plain.labels)
    digits = load_dataset("digits", "train")
    plain, pixels = baselines.random_real(digits, 3, 5), baselines.random_real(digits, 3, 5, pixels=True)
    assert pixels.images.dtype == np.float32 and np.array_equal(pixels.images, plain.images)


def test_the_full_baseline_of_a_streamed_split_trains_from_disk(folder, tmp_path, monkeypatch):
    """`--baselines full` on a streamed ImageFolder: the student reads each batch's files (every row
    once an epoch, the split never whole in memory) and ends with the weights and the score of the
    split in memory."""
    import torch

    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.runner import evaluate_source
    from dgr.evaluation.student_training import train_student
    from dgr.evaluation.students import build_student

    settings = resolve_protocol("dc", "digits", epochs=2, width=16)
    whole = load_image_folder(folder)
    monkeypatch.setenv("DGR_STREAM", "1")
    streamed = load_dataset(str(folder))
    assert isinstance(streamed, ImageFolderIndex)
    labels = torch.from_numpy(whole.labels)
    models = []
    for images in (torch.from_numpy(whole.images), streamed.images):
        torch.manual_seed(0)
        models.append(build_student(settings.student, whole.info, settings.width))
        read_before = streamed.files_read
        train_student(models[-1], images, labels, settings, seed=3)
    assert streamed.files_read - read_before == 3 * len(whole)  # the DC loop's epochs + 1 passes, a batch at a time
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        assert torch.equal(a, b)

    root = tmp_path / "data"
    for split, count in (("train", 5), ("test", 2)):
        digits_image_folder(root / split, per_class=count)
    distilled = digits_image_folder(tmp_path / "set", per_class=1)
    rows = {}
    for stream in ("0", "1"):
        monkeypatch.setenv("DGR_STREAM", stream)
        report = evaluate_source(distilled, dataset=str(root), data_dir=None, settings=settings, repeats=1,
                                 baselines=["full"], full_epochs=3, use_cache=False)
        rows[stream] = [(row["name"], row["images"], row["accuracies"]) for row in report["rows"]]
    assert rows["0"] == rows["1"] and rows["1"][1][:2] == ("full", 50)
