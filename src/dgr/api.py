"""The Python API: ``dgr.distill(...)`` with component names or instances; the run itself is
:mod:`dgr.run_lifecycle`'s."""
from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import attrs

from dgr.config import DEFAULT_OUT, DEFAULTS, RECIPE_SETTINGS, DistillConfig, given_settings
from dgr.distributed import World
from dgr.progress import Progress
from dgr.run_lifecycle import COMPONENTS, Outcome, make_config, run
from dgr.rundir import RunFiles


@attrs.frozen(eq=False)
class DistillResult(Outcome):
    """What ``dgr.distill`` did (:class:`~dgr.run_lifecycle.Outcome`) and where its files are
    (:class:`~dgr.rundir.RunFiles` reads the folder)."""

    @property
    def files(self) -> RunFiles:
        """The run folder, read: its paths, run.json, the class summaries."""
        return RunFiles(self.out)

    @property
    def images_dir(self) -> Path:
        """The folder of the final images, one subfolder a class."""
        return self.files.images_dir

    @property
    def manifest(self) -> Path:
        """``manifest.jsonl``: one record per final image."""
        return self.files.manifest_file

    @property
    def run_json(self) -> Path:
        """``run.json``: the run's settings, versions, timings and status."""
        return self.files.run_file

    @property
    def report(self) -> Path:
        """``report.html``: the run's report."""
        return self.files.report_file


def distill(config: DistillConfig | None = None, *, generator: Any = None, detector: Any = None,
            rules: Sequence[Any] | None = None, policy: Any = None, options: Mapping[str, str] | None = None,
            threshold: float | None = None, uniqueness_weight: float | None = None, recipe: str | None = None,
            out: str | Path = DEFAULT_OUT, resume: bool = False, overwrite: bool = False,
            progress: Progress | None = None, classes: Sequence[int] | None = None, world: World | None = None,
            **settings: Any) -> DistillResult:
    """Distil ``dataset`` into ``ipc`` images per class under ``out``.

    The run's settings are the fields of :class:`~dgr.config.DistillConfig` (``dataset``, ``ipc``,
    ``seed``, ``polish_steps`` …): each one a keyword here (None: not given), or all of them as ``config``
    (its fields all count as given; keywords beside it win). A keyword that is no setting nor an
    argument below is refused in one line.

    ``generator``, ``detector``, each rule and ``policy`` are registered names or component
    instances. ``options`` are ``-o`` style ``key=value`` pairs routed to the components;
    ``threshold`` (τ of the rules that take one) and ``uniqueness_weight`` (λ of the policy)
    are shortcuts, refused when no component of the run takes them. ``classes`` restricts the
    run to some class indices; the run then stays unfinished until every class is in.
    ``polish_steps`` > 0 adds a stage beyond the paper: each class's final images are optimised
    for that many distribution-matching steps against the class's real images (:mod:`dgr.polishing`).
    ``refine_from="members"`` (also beyond the paper) starts a flagged image's candidates from the real
    images of its prototype's k-means cluster, nearest first, instead of from the prototype.
    ``prototypes="medoids"`` (beyond the paper) replaces each k-means centroid by the real image
    nearest to it (its cluster's medoid, in the generator's space): synthesis and refinement then
    start from a real image instead of the mean of a cluster.
    ``recipe`` (a name from ``dgr recipes``, a recipe file, or a run folder) sets the method's settings
    (the fields marked ``recipe``: ``candidates``, ``early_stop``, ``polish_steps``, ``refine_from``,
    ``prototypes``) and component options; each of them given here (not None; an ``options`` key) wins
    over the recipe's. Without it the run takes the dataset's default recipe for ``ipc``
    (:mod:`dgr.recipes`), else ``paper``, the paper's method.
    ``image_size`` loads the dataset at that side (short side resized, centre crop); by default
    at the size dgr's own models were trained at (``dgr_model.json``, the detector's
    ``config.json``), and a different ``image_size`` is refused before any work. Under a
    launcher (``torchrun``, ``accelerate launch``) each process takes its share of the classes
    (``world``, read from the environment by default) and rank 0 writes manifest.jsonl,
    run.json and report.html once all are in.
    """
    from dgr.recipes import choose_recipe

    started = time.perf_counter()
    given = given_settings(config, settings, also=tuple(inspect.signature(distill).parameters))
    instances = {"generator": generator, "detector": detector, "rules": rules, "policy": policy}
    components = {slot: given.pop(slot, getattr(DEFAULTS, slot)) for slot in COMPONENTS}
    components.update({slot: spec for slot, spec in instances.items() if spec is not None})
    explicit = {key: given.pop(key, None) for key in RECIPE_SETTINGS}
    explicit["options"] = {**dict(given.pop("options", ())), **dict(options or {})}
    chosen, method, overridden = choose_recipe(recipe, str(given.get("dataset", DEFAULTS.dataset)),
                                               given.get("ipc", DEFAULTS.ipc), explicit)
    wanted = method.pop("options")
    shortcuts = {"threshold": threshold, "uniqueness_weight": uniqueness_weight}
    run_config = make_config({**given, **method}, components, wanted, shortcuts)
    outcome = run(run_config, components, wanted, shortcuts, chosen.record(overridden), out=out, resume=resume,
                  overwrite=overwrite, progress=progress or Progress(), classes=classes,
                  world=world or World.from_env(), started=started)
    return DistillResult(**attrs.asdict(outcome, recurse=False))
