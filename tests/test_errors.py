"""Bad input: each fatal case is one line naming the fix, exit code 2, no traceback and no
folder left behind that looks like a run; the non-fatal ones are counted (docs/errors.md)."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dgr_fakes import BlankGenerator, EchoGenerator, NaNGenerator, digits_image_folder

import dgr
from dgr.errors import DgrError

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "src" / "dgr" / "assets"
DIGITS_MODELS = ("--model", str(EMBEDDED / "digits-generator"), "--detector-model", str(EMBEDDED / "digits-detector"))
FAST = ("--ipc", "2", "--candidates", "2", "-o", "steps=4", "-q")


def invoke(*args: str, env: dict[str, str] | None = None):
    from dgr.cli import cli

    return CliRunner().invoke(cli, list(args), env=env)


def assert_fatal(result, *needles: str, out: Path | None = None) -> str:
    """Exit code 2 with one ``Error: …`` line on stderr, no traceback, and no run folder made."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    if out is not None:
        assert not out.exists(), f"{out} was left behind"
    return lines[0]


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory) -> Path:
    return digits_image_folder(tmp_path_factory.mktemp("imagefolder") / "digits", per_class=4)


# --- unknown names -------------------------------------------------------------------------

@pytest.mark.parametrize("option, value, hint", [
    ("--generator", "ditt", "did you mean 'dit'?"),
    ("--detector", "convnett", "did you mean 'convnet'?"),
    ("--policy", "confidense", "did you mean 'confidence'?"),
    ("--rule", "mismatc", "did you mean 'mismatch'?"),
])
def test_unknown_plugin_name_lists_the_available_ones(tmp_path, option, value, hint):
    out = tmp_path / "run"
    line = assert_fatal(invoke("distill", "--recipe", "paper", option, value, "--out", str(out), *FAST), hint, "available", out=out)
    assert value in line


def test_a_fatal_error_is_one_line_in_a_real_process(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "dgr", "distill", "--recipe", "paper", "--generator", "ditt", "--out", str(out)],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: unknown generator 'ditt' (did you mean 'dit'?); available generators: "
        + result.stderr.split("available generators: ")[1].strip()]
    assert not out.exists()


# --- weights ---------------------------------------------------------------------------------

@pytest.fixture()
def no_network(monkeypatch):
    """Fail the test if anything opens a connection or resolves a host name."""
    calls: list[object] = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return calls


def test_missing_weights_folder(tmp_path, no_network):
    out = tmp_path / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--model", str(tmp_path / "nowhere"), "--out", str(out), *FAST),
                 str(tmp_path / "nowhere"), "--model", out=out)
    assert no_network == []


def test_uncached_hub_id_makes_no_network_call(tmp_path, no_network):
    out = tmp_path / "run"
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_CACHE": str(tmp_path / "hf-cache")}
    assert_fatal(invoke("distill", "--recipe", "paper", "--model", "some-org/not-downloaded-dit", "--out", str(out), *FAST, env=env),
                 "'some-org/not-downloaded-dit'", "hf download", out=out)
    assert no_network == []


def test_uncached_hub_id_answers_at_once_without_hf_hub_offline(tmp_path, no_network):
    """No retry loop against an unreachable hub: without DGR_DOWNLOAD=1 dgr never tries the network."""
    out = tmp_path / "run"
    env = {"HF_HUB_OFFLINE": None, "TRANSFORMERS_OFFLINE": None, "DGR_DOWNLOAD": None,
           "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_CACHE": str(tmp_path / "hf-cache")}
    line = assert_fatal(invoke("distill", "--recipe", "paper", "--model", "some-org/not-downloaded-dit", "--out", str(out), *FAST, env=env),
                        "'some-org/not-downloaded-dit'", "DGR_DOWNLOAD=1", out=out)
    assert "Retrying" not in line
    assert no_network == []


def test_offline_switch_is_undone_and_skipped_with_the_opt_in(monkeypatch):
    import huggingface_hub.constants as hub

    from dgr.network import offline_unless_opted_in

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("DGR_DOWNLOAD", raising=False)
    before = hub.HF_HUB_OFFLINE
    with offline_unless_opted_in():
        assert os.environ["HF_HUB_OFFLINE"] == "1" and hub.HF_HUB_OFFLINE is True
    assert "HF_HUB_OFFLINE" not in os.environ and hub.HF_HUB_OFFLINE == before
    monkeypatch.setenv("DGR_DOWNLOAD", "1")
    with offline_unless_opted_in():
        assert "HF_HUB_OFFLINE" not in os.environ


# --- devices -----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [("distill", "--recipe", "paper", "--out", "{out}", *FAST),
                                     ("train", "detector", "--out", "{out}", "--max-steps", "1")])
def test_a_device_that_is_not_one_is_refused_before_loading(tmp_path, command):
    out = tmp_path / "run"
    args = [a.replace("{out}", str(out)) for a in command]
    assert_fatal(invoke(*args, "--device", "banana"), "--device 'banana' is not a device", "cpu, cuda", out=out)


@pytest.mark.parametrize("command", [("distill", "--recipe", "paper", "--out", "{out}", *FAST),
                                     ("train", "detector", "--out", "{out}", "--max-steps", "1")])
def test_cuda_without_a_gpu_is_one_line(tmp_path, command):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "run"
    args = [a.replace("{out}", str(out)) for a in command]
    assert_fatal(invoke(*args, "--device", "cuda"), "--device cuda:", "use --device cpu", out=out)


def test_model_folder_without_weights(tmp_path):
    (tmp_path / "empty-model").mkdir()
    out = tmp_path / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--model", str(tmp_path / "empty-model"), "--out", str(out), *FAST),
                 "transformer/", out=out)


def test_missing_detector_weights(tmp_path):
    out = tmp_path / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--detector-model", str(tmp_path / "nowhere"), "--out", str(out), *FAST),
                 "does not exist", "dgr train detector", out=out)


def test_weights_load_without_pickle_code():
    """Every torch.load in dgr passes weights_only=True (the rest is safetensors)."""
    offenders = []
    for root in ("src", "plugins"):
        for path in (REPO / root).rglob("*.py"):
            text = path.read_text()
            for match in re.finditer(r"torch\.load\(", text):
                depth, end = 0, match.end() - 1
                for end in range(match.end() - 1, len(text)):
                    depth += {"(": 1, ")": -1}.get(text[end], 0)
                    if depth == 0:
                        break
                call = text[match.start(): end + 1]
                if "weights_only=True" not in call:
                    offenders.append(f"{path.relative_to(REPO)}: {call}")
    assert offenders == []


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickled_checkpoint_cannot_run_code(tmp_path):
    """A .bin checkpoint goes through torch.load(weights_only=True): its payload never runs."""
    import pickle
    import shutil

    model = tmp_path / "model"
    shutil.copytree(EMBEDDED / "digits-generator", model)
    for weights in (model / "transformer").glob("*.safetensors"):
        weights.unlink()
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (model / "transformer" / "diffusion_pytorch_model.bin").write_bytes(pickle.dumps({"w": Payload()}))
    out = tmp_path / "run"
    result = invoke("distill", "--recipe", "paper", "--model", str(model), "--out", str(out), *FAST)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert not marker.exists() and not out.exists()


# --- the dataset -------------------------------------------------------------------------------

def test_classes_that_the_generator_does_not_know(tmp_path):
    from dgr.models.convnet import ConvNetClassifier

    folder = digits_image_folder(tmp_path / "pets", per_class=3, classes=[0, 1], names={0: "cat", 1: "dog"})
    # a detector that knows them: the detector is checked before the generator loads
    detector = ConvNetClassifier(1, 2, width=8, class_names=["cat", "dog"], image_size=[8, 8]).save_pretrained(
        tmp_path / "pets-detector")
    out = tmp_path / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--dataset", str(folder), "--model", DIGITS_MODELS[1],
                        "--detector-model", str(detector), "--out", str(out), *FAST),
                 "cat, dog", "dgr train generator", out=out)


def test_classes_that_the_detector_does_not_know(tmp_path):
    folder = digits_image_folder(tmp_path / "some-digits", per_class=3, classes=range(5))
    out = tmp_path / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--dataset", str(folder), *DIGITS_MODELS, "--out", str(out), *FAST),
                 "the detector", "train one on this dataset", out=out)


def test_corrupt_and_non_image_files_are_skipped_with_a_warning_and_counted(tmp_path):
    folder = digits_image_folder(tmp_path / "digits", per_class=3)
    (folder / "3" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    (folder / "7" / "notes.txt").write_text("not an image")
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "dgr", "distill", "--recipe", "paper", "--dataset", str(folder), *DIGITS_MODELS,
                             "--out", str(out), *FAST], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 2 and all(line.startswith("warning: skipping ") for line in warnings), result.stderr
    assert any("broken.png" in line for line in warnings) and any("notes.txt" in line for line in warnings)
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["dataset"]["skipped_files"] == 2
    assert run["dataset"]["train_images"] == 30


def test_ipc_larger_than_a_class(tmp_path, digits_folder):
    out = tmp_path / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--dataset", str(digits_folder), "--ipc", "5", "--out", str(out)),
                 "--ipc 5 exceeds", "lower --ipc to at most 4", out=out)
    assert_fatal(invoke("distill", "--recipe", "paper", "--ipc", "1000", "--out", str(out)), "lower --ipc to at most", out=out)


@pytest.mark.filterwarnings("ignore:skipping")
def test_empty_class_folder(tmp_path):
    folder = digits_image_folder(tmp_path / "digits", per_class=3, classes=range(9))
    (folder / "9").mkdir()
    out = tmp_path / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--dataset", str(folder), "--out", str(out), *FAST),
                 f"class folder {folder / '9'} holds no readable images", "add images or remove the folder", out=out)
    (folder / "9" / "junk.png").write_bytes(b"junk")  # only unreadable files: the same
    assert_fatal(invoke("distill", "--recipe", "paper", "--dataset", str(folder), "--out", str(out), *FAST), "holds no readable images",
                 out=out)


def test_a_missing_dataset_says_what_a_dataset_may_be(tmp_path):
    out = tmp_path / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--dataset", str(tmp_path / "nonexistent"), "--out", str(out), *FAST),
                 "does not exist", "digits, fashion-mnist", "DIR/<class>/<image>", out=out)
    assert_fatal(invoke("train", "detector", "--dataset", str(tmp_path / "nonexistent"), "--out", str(out)),
                 "DIR/<class>/<image>", out=out)


def test_image_size_other_than_the_models_is_refused_before_any_work(tmp_path, digits_folder, monkeypatch):
    from dgr import build

    monkeypatch.setattr(build, "build", lambda *a, **k: (_ for _ in ()).throw(AssertionError("built")))
    out = tmp_path / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--image-size", "16", "--out", str(out), *FAST),
                 "--image-size 16, but the generator in", "trained at 8×8 px", "pass --image-size 8", out=out)


def test_rgb_folder_with_greyscale_models_is_refused(tmp_path):
    from PIL import Image

    folder = tmp_path / "rgb"
    for name in ("0", "1"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (200, 10 * i, 0)).save(folder / name / f"{i}.png")
    out = tmp_path / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--dataset", str(folder), "--out", str(out), *DIGITS_MODELS, *FAST),
                 "holds RGB (3 channels) images", "greyscale (1 channel)", out=out)


# --- the output folder -----------------------------------------------------------------------------

def test_unwritable_output_folder(tmp_path):
    if os.geteuid() == 0:
        out = Path("/sys/dgr-test-run")  # even root cannot create folders there
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        out = locked / "run"
    assert_fatal(invoke("distill", "--recipe", "paper", "--out", str(out), *FAST), "cannot write to", "choose a writable --out", out=out)


@pytest.mark.parametrize("out", ["/proc/dgr-test-run", "/sys/dgr-test-run"])
def test_out_under_proc_or_sys_is_refused_before_loading_even_as_root(out, monkeypatch):
    """dgr tries to create the folder (permission bits mean nothing to root) before any model loads."""
    from dgr import build

    def no_build(*args, **kwargs):
        raise AssertionError("models were loaded before --out was checked")

    monkeypatch.setattr(build, "build", no_build)
    assert_fatal(invoke("distill", "--recipe", "paper", "--out", out, *FAST), f"cannot write to {out}", "choose a writable --out",
                 out=Path(out))


def test_train_commands_check_out_first(tmp_path):
    for kind in ("generator", "detector"):
        assert_fatal(invoke("train", kind, "--out", "/proc/dgr-test-model"), "cannot write to /proc/dgr-test-model")


def test_output_path_that_is_a_file(tmp_path):
    out = tmp_path / "file.txt"
    out.write_text("mine")
    assert_fatal(invoke("distill", "--recipe", "paper", "--out", str(out), *FAST), "is a file; choose a folder path")
    assert_fatal(invoke("distill", "--recipe", "paper", "--out", str(out / "run"), *FAST), f"lies under the file {out}")
    assert out.read_text() == "mine"


def test_a_folder_that_open_could_not_set_up_is_removed(tmp_path, monkeypatch):
    from dgr import rundir

    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rundir, "write_json_atomic", full_disk)
    with pytest.raises(DgrError, match=r"\(No space left on device\); choose a writable out="):
        rundir.RunFolder(tmp_path / "a" / "b" / "run").open("f", {}, resume=False, overwrite=False)
    assert list(tmp_path.iterdir()) == []


def fast_run(out: Path, **kw):
    settings = {"generator": EchoGenerator(), "ipc": 2, "candidates": 2, "out": out, "recipe": "paper"}
    return dgr.distill(**{**settings, **kw})


def test_output_folder_holding_another_run(tmp_path):
    out = tmp_path / "run"
    first = fast_run(out, seed=0)
    assert first.complete
    # from Python the errors name the arguments, not the command-line flags
    with pytest.raises(DgrError, match="holds a finished run; pass overwrite=True to replace it, or choose another out="):
        fast_run(out, seed=1)
    with pytest.raises(DgrError, match="holds a finished run; pass resume=True to continue it"):
        fast_run(out, seed=0)
    with pytest.raises(DgrError, match="different configuration; use the same options to resume it, overwrite=True"):
        fast_run(out, seed=1, resume=True)
    assert json.loads((out / "run.json").read_text())["config"]["seed"] == 0  # untouched
    again = fast_run(out, seed=0, resume=True)  # same config: nothing to redo
    assert again.complete and len(again.skipped_classes) == 10
    replaced = fast_run(out, seed=1, overwrite=True)
    assert replaced.complete and json.loads((out / "run.json").read_text())["config"]["seed"] == 1


def test_other_files_are_never_overwritten(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(DgrError, match="holds no dgr run"):
        fast_run(out, overwrite=True)
    assert (out / "thesis.tex").read_text() == "precious"


def test_cli_refuses_a_run_of_another_config_in_one_line(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    run = {"fingerprint": "0123456789abcdef", "status": "running", "config": {"seed": 7}}
    (out / "run.json").write_text(json.dumps(run))
    assert_fatal(invoke("distill", "--recipe", "paper", "--out", str(out), "--resume", *FAST), "different configuration", "--overwrite")
    assert json.loads((out / "run.json").read_text()) == run
    assert_fatal(invoke("distill", "--recipe", "paper", "--out", str(out), *FAST), "holds an unfinished run; pass --overwrite")


# --- generator failures ----------------------------------------------------------------------------

def test_from_model_space_keeps_nan_for_the_pipeline_to_flag():
    import torch

    from dgr.detection import blank_or_broken
    from dgr.imaging import from_model_space
    from dgr.pipeline import FiniteImages

    x = torch.zeros(2, 1, 16, 16)
    x[1, :, :4] = float("nan")
    images = from_model_space(x, 1, (8, 8))
    assert torch.isnan(images[1]).any() and not torch.isnan(images[0]).any()

    class Raw:
        def encode(self, images):
            return images

        def generate(self, prototypes, labels, seeds):
            return images

    finite = FiniteImages(Raw()).generate(None, None, [0, 1])
    assert torch.isfinite(finite).all()
    assert blank_or_broken(finite).tolist() == [True, True]  # the zero image is flat too
    assert blank_or_broken(images).tolist() == [True, True]


def test_nan_generator_outputs_are_anomalous_and_refined(tmp_path):
    from dgr.seeds import INITIAL_ROUND, REFINEMENT_ROUND, derive_seed

    broken = {derive_seed(0, c, 0, INITIAL_ROUND, 0) for c in range(10)}
    broken |= {derive_seed(0, c, 0, REFINEMENT_ROUND, 0) for c in range(10)}  # the first candidate too
    result = fast_run(tmp_path / "run", generator=NaNGenerator(broken), candidates=3)
    assert result.complete
    first = [r for r in result.records if r["prototype"] == 0]
    assert len(first) == 10
    for r in first:
        assert any(reason.startswith("blank") for reason in r["anomaly_reasons"]), r
        assert r["status"] == "refined" and r["selection"]["valid_candidates"] <= 2
        assert np.isfinite(r["confidence"]) and np.isfinite(r["uniqueness"])
    from PIL import Image

    for r in result.records:
        for path in (r["file"], r["replaced"]):
            if path:
                with Image.open(result.out / path) as im:
                    assert im.size == (8, 8)


def test_all_candidates_anomalous_are_kept_unresolved_and_counted(tmp_path):
    result = fast_run(tmp_path / "run", generator=BlankGenerator())
    assert result.complete
    run = json.loads((result.out / "run.json").read_text())
    assert run["counts"]["images"] == 20
    assert run["counts"]["initial_anomalies"] == run["counts"]["unresolved"] == 20
    assert run["counts"]["refined"] == 0
    assert run["counts"]["generated_images"] == 20 + 20 * 2
    lines = (result.out / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 20
    for record in map(json.loads, lines):
        assert record["status"] == "unresolved" and record["selection"]["valid_candidates"] == 0
        assert any(reason.startswith("blank") for reason in record["remaining_reasons"])
        assert (result.out / record["file"]).exists() and (result.out / record["replaced"]).exists()
