"""Numbers from the user, checked for range and finiteness where they are parsed: the ``dgr``
options (:class:`Number`, a click type), the ``-o`` component options (:mod:`dgr.options`) and the
run's settings (:mod:`dgr.config`) all go through :func:`check`, so NaN, infinity and values out of
range are one line naming the option, never a run that records them."""
from __future__ import annotations

import math
from typing import Any, TypeVar

import click

from dgr.errors import DgrError

MAX_IMAGE_SIDE = 1024
"""The largest ``--image-size``: a dataset loaded larger needs more memory than a machine has."""

N = TypeVar("N", int, float)


class NumberError(DgrError, ValueError):
    """A number out of range, or not finite (a ValueError too, so attrs validators may raise it)."""


def check(name: str, value: N, minimum: float | None = None, maximum: float | None = None, *,
          above: float | None = None) -> N:
    """``value`` if it is finite and within ``minimum``..``maximum`` (and greater than ``above``)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise NumberError(f"{name} must be a finite number, got {value}")
    if minimum is not None and value < minimum:
        raise NumberError(f"{name} must be at least {minimum}, got {value}")
    if above is not None and value <= above:
        raise NumberError(f"{name} must be greater than {above}, got {value}")
    if maximum is not None and value > maximum:
        raise NumberError(f"{name} must be at most {maximum}, got {value}")
    return value


class Number(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2; dgr takes 8.1
    """A click option type: an int or float checked by :func:`check`; a bad value is a one-line
    :class:`NumberError` naming the option (click's usage errors print several lines)."""

    def __init__(self, kind: type = int, minimum: float | None = None, maximum: float | None = None, *,
                 above: float | None = None) -> None:
        self.kind = kind
        self.name = "integer" if kind is int else "float"
        self.limits: dict[str, Any] = {"minimum": minimum, "maximum": maximum, "above": above}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The value as ``kind``, checked against the limits; else a one-line NumberError."""
        name = max(param.opts, key=len) if param is not None and param.opts else "value"
        try:
            number = self.kind(value)
        except (TypeError, ValueError):
            raise NumberError(f"{name} {value!r} is not {'an integer' if self.kind is int else 'a number'}") from None
        return check(name, number, **self.limits)


COUNT = Number(int, 1)  # a count of steps, epochs, images, layers …
POSITIVE = Number(float, above=0.0)  # a learning rate, a temperature …
FINITE = Number(float)
IMAGE_SIDE = Number(int, 1, MAX_IMAGE_SIDE)
