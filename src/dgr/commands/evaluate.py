"""``dgr evaluate RUN_DIR_OR_IMAGEFOLDER``: train a student on distilled images and report its
final-epoch accuracy on the real test split, next to baselines trained the same way."""
from __future__ import annotations

import click

from dgr.evaluation.protocols import DEFAULT_PROTOCOL
from dgr.numbers import COUNT, IMAGE_SIDE


@click.command(name="evaluate")
@click.argument("source", type=click.Path(file_okay=False))
@click.option("--dataset", default=None, help="A registered dataset (dgr list datasets) or an ImageFolder "
              "[default: the run's, read with the run's -o dataset.KEY=VALUE options].")
@click.option("--data-dir", default=None, help="Folder with the dataset's files [default: the run's].")
@click.option("--image-size", default=None, type=IMAGE_SIDE,
              help="Load the dataset at N×N (short side resized, centre crop) [default: the size the run recorded].")
@click.option("--protocol", default=DEFAULT_PROTOCOL, show_default=True,
              help="dc, dsa, minimax, rded or a plugin's (`dgr list protocols`, docs/evaluation.md); "
                   "dc is DC's published evaluation.")
@click.option("--student", default=None,
              help="convnet, resnet18, mlp or a plugin's (`dgr list students`) [default: the protocol's].")
@click.option("--width", default=None, type=COUNT, help="ConvNet/MLP width [default: 128 / 256].")
@click.option("--labels", default=None, help="hard or soft (KD from the detector) [default: the protocol's].")
@click.option("--epochs", default=None, type=COUNT, help="Training epochs [default: the protocol's: dc 300, dsa 1000].")
@click.option("--repeats", default=5, show_default=True, type=COUNT,
              help="Students per image set; random-real draws a new subset for each.")
@click.option("--baselines", default=None,
              help="Comma-separated: random-real, unrefined, full or a plugin's (`dgr list baselines`); "
                   "'none' for the distilled row only "
                   "[default: random-real,kmeans-real,unrefined for a run folder, random-real,kmeans-real for an "
                   "ImageFolder].")
@click.option("--full-epochs", default=50, show_default=True, type=COUNT, help="Epochs of the full baseline (cached).")
@click.option("--teacher", default=None, help="KD teacher folder (dgr train detector) for --labels soft.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--no-cache", is_flag=True, help="Retrain the full baseline even if a cached score exists.")
@click.option("--allow-incomplete", is_flag=True,
              help="Score a run folder that is not complete (unfinished, or with files missing).")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False), help="Also write the report here.")
def evaluate(source: str, dataset: str | None, data_dir: str | None, image_size: int | None, protocol: str,
             student: str | None, width: int | None, labels: str | None, epochs: int | None, repeats: int,
             baselines: str | None,
             full_epochs: int, teacher: str | None, seed: int, no_cache: bool, allow_incomplete: bool,
             json_out: str | None) -> None:
    """Train a student on SOURCE (a run folder or an ImageFolder) and score it on the test split."""
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from dgr.evaluation.protocols import resolve_protocol
    from dgr.evaluation.runner import Row, evaluate_source, parse_baselines
    from dgr.evaluation.source import Source
    from dgr.evaluation.students import student_entry

    if student is not None:
        student_entry(student)  # an unknown name fails here, listing the registered students
    from dgr.datasets import loading_size

    opened = Source.open(source, allow_incomplete)
    if json_out:
        from dgr.rundir import probe_writable

        probe_writable(Path(json_out).parent, "--json")  # before any student trains
    if baselines is None:  # the cheap baselines by default; full trains on the whole training split
        baselines = "random-real,kmeans-real" + (",unrefined" if opened.initial_dir is not None else "")
    names = parse_baselines("" if baselines.strip() == "none" else baselines)
    name = dataset or opened.dataset()[0] or ""
    size = run_image_size(opened.image_size, image_size)
    settings = resolve_protocol(protocol, name, student=student, labels=labels, epochs=epochs, width=width)
    console = Console(stderr=True, soft_wrap=True)  # whole lines in a log, not wrapped at 80 columns

    clock = StudentClock(repeats * (1 + len(names)))

    def header() -> None:  # once every input is checked: an error comes first, alone
        console.print(settings.describe())
        console.print(f"training {clock.total} students ({repeats} on each of: {', '.join(('distilled', *names))}; "
                      f"{settings.epochs} epochs each{', full: ' + str(full_epochs) if 'full' in names else ''}); "
                      "a line follows each student and each set, with an estimate of the time left")

    def student_done(name: str, repeat: int, accuracy: float, seconds: float) -> None:
        console.print(f"{name}: student {repeat + 1}/{repeats}: {100 * accuracy:.2f} % in {seconds:.0f} s; "
                      f"{clock.done(seconds)}")

    def progress(row: Row) -> None:
        if row.cached:
            clock.skip(repeats)
        console.print(f"{row.name}: {100 * row.mean:.2f} ± {100 * row.std:.2f}"
                      f"{' (cached)' if row.cached else ''}  [{row.seconds:.0f} s]")

    from dgr.threads import use_cpu_threads

    use_cpu_threads(None)
    with loading_size(size):  # the dataset at the size the run was distilled at
        report = evaluate_source(source, dataset=dataset, data_dir=data_dir, settings=settings, repeats=repeats,
                                 baselines=names, seed=seed, teacher=teacher, full_epochs=full_epochs,
                                 use_cache=not no_cache, on_row=progress, allow_incomplete=allow_incomplete,
                                 on_start=header, on_student=student_done)
    balance = report["test_balance"]
    columns = ["set", "images", "accuracy %", "per repeat", "IOR", "HLR", "distilled − set (paired)", "seconds"]
    if balance["imbalanced"]:
        columns.insert(3, "balanced acc %")
    table = Table(*columns, title=f"{report['dataset']} · {report['protocol']}",
                  caption=(f"majority class {100 * balance['majority_rate']:.1f} % of the test split"
                           if balance["imbalanced"] else None))
    for row in report["rows"]:
        paired = report["paired"].get(row["name"])
        ranking = report["dd_ranking"].get(row["name"], {})
        cells = [row["name"], str(row["images"]), f"{100 * row['mean']:.2f} ± {100 * row['std']:.2f}",
                 " ".join(f"{100 * a:.1f}" for a in row["accuracies"]),
                 *(f"{100 * ranking[k]:+.2f}" if k in ranking else "–" for k in ("IOR", "HLR")),
                 (f"{100 * paired['mean']:+.2f} ± {100 * paired['std']:.2f} ({paired['wins']}/{paired['repeats']} wins)"
                  if paired else "–"),
                 f"{row['seconds']:.0f}" + (" (cached)" if row["cached"] else "")]
        if balance["imbalanced"]:
            cells.insert(3, f"{100 * row['balanced_mean']:.2f}" if row["balanced_mean"] is not None else "–")
        table.add_row(*cells)
    Console().print(table)
    if report["dd_ranking"]:
        Console().print("IOR: improvement over random real (paired); HLR: the full training split's accuracy − "
                        "the set's (DD-Ranking, arXiv 2505.13300; docs/evaluation.md)")
    if json_out:
        from dgr.rundir import dumps

        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(dumps(report, indent=2) + "\n")


def run_image_size(recorded: tuple[int, int] | None, requested: int | None) -> int | None:
    """The side to load the dataset at: the run's ``recorded`` (height, width) when square, or
    ``--image-size``; a different ``--image-size`` than the run's is one line."""
    from dgr.errors import DgrError

    if not recorded or recorded[0] != recorded[1]:
        return requested
    if requested is not None and requested != recorded[0]:
        raise DgrError(f"--image-size {requested}, but the run was distilled at {recorded[0]}×{recorded[1]} px; "
                       f"pass --image-size {recorded[0]} or leave it out")
    return recorded[0]


class StudentClock:
    """How many students are left and, from the ones that finished, roughly how long they take."""

    def __init__(self, total: int) -> None:
        self.total, self.finished, self.seconds = total, 0, 0.0

    def skip(self, count: int) -> None:
        """Students that need no training (a cached score)."""
        self.total -= count

    def done(self, seconds: float) -> str:
        """Count one finished student; the estimate of the rest, in words."""
        self.finished += 1
        self.seconds += seconds
        left = self.total - self.finished
        if left <= 0:
            return "the last one"
        estimate = self.seconds / self.finished * left
        when = f"{estimate / 60:.0f} min" if estimate >= 90 else f"{estimate:.0f} s"
        return f"{left} more, about {when} left"

