"""Datasets as plugins: each built-in format read from files written in its real on-disk format
(tests/dataset_files.py), the description's facts, the wnid table, and one-line errors."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from dataset_files import (CIFAR10_NAMES, WNID_INDICES, WNIDS, class_pixels, hf_dataset, write_cifar10,
                           write_cifar100, write_hf, write_imagenet, write_tiny_imagenet)
from dgr_runs import ENV, dgr_command
from PIL import Image

from dgr.errors import DgrError


def load(name, split="train", data_dir=None, **kw):
    from dgr.datasets import load_dataset

    return load_dataset(name, split, None if data_dir is None else str(data_dir), **kw)


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(dgr_command(*args), capture_output=True, text=True, env={**ENV, "COLUMNS": "200"},
                          timeout=600)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- the registry ----------------------------------------------------------------------------------

def test_dgr_list_datasets_lists_the_built_ins():
    result = cli("list", "datasets")
    assert result.returncode == 0, result.stderr
    for name in ("digits", "fashion-mnist", "cifar10", "cifar100", "imagenet", "tiny-imagenet", "hf"):
        assert f" {name} " in result.stdout
    assert "cifar-10-batches-py" in result.stdout  # the layout it reads


def test_a_registered_dataset_is_a_description_with_facts():
    from dgr.datasets import describe, flips_allowed
    from dgr.evaluation.student_training import dataset_stats

    digits = describe("digits")
    assert digits.flips is False and digits.model("generator") is not None and "digit" in digits.prompt_templates[1]
    assert flips_allowed("fashion-mnist") and flips_allowed("some/folder") and not flips_allowed("digits")
    assert dataset_stats("cifar10", None) == ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
    assert describe("cifar10").model("detector") is None
    with pytest.raises(DgrError, match="unknown dataset 'cifar1'.*did you mean.*or a path to an ImageFolder"):
        describe("cifar1")


def test_a_plugin_registers_a_dataset_and_a_bad_registration_is_skipped(tmp_path):
    import dgr
    from dgr.plugins import PluginWarning, build_registry, get_plugin_manager

    class Good:
        @dgr.hookimpl
        def dgr_register_datasets(self, register):
            register("squares", dgr.DatasetDescription(name="squares", read=lambda r: None, summary="s"))

    class Bad:
        @dgr.hookimpl
        def dgr_register_datasets(self, register):
            register("circles", lambda request: None)  # a reader, not a description

    pm = get_plugin_manager()
    pm.register(Good(), name="good-datasets")
    pm.register(Bad(), name="bad-datasets")
    try:
        with pytest.warns(PluginWarning, match="bad-datasets.*DatasetDescription"):
            registry = build_registry()
        assert "squares" in registry.names("datasets") and "circles" not in registry.names("datasets")
    finally:
        pm.unregister(name="good-datasets")
        pm.unregister(name="bad-datasets")


# --- CIFAR -------------------------------------------------------------------------------------------

def test_digits_is_scikit_learns_digits_and_split_without_importing_it():
    """The pixels and the 80/20 split equal load_digits + train_test_split(stratify, random_state=0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from dgr.datasets import load_dataset

    bunch = load_digits()
    images, labels = (bunch.images.astype(np.float32) / 16.0)[:, None], bunch.target.astype(np.int64)
    train_rows, test_rows = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=0)
    for split, rows in (("train", np.sort(train_rows)), ("test", np.sort(test_rows))):
        data = load_dataset("digits", split)
        assert data.images.dtype == np.float32
        assert np.array_equal(data.images, images[rows]) and np.array_equal(data.labels, labels[rows])
    reader = "from dgr.datasets import load_dataset; import sys; load_dataset('digits', 'test'); print('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", reader], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_cifar10_reads_torchvisions_batches_with_their_class_names(tmp_path):
    folder = write_cifar10(tmp_path)
    for data_dir in (tmp_path, folder):  # torchvision's root, or the batches folder itself
        train = load("cifar10", "train", data_dir)
        assert train.class_names == CIFAR10_NAMES and len(train) == 50 and train.images.shape[1:] == (3, 32, 32)
    with (folder / "data_batch_1").open("rb") as fh:
        first = pickle.load(fh, encoding="latin1")
    row = first["data"][0].reshape(3, 32, 32).astype(np.float32) / 255
    assert np.array_equal(train.images[0], row) and train.labels[0] == first["labels"][0]
    test = load("cifar10", "test", tmp_path)
    assert len(test) == 20 and np.bincount(test.labels).tolist() == [2] * 10


def test_cifar100_uses_the_fine_labels(tmp_path):
    write_cifar100(tmp_path, classes=100)
    train = load("cifar100", "train", tmp_path)
    assert len(train.class_names) == 100 and train.class_names[7] == "class_007"
    assert train.labels.tolist() == list(range(100))


def test_cifar_layout_errors_name_what_was_looked_for(tmp_path):
    (tmp_path / "train" / "cat").mkdir(parents=True)
    (tmp_path / "test").mkdir()
    with pytest.raises(DgrError, match=r"cifar10: no data_batch_1 in .* \(found: test/, train/ — an ImageFolder\? "
                                       r"use --dataset DIR\)"):
        load("cifar10", "train", tmp_path)
    folder = write_cifar10(tmp_path / "damaged")
    (folder / "data_batch_3").write_bytes(b"\x80\x02not a pickle")
    with pytest.raises(DgrError, match="damaged or not a CIFAR pickle"):
        load("cifar10", "train", folder)
    (folder / "test_batch").unlink()
    with pytest.raises(DgrError, match="lacks test_batch"):
        load("cifar10", "test", folder)
    with pytest.raises(DgrError, match="needs --data-dir"):
        load("cifar10")


# --- ImageNet and its subsets ----------------------------------------------------------------------

def test_the_wnid_table_knows_imagenets_indices_and_names():
    from dgr_plugins.datasets.imagenet import indices, wnid_table, words

    assert len(wnid_table()) == 1000
    assert indices(("n01440764", "n03888257", "n02086240")) == (0, 701, 155)
    assert words(("n01440764", "n03888257", "n02086240")) == ("tench", "parachute", "Shih-Tzu")
    assert indices(("n01440764", "n00001740")) == ()  # not all ImageNet-1K classes: no ids


def test_an_imagenet_tree_reads_val_as_the_test_split_and_knows_its_classes(tmp_path):
    write_imagenet(tmp_path)
    train, test = load("imagenet", "train", tmp_path), load("imagenet", "test", tmp_path)
    assert train.class_names == test.class_names == WNIDS and len(train) == 16 and len(test) == 8
    info = train.info
    assert info.label_space == "imagenet-1k" and info.label_ids == WNID_INDICES
    assert info.words[:3] == ("tench", "goldfish", "parachute")
    # a plain ImageFolder of wnids is the same subset: its classes get the same words and ids
    assert load(str(tmp_path / "train")).info.label_ids == WNID_INDICES


def test_imagenet_refuses_foreign_wnids_and_missing_splits(tmp_path):
    write_imagenet(tmp_path, wnids=("n01440764", "n99999999"))
    with pytest.raises(DgrError, match="n99999999 in .* is not an ImageNet-1K wnid; use --dataset .* for a plain"):
        load("imagenet", "train", tmp_path)
    with pytest.raises(DgrError, match=r"imagenet: no val/ or test/ in .* \(found: "):
        load("imagenet", "test", tmp_path / "train")
    write_imagenet(tmp_path / "uneven", wnids=WNIDS[:2])
    (tmp_path / "uneven" / "val" / WNIDS[1]).rename(tmp_path / "uneven" / "val" / WNIDS[2])
    with pytest.raises(DgrError, match="class folders differ"):
        load("imagenet", "test", tmp_path / "uneven")


# --- Tiny-ImageNet -----------------------------------------------------------------------------------

def test_tiny_imagenet_reads_its_release_layout(tmp_path):
    root = write_tiny_imagenet(tmp_path / "tiny-imagenet-200")
    train, test = load("tiny-imagenet", "train", root), load("tiny-imagenet", "test", root)
    assert train.class_names == test.class_names == tuple(sorted(WNIDS[:3]))
    assert np.bincount(train.labels).tolist() == [4, 4, 4] and np.bincount(test.labels).tolist() == [2, 2, 2]
    # val_annotations.txt decides the labels: each val image is its class's colour
    for c in range(3):
        expected = class_pixels(WNIDS.index(test.class_names[c]), 1, 16, 0).astype(np.float32).mean((0, 1, 2)) / 255
        assert np.allclose(test.of_class(c).mean(axis=(0, 2, 3)), expected, atol=0.05)
    assert train.info.words[0] == "tench"
    (root / "val" / "val_annotations.txt").write_text("val_0_0.JPEG\tn12345678\t0\t0\t1\t1\n")
    with pytest.raises(DgrError, match="line 1 of val/val_annotations.txt names 'n12345678'"):
        load("tiny-imagenet", "test", root)
    with pytest.raises(DgrError, match="tiny-imagenet: no wnids.txt"):
        load("tiny-imagenet", "train", tmp_path)


# --- Hugging Face ------------------------------------------------------------------------------------

def test_a_save_to_disk_dataset_reads_with_its_class_label_names(tmp_path):
    write_hf(tmp_path / "hf")
    train, test = load("hf", "train", tmp_path / "hf"), load("hf", "test", tmp_path / "hf")
    assert train.class_names == ("cat", "dog", "fish") and len(train) == 12 and len(test) == 6
    expected = np.asarray(hf_dataset()[0]["img"], dtype=np.float32).transpose(2, 0, 1) / 255
    assert np.array_equal(train.images[0], expected)


def test_hf_columns_by_option_and_parquet_files(tmp_path):
    write_hf(tmp_path / "hf", image_column="picture")
    with pytest.raises(DgrError, match="none of the image columns img, image.*-o dataset.image_column=NAME"):
        load("hf", "train", tmp_path / "hf")
    assert len(load("hf", "train", tmp_path / "hf", options={"image_column": "picture"})) == 12
    with pytest.raises(DgrError, match="no column 'photo'"):
        load("hf", "train", tmp_path / "hf", options={"image_column": "photo"})
    with pytest.raises(DgrError, match="has no option colour"):
        load("hf", "train", tmp_path / "hf", options={"colour": "1"})
    parquet = tmp_path / "parquet" / "data"
    parquet.mkdir(parents=True)
    hf_dataset().to_parquet(str(parquet / "train-00000-of-00001.parquet"))
    hf_dataset(per_class=1).to_parquet(str(parquet / "test-00000-of-00001.parquet"))
    assert len(load("hf", "test", tmp_path / "parquet")) == 3
    with pytest.raises(DgrError, match="no test split"):
        (parquet / "test-00000-of-00001.parquet").unlink()
        load("hf", "test", tmp_path / "parquet")


# --- pictures ------------------------------------------------------------------------------------------

def test_sixteen_bit_and_other_modes_are_scaled_not_clipped(tmp_path):
    from dgr.datasets import read_picture

    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(grey).save(tmp_path / "eight.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    Image.fromarray(grey).convert("LA").save(tmp_path / "alpha.png")
    Image.fromarray(np.stack([grey] * 3, -1)).convert("P").save(tmp_path / "palette.png")
    eight = np.asarray(read_picture(tmp_path / "eight.png"))
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")
    assert np.array_equal(np.asarray(read_picture(tmp_path / "sixteen.png")), eight)
    assert read_picture(tmp_path / "alpha.png").mode == "L"
    assert read_picture(tmp_path / "palette.png").mode == "RGB"
    Image.fromarray(grey.astype(np.float32)).save(tmp_path / "float.tif")
    with pytest.warns(UserWarning, match="floating-point.*save it as an 8- or 16-bit PNG"):
        assert read_picture(tmp_path / "float.tif") is None


# --- every command, end to end ------------------------------------------------------------------------

FORMATS = {
    "cifar10": lambda root: (write_cifar10(root / "c10", per_class=3, test_per_class=1), ()),
    "imagenet": lambda root: (write_imagenet(root / "inet"), ()),
    "tiny-imagenet": lambda root: (write_tiny_imagenet(root / "tiny"), ()),
    "hf": lambda root: (write_hf(root / "hf", image_column="picture"), ("-o", "dataset.image_column=picture")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_train_distill_and_evaluate_from_each_format(name, tmp_path):
    data_dir, options = FORMATS[name](tmp_path)
    common = ("--dataset", name, "--data-dir", data_dir, *options)
    size = ("--image-size", "16")
    det = cli("train", "detector", *common, *size, "--epochs", "1", "--out", tmp_path / "det")
    assert det.returncode == 0, det.stderr[-2000:]
    gen = cli("train", "generator", *common, *size, "--steps", "2", "--layers", "1", "--out", tmp_path / "gen")
    assert gen.returncode == 0, gen.stderr[-2000:]
    run = tmp_path / "run"
    result = cli("distill", *common, "--model", tmp_path / "gen", "--detector-model", tmp_path / "det", "--ipc", "1",
                 "--candidates", "1", "-o", "steps=2", "-q", "--out", run)
    assert result.returncode == 0, result.stderr[-2000:]
    train = load(name, "train", data_dir, options={"image_column": "picture"} if options else None)
    assert sorted(p.name for p in (run / "images").iterdir()) == sorted(train.class_names)
    recorded = json.loads((run / "run.json").read_text())["dataset"]
    assert recorded["given_as"] == name and recorded["data_dir"] == str(data_dir)
    assert recorded["description_version"] == 1
    scored = cli("evaluate", run, "--epochs", "1", "--repeats", "1", "--baselines", "random-real")
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert "random-real" in scored.stdout + scored.stderr


@pytest.mark.slow
def test_a_wnid_folder_distils_with_a_1000_class_dit_and_records_imagenet_ids(tmp_path):
    """ImageNet-style folders of any wnids map to DiT's ImageNet class ids with no class map, by
    name (--dataset imagenet) and as a plain folder; the manifest records each model class."""
    import json

    from dgr.testing.tiny_pipelines import save_tiny_dit
    from dgr_plugins.datasets.imagenet import words

    root = write_imagenet(tmp_path / "inet")
    labels = {i: "unrelated" for i in range(1000)}  # the ids must come from the wnids, not from names
    dit = save_tiny_dit(tmp_path / "dit", num_classes=1000, id2label=labels, layers=1)
    det = cli("train", "detector", "--dataset", "imagenet", "--data-dir", root, "--epochs", "1", "--out",
              tmp_path / "det")
    assert det.returncode == 0, det.stderr[-2000:]
    for given in (("--dataset", "imagenet", "--data-dir", root), ("--dataset", root / "train")):
        run = tmp_path / f"run{len(given)}"
        result = cli("distill", *given, "--generator", "dit", "--model", dit, "--detector-model", tmp_path / "det",
                     "--ipc", "1", "--candidates", "1", "-o", "steps=2", "-q", "--out", run)
        assert result.returncode == 0, result.stderr[-2000:]
        records = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
        assert {r["class"]: r["model_class"] for r in records} == dict(zip(WNIDS, WNID_INDICES))
    assert words(WNIDS)[-1] == "toilet tissue"


def test_a_third_party_dataset_plugin_distils(tmp_path):
    """examples/dgr-dataset-example (installed by the README's test command) registers csv-images."""
    from importlib import metadata

    try:
        metadata.distribution("dgr-dataset-example")
    except metadata.PackageNotFoundError:
        pytest.skip("examples/dgr-dataset-example is not installed (the README's test command installs it)")
    root = tmp_path / "csv"
    lines = {"train": ["file,label"], "test": ["file,label"]}
    for c, name in enumerate(("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")):
        for split, count in (("train", 3), ("test", 1)):
            folder = root / "pictures" / split
            folder.mkdir(parents=True, exist_ok=True)
            for i, pixels in enumerate(class_pixels(c, count, 8, c)):
                Image.fromarray(pixels[..., 0]).save(folder / f"{name}_{i}.png")
                lines[split].append(f"pictures/{split}/{name}_{i}.png,{name}")
    for split, rows in lines.items():
        (root / f"{split}.csv").write_text("\n".join(rows) + "\n")
    assert "csv-images" in cli("list", "datasets").stdout
    from dgr.assets import embedded_model

    models = ("--model", embedded_model("generator", "digits"), "--detector-model", embedded_model("detector", "digits"))
    result = cli("distill", "--dataset", "csv-images", "--data-dir", root, *models, "--ipc", "1", "--candidates", "1",
                 "-o", "steps=2", "-q", "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list((tmp_path / "run" / "images").rglob("*.png"))) == 10


# --- bad input -------------------------------------------------------------------------------------------

def test_bad_dataset_input_is_one_line_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    line = one_error_line(cli("distill", "--dataset", "cifar10", "--data-dir", tmp_path, "--out", out))
    assert "cifar10: no data_batch_1" in line and not out.exists()
    line = one_error_line(cli("distill", "--dataset", "digits", "-o", "dataset.colour=red", "--out", out))
    assert "dataset 'digits' takes no options" in line and not out.exists()
    file = tmp_path / "file.txt"
    file.write_text("x")
    line = one_error_line(cli("train", "detector", "--dataset", file, "--out", out))
    assert "is a file, not a folder" in line and not out.exists()


def test_a_symlink_loop_in_a_class_folder_is_skipped_with_a_warning(tmp_path):
    """An entry that cannot be followed (a symlink loop) is one warning, not a traceback."""
    import os

    for c in range(2):
        folder = tmp_path / "loops" / f"class{c}"
        folder.mkdir(parents=True)
        for i, pixels in enumerate(class_pixels(c, 3, 8, c)):
            Image.fromarray(pixels).save(folder / f"{i}.png")
    os.symlink("loop-b", tmp_path / "loops" / "class0" / "loop-a.png")
    os.symlink("loop-a.png", tmp_path / "loops" / "class0" / "loop-b")
    os.symlink("class9", tmp_path / "loops" / "class9")  # a class folder that links to itself
    with pytest.warns(UserWarning, match="skipping .*loop"):
        data = load(str(tmp_path / "loops"))
    assert data.class_names == ("class0", "class1") and len(data) == 6
