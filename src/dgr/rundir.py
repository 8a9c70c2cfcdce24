"""The run folder: ImageFolder images, the pre-refinement images, manifest and run.json.

Each class is written to ``.partial/<class>/`` and moved into place; its summary file
``classes/<class>.json`` is moved last and marks the class complete. ``run.json`` says
``"status": "running"`` until every class is in and ``manifest.jsonl`` is merged.

This module is the one owner of the layout: :class:`RunFiles` reads a run (its paths, run.json,
the class summaries), :class:`RunFolder` writes one. It is the one place that decides what a
folder holds: whether a run is complete (checked against the files, :meth:`RunFiles.completeness`),
which of its entries dgr wrote (:data:`OWNED`, all that ``--overwrite`` deletes), and whether
another process uses it (an OS lock on the folder, :meth:`RunFolder.acquire`, released when its
process ends, however it ends).
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import attrs

from dgr.errors import DgrError, RunFolderError, flag

if TYPE_CHECKING:  # pragma: no cover
    import torch

RUN_FILE = "run.json"
MANIFEST_FILE = "manifest.jsonl"
IMAGES_DIR = "images"
INITIAL_DIR = "initial"
SELECTED_DIR = "selected"  # the selected images before the optional polish stage
CLASSES_DIR = "classes"
PARTIAL_DIR = ".partial"
REPORT_FILE = "report.html"
REPORT_PAGES_DIR = "report-classes"  # a paged report's one page per class
OWNED = (RUN_FILE, MANIFEST_FILE, REPORT_FILE, REPORT_PAGES_DIR, IMAGES_DIR, INITIAL_DIR, SELECTED_DIR, CLASSES_DIR,
         PARTIAL_DIR)
"""What dgr writes into a run folder: ``--overwrite`` deletes these (and their temporary files), nothing else."""


def safe_name(name: str) -> str:
    """A class name usable as a folder name."""
    cleaned = re.sub(r"[^\w.\-+ ]", "_", str(name)).strip(" .")
    return cleaned or "class"


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def share_files(*paths: str | Path) -> None:
    """Give each file (and every file under each folder) of ``paths`` the mode a plain ``open`` would
    (``0666 & ~umask``): safetensors writes 0600, so others could not read a shared model folder."""
    mode = 0o666 & ~current_umask()
    for path in map(Path, paths):
        for file in (path, *path.rglob("*")) if path.is_dir() else (path,):
            if file.is_file() and not file.is_symlink():
                os.chmod(file, mode)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; others may read a run
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, dumps(data, indent=2) + "\n")


def dumps(data: Any, **kwargs: Any) -> str:
    """Strict JSON (no NaN or Infinity, which JSON readers refuse): every JSON file dgr writes goes
    through here. A non-finite number is a bug upstream (values are checked where they are parsed)."""
    return json.dumps(data, allow_nan=False, **kwargs)


def _nonempty(path: Path) -> bool:
    """A file with something in it (a 0-byte image is what a full disk leaves)."""
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def owned(name: str) -> bool:
    """Whether a run folder's entry ``name`` is dgr's (see :data:`OWNED`), its atomic writes' leftovers included."""
    return name in OWNED or any(name.startswith(f".{own}.") for own in OWNED)


@attrs.frozen
class Completeness:
    """What a run folder holds, checked against its files: run.json's status and what is missing."""

    status: str  # run.json's "status" ("running", "complete"; "missing" without run.json)
    classes: int  # the classes the run has
    missing: tuple[str, ...] = ()  # e.g. "images/3 (10 of 10 images)", "classes/4.json", "manifest.jsonl"

    @property
    def complete(self) -> bool:
        """Whether run.json says complete and no file is missing."""
        return self.status == "complete" and not self.missing

    def describe(self) -> str:
        """One phrase: ``status running; missing classes/5.json, classes/6.json``."""
        if self.complete:
            return "complete"
        listed = ", ".join(self.missing[:4]) + (f" and {len(self.missing) - 4} more" if len(self.missing) > 4 else "")
        return f"status {self.status}" + (f"; missing {listed}" if listed else "")


def save_png(image: "torch.Tensor", path: Path) -> None:
    """A [C, H, W] tensor in [0, 1] (already 8-bit levels) → PNG, byte-identical for equal input."""
    import numpy as np
    from PIL import Image

    array = np.round(np.nan_to_num(image.numpy()) * 255).clip(0, 255).astype(np.uint8)
    picture = (Image.fromarray(array[0], "L") if array.shape[0] == 1
               else Image.fromarray(array.transpose(1, 2, 0), "RGB"))
    picture.save(path, format="PNG", optimize=False, compress_level=6)


def probe_writable(path: str | Path, option: str = "--out") -> None:
    """Refuse a folder that cannot be written, by trying: create it (and its missing parents) and
    remove what was created, or create and delete a file in it when it exists. Permission bits
    alone say nothing for root, who still cannot create anything under /proc or /sys."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]  # deepest first
    try:
        if missing:
            path.mkdir(parents=True, exist_ok=True)
        else:
            fd, probe = tempfile.mkstemp(dir=path, prefix=".dgr-probe-")
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        why = "permission denied" if isinstance(exc, PermissionError) else exc.strerror or type(exc).__name__
        raise RunFolderError(f"cannot write to {path} ({why}); choose a writable {flag(option)}") from None
    finally:
        for created in missing:
            try:
                created.rmdir()
            except OSError:
                pass


def lock_folder(path: Path) -> int | None:
    """An exclusive ``flock`` on the folder ``path`` itself (nothing is added to it): the open file
    descriptor that holds it (closing it, or the end of the process, releases it), or None where the
    folder or the filesystem has no lock. Another process's lock is a one-line refusal."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunFolderError(f"{path} is in use by another dgr process; wait until it ends, or "
                                 f"choose another {flag('--out')}") from None
        return None  # no flock on this filesystem
    return fd


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Create the folder ``path`` if needed and hold :func:`lock_folder` on it for the block; a folder
    it created is removed again if the block fails and leaves it empty."""
    folder = Path(path)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    fd = lock_folder(folder)
    try:
        yield
    except BaseException:
        if created and not any(folder.iterdir()):
            folder.rmdir()
        raise
    finally:
        if fd is not None:
            os.close(fd)


class RunFiles:
    """A run folder read, never written: where its files are and what they say. Everything outside
    this module that reads a run (the report, ``dgr evaluate``, ``dgr.distill``'s result) asks this
    class; :class:`RunFolder` adds the writing."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def run_file(self) -> Path:
        """The path of run.json."""
        return self.path / RUN_FILE

    @property
    def manifest_file(self) -> Path:
        """The path of manifest.jsonl."""
        return self.path / MANIFEST_FILE

    @property
    def report_file(self) -> Path:
        """The path of report.html."""
        return self.path / REPORT_FILE

    @property
    def images_dir(self) -> Path:
        """The final images, an ImageFolder (``images/<class>/*.png``)."""
        return self.path / IMAGES_DIR

    @property
    def initial_dir(self) -> Path:
        """The images before refinement, laid out like :attr:`images_dir`."""
        return self.path / INITIAL_DIR

    @property
    def selected_dir(self) -> Path:
        """The selected images before the polish (only in runs that polish)."""
        return self.path / SELECTED_DIR

    def holds_run(self) -> bool:
        """Whether the folder has a run.json (damaged or not)."""
        return self.run_file.exists()

    def read_run(self) -> dict[str, Any] | None:
        """run.json, or None when it is missing or damaged."""
        if not self.run_file.exists():
            return None
        try:
            run: dict[str, Any] = json.loads(self.run_file.read_text())
            return run
        except (OSError, json.JSONDecodeError):
            return None

    def load_run(self) -> dict[str, Any]:
        """run.json; a folder without one, or a damaged one, is a one-line :class:`DgrError`."""
        if not self.run_file.exists():
            raise DgrError(f"{self.path} holds no dgr run (no {RUN_FILE}); pass the --out folder of `dgr distill`")
        run = self.read_run()
        if not isinstance(run, dict):
            raise DgrError(f"{self.run_file} is damaged (not valid JSON); make the run again with "
                           "`dgr distill --overwrite` (same --out)")
        return run

    def class_names(self, run: dict[str, Any] | None = None) -> list[str]:
        """The run's classes as run.json records them (``run``, else read), else the names of the
        class summaries on disk."""
        run = self.read_run() if run is None else run
        names = ((run or {}).get("dataset") or {}).get("classes")
        return list(names) if names else sorted(p.stem for p in (self.path / CLASSES_DIR).glob("*.json"))

    def summaries(self, class_names: Sequence[str]) -> list[dict[str, Any]]:
        """The summaries (``classes/<class>.json``) of the classes of ``class_names`` that are in."""
        return [self.read_class(name) for name in class_names if self.is_done(name)]

    def completeness(self) -> Completeness:
        """The run's status and, checked against the files, what it lacks: each class's summary
        (``classes/<class>.json``), the images its records name (final and initial), and once complete
        ``manifest.jsonl`` with one whole line per image."""
        run = self.read_run()
        if run is None:
            return Completeness("missing", 0, (RUN_FILE,))
        names = self.class_names(run)
        missing: list[str] = []
        records = 0
        for name in names:
            summary = self._summary(name)
            if summary is None:
                missing.append(f"{CLASSES_DIR}/{self.class_summary_path(name).name}")
                continue
            absent = self._absent_files(summary)
            records += len(summary.get("records", []))
            if absent:
                folder = safe_name(name)
                missing.append(f"{IMAGES_DIR}/{folder} ({absent} of {len(summary.get('records', []))} images)")
        if run.get("status") == "complete":
            lines = self._manifest_lines()
            if lines is None:
                missing.append(MANIFEST_FILE)
            elif lines != records and not any(m.startswith(CLASSES_DIR) for m in missing):
                missing.append(f"{MANIFEST_FILE} ({lines} of {records} records)")
        return Completeness(str(run.get("status", "unknown")), len(names), tuple(missing))

    def _summary(self, class_name: str) -> dict[str, Any] | None:
        try:
            summary = json.loads(self.class_summary_path(class_name).read_text())
        except (OSError, ValueError):
            return None
        return summary if isinstance(summary, dict) and isinstance(summary.get("records"), list) else None

    def _absent_files(self, summary: dict[str, Any]) -> int:
        """How many of a class's records lack their final or initial image."""
        absent = 0
        for record in summary.get("records", []):
            final = str(record.get("file", ""))
            initial = INITIAL_DIR + final[len(IMAGES_DIR):] if final.startswith(IMAGES_DIR + "/") else ""
            if not final or not _nonempty(self.path / final) or (initial and not _nonempty(self.path / initial)):
                absent += 1
        return absent

    def _manifest_lines(self) -> int | None:
        """The whole JSON lines of manifest.jsonl; None when it is missing or a line is cut."""
        try:
            lines = (self.path / MANIFEST_FILE).read_text().splitlines()
            for line in lines:
                json.loads(line)
        except (OSError, ValueError):
            return None
        return len(lines)

    def class_summary_path(self, class_name: str) -> Path:
        """The path of a class's summary (classes/<name>.json)."""
        return self.path / CLASSES_DIR / f"{safe_name(class_name)}.json"

    def is_done(self, class_name: str) -> bool:
        """Whether the class is in: its summary, and every image its records name, are on disk."""
        summary = self._summary(class_name)
        return summary is not None and not self._absent_files(summary)

    def read_class(self, class_name: str) -> dict[str, Any]:
        """A class's summary, as the run wrote it."""
        summary: dict[str, Any] = json.loads(self.class_summary_path(class_name).read_text())
        return summary


class RunFolder(RunFiles):
    """A run folder as the run writes it: opened (refusals, lock), a class at a time, finished."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._lock_fd: int | None = None

    def check(self, fingerprint: str, *, resume: bool, overwrite: bool) -> None:
        """Refuse a folder that cannot be used as asked, without writing anything."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"{flag('--out')} {self.path} is a file; choose a folder path")
        self.refuse_if_locked()
        previous = self.read_run()
        damaged = previous is None and self.run_file.exists()
        if damaged and not overwrite:
            raise RunFolderError(f"{self.run_file} is damaged (not valid JSON), so the run it describes is unknown; "
                                 f"pass {flag('--overwrite')} to replace the run, or choose another {flag('--out')}")
        if previous is not None and not overwrite:
            same = previous.get("fingerprint") == fingerprint
            if not resume:
                state = "a finished" if self.completeness().complete else "an unfinished"
                hint = f"{flag('--resume')} to continue it" if same else f"{flag('--overwrite')} to replace it"
                raise RunFolderError(f"{self.path} holds {state} run; pass {hint}, or choose another {flag('--out')}")
            if not same:
                raise RunFolderError(f"{self.path} holds a run with a different configuration; use the same "
                                     f"options to resume it, {flag('--overwrite')} to replace it, or another "
                                     f"{flag('--out')}")
        elif previous is None and not damaged and self.path.is_dir() and any(self.path.iterdir()):
            raise RunFolderError(f"{self.path} is not empty and holds no dgr run (dgr replaces only its own "
                                 f"runs); choose another {flag('--out')}")
        existing = next(p for p in (self.path, *self.path.parents) if p.exists())
        if not existing.is_dir():
            raise RunFolderError(f"{flag('--out')} {self.path} lies under the file {existing}; choose a folder path")
        probe_writable(self.path)

    def open(self, fingerprint: str, run_header: dict[str, Any], *, resume: bool, overwrite: bool) -> None:
        """Create or reopen the folder and lock it (:meth:`acquire`); refuse one that holds another
        run unless told, or that another process holds.

        A folder this call creates is removed again if it cannot be set up, so a failure
        leaves nothing behind that looks like a run.
        """
        self.check(fingerprint, resume=resume, overwrite=overwrite)
        created = next((p for p in (*reversed(self.path.parents), self.path) if not p.exists()), None)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.acquire()
            self.check(fingerprint, resume=resume, overwrite=overwrite)  # again: it may have changed before the lock
            previous = self.read_run()
            if overwrite and (previous is not None or self.run_file.exists()):  # a damaged run.json too
                for child in self.path.iterdir():
                    if owned(child.name):  # the user's own files stay
                        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
                previous = None
            for sub in (IMAGES_DIR, INITIAL_DIR, CLASSES_DIR):
                (self.path / sub).mkdir(exist_ok=True)
            shutil.rmtree(self.path / PARTIAL_DIR, ignore_errors=True)
            if previous is None or previous.get("status") == "complete":
                write_json_atomic(self.run_file, {**run_header, "status": "running", "fingerprint": fingerprint})
            elif previous.get("status") != "running":
                write_json_atomic(self.run_file, {**previous, "status": "running"})
        except OSError as exc:
            self.release()
            if created is not None:
                shutil.rmtree(created, ignore_errors=True)
            why = "permission denied" if isinstance(exc, PermissionError) else exc.strerror or type(exc).__name__
            raise RunFolderError(f"cannot write to {self.path} ({why}); choose a writable {flag('--out')}") from None

    def acquire(self) -> None:
        """Hold an exclusive OS lock on the folder (``flock`` on the folder itself, so nothing is added
        to it) until :meth:`release` or the end of the process, however it ends; another process that
        asks is refused at once. On a filesystem without ``flock`` the folder goes unlocked."""
        if self._lock_fd is None:
            self._lock_fd = self._try_lock()

    def release(self) -> None:
        """Release the lock that :meth:`acquire` took (nothing when none is held)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the lock
            self._lock_fd = None

    def refuse_if_locked(self) -> None:
        """Refuse a folder that another process holds locked (nothing is kept locked)."""
        if self._lock_fd is None and self.path.is_dir():
            fd = self._try_lock()
            if fd is not None:
                os.close(fd)

    def _try_lock(self) -> int | None:
        return lock_folder(self.path)

    def wait_until_open(self, fingerprint: str, timeout: float = 60.0) -> None:
        """On a rank other than 0: wait until rank 0's run.json is visible (shared filesystems lag)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.read_run()
            if run is not None and run.get("fingerprint") == fingerprint and run.get("status") == "running":
                return
            if time.monotonic() > deadline:
                raise RunFolderError(f"{self.path} does not show the run that rank 0 opened; --out must be on "
                                     "a filesystem that every node shares")
            time.sleep(0.5)

    def missing(self, class_names: Sequence[str], timeout: float = 60.0) -> list[str]:
        """Classes without their completion marker, after waiting up to ``timeout`` s for them to appear."""
        deadline = time.monotonic() + timeout
        while True:
            absent = [n for n in class_names if not self.is_done(n)]
            if not absent or time.monotonic() > deadline:
                return absent
            time.sleep(0.5)

    def write_class(self, class_name: str, final: Sequence[tuple[str, Any]], initial: Sequence[tuple[str, Any]],
                    summary: dict[str, Any], selected: Sequence[tuple[str, Any]] | None = None) -> None:
        """Atomically add one class: images, pre-refinement images, the selected images before the
        polish stage (``selected``, only when it ran) and its summary (last)."""
        folder = safe_name(class_name)
        partial = self.path / PARTIAL_DIR / folder
        shutil.rmtree(partial, ignore_errors=True)
        sets = [(IMAGES_DIR, final), (INITIAL_DIR, initial)] + ([(SELECTED_DIR, selected)] if selected else [])
        try:
            for sub, items in sets:
                (partial / sub).mkdir(parents=True)
                for file_name, image in items:
                    save_png(image, partial / sub / file_name)
            write_json_atomic(partial / "summary.json", summary)
        except OSError as exc:  # a full disk: no half-written class (or 0-byte PNG) stays behind
            shutil.rmtree(partial, ignore_errors=True)
            raise self._cannot_write(exc) from None
        for sub, _ in sets:
            target = self.path / sub / folder
            shutil.rmtree(target, ignore_errors=True)  # a stale copy from an interrupted run
            target.parent.mkdir(exist_ok=True)  # selected/ exists only in runs that polish
            os.replace(partial / sub, target)
        os.replace(partial / "summary.json", self.class_summary_path(class_name))
        shutil.rmtree(partial, ignore_errors=True)

    def finish(self, run_info: dict[str, Any], class_names: Sequence[str]) -> list[dict[str, Any]]:
        """Merge the class summaries into manifest.jsonl and mark the run complete."""
        records = [r for name in class_names for r in self.read_class(name)["records"]]
        try:
            write_text_atomic(self.path / MANIFEST_FILE, "".join(dumps(r, sort_keys=True) + "\n" for r in records))
            shutil.rmtree(self.path / PARTIAL_DIR, ignore_errors=True)
            write_json_atomic(self.run_file, {**run_info, "status": "complete"})
        except OSError as exc:  # a full disk: run.json still says running, --resume finishes it
            raise self._cannot_write(exc) from None
        return records

    def _cannot_write(self, exc: OSError) -> RunFolderError:
        return RunFolderError(f"cannot write to {self.path} ({exc.strerror or type(exc).__name__}); free some space "
                              f"(or fix the folder) and rerun with {flag('--resume')}")


def sum_summaries(summaries: Sequence[dict[str, Any]]) -> tuple[dict[str, float], dict[str, int]]:
    """Timings and counts of class summaries (``classes/<class>.json``), summed over classes."""
    timings: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for s in summaries:
        for k, v in s["timings"].items():
            timings[k] += v
        for k, v in s["counts"].items():
            counts[k] += v
    return {k: round(v, 3) for k, v in timings.items()}, dict(counts)
