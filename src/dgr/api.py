"""The Python API: ``dgr.distill(...)`` with component names or instances."""
from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import attrs

from dgr import __version__
from dgr.config import DEFAULT_RULES, DistillConfig
from dgr.errors import DgrError
from dgr.progress import Progress


@attrs.frozen(eq=False)
class DistillResult:
    out: Path
    records: list[dict[str, Any]]
    counts: dict[str, int]
    timings: dict[str, float]
    wall_seconds: float
    skipped_classes: tuple[str, ...] = ()

    @property
    def images_dir(self) -> Path:
        return self.out / "images"

    @property
    def manifest(self) -> Path:
        return self.out / "manifest.jsonl"

    @property
    def run_json(self) -> Path:
        return self.out / "run.json"


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
            classes: Sequence[int] | None = None) -> DistillResult:
    """Distil ``dataset`` into ``ipc`` images per class under ``out``.

    ``generator``, ``detector``, each rule and ``policy`` are registered names or component
    instances. ``options`` are ``-o`` style ``key=value`` pairs routed to the components.
    ``classes`` restricts the run to some class indices (used for sharding); the run then
    stays unfinished until every class is in.
    """
    from dgr import build as building
    from dgr.datasets import load_dataset
    from dgr.pipeline import distill_class, sum_summaries
    from dgr.plugins import build_registry, get_plugin_manager, plugin_info
    from dgr.rundir import RunFolder

    started = time.perf_counter()
    progress = progress or Progress()
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
                               seed=seed, options=tuple(sorted(opts.items())), device=device, batch_size=batch_size)
    except ValueError as exc:
        raise DgrError(str(exc)) from None

    # 1. Everything that can be checked cheaply, before anything loads or is written.
    registry = build_registry()
    entries = building.resolve(config, registry, generator=generator, detector=detector, rules=list(rules),
                               policy=policy)
    routed = building.route(entries, opts)
    for slot, entry in entries.items():
        if entry is not None:
            from dgr.options import build_config
            build_config(entry.config, routed.get(slot, {}), f"{entry.kind} {entry.name!r}")
    train = load_dataset(config.dataset, "train", data_dir)
    counts = train.counts()
    short = [f"{train.class_names[c]} ({n})" for c, n in enumerate(counts) if n < ipc]
    if short:
        raise DgrError(f"--ipc {ipc} exceeds the training images of class {', '.join(short)}; "
                       f"lower --ipc to at most {int(counts.min())}")

    # 2. Components (weights load here: a missing model fails before the folder exists).
    instances = {"generator": generator, "detector": detector, "policy": policy,
                 **{f"rule:{i}": r for i, r in enumerate(rules)}}
    components = building.build(config, entries, routed, train, instances)

    # 3. The run folder.
    folder = RunFolder(out)
    plugins_used = {slot: attrs.asdict(plugin_info(e.plugin)) | {"component": e.name}
                    for slot, e in entries.items() if e is not None}
    header = {"dgr_version": __version__, "config": config.identity(),
              "speed": {"device": device, "batch_size": batch_size}, "versions": _versions(),
              "plugins": plugins_used, "dataset": {"name": train.name, "classes": list(train.class_names),
                                                   "train_images": len(train), "skipped_files": train.skipped}}
    folder.open(config.fingerprint(), header, resume=resume, overwrite=overwrite)

    todo = list(range(len(train.class_names))) if classes is None else list(classes)
    skipped = tuple(train.class_names[c] for c in todo if folder.is_done(train.class_names[c]))
    for name in skipped:
        progress.note(f"class {name}: already complete, skipped (--resume)")
    progress.add_total("classes", len(todo))
    progress.advance("classes", len(skipped))
    remaining = [c for c in todo if not folder.is_done(train.class_names[c])]
    progress.add_total("synthesis", len(remaining) * ipc)
    pm = get_plugin_manager()
    for c in remaining:
        result = distill_class(c, train, components, config, folder, progress)
        pm.hook.dgr_on_class_done(class_name=train.class_names[c], records=result.records, out_dir=str(folder.path))
        progress.advance("classes")

    # 4. Finish when every class is in (a shard may leave that to another process).
    all_names = list(train.class_names)
    done = [n for n in all_names if folder.is_done(n)]
    summaries = [folder.read_class(n) for n in done]
    timings, totals = sum_summaries(summaries)
    wall = round(time.perf_counter() - started, 3)
    records: list[dict[str, Any]] = [r for s in summaries for r in s["records"]]
    if len(done) == len(all_names):
        info = {**header, "fingerprint": config.fingerprint(), "timings": timings, "counts": totals,
                "wall_seconds": wall, "resumed_classes": list(skipped)}
        records = folder.finish(info, all_names)
    return DistillResult(out=folder.path, records=records, counts=totals, timings=timings, wall_seconds=wall,
                         skipped_classes=skipped)
