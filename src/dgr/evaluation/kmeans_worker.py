"""The k-means of the ``kmeans-real`` baseline, run in a child process: scikit-learn (which imports
pandas and pyarrow, about 150 MiB that would stay resident) never loads into the process that trains
the students, whose peak memory is issue 32's line.

The parent sends each class's images and gets back the picked rows: a request is ``<4q`` (k, seed,
rows, values a row), the dtype string (``<q`` length, then its bytes) and the raw ``[rows, values]``
array; the reply is ``<q`` (picks) and the picks as int64.
"""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from dgr.errors import DgrError


def class_picks(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The distinct rows of ``x`` [n, D] nearest to ``k`` k-means centroids (3 inits, ``seed``), in
    row order."""
    from sklearn.cluster import KMeans

    centres = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x).cluster_centers_
    dist = np.stack([((x - centre) ** 2).sum(-1) for centre in centres])
    taken: set[int] = set()
    for row in dist:
        order = [i for i in np.argsort(row) if i not in taken]
        taken.add(int(order[0]))
    return np.asarray(sorted(taken), dtype=np.int64)


class KMeansWorker:
    """A child process that answers :func:`class_picks`, one class at a time (``with KMeansWorker() as
    worker: worker.picks(x, k, seed)``); the parent never imports scikit-learn."""

    def __enter__(self) -> "KMeansWorker":
        self._errors = tempfile.TemporaryFile()
        env = os.environ.copy()
        here = str(Path(__file__).resolve().parents[2])  # the folder holding this dgr, first on the child's path
        env["PYTHONPATH"] = os.pathsep.join([here, env["PYTHONPATH"]]) if env.get("PYTHONPATH") else here
        torch = sys.modules.get("torch")
        if torch is not None:  # as many threads as the students train with (dgr --threads, the free cores)
            env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
        self._child = subprocess.Popen([sys.executable, "-m", "dgr.evaluation.kmeans_worker"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=self._errors, env=env)
        return self

    def picks(self, x: np.ndarray, k: int, seed: int) -> np.ndarray:
        """:func:`class_picks` of ``x``, computed by the child."""
        assert self._child.stdin is not None and self._child.stdout is not None
        x = np.ascontiguousarray(x)
        dtype = x.dtype.str.encode()
        try:
            self._child.stdin.write(struct.pack("<4q", k, seed, x.shape[0], int(np.prod(x.shape[1:])))
                                    + struct.pack("<q", len(dtype)) + dtype)
            self._child.stdin.write(x.tobytes())
            self._child.stdin.flush()
            (count,) = struct.unpack("<q", _read_exactly(self._child.stdout, 8))
            picks: np.ndarray = np.frombuffer(_read_exactly(self._child.stdout, 8 * count), dtype=np.int64).copy()
            return picks
        except (BrokenPipeError, EOFError):
            self._child.wait()
            self._errors.seek(0)
            tail = self._errors.read().decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise DgrError(f"the k-means of kmeans-real failed (exit {self._child.returncode}): {tail[0]}") from None

    def __exit__(self, *exc: Any) -> None:
        if self._child.stdin is not None:
            try:
                self._child.stdin.close()
            except BrokenPipeError:
                pass
        self._child.wait()
        self._errors.close()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError(f"the stream ended {left} bytes short")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    """Answer requests on stdin until it closes."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = source.read(40)
        if not head:
            return
        k, seed, rows, values, width = struct.unpack("<5q", head + _read_exactly(source, 40 - len(head)))
        dtype = np.dtype(_read_exactly(source, width).decode())
        raw = bytearray(_read_exactly(source, rows * values * dtype.itemsize))  # writable, as the parent's
        x = np.frombuffer(raw, dtype=dtype).reshape(rows, values)
        picks = class_picks(x, k, seed)
        sink.write(struct.pack("<q", len(picks)) + picks.tobytes())
        sink.flush()


if __name__ == "__main__":
    main()
