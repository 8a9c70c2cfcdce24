"""Hostile input (issue 30): every case is exit code 2, one ``Error:`` line naming the fix, no
traceback, nothing of the user's deleted and no folder left that looks like a run.

``HOSTILE`` is the table: a new option or file the user may hand dgr joins it by adding a row
(``{name}`` in an argument is a path from the ``files`` fixture). The focused tests below it cover
what a row cannot: a run folder's completeness, its lock, and ``--overwrite`` beside user files.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from dgr_fakes import digits_image_folder

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "src" / "dgr" / "assets"
FAST = ("--ipc", "2", "--candidates", "2", "-o", "steps=4", "-q")


def invoke(*args: str):
    from dgr.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_one_line(result, needle: str, after_work: bool = False) -> str:
    """Exit 2, no traceback, and one ``Error:`` line on stderr: the only line, or with ``after_work``
    (an error that training finds) the last one, after its progress lines."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    if after_work:
        assert [line for line in lines if line.startswith("Error: ")] == lines[-1:], result.stderr
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    assert needle in lines[0], lines[0]
    return lines[0]


class Case(NamedTuple):
    name: str
    args: tuple[str, ...]
    needle: str  # a part of the one Error: line
    after_work: bool = False  # found while training: progress lines may come before the Error: line


HOSTILE = [
    # class 6: numbers, checked for range and finiteness where they are parsed
    Case("polish-steps negative", ("distill", "--recipe", "paper", "--polish-steps", "-5", "--out", "{out}"),
         "--polish-steps must be at least 0, got -5"),
    Case("uniqueness-weight nan", ("distill", "--recipe", "paper", "--uniqueness-weight", "nan", "--out", "{out}"),
         "--uniqueness-weight must be a finite number"),
    Case("uniqueness-weight inf", ("distill", "--recipe", "paper", "--uniqueness-weight", "inf", "--out", "{out}"),
         "--uniqueness-weight must be a finite number"),
    Case("threshold not a number", ("distill", "--recipe", "paper", "--threshold", "abc", "--out", "{out}"), "--threshold 'abc' is not"),
    Case("temperature negative", ("distill", "--recipe", "paper", "-o", "temperature=-1", "--out", "{out}"),
         "temperature must be greater than 0"),
    Case("temperature zero", ("distill", "--recipe", "paper", "-o", "temperature=0", "--out", "{out}"), "temperature must be greater than 0"),
    Case("temperature nan", ("distill", "--recipe", "paper", "-o", "temperature=nan", "--out", "{out}"), "temperature must be a finite"),
    Case("guidance nan", ("distill", "--recipe", "paper", "-o", "guidance=nan", "--out", "{out}"), "guidance must be a finite number"),
    Case("strength inf", ("distill", "--recipe", "paper", "-o", "strength=inf", "--out", "{out}"), "strength must be a finite number"),
    Case("ensemble weight nan", ("distill", "--recipe", "paper", "--detector", "ensemble", "-o", "members=convnet,clip",
                                 "-o", "weights=1,nan", "--out", "{out}"), "option weights must be a finite number"),
    Case("ensemble weight not a number", ("distill", "--recipe", "paper", "--detector", "ensemble", "-o",
                                          "members=convnet,clip", "-o", "weights=1,x", "--out", "{out}"),
         "expected comma-separated floats"),
    Case("image-size huge", ("distill", "--recipe", "paper", "--image-size", "100000", "--out", "{out}"), "--image-size must be at most"),
    Case("generator size huge", ("distill", "--recipe", "paper", "-o", "size=100000", "--out", "{out}"),
         "size must be between 1 and 1024, got 100000"),
    Case("ipc zero", ("distill", "--recipe", "paper", "--ipc", "0", "--out", "{out}"), "--ipc must be at least 1, got 0"),
    Case("batch-size zero", ("distill", "--recipe", "paper", "--batch-size", "0", "--out", "{out}"), "--batch-size must be at least 1"),
    Case("generator steps zero", ("train", "generator", "--steps", "0", "--out", "{out}"),
         "--steps must be at least 1, got 0"),
    Case("generator learning rate nan", ("train", "generator", "--learning-rate", "nan", "--out", "{out}"),
         "--learning-rate must be a finite number"),
    Case("detector epochs zero", ("train", "detector", "--epochs", "0", "--out", "{out}"),
         "--epochs must be at least 1, got 0"),
    Case("detector diverges", ("train", "detector", "--lr", "1e30", "--epochs", "1", "--out", "{out}"),
         "training diverged (the held-out logits are not finite); lower --lr", after_work=True),
    Case("generator diverges", ("train", "generator", "--learning-rate", "1e30", "--steps", "3", "--out", "{out}"),
         "training diverged (loss nan at step 3); lower --learning-rate", after_work=True),
    Case("detector holdout one", ("train", "detector", "--holdout", "1", "--out", "{out}"), "--holdout must be at most"),
    Case("clip steps zero", ("train", "clip", "--steps", "0", "--out", "{out}"), "--steps must be at least 1"),
    Case("evaluate repeats zero", ("evaluate", "{run}", "--repeats", "0"), "--repeats must be at least 1"),
    Case("evaluate image-size huge", ("evaluate", "{run}", "--image-size", "100000"), "--image-size must be at most"),
    Case("evaluate at another size than the run", ("evaluate", "{run}", "--image-size", "16"),
         "--image-size 16, but the run was distilled at 8×8 px; pass --image-size 8 or leave it out"),
    Case("seed not an integer", ("distill", "--recipe", "paper", "--seed", "abc", "--out", "{out}"),
         "Invalid value for '--seed': 'abc' is not a valid integer (see `"),
    Case("unknown flag", ("train", "detector", "--epoch", "3", "--out", "{out}"), "No such option '--epoch'"),
    # class 5: damaged files are one line naming the file
    Case("truncated detector weights", ("distill", "--recipe", "paper", "--detector-model", "{truncated_detector}", "--out", "{out}", *FAST),
         "model.safetensors cannot be read (SafetensorError"),
    Case("garbage detector config", ("distill", "--recipe", "paper", "--detector-model", "{bad_config_detector}", "--out", "{out}", *FAST),
         "config.json cannot be read (JSONDecodeError"),
    Case("garbage generator weights", ("distill", "--recipe", "paper", "--model", "{garbage_generator}", "--out", "{out}", *FAST),
         "pass --model with a complete model folder"),
    Case("garbage generator dgr_model.json", ("distill", "--recipe", "paper", "--model", "{bad_meta_generator}",
                                              "--out", "{out}", *FAST), "dgr_model.json cannot be read (JSONDecodeError"),
    Case("junk --weights", ("train", "detector", "--arch", "resnet18", "--weights", "{junk_pth}", "--out", "{out}"),
         "junk.pth cannot be read"),
    Case("--weights of another architecture", ("train", "detector", "--arch", "resnet18", "--weights",
                                               "{foreign_weights}", "--out", "{out}"),
         "holds no tensor that fits resnet18"),
    # class 7: a teacher that does not fit the dataset, refused before it loads
    Case("2-class teacher", ("evaluate", "{run}", "--labels", "soft", "--teacher", "{two_class_teacher}"),
         "was trained on classes 0, 1, not the dataset's"),
    Case("evaluate a baseline that cannot be made", ("evaluate", "{run}/images", "--dataset", "digits", "--baselines",
                                                     "unrefined"), "has no initial/ folder"),
    Case("evaluate --json where nothing can be written", ("evaluate", "{run}", "--json", "/proc/dgr/report.json"),
         "cannot write to /proc/dgr"),
    Case("teacher that does not exist", ("evaluate", "{run}", "--labels", "soft", "--teacher", "{out}"),
         "does not exist; pass --teacher a folder made by `dgr train detector"),
    Case("teacher of another size", ("evaluate", "{run}", "--labels", "soft", "--teacher", "{large_teacher}"),
         "was trained at 16×16 px, but the images are 8×8"),
    Case("detector of other classes", ("distill", "--recipe", "paper", "--detector-model", "{two_class_teacher}", "--out", "{out}", *FAST),
         "was trained on classes 0, 1, not the dataset's"),
    Case("dtype unknown", ("distill", "--recipe", "paper", "-o", "dtype=float17", "--out", "{out}"), "unknown dtype 'float17'"),
    Case("class_map missing", ("distill", "--recipe", "paper", "-o", "class_map={junk_pth}.json", "--out", "{out}"),
         "class_map file"),
    Case("evaluate a run with a garbage PNG", ("evaluate", "{run_with_garbage_png}", "--repeats", "1"),
         "3_000.png cannot be read (UnidentifiedImageError"),
    # class 4: dgr train writes only into its own (or an empty) folder
    Case("train detector into a run folder", ("train", "detector", "--out", "{run}"),
         "holds no detector model; choose another --out"),
    Case("train generator over a detector", ("train", "generator", "--out", "{two_class_teacher}"),
         "holds no generator model"),
    Case("train detector over a detector", ("train", "detector", "--out", "{two_class_teacher}"),
         "holds a trained detector; pass --overwrite to replace it"),
    # class 2: a run that is not complete is not scored
    Case("evaluate a run without images/", ("evaluate", "{run_without_images}"),
         "is not a complete run (status complete; missing images/0"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The damaged, foreign and mismatched files the rows name, and one small finished run."""
    import torch
    from safetensors.torch import save_file

    from dgr.models.convnet import ConvNetClassifier

    root = tmp_path_factory.mktemp("hostile")
    made: dict[str, Path] = {}
    run = root / "run"
    assert invoke("distill", "--recipe", "paper", *FAST, "--out", run).exit_code == 0
    made["run"] = run
    made["run_without_images"] = root / "run-without-images"
    shutil.copytree(run, made["run_without_images"])
    shutil.rmtree(made["run_without_images"] / "images")
    made["run_with_garbage_png"] = root / "run-with-garbage-png"
    shutil.copytree(run, made["run_with_garbage_png"])
    (made["run_with_garbage_png"] / "images" / "3" / "3_000.png").write_text("not a picture\n")

    made["truncated_detector"] = root / "truncated-detector"
    shutil.copytree(EMBEDDED / "digits-detector", made["truncated_detector"])
    weights = made["truncated_detector"] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    made["bad_config_detector"] = root / "bad-config-detector"
    shutil.copytree(EMBEDDED / "digits-detector", made["bad_config_detector"])
    (made["bad_config_detector"] / "config.json").write_text('{"architecture": "conv')
    made["garbage_generator"] = root / "garbage-generator"
    shutil.copytree(EMBEDDED / "digits-generator", made["garbage_generator"])
    for file in made["garbage_generator"].rglob("*.safetensors"):
        file.write_bytes(os.urandom(300))
    made["bad_meta_generator"] = root / "bad-meta-generator"
    shutil.copytree(EMBEDDED / "digits-generator", made["bad_meta_generator"])
    (made["bad_meta_generator"] / "dgr_model.json").write_text('{"class_na')
    made["junk_pth"] = root / "junk.pth"
    made["junk_pth"].write_text("not a checkpoint\n")
    made["foreign_weights"] = root / "vit.safetensors"
    save_file({"encoder.layers.0.attention.weight": torch.zeros(4, 4)}, str(made["foreign_weights"]))
    made["two_class_teacher"] = ConvNetClassifier(1, 2, width=8, class_names=["0", "1"],
                                                  image_size=[8, 8]).save_pretrained(root / "two-class")
    made["large_teacher"] = ConvNetClassifier(1, 10, width=8, class_names=[str(c) for c in range(10)],
                                              image_size=[16, 16]).save_pretrained(root / "large")
    return made


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_hostile_input_is_one_line_and_changes_nothing(case, files, tmp_path):
    out = tmp_path / "out"
    before = {name: _snapshot(path) if path.is_dir() else path.read_bytes() for name, path in files.items()}
    args = [a.format(out=out, **files) for a in case.args]
    assert_one_line(invoke(*args), case.needle, case.after_work)
    assert not out.exists(), "a folder was left behind"
    after = {name: _snapshot(path) if path.is_dir() else path.read_bytes() for name, path in files.items()}
    assert after == before, "an input file changed"


def test_a_refused_detector_stops_the_run_before_the_generator_loads(files, tmp_path, monkeypatch):
    from dgr_plugins.generators.dit import generator

    def never(*args, **kwargs):
        raise AssertionError("the generator loaded before the detector was checked")

    monkeypatch.setattr(generator.DiTGenerator, "from_context", classmethod(never))
    assert_one_line(invoke("distill", "--recipe", "paper", "--detector-model", files["two_class_teacher"], "--out", tmp_path / "out", *FAST),
                    "was trained on classes 0, 1")


def test_a_bad_ensemble_member_is_refused_before_any_member_loads(tmp_path, monkeypatch):
    from dgr_plugins.detectors.convnet.detector import ConvNetDetector

    def never(*args, **kwargs):
        raise AssertionError("a member loaded before every member was checked")

    monkeypatch.setattr(ConvNetDetector, "from_context", classmethod(never))
    assert_one_line(invoke("distill", "--recipe", "paper", "--detector", "ensemble", "-o", "members=convnet,clipp", "--out",
                           tmp_path / "out", *FAST), "unknown detector 'clipp'")


@pytest.mark.parametrize("exception", [
    MemoryError(), RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory")])
def test_out_of_memory_is_one_line(tmp_path, monkeypatch, exception):
    import dgr.run_lifecycle

    def huge(*args, **kwargs):
        raise exception

    monkeypatch.setattr(dgr.run_lifecycle, "load_training_split", huge)
    assert_one_line(invoke("distill", "--recipe", "paper", "--out", tmp_path / "out", *FAST), "out of memory; lower --image-size")


def test_the_light_dtype_list_matches_the_loader():
    from dgr_plugins.generators.diffusion.options import DTYPE_NAMES
    from dgr_plugins.generators.diffusion.sampling import DTYPES

    assert set(DTYPE_NAMES) == {"auto", *DTYPES}


# --- class 2: completeness is checked against the files ------------------------------------------

def _copy_run(files, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(files["run"], run)
    return run


@pytest.mark.parametrize("damage, missing", [
    (lambda run: shutil.rmtree(run / "images"), "images/0 (2 of 2 images)"),
    (lambda run: shutil.rmtree(run / "images" / "3"), "images/3 (2 of 2 images)"),
    (lambda run: (run / "initial" / "5" / "5_001.png").unlink(), "images/5 (1 of 2 images)"),
    (lambda run: (run / "manifest.jsonl").unlink(), "manifest.jsonl"),
    (lambda run: (run / "manifest.jsonl").write_text((run / "manifest.jsonl").read_text()[:500]), "manifest.jsonl"),
    (lambda run: (run / "classes" / "4.json").unlink(), "classes/4.json"),
    (lambda run: (run / "classes" / "2.json").write_text('{"class": "2"}'), "classes/2.json"),
    (lambda run: (run / "images" / "5" / "5_001.png").write_bytes(b""), "images/5 (1 of 2 images)"),
])
def test_a_damaged_run_is_incomplete_to_every_reader(files, tmp_path, damage, missing):
    from dgr.rundir import RunFolder

    run = _copy_run(files, tmp_path)
    assert RunFolder(run).completeness().complete
    damage(run)
    state = RunFolder(run).completeness()
    assert not state.complete and any(missing in m for m in state.missing), state
    assert_one_line(invoke("evaluate", run, "--repeats", "1", "--epochs", "1"), "is not a complete run")
    result = invoke("report", run)
    assert result.exit_code == 0 and "is not a complete run" in result.stderr
    page = (run / "report.html").read_text()
    assert "incomplete (run.json says complete)" in page and f"missing: {missing.split(' (')[0]}" in page
    refused = invoke("distill", "--recipe", "paper", *FAST, "--out", run)
    assert_one_line(refused, "holds an unfinished run; pass --resume to continue it")


def test_report_marks_an_unreadable_image_and_is_written(files, tmp_path):
    run = _copy_run(files, tmp_path)
    (run / "images" / "3" / "3_000.png").write_text("not a picture\n")
    assert invoke("report", run).exit_code == 0
    assert "unreadable images/3/3_000.png" in (run / "report.html").read_text()


def test_a_damaged_run_json_is_replaced_only_when_told(files, tmp_path):
    run = _copy_run(files, tmp_path)
    (run / "NOTES.txt").write_text("mine\n")
    (run / "run.json").write_text('{"conf')
    for command in (("distill", "--recipe", "paper", *FAST, "--out", run, "--resume"),
                    ("distill", "--recipe", "paper", *FAST, "--out", run), ("evaluate", run), ("report", run)):
        assert_one_line(invoke(*command), "run.json is damaged (not valid JSON)")
    assert invoke("distill", "--recipe", "paper", *FAST, "--out", run, "--overwrite").exit_code == 0
    assert json.loads((run / "run.json").read_text())["status"] == "complete"
    assert (run / "NOTES.txt").read_text() == "mine\n"


def test_resume_redoes_the_classes_whose_files_are_gone(files, tmp_path):
    run = _copy_run(files, tmp_path)
    shutil.rmtree(run / "images")
    (run / "initial" / "7" / "7_000.png").unlink()
    assert invoke("distill", "--recipe", "paper", *FAST, "--out", run, "--resume").exit_code == 0
    for sub in ("images", "initial"):  # classes/*.json also hold timings
        assert _snapshot(run / sub) == _snapshot(files["run"] / sub)
    assert (run / "manifest.jsonl").read_bytes() == (files["run"] / "manifest.jsonl").read_bytes()
    assert json.loads((run / "run.json").read_text())["status"] == "complete"


def test_evaluate_scores_an_unfinished_run_only_when_told(files, tmp_path):
    run = _copy_run(files, tmp_path)
    data = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**data, "status": "running"}))
    for name in ("5", "6", "7", "8", "9"):
        (run / "classes" / f"{name}.json").unlink()
    line = assert_one_line(invoke("evaluate", run, "--repeats", "1", "--epochs", "1"),
                           "status running; missing classes/5.json")
    assert "--allow-incomplete" in line
    result = invoke("evaluate", run, "--repeats", "1", "--epochs", "1", "--baselines", "none", "--allow-incomplete")
    assert result.exit_code == 0, result.output


# --- class 3: one process at a time in a run folder ------------------------------------------------

def test_a_locked_run_folder_is_refused_in_one_line(files, tmp_path):
    """Another process's lock (an flock on the folder) refuses --resume and --overwrite alike, and
    the folder is untouched; the lock goes with the process that held it."""
    run = _copy_run(files, tmp_path)
    before = _snapshot(run)
    fd = os.open(run, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for flag in ("--resume", "--overwrite"):
            assert_one_line(invoke("distill", "--recipe", "paper", *FAST, "--out", run, flag), "is in use by another dgr process")
        for kind in ("detector", "generator", "clip"):  # training into a folder in use: refused alike
            assert_one_line(invoke("train", kind, "--out", run, "--overwrite"), "is in use by another dgr process")
        assert _snapshot(run) == before
    finally:
        os.close(fd)
    assert invoke("distill", "--recipe", "paper", *FAST, "--out", run, "--resume").exit_code == 0


def test_the_lock_is_held_while_a_run_writes_and_released_after(tmp_path, monkeypatch):
    """During a run the folder is locked (checked from the pipeline's class callback); after it, not."""
    import dgr
    from dgr.rundir import RunFolder

    out = tmp_path / "run"
    seen: list[bool] = []
    real = RunFolder.write_class

    def probe(self, *args, **kwargs):
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append(False)
        except OSError as exc:
            seen.append(exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN))
        finally:
            os.close(fd)  # a second open file: flock conflicts with the run's own lock
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RunFolder, "write_class", probe)
    dgr.distill(recipe="paper", out=out, ipc=1, candidates=1, options={"steps": "2"}, classes=[0, 1])
    assert seen == [True, True]
    fd = os.open(out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    os.close(fd)


# --- class 4: --overwrite deletes only what dgr wrote ----------------------------------------------

def test_overwrite_keeps_the_users_files(files, tmp_path):
    run = _copy_run(files, tmp_path)
    (run / "NOTES.txt").write_text("mine\n")
    (run / "my_eval").mkdir()
    (run / "my_eval" / "results.csv").write_text("a,b\n")
    assert invoke("distill", "--recipe", "paper", "--ipc", "1", "--candidates", "1", "-o", "steps=4", "-q", "--out", run,
                  "--overwrite").exit_code == 0
    assert (run / "NOTES.txt").read_text() == "mine\n"
    assert (run / "my_eval" / "results.csv").read_text() == "a,b\n"
    assert len(list((run / "images" / "0").iterdir())) == 1  # the new run's images only


# --- class 5: a full disk ---------------------------------------------------------------------------

def test_a_full_disk_is_one_line_and_leaves_no_partial_png(tmp_path, monkeypatch):
    """ENOSPC from the PNG writer (a filesystem layer that fills after some bytes: a real full disk
    cannot be made here): one line, no 0-byte PNG in .partial/, and --resume finishes the run."""
    import PIL.Image

    out = tmp_path / "run"
    real_save = PIL.Image.Image.save
    budget = [3]

    def save(self, fp, *args, **kwargs):
        if budget[0] <= 0:
            Path(fp).write_bytes(b"")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(fp))
        budget[0] -= 1
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image.Image, "save", save)
    line = assert_one_line(invoke("distill", "--recipe", "paper", *FAST, "--out", out), "No space left on device")
    assert "--resume" in line
    assert not [p for p in out.rglob("*.png") if p.stat().st_size == 0]
    monkeypatch.setattr(PIL.Image.Image, "save", real_save)
    assert invoke("distill", "--recipe", "paper", *FAST, "--out", out, "--resume").exit_code == 0


# --- class 6: strict JSON; class 9: model files readable like any other ---------------------------

def test_json_that_dgr_writes_is_strict():
    from dgr.rundir import dumps

    with pytest.raises(ValueError):
        dumps({"loss": float("nan")})


def test_trained_model_files_follow_the_umask(tmp_path):
    folder = tmp_path / "detector"
    previous = os.umask(0o022)
    try:
        result = invoke("train", "detector", "--epochs", "1", "--max-steps", "2", "--out", folder)
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {
        "config.json": "0o644", "model.safetensors": "0o644"}


def test_training_into_an_image_folder_of_the_user_is_refused(tmp_path):
    data = digits_image_folder(tmp_path / "mine", per_class=2)
    assert_one_line(invoke("train", "detector", "--out", data), "holds no detector model")
    assert len(list(data.rglob("*.png"))) == 20
