"""The settings of one distillation run: one attrs field per setting, whose metadata says what
``dgr distill``, the recipes and the fingerprint need to know of it.

A new setting is one field here: ``dgr distill`` grows its flag (:func:`dgr.commands.distill.setting_options`),
``dgr.distill`` its keyword, run.json and the fingerprint its value, and with ``recipe=True`` a recipe may
set it."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Mapping

import attrs
import click

from dgr.errors import DgrError
from dgr.numbers import COUNT, IMAGE_SIDE, MAX_IMAGE_SIDE, Number, check
from dgr.registry import suggest

DEFAULT_RULES = ("mismatch", "low-confidence")
DEFAULT_OUT = "runs/digits"  # the run folder when none is given
REFINE_FROM = ("prototype", "members")  # where refinement candidates start (the first: the paper)
PROTOTYPES = ("centroids", "medoids")  # what synthesis starts from (the first: the paper)
DATASET_HELP = ("A registered dataset (dgr list datasets: digits, fashion-mnist, cifar10, cifar100, imagenet, "
                "tiny-imagenet, hf, or a plugin's) or a path to an ImageFolder; docs/datasets.md.")
DATA_DIR_HELP = "Folder with the dataset's files (the layout `dgr list datasets` names for it)."


@attrs.frozen
class Setting:
    """What the code around a :class:`DistillConfig` field needs to know of it (the field's metadata)."""

    help: str = ""
    """The flag's help text (a ``recipe`` setting's gets "[default: the recipe's, else …]" appended)."""
    flag: str = ""
    """The flag of ``dgr distill`` when it is not ``--field-name`` (``--rule``, repeatable, fills ``rules``)."""
    type: click.ParamType[Any, Any] | type[int] | None = None
    """The click type of the flag's value (``choices`` makes a ``click.Choice``; a bool is ``--x/--no-x``)."""
    choices: tuple[str, ...] = ()
    show_default: bool = False
    """Whether ``--help`` shows the default (a setting whose help says its default does not)."""
    cli: bool = True
    """Whether ``dgr distill`` has a generated flag for it (``options`` are ``-o`` pairs, read apart)."""
    recipe: bool = False
    """A setting of the method: a recipe may set it and a value given explicitly wins (:mod:`dgr.recipes`);
    its flag and keyword default to None, "not given"."""
    omitted_at_default: bool = False
    """Left out of :meth:`DistillConfig.identity` at its default, so the runs made before it existed keep
    their fingerprint (every setting added after the first release is)."""
    speed_only: bool = False
    """Decides only the speed, never the output: recorded apart, out of the fingerprint."""


SETTING = "dgr"  # the metadata key of a field's Setting


def setting(**kwargs: Any) -> dict[str, Setting]:
    """The metadata of a :class:`DistillConfig` field: ``attrs.field(..., metadata=setting(help=...))``."""
    return {SETTING: Setting(**kwargs)}


Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _at_least(minimum: int, maximum: int | None = None) -> Validator:
    def validate(instance: Any, attribute: "attrs.Attribute[Any]", value: int | None) -> None:
        if value is not None:
            check(attribute.name.replace("_", "-"), value, minimum, maximum)
    return validate


_positive = _at_least(1)


def _one_of(choices: tuple[str, ...]) -> Validator:
    def check(instance: Any, attribute: "attrs.Attribute[Any]", value: str) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name.replace('_', '-')} must be one of {', '.join(choices)}, got {value!r}")
    return check


@attrs.frozen
class DistillConfig:
    """Everything that decides a run's output (``device`` and ``batch_size`` only decide speed).

    The order of the fields is the order of run.json's ``config``: a new field goes last."""

    dataset: str = attrs.field(default="digits", metadata=setting(help=DATASET_HELP, show_default=True))
    data_dir: str | None = attrs.field(default=None, metadata=setting(help=DATA_DIR_HELP))
    ipc: int = attrs.field(default=10, validator=_positive,
                           metadata=setting(help="Images per class.", type=COUNT, show_default=True))
    generator: str = attrs.field(default="dit", metadata=setting(help="Generator name (dgr list generators).",
                                                                 show_default=True))
    model: str | None = attrs.field(default=None, metadata=setting(
        help="Generator weights: a folder or hub id (default: the embedded model)."))
    detector: str = attrs.field(default="convnet", metadata=setting(help="Detector name (dgr list detectors).",
                                                                    show_default=True))
    detector_model: str | None = attrs.field(default=None, metadata=setting(
        help="Detector weights (default: the embedded model)."))
    rules: tuple[str, ...] = attrs.field(default=DEFAULT_RULES, metadata=setting(
        flag="--rule", help=f"Anomaly rule, repeatable [default: {', '.join(DEFAULT_RULES)}]."))
    policy: str = attrs.field(default="confidence-uniqueness",
                              metadata=setting(help="Selection policy.", show_default=True))
    candidates: int = attrs.field(default=20, validator=_positive, metadata=setting(
        help="Candidates per flagged image", type=COUNT, recipe=True))
    seed: int = attrs.field(default=0, metadata=setting(type=int, show_default=True))
    options: tuple[tuple[str, str], ...] = attrs.field(default=(), metadata=setting(cli=False))
    device: str = attrs.field(default="cpu", metadata=setting(help="cpu, cuda, cuda:1, mps …", show_default=True,
                                                              speed_only=True))
    batch_size: int = attrs.field(default=64, validator=_positive, metadata=setting(
        help="Images per generator call.", type=COUNT, show_default=True, speed_only=True))
    early_stop: bool = attrs.field(default=False, metadata=setting(
        help="Stop an image's search at a valid candidate with p ≥ τ + 0.1", recipe=True, omitted_at_default=True))
    image_size: int | None = attrs.field(default=None, validator=_at_least(1, MAX_IMAGE_SIDE), metadata=setting(
        help="Load images at N×N (short side resized, centre crop) [default: the size the models were trained at; "
             "an ImageFolder's native size up to 64].", type=IMAGE_SIDE, omitted_at_default=True))
    polish_steps: int = attrs.field(default=0, validator=_at_least(0), metadata=setting(
        help="Beyond the paper: distribution-matching steps on each class's final images (0: off)",
        type=Number(int, 0), recipe=True, omitted_at_default=True))
    refine_from: str = attrs.field(default=REFINE_FROM[0], validator=_one_of(REFINE_FROM), metadata=setting(
        help="Where a flagged image's candidates start: its prototype (the paper) or, beyond the paper, the real "
             "images of the prototype's k-means cluster, nearest first", choices=REFINE_FROM, recipe=True,
        omitted_at_default=True))
    prototypes: str = attrs.field(default=PROTOTYPES[0], validator=_one_of(PROTOTYPES), metadata=setting(
        help="What synthesis and refinement start from: each k-means centroid (the paper) or, beyond the paper, "
             "the real image nearest to it (its cluster's medoid)", choices=PROTOTYPES, recipe=True,
        omitted_at_default=True))

    def identity(self) -> dict[str, Any]:
        """The fields that decide the output, as JSON-able values (see :attr:`Setting.omitted_at_default`)."""
        data = attrs.asdict(self, recurse=True)
        for field in attrs.fields(DistillConfig):
            meta = setting_of(field)
            if meta.speed_only or meta.omitted_at_default and getattr(self, field.name) == field.default:
                data.pop(field.name)
        data["rules"] = list(self.rules)
        data["options"] = {k: v for k, v in self.options}
        return data

    def fingerprint(self) -> str:
        """16 hex digits of the SHA-256 of :meth:`identity`: what a resumed run must match."""
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def setting_of(field: "attrs.Attribute[Any]") -> Setting:
    """The :class:`Setting` of a :class:`DistillConfig` field."""
    meta = field.metadata.get(SETTING)
    return meta if isinstance(meta, Setting) else Setting()


def setting_fields() -> dict[str, tuple["attrs.Attribute[Any]", Setting]]:
    """Every field of :class:`DistillConfig` by name, in order, with its :class:`Setting`."""
    return {f.name: (f, setting_of(f)) for f in attrs.fields(DistillConfig)}


RECIPE_SETTINGS = tuple(name for name, (_, meta) in setting_fields().items() if meta.recipe)
"""The method's settings, which a recipe may set (besides component options)."""
SPEED_ONLY = tuple(name for name, (_, meta) in setting_fields().items() if meta.speed_only)

DEFAULTS = DistillConfig()
"""The run defaults as one typed value (its fields are the one source): ``dgr.distill``, ``dgr distill`` and the
benchmarks read them."""


def given_settings(config: DistillConfig | None, keywords: Mapping[str, Any], *, caller: str = "dgr.distill()",
                   also: tuple[str, ...] = ()) -> dict[str, Any]:
    """The settings a caller gave: every field of ``config`` (each counts as given), then ``keywords`` (None:
    not given). A keyword that is no setting (nor one of ``also``, the caller's other arguments, which only
    the suggestion reads) is one :class:`DgrError` line naming the settings."""
    names = list(setting_fields())
    unknown = [k for k in keywords if k not in names]
    if unknown:
        raise DgrError(f"{caller} got an unknown argument {unknown[0]!r}{suggest(unknown[0], [*names, *also])}; "
                       f"its settings: {', '.join(names)} (help({caller.rstrip('()')}) lists its other arguments)")
    given = {} if config is None else {name: getattr(config, name) for name in names}
    given.update({k: v for k, v in keywords.items() if v is not None})
    return given
