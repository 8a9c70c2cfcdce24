"""The Python API: ``dgr.distill(...)`` with component names or instances."""
from __future__ import annotations

import platform
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import attrs

from dgr import __version__
from dgr.config import DEFAULT_RULES, DistillConfig
from dgr.errors import DgrError, RunFolderError
from dgr.distributed import Team, World
from dgr.progress import Progress


@attrs.frozen(eq=False)
class DistillResult:
    out: Path
    records: list[dict[str, Any]]
    counts: dict[str, int]
    timings: dict[str, float]
    wall_seconds: float
    skipped_classes: tuple[str, ...] = ()
    complete: bool = False
    """True when this call finished the run (rank 0, every class in)."""

    @property
    def images_dir(self) -> Path:
        return self.out / "images"

    @property
    def manifest(self) -> Path:
        return self.out / "manifest.jsonl"

    @property
    def run_json(self) -> Path:
        return self.out / "run.json"

    @property
    def report(self) -> Path:
        return self.out / "report.html"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"dgr": __version__, "python": platform.python_version()}
    for pkg in ("torch", "diffusers", "faiss-cpu", "open_clip_torch", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def distill(*, dataset: str = "digits", data_dir: str | None = None, ipc: int = 10,
            generator: Any = "dit", model: str | None = None, detector: Any = "convnet",
            detector_model: str | None = None, rules: Sequence[Any] = DEFAULT_RULES,
            policy: Any = "confidence-uniqueness", candidates: int = 20, threshold: float | None = None,
            uniqueness_weight: float | None = None, seed: int = 0, device: str = "cpu", batch_size: int = 64,
            out: str | Path = "runs/digits", resume: bool = False, overwrite: bool = False,
            options: Mapping[str, str] | None = None, progress: Progress | None = None,
            classes: Sequence[int] | None = None, world: World | None = None,
            early_stop: bool = False) -> DistillResult:
    """Distil ``dataset`` into ``ipc`` images per class under ``out``.

    ``generator``, ``detector``, each rule and ``policy`` are registered names or component
    instances. ``options`` are ``-o`` style ``key=value`` pairs routed to the components.
    ``classes`` restricts the run to some class indices; the run then stays unfinished until
    every class is in. Under a launcher (``torchrun``, ``accelerate launch``) each process
    takes its share of the classes (``world``, read from the environment by default) and
    rank 0 writes manifest.jsonl, run.json and report.html once all are in.
    """
    from dgr import build as building
    from dgr.datasets import load_dataset
    from dgr.pipeline import distill_class, sum_summaries
    from dgr.plugins import build_registry, get_plugin_manager, plugin_info
    from dgr.rundir import RunFolder

    started = time.perf_counter()
    progress = progress or Progress()
    world = world or World.from_env()
    opts = dict(options or {})
    if threshold is not None:
        opts["threshold"] = str(threshold)
    if uniqueness_weight is not None:
        opts["weight"] = str(uniqueness_weight)

    def label(spec: Any) -> str:
        return spec if isinstance(spec, str) else f"<{type(spec).__name__}>"

    try:
        config = DistillConfig(dataset=str(dataset), data_dir=data_dir, ipc=ipc, generator=label(generator),
                               model=model, detector=label(detector), detector_model=detector_model,
                               rules=tuple(label(r) for r in rules), policy=label(policy), candidates=candidates,
                               early_stop=early_stop, seed=seed, options=tuple(sorted(opts.items())), device=device,
                               batch_size=batch_size)
    except ValueError as exc:
        raise DgrError(str(exc)) from None
    folder = RunFolder(out)

    # 1. Everything that can be checked cheaply, before anything loads or is written. Under a
    #    launcher every process checks the same inputs, so each one stops with the same line.
    registry = build_registry()
    entries = building.resolve(config, registry, generator=generator, detector=detector,
                               rules=list(rules), policy=policy)
    configs = building.parse_options(entries, opts)
    train = load_dataset(config.dataset, "train", data_dir)
    counts = train.counts()
    short = [f"{train.class_names[c]} ({n})" for c, n in enumerate(counts) if n < ipc]
    if short:
        listed = ", ".join(short[:5]) + (f" and {len(short) - 5} more" if len(short) > 5 else "")
        raise DgrError(f"--ipc {ipc} exceeds the training images of class {listed}; "
                       f"lower --ipc to at most {int(counts.min())}")
    all_names = list(train.class_names)
    todo = list(range(len(all_names))) if classes is None else list(classes)
    unknown = [c for c in todo if not 0 <= c < len(all_names)]
    if unknown:
        raise DgrError(f"class indices {unknown} do not exist; {train.name} has classes 0..{len(all_names) - 1}")
    folder.check(config.fingerprint(), resume=resume, overwrite=overwrite)  # read-only, on every rank

    # 2. Components (weights load here: a missing model fails before the folder exists).
    instances = {"generator": generator, "detector": detector, "policy": policy,
                 **{f"rule:{i}": r for i, r in enumerate(rules)}}
    run_config = attrs.evolve(config, device=world.device(device))
    components = building.build(run_config, entries, configs, train, instances)

    # From here on the processes of a launched run act together: each ``team.step()`` ends with
    # every rank saying whether it succeeded, so one rank's failure stops them all. The group is
    # joined only now, after the heavy imports of step 2 (torch._dynamo, imported by diffusers,
    # keeps a group joined before it alive past destroy_process_group, and gloo then aborts the
    # process at exit).
    with Team(world) as team:
        # 3. The run folder: rank 0 creates or reopens it while the other ranks wait.
        plugins_used = {slot: attrs.asdict(plugin_info(e.plugin)) | {"component": e.name}
                        for slot, e in entries.items() if e is not None}
        header = {"dgr_version": __version__, "config": config.identity(),
                  "speed": {"device": device, "batch_size": batch_size, "processes": world.size},
                  "versions": _versions(), "plugins": plugins_used,
                  "dataset": {"name": train.name, "classes": all_names, "train_images": len(train),
                              "skipped_files": train.skipped}}
        with team.step():
            if team.is_main:
                folder.open(config.fingerprint(), header, resume=resume, overwrite=overwrite)
            else:
                folder.wait_until_open(config.fingerprint())
            resumed = tuple(all_names[c] for c in todo if folder.is_done(all_names[c]))  # before any rank works

        # 4. This process's classes (all of them without a launcher).
        mine = world.shard(todo)
        skipped = tuple(all_names[c] for c in mine if all_names[c] in resumed)
        for name in skipped:
            progress.note(f"class {name}: already complete, skipped (--resume)")
        progress.add_total("classes", len(mine))
        progress.advance("classes", len(skipped))
        remaining = [c for c in mine if all_names[c] not in resumed]
        progress.add_total("synthesis", len(remaining) * ipc)
        pm = get_plugin_manager()
        with team.step():
            for c in remaining:
                result = distill_class(c, train, components, run_config, folder, progress, rank=world.rank)
                pm.hook.dgr_on_class_done(class_name=all_names[c], records=result.records,
                                          out_dir=str(folder.path))
                progress.advance("classes")

        # 5. Finish when every class is in (with classes=..., that may be left to another call).
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
    return DistillResult(out=folder.path, records=records, counts=totals, timings=timings, wall_seconds=wall,
                         skipped_classes=skipped, complete=complete)


def _write_report(run_dir: Path) -> None:
    """report.html at the end of a run; a run that could not get its report is still complete."""
    from dgr.report import write_report

    try:
        write_report(run_dir)
    except (OSError, DgrError) as exc:
        warnings.warn(f"report.html not written ({exc}); make it later with `dgr report {run_dir}`", stacklevel=3)
