"""A distillation run's life after its settings are settled: check everything, build the components, open
the run folder, distil this process's classes, finish (manifest.jsonl, run.json, report.html).

:func:`dgr.api.distill` settles the settings (:class:`~dgr.config.DistillConfig`, the recipe) and hands the
run to :func:`run`."""
from __future__ import annotations

import platform
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import attrs

from dgr.config import DEFAULTS, DistillConfig
from dgr.distributed import Team, World
from dgr.errors import DgrError, RunFolderError, flag
from dgr.progress import Progress
from dgr.version import __version__

COMPONENTS = ("generator", "detector", "rules", "policy")
"""The settings that name components: each may be given as a component instance instead of a name."""


@attrs.frozen(eq=False)
class Outcome:
    """What one call did: the run folder, the records and sums of the classes it can see, and whether it
    finished the run (``dgr.distill`` returns it as a :class:`dgr.api.DistillResult`)."""

    out: Path
    records: list[dict[str, Any]]
    counts: dict[str, int]
    timings: dict[str, float]
    wall_seconds: float
    skipped_classes: tuple[str, ...] = ()
    complete: bool = False
    """True when this call finished the run (rank 0, every class in)."""


def run(config: DistillConfig, components: Mapping[str, Any], options: Mapping[str, str],
        shortcuts: Mapping[str, Any], recipe: Mapping[str, Any], *, out: str | Path, resume: bool, overwrite: bool,
        progress: Progress, classes: Sequence[int] | None, world: World, started: float) -> Outcome:
    """Check, build, open the run folder, distil this process's classes of ``classes`` (None: all) and finish.

    ``components`` are the names or instances of :data:`COMPONENTS`; ``options`` the ``-o`` pairs and
    ``shortcuts`` the shortcut flags (both already recorded in ``config.options``); ``recipe`` is what
    run.json says of the recipe."""
    from dgr import build as building
    from dgr.devices import check_device
    from dgr.network import offline_unless_opted_in
    from dgr.options import split_dataset_options
    from dgr.plugins import build_registry
    from dgr.rundir import RunFolder

    generator, detector, rules, policy = (components[slot] for slot in COMPONENTS)
    folder = RunFolder(out)
    check_device(config.device)

    # Everything that can be checked cheaply, before anything loads or is written. Under a
    # launcher every process checks the same inputs, so each one stops with the same line.
    registry = build_registry()
    entries = building.resolve(config, registry, generator=generator, detector=detector,
                               rules=list(rules), policy=policy)
    configs = building.parse_options(entries, split_dataset_options(dict(options))[1], shortcuts)
    shapes = trained_shapes(config, generator, detector)
    train, todo = load_training_split(config, classes, shapes)
    folder.check(config.fingerprint(), resume=resume, overwrite=overwrite)  # nothing left behind, on every rank
    if resume and folder.read_run() is None and world.rank == 0:
        progress.note(f"{folder.path} holds no run yet; starting a fresh one")

    # Weights load here: a missing model fails before the folder exists.
    instances = {"generator": generator, "detector": detector, "policy": policy,
                 **{f"rule:{i}": r for i, r in enumerate(rules)}}
    run_config = attrs.evolve(config, device=world.device(config.device))
    with offline_unless_opted_in():  # no download (and no hub retry loop) unless DGR_DOWNLOAD=1
        built = building.build(run_config, entries, configs, train, instances, registry)

    # From here on the processes of a launched run act together: each ``team.step()`` ends with
    # every rank saying whether it succeeded, so one rank's failure stops them all. The group is
    # joined only now, after the heavy imports of the build (torch._dynamo, imported by diffusers,
    # keeps a group joined before it alive past destroy_process_group, and gloo then aborts the
    # process at exit).
    with Team(world) as team:
        header = {**run_header(config, entries, train, world, configs), "recipe": dict(recipe)}
        try:
            resumed = open_run_folder(team, folder, config, header, todo, train.class_names,
                                      resume=resume, overwrite=overwrite)
            skipped = distill_my_classes(team, world, folder, train, built, run_config, todo, resumed, progress)
            return finish_run(team, world, folder, config, header, train.class_names, todo, resumed, skipped,
                              started)
        finally:
            folder.release()  # the lock rank 0 took in open_run_folder (a killed process loses it too)


def make_config(settings: Mapping[str, Any], components: Mapping[str, Any], options: Mapping[str, str],
                shortcuts: Mapping[str, Any]) -> DistillConfig:
    """The run's :class:`DistillConfig` from its settled ``settings`` (the fields given; the rest take their
    defaults); component instances are recorded as ``<ClassName>``.

    The shortcuts are recorded among the options under the names runs have always recorded
    (``threshold``, ``weight``), so a run's fingerprint does not change."""
    from dgr.build import SHORTCUTS
    from dgr.numbers import check

    def label(spec: Any) -> str:
        return spec if isinstance(spec, str) else f"<{type(spec).__name__}>"

    recorded = dict(options)
    for key, value in shortcuts.items():
        if value is not None:
            check(flag(SHORTCUTS[key].flag), float(value))
            recorded[SHORTCUTS[key].option] = str(value)
    fields = {**settings, "dataset": str(settings.get("dataset", DEFAULTS.dataset))}
    try:
        return DistillConfig(generator=label(components["generator"]), detector=label(components["detector"]),
                             rules=tuple(label(r) for r in components["rules"]), policy=label(components["policy"]),
                             options=tuple(sorted(recorded.items())), **fields)
    except ValueError as exc:
        raise DgrError(str(exc)) from None


def trained_shapes(config: DistillConfig, generator: Any, detector: Any) -> list[Any]:
    """The image shapes dgr's own models of this run record (none for other models)."""
    from dgr.sizes import trained_shape

    shapes = [trained_shape("generator", generator, config.model, config.dataset),
              trained_shape("detector", detector, config.detector_model, config.dataset)]
    return [s for s in shapes if s is not None]


def load_training_split(config: DistillConfig, classes: Sequence[int] | None,
                        shapes: Sequence[Any] = ()) -> tuple[Any, list[int]]:
    """The training split (at the models' image size, see :mod:`dgr.sizes`) and the class indices
    to distil; refuses an ``ipc`` above a class's image count and class indices that do not exist."""
    from dgr.datasets import load_dataset
    from dgr.options import split_dataset_options
    from dgr.sizes import check_channels, choose_image_size

    size = choose_image_size(config.image_size, shapes)
    dataset_options = split_dataset_options(dict(config.options))[0]
    train = load_dataset(config.dataset, "train", config.data_dir, image_size=size, options=dataset_options)
    check_channels(train.info.channels, shapes, train.name)
    counts = train.counts()
    ipc = config.ipc
    short = [f"{train.class_names[c]} ({n})" for c, n in enumerate(counts) if n < ipc]
    if short:
        listed = ", ".join(short[:5]) + (f" and {len(short) - 5} more" if len(short) > 5 else "")
        raise DgrError(f"{flag('--ipc')} {ipc} exceeds the training images of class {listed}; "
                       f"lower {flag('--ipc')} to at most {int(counts.min())}")
    all_names = list(train.class_names)
    todo = list(range(len(all_names))) if classes is None else list(classes)
    unknown = [c for c in todo if not 0 <= c < len(all_names)]
    if unknown:
        raise DgrError(f"class indices {unknown} do not exist; {train.name} has classes 0..{len(all_names) - 1}")
    return train, todo


def run_header(config: DistillConfig, entries: Mapping[str, Any], train: Any, world: World,
               configs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What run.json says before any class is in: config, versions, plugins, dataset, and the
    effective options of every component (τ and λ included when left at their defaults)."""
    from dgr.plugins import plugin_info

    plugins_used = {slot: attrs.asdict(plugin_info(e.plugin)) | {"component": e.name}
                    for slot, e in entries.items() if e is not None}
    return {"dgr_version": __version__, "config": config.identity(),
            "speed": {"device": config.device, "batch_size": config.batch_size, "processes": world.size},
            "versions": _versions(), "plugins": plugins_used,
            "effective_options": effective_options(configs or {}),
            "dataset": {"name": train.name, **dataset_record(config), "classes": list(train.class_names),
                        "train_images": len(train),
                        "skipped_files": train.skipped, "channels": train.info.channels,
                        "image_size": [train.info.height, train.info.width]}}


def dataset_record(config: DistillConfig) -> dict[str, Any]:
    """Which dataset a run read: the name it was given, ``--data-dir``, and the version of the
    registered description (None for a plain ImageFolder)."""
    from dgr.datasets import known_description

    description = known_description(config.dataset)
    return {"given_as": config.dataset, "data_dir": config.data_dir,
            "description_version": description.version if description is not None else None}


def effective_options(configs: Mapping[str, Any]) -> dict[str, Any]:
    """``{"rule:low-confidence": {"threshold": 0.7}, "policy": {"weight": 0.5}, …}``: every option each
    component ran with, defaults included (an attrs config; components without one are left out)."""
    out: dict[str, Any] = {}
    for slot, cfg in configs.items():
        if attrs.has(type(cfg)):
            out[slot] = {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                         for k, v in attrs.asdict(cfg, recurse=False).items()}
    return out


def open_run_folder(team: Team, folder: Any, config: DistillConfig, header: dict[str, Any], todo: Sequence[int],
                    all_names: Sequence[str], *, resume: bool, overwrite: bool) -> tuple[str, ...]:
    """Rank 0 creates or reopens the run folder while the other ranks wait; returns the classes
    of ``todo`` already complete (read before any rank works)."""
    with team.step():
        if team.is_main:
            folder.open(config.fingerprint(), header, resume=resume, overwrite=overwrite)
        else:
            folder.wait_until_open(config.fingerprint())
        return tuple(all_names[c] for c in todo if folder.is_done(all_names[c]))


def distill_my_classes(team: Team, world: World, folder: Any, train: Any, components: Any,
                       run_config: DistillConfig, todo: Sequence[int], resumed: Sequence[str],
                       progress: Progress) -> tuple[str, ...]:
    """Distil this process's share of ``todo`` (all of it without a launcher), calling
    ``dgr_on_class_done`` after each class; returns the classes skipped as already complete."""
    from dgr.pipeline import distill_classes
    from dgr.plugins import get_plugin_manager

    all_names = list(train.class_names)
    mine = world.shard(todo)
    skipped = tuple(all_names[c] for c in mine if all_names[c] in resumed)
    for name in skipped:
        progress.note(f"class {name}: already complete, skipped (--resume)")
    progress.add_total("classes", len(mine))
    progress.advance("classes", len(skipped))
    remaining = [c for c in mine if all_names[c] not in resumed]
    progress.add_total("synthesis", len(remaining) * run_config.ipc)  # every total is known before the first class
    progress.add_total("refinement", len(remaining) * run_config.ipc)
    if run_config.polish_steps:
        progress.add_total("polish", len(remaining) * run_config.polish_steps)
    pm = get_plugin_manager()
    with team.step():
        for c, result in distill_classes(remaining, train, components, run_config, folder, progress, world.rank):
            pm.hook.dgr_on_class_done(class_name=all_names[c], records=result.records, out_dir=str(folder.path))
            progress.advance("classes")
    return skipped


def finish_run(team: Team, world: World, folder: Any, config: DistillConfig, header: dict[str, Any],
               all_names: Sequence[str], todo: Sequence[int], resumed: Sequence[str], skipped: tuple[str, ...],
               started: float) -> Outcome:
    """Merge manifest.jsonl, complete run.json and write report.html when every class is in
    (with ``classes=...`` that may be left to another call); the result of this call."""
    from dgr.rundir import sum_summaries

    all_names = list(all_names)
    mine = world.shard(todo)
    complete = False
    with team.step():
        if team.is_main and world.size > 1:
            lost = folder.missing([all_names[c] for c in todo])
            if lost:
                raise RunFolderError(f"rank 0 cannot see classes {', '.join(lost)} that other ranks wrote to "
                                     f"{folder.path}; --out must be on a filesystem that every node shares")
        names = all_names if team.is_main else [all_names[c] for c in mine]
        done = [n for n in names if folder.is_done(n)]
        summaries = [folder.read_class(n) for n in done]
        timings, totals = sum_summaries(summaries)
        wall = round(time.perf_counter() - started, 3)
        records: list[dict[str, Any]] = [r for s in summaries for r in s["records"]]
        if team.is_main and len(done) == len(all_names):
            info = {**header, "fingerprint": config.fingerprint(), "timings": timings, "counts": totals,
                    "wall_seconds": wall, "resumed_classes": list(resumed)}
            records = folder.finish(info, all_names)
            complete = True
            _write_report(folder.path)
    return Outcome(out=folder.path, records=records, counts=totals, timings=timings, wall_seconds=wall,
                   skipped_classes=skipped, complete=complete)


def _write_report(run_dir: Path) -> None:
    """report.html at the end of a run; a run that could not get its report is still complete."""
    from dgr.report import write_report

    try:
        write_report(run_dir)
    except (OSError, DgrError) as exc:
        warnings.warn(f"report.html not written ({exc}); make it later with `dgr report {run_dir}`", stacklevel=4)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"dgr": __version__, "python": platform.python_version()}
    for pkg in ("torch", "diffusers", "faiss-cpu", "open_clip_torch", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
