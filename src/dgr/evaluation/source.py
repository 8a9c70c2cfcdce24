"""What ``dgr evaluate`` scores: a run folder (read through :class:`dgr.rundir.RunFiles`) or a plain
ImageFolder of distilled images."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from dgr.errors import DgrError
from dgr.rundir import RunFiles


@attrs.frozen
class Source:
    """A run folder (its final images, the images before refinement, run.json) or a plain ImageFolder
    (``run`` None)."""

    path: Path
    run: dict[str, Any] | None

    @classmethod
    def open(cls, path: str | Path, allow_incomplete: bool = False) -> "Source":
        """The folder; a run folder that is not complete (checked against its files) is refused
        unless ``allow_incomplete``."""
        folder = Path(path)
        if not folder.is_dir():
            raise DgrError(f"{folder} does not exist; pass a dgr run folder or an ImageFolder of distilled images")
        files = RunFiles(folder)
        if not files.holds_run():
            return cls(path=folder, run=None)
        run = files.load_run()
        state = files.completeness()
        if not state.complete and not allow_incomplete:
            raise DgrError(f"{folder} is not a complete run ({state.describe()}); finish it with `dgr distill "
                           "--resume` (same options), or pass --allow-incomplete to score the images it holds")
        return cls(path=folder, run=run)

    @property
    def images_dir(self) -> Path:
        """The distilled images: a run's final images, else the ImageFolder itself."""
        return RunFiles(self.path).images_dir if self.run is not None else self.path

    @property
    def initial_dir(self) -> Path | None:
        """A run's images before refinement (None for an ImageFolder, or a run without them)."""
        folder = RunFiles(self.path).initial_dir
        return folder if self.run is not None and folder.is_dir() else None

    @property
    def config(self) -> dict[str, Any]:
        """The run's settings as run.json records them ({} for an ImageFolder)."""
        return dict((self.run or {}).get("config") or {})

    @property
    def image_size(self) -> tuple[int, int] | None:
        """The (height, width) the run loaded its dataset at (None for an ImageFolder or a run that
        did not record it)."""
        recorded = ((self.run or {}).get("dataset") or {}).get("image_size")
        return (int(recorded[0]), int(recorded[1])) if recorded else None

    def dataset(self) -> tuple[str | None, str | None]:
        """The dataset name and data dir the run recorded."""
        return self.config.get("dataset"), self.config.get("data_dir")

    def dataset_options(self) -> dict[str, str]:
        """The ``-o dataset.KEY=VALUE`` options the run read its dataset with."""
        from dgr.options import split_dataset_options

        return split_dataset_options(dict(self.config.get("options") or {}))[0]
