"""The diffusers generators `dit` (latent DiT with a VAE) and `sd` (Stable Diffusion img2img),
proven with tiny random-weight pipelines saved with save_pretrained and loaded through exactly
the code users run. No network: everything is built here."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from dgr.errors import DgrError

@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models on shared cores: OpenMP threads spin against each other (batch 1 of the tiny
    DiT: ~50× slower with 2 threads on 2 busy cores than with 1; benchmarks/generation.py)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(scope="session")
def latent_dit_folder(tmp_path_factory) -> Path:
    """A DiT-XL-2-256-shaped pipeline in miniature: 12 classes (not the dataset's 10, so no identity
    mapping), learned sigma, a VAE, and ImageNet-style id2label in model_index.json."""
    from dgr.testing.tiny_pipelines import save_tiny_dit

    id2label = {11 - d: f"{d}, {DIGIT_WORDS[d]}" for d in range(10)}
    id2label.update({0: "tench, Tinca tinca", 1: "French horn, horn"})
    return save_tiny_dit(tmp_path_factory.mktemp("tiny-latent-dit"), num_classes=12, id2label=id2label)


@pytest.fixture(scope="session")
def tiny_sd_folder(tmp_path_factory) -> Path:
    """A Stable Diffusion 1.x layout in miniature, with a real CLIP tokenizer."""
    from dgr.testing.tiny_pipelines import save_tiny_sd

    return save_tiny_sd(tmp_path_factory.mktemp("tiny-sd"))


def _distill(args: list[str]):
    from dgr.cli import cli

    return CliRunner().invoke(cli, ["distill", "--recipe", "paper", "-q", "--dataset", "digits", "--ipc", "2", "--candidates", "2",
                                    *args])


def _check_run(out: Path) -> list[dict]:
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == 20
    for digit in range(10):
        assert len(list((out / "images" / str(digit)).glob("*.png"))) == 2
    assert all(r["status"] in ("accepted", "refined", "unresolved") for r in records)
    assert all(r["anomaly_reasons"] for r in records if r["status"] != "accepted")
    return records


# --- the tokenizer the SD tests rely on --------------------------------------------------

def test_clip_tokenizer_from_open_clip_merges_is_the_real_one(tmp_path):
    from transformers import CLIPTokenizer

    from dgr.testing.tiny_pipelines import write_clip_tokenizer

    tok = CLIPTokenizer.from_pretrained(write_clip_tokenizer(tmp_path / "tok"))
    ids = tok("a photo of a dog", padding="max_length", max_length=tok.model_max_length).input_ids
    assert len(tok) == 49408 and len(ids) == 77
    assert ids[:7] == [49406, 320, 1125, 539, 320, 1929, 49407]  # CLIP's ids for these words


def test_both_generators_register_through_entry_points():
    from dgr.plugins import build_registry

    registry = build_registry()
    sd = registry.get("generator", "sd")
    assert sd.plugin == "sd" and "transformers" in sd.requires
    assert registry.get("generator", "dit").plugin == "dit"


# --- end to end through the CLI ----------------------------------------------------------

def test_cli_distill_with_a_latent_dit_folder(latent_dit_folder, tmp_path):
    out = tmp_path / "run"
    result = _distill(["--generator", "dit", "--model", str(latent_dit_folder), "-o", "steps=3",
                       "--batch-size", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    _check_run(out)
    run = json.loads((out / "run.json").read_text())
    assert run["plugins"]["generator"]["component"] == "dit"


def test_cli_distill_with_a_stable_diffusion_folder(tiny_sd_folder, tmp_path):
    out = tmp_path / "run"
    result = _distill(["--generator", "sd", "--model", str(tiny_sd_folder), "-o", "steps=3",
                       "-o", "prompt=a drawing of the digit {class}", "--out", str(out)])
    assert result.exit_code == 0, result.output
    _check_run(out)
    assert json.loads((out / "run.json").read_text())["config"]["options"]["prompt"] == "a drawing of the digit {class}"


# --- missing weights: one line, exit 2, nothing written, no waiting -----------------------

@pytest.mark.parametrize("generator,model", [("dit", "/nonexistent/dit-folder"),
                                             ("sd", "nobody/not-a-cached-model"),
                                             ("dit", "facebook/DiT-XL-2-256-not-cached"),
                                             ("sd", None)])
def test_missing_weights_fail_at_once_in_one_line(generator, model, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # cache-only lookups must not retry even online
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    out = tmp_path / "run"
    args = ["--generator", generator, "--out", str(out)] + (["--model", model] if model else [])
    started = time.perf_counter()
    result = _distill(args)
    assert time.perf_counter() - started < 30
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith("Error: ") and "\n" not in message, message
    assert "--model" in message
    if model:
        assert model in message
    assert not out.exists()


def test_folder_without_weights_is_a_missing_weights_error(latent_dit_folder, tmp_path, build_context):
    import shutil

    from dgr.errors import MissingWeightsError
    from dgr_plugins.generators.dit import DiTOptions, make_dit

    broken = tmp_path / "broken"
    shutil.copytree(latent_dit_folder, broken)
    for f in (broken / "transformer").glob("*.safetensors"):
        f.unlink()
    with pytest.raises(MissingWeightsError) as info:
        make_dit(build_context(model=broken, config=DiTOptions()))
    assert "\n" not in str(info.value) and "--model" in str(info.value)
    with pytest.raises(MissingWeightsError, match="lacks transformer/"):
        make_dit(build_context(model=tmp_path, config=DiTOptions()))


# --- class mapping -------------------------------------------------------------------------

IMAGENET_LIKE = {0: "tench, Tinca tinca", 134: "crane", 217: "English springer, English springer spaniel",
                 517: "crane", 566: "French horn, horn", 701: "parachute, chute",
                 207: "golden retriever"}


def test_class_mapping_through_id2label_names_synonyms_and_dataset_ids():
    from dgr_plugins.generators.diffusion.classmap import map_to_ids

    names = ["tench", "Tinca_tinca", "french-horn", "parachute", "English springer", "Golden Retriever"]
    assert map_to_ids(names, 1000, id2label=IMAGENET_LIKE) == [0, 0, 566, 701, 217, 207]
    # ids the dataset gives in the model's label space (--dataset imagenet: wnid → ImageNet index) come first
    assert map_to_ids(["n01440764", "n03394916"], 1000, id2label=IMAGENET_LIKE, known_ids=(0, 566)) == [0, 566]


def test_unmapped_classes_are_listed_in_one_error(tmp_path):
    from dgr_plugins.generators.diffusion.classmap import map_to_ids, read_class_map

    with pytest.raises(DgrError) as info:
        map_to_ids(["tench", "crane", "unicorn", "n99999999"], 1000, id2label=IMAGENET_LIKE)
    message = str(info.value)
    assert "\n" not in message and "class_map=FILE.json" in message
    assert "crane (ambiguous: ids 134, 517)" in message and "unicorn" in message and "n99999999" in message
    assert "tench" not in message.split(":", 1)[1]
    # a class_map file resolves them, by id or by label
    file = tmp_path / "map.json"
    file.write_text(json.dumps({"crane": 517, "unicorn": "parachute", "n99999999": "3"}))
    assert map_to_ids(["tench", "crane", "unicorn", "n99999999"], 1000, id2label=IMAGENET_LIKE,
                      class_map=read_class_map(str(file))) == [0, 517, 701, 3]
    with pytest.raises(DgrError, match="does not exist"):
        read_class_map(str(tmp_path / "nope.json"))


def test_identity_when_the_model_has_exactly_the_datasets_classes():
    from dgr_plugins.generators.diffusion.classmap import map_to_ids

    assert map_to_ids(["a", "b", "c"], 3) == [0, 1, 2]
    with pytest.raises(DgrError, match="3 dataset class"):
        map_to_ids(["a", "b", "c"], 4)
    with pytest.raises(DgrError, match="id 7 outside"):
        map_to_ids(["a"], 4, class_map={"a": 7})


def test_dit_maps_digits_through_model_index_id2label(latent_dit_folder, build_context, tmp_path):
    from dgr_plugins.generators.dit import DiTOptions, make_dit

    gen = make_dit(build_context(model=latent_dit_folder, config=DiTOptions(steps=2)))
    assert gen.class_ids == [11 - d for d in range(10)]
    file = tmp_path / "map.json"
    file.write_text(json.dumps({"0": "tench"}))
    gen = make_dit(build_context(model=latent_dit_folder, config=DiTOptions(class_map=str(file))))
    assert gen.class_ids[0] == 0 and gen.class_ids[1] == 10


def test_sd_prompts_name_the_class():
    from dgr.components import DatasetInfo
    from dgr_plugins.generators.diffusion.classmap import prompt_names

    info = DatasetInfo(name="x", class_names=("n03394916", "golden_retriever", "t-shirt", "3"), channels=3,
                       height=8, width=8, class_words=("French horn", "golden_retriever", "t-shirt", "3"))
    assert prompt_names(info, {"3": "digit three"}) == ["French horn", "golden retriever", "t-shirt", "digit three"]


# --- determinism, batching, grayscale, output size ---------------------------------------

def _generator(kind: str, folder: Path, build_context, **options):
    if kind == "dit":
        from dgr_plugins.generators.dit import DiTOptions as Options, make_dit as make
    else:
        from dgr_plugins.generators.sd import SDOptions as Options, make_sd as make
    return make(build_context(model=folder, config=Options(steps=4, **options), batch_size=4))


@pytest.mark.parametrize("kind", ["dit", "sd"])
def test_same_seed_same_bytes_whatever_the_batch(kind, latent_dit_folder, tiny_sd_folder, build_context,
                                                 digits_train):
    folder = latent_dit_folder if kind == "dit" else tiny_sd_folder
    gen = _generator(kind, folder, build_context)
    real = torch.from_numpy(digits_train.of_class(4)[:6])
    latents = gen.encode(real)
    assert latents.shape == (6, 4, 8, 8)  # grayscale digits went through the RGB VAE
    labels = torch.full((6,), 4)
    seeds = [11, 12, 13, 14, 15, 16]
    a = gen.generate(latents, labels, seeds)  # batches of 4 + 2
    b = gen.generate(latents, labels, seeds)
    assert a.shape == (6, 1, 8, 8) and a.min() >= 0 and a.max() <= 1  # back to the dataset's grey 8×8
    assert a.numpy().tobytes() == b.numpy().tobytes()
    alone = gen.generate(latents[5:6], labels[5:6], seeds[5:6])
    assert torch.allclose(alone[0], a[5], atol=1.5 / 255)  # batch-independent up to float rounding
    other = gen.generate(latents[5:6], labels[5:6], [99])
    assert not torch.equal(other[0], a[5])


@pytest.mark.parametrize("kind", ["dit", "sd"])
def test_output_size_and_scheduler_options(kind, latent_dit_folder, tiny_sd_folder, build_context, digits_train):
    folder = latent_dit_folder if kind == "dit" else tiny_sd_folder
    gen = _generator(kind, folder, build_context, size=12, scheduler="dpm", strength=1.0, guidance=1.0)
    latents = gen.encode(torch.from_numpy(digits_train.of_class(1)[:2]))
    images = gen.generate(latents, torch.tensor([1, 1]), [1, 2])
    assert images.shape == (2, 1, 12, 12)
    assert torch.isfinite(images).all()


def test_sd_resolution_must_fit_the_unet(tiny_sd_folder, build_context):
    from dgr_plugins.generators.sd import SDOptions, make_sd

    with pytest.raises(ValueError):
        SDOptions(resolution=4)
    with pytest.raises(DgrError, match="multiple of 4"):
        make_sd(build_context(model=tiny_sd_folder, config=SDOptions(resolution=18)))
    gen = make_sd(build_context(model=tiny_sd_folder, config=SDOptions(resolution=32)))
    assert gen.encode(torch.zeros(1, 1, 8, 8)).shape == (1, 4, 16, 16)


@pytest.mark.parametrize("kind", ["dit", "sd"])
def test_half_precision_path(kind, latent_dit_folder, tiny_sd_folder, build_context, digits_train):
    """The float16 casts CUDA users get by default (dtype=auto), exercised on the CPU."""
    folder = latent_dit_folder if kind == "dit" else tiny_sd_folder
    gen = _generator(kind, folder, build_context, dtype="float16")
    latents = gen.encode(torch.from_numpy(digits_train.of_class(2)[:2]))
    assert latents.dtype == torch.float32
    images = gen.generate(latents, torch.tensor([2, 2]), [5, 6])
    assert images.shape == (2, 1, 8, 8) and images.dtype == torch.float32


def test_a_hub_id_resolves_from_the_local_cache_only(latent_dit_folder, tmp_path, monkeypatch):
    """`--model org/name` finds a snapshot in the Hugging Face cache layout without any network."""
    import shutil

    import huggingface_hub.constants

    from dgr.errors import MissingWeightsError
    from dgr_plugins.generators.diffusion.weights import resolve_model_folder

    cache = tmp_path / "hub"
    repo = cache / "models--tiny-org--tiny-dit"
    shutil.copytree(latent_dit_folder, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    folder = resolve_model_folder("tiny-org/tiny-dit", "digits")
    assert (folder / "transformer").is_dir() and folder.name == "0123abcd"
    with pytest.raises(MissingWeightsError, match="tiny-org/other"):
        resolve_model_folder("tiny-org/other", "digits")
