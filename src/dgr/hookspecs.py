"""Hook specifications of dgr. Every hook is prefixed ``dgr_``.

Plugins contribute *named factories* through a ``register`` callback::

    register(name, factory, summary="...", config=MyConfig, requires=("diffusers",))

``register`` is a :class:`Register`. ``factory(context: dgr.BuildContext)`` returns the component. ``config`` is an
optional attrs class whose fields are the component's ``-o key=value`` options; the parsed
instance arrives as ``context.config``. ``requires`` names importable modules the
component needs, so ``dgr list`` can say what is missing without importing it.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import pluggy

from dgr.components import ModelFolder

hookspec = pluggy.HookspecMarker("dgr")


class Register(Protocol):
    """The ``register`` callback every ``dgr_register_*`` hook receives."""

    def __call__(self, name: str, factory: Callable[[Any], Any], *, summary: str = "",
                 config: type | None = None, requires: Sequence[str] = (), teacher: bool = False,
                 model_folder: ModelFolder | None = None) -> None:
        """Register ``factory`` under ``name``.

        ``factory(context: dgr.BuildContext)`` returns the component; ``config`` is an attrs
        class whose fields are its ``-o`` options (the parsed instance is ``context.config``);
        ``requires`` names modules it imports, checked without importing them; ``teacher`` (detectors
        only) says that its ``--detector-model`` folder is a dgr ConvNet folder ``dgr evaluate
        --labels soft`` may use as the KD teacher; ``model_folder`` (generators and detectors) says
        where its model folder records the image shape it was trained at, and whether it loads the
        dataset's shipped model when given none (:class:`dgr.ModelFolder`). A name another plugin
        already registered is refused: the later plugin is skipped with a warning.
        """


@hookspec
def dgr_register_generators(register: Register) -> None:
    """Register generators: objects with ``encode(images)`` and ``generate(prototypes, labels, seeds)``."""


@hookspec
def dgr_register_detectors(register: Register) -> None:
    """Register detectors: objects with ``score(images) -> Detection`` (and optionally ``fit``)."""


@hookspec
def dgr_register_anomaly_rules(register: Register) -> None:
    """Register anomaly rules: objects with ``flag(detection, labels) -> (mask, reasons)``."""


@hookspec
def dgr_register_selection_policies(register: Register) -> None:
    """Register selection policies: objects with ``select(candidates, label, accepted, valid) -> Choice``."""


@hookspec
def dgr_register_students(register: Register) -> None:
    """Register evaluation students: ``factory(context: BuildContext) -> torch.nn.Module``, a fresh,
    randomly initialised classifier for ``context.dataset`` (``[B, C, H, W]`` normalised input → logits)."""


@hookspec
def dgr_register_protocols(register: Register) -> None:
    """Register evaluation protocols: ``factory(context: ProtocolContext) -> TrainSettings``, how a
    student is trained (``context.dataset`` is the dataset's name)."""


@hookspec
def dgr_register_baselines(register: Register) -> None:
    """Register evaluation baselines: ``factory(context: BaselineContext) -> Baseline``, the image set
    each repeat trains on, compared with the distilled set under the same protocol."""


@hookspec
def dgr_register_datasets(register: Register) -> None:
    """Register datasets: ``register(name, description)`` where ``description`` is a
    :class:`dgr.DatasetDescription` named ``name`` (how to read each split, class names as people say
    them, channels, flips, normalisation, shipped models); ``config`` is an attrs class whose fields
    are its ``-o dataset.KEY=VALUE`` options (the parsed instance arrives as ``request.options``)."""


@hookspec
def dgr_on_class_done(class_name: str, records: list[dict[str, Any]], out_dir: str) -> None:
    """Called after a class is written to the run folder (for loggers and trackers)."""
