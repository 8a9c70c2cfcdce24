"""Sharding classes over processes started by an existing launcher (``torchrun``,
``accelerate launch``, Slurm through either).

The launcher sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and ``MASTER_ADDR``/``MASTER_PORT``).
Rank ``r`` of ``n`` distils the classes whose index ``c`` has ``c % n == r``; every class is
written atomically by the rank that owns it, so ranks share nothing but the run folder.
A ``torch.distributed`` group is joined only when ``WORLD_SIZE > 1`` and carries only small
status messages: each step of :func:`dgr.api.distill` ends with every rank saying whether it
succeeded, so one rank's failure stops all of them instead of leaving them waiting.
"""
from __future__ import annotations

import os
import traceback
from datetime import timedelta
from types import TracebackType
from typing import Sequence

import attrs

from dgr.errors import DgrError

BACKEND_ENV = "DGR_DIST_BACKEND"
TIMEOUT_ENV = "DGR_DIST_TIMEOUT_MINUTES"
DEFAULT_TIMEOUT_MINUTES = 24 * 60  # ranks wait for the slowest shard at the end


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        raise DgrError(f"{name}={value!r} is not an integer; unset it or launch with torchrun") from None


@attrs.frozen
class World:
    """This process's place among the launched processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "World":
        """Read the torch.distributed launcher variables; one process when they are absent."""
        size = _env_int("WORLD_SIZE", 1)
        rank = _env_int("RANK", 0)
        if size < 1 or not 0 <= rank < size:
            raise DgrError(f"RANK={rank} does not fit WORLD_SIZE={size}; launch with torchrun or accelerate launch")
        return cls(rank=rank, size=size, local_rank=_env_int("LOCAL_RANK", rank))

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0."""
        return self.rank == 0

    def shard(self, class_indices: Sequence[int]) -> list[int]:
        """This rank's share: class ``c`` belongs to rank ``c % size``."""
        return [c for c in class_indices if c % self.size == self.rank]

    def device(self, device: str) -> str:
        """``cuda`` means this process's GPU (``LOCAL_RANK`` modulo the GPUs it sees)."""
        if device != "cuda" or self.size == 1:
            return device
        import torch

        count = torch.cuda.device_count()
        index = self.local_rank % count if count else self.local_rank
        torch.cuda.set_device(index)
        return f"cuda:{index}"


def is_main_process() -> bool:
    """True unless a launcher made this process a rank other than 0 (no torch import)."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


class Team:
    """The process group for one run (a no-op for a single process).

    Use :meth:`step` around each phase; it is a collective, so every rank must enter it.
    Join it after the heavy imports: a group that exists when ``torch._dynamo`` is first
    imported (diffusers does) outlives ``destroy_process_group``, and gloo's worker threads
    then abort the process at exit ("terminate called without an active exception").
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._owns_group = False

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0 of the team's world."""
        return self.world.is_main

    def __enter__(self) -> "Team":
        if self.world.size > 1:
            import torch.distributed as dist

            if not dist.is_available():
                raise DgrError("this torch build has no torch.distributed; run without a launcher")
            if not dist.is_initialized():
                backend = os.environ.get(BACKEND_ENV, "gloo")
                minutes = _env_int(TIMEOUT_ENV, DEFAULT_TIMEOUT_MINUTES)
                try:
                    dist.init_process_group(backend=backend, init_method="env://", rank=self.world.rank,
                                            world_size=self.world.size, timeout=timedelta(minutes=minutes))
                except (ValueError, RuntimeError) as exc:
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    raise DgrError(f"cannot join the process group ({first}); launch with `torchrun` or "
                                   "`accelerate launch`, which set MASTER_ADDR and MASTER_PORT") from None
                self._owns_group = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._owns_group = False

    def step(self) -> "_Step":
        """A phase every rank runs; when it fails on any rank, it fails on every rank."""
        return _Step(self)

    def share(self, error: str | None) -> list[str | None]:
        """Every rank's error message (``None`` for success), in rank order."""
        if self.world.size == 1:
            return [error]
        import torch.distributed as dist

        gathered: list[str | None] = [None] * self.world.size
        dist.all_gather_object(gathered, error)
        return gathered


class _Step:
    def __init__(self, team: Team) -> None:
        self.team = team

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.team.world.size == 1 or (exc is not None and not isinstance(exc, Exception)):
            return  # one process, or Ctrl-C / exit: the launcher stops the other ranks
        if exc is None:
            mine = None
        elif isinstance(exc, DgrError):
            mine = str(exc)
        else:
            mine = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
        errors = self.team.share(mine)
        if mine is not None:
            return  # this rank's own error propagates unchanged
        failed = [(rank, message) for rank, message in enumerate(errors) if message is not None]
        if failed:
            rank, message = failed[0]
            raise DgrError(f"rank {rank} stopped: {message}")
